import type { Logger } from 'pino';
import type { LimitsConfig } from '../config/types.js';
import type { Detector } from '../detector/types.js';
import { AppError } from '../errors.js';
import type { EventBus } from '../eventBus.js';
import type { EventStore } from '../storage/eventStore.js';
import type { FineTuneResult } from '../recognition/fineTune.js';
import type { Recognizer, RecognizerData } from './recognizer.js';
import type { SceneBook } from './sceneBook.js';
import type { SharedClasses } from './shared.js';
import type { EnrollOptions, Imprinter, PixelShot } from './imprinter.js';
import type { ClassStore } from '../storage/classStore.js';
import type { BackgroundTuner } from './tuner.js';
import type { Classification, ClassInfo, EnrollResult, UnitRef } from '../recognition/types.js';
import type { RegionSource } from '../recognition/regions.js';
import { Enrollment, type EnrollmentDeps } from './enrollment.js';
import { ClassificationService } from './classification.js';
import { ClassSync } from './classSync.js';

export interface ImprintingServiceDeps {
  detector: Detector;
  /** Identifies the embedding space (sha256 of the CPU model; the Edge TPU twin shares it). */
  modelId: () => string;
  store: ClassStore;
  /** Negatives and scene examples (corrections). */
  events: EventStore;
  recognizer: Recognizer;
  scenes: SceneBook;
  limits: LimitsConfig;
  logger: Logger;
  bus?: EventBus;
  /** How often to look for classes changed by another process (the CLI). */
  pollMs?: number;
  /** Fine-tunes the weights in the background after changes; absent: plain imprinting. */
  tuner?: BackgroundTuner;
  /** Wait after a change before tuning, so a burst of enrollments tunes once. */
  tuneDelayMs?: number;
  onEnroll?: (shots: number) => void;
  /** This node's id: the origin of the classes it creates. */
  nodeId?: string;
  /** The classes a camera zone may report (empty or absent: every class). */
  unitClasses?: (unit: UnitRef) => string[];
  /** Every camera unit configured (enrollment answers tell where a class can fire). */
  units?: () => UnitRef[];
  /** Finds the object in enrolled photos (imprinting/salientModel.ts). */
  salient?: EnrollmentDeps['salient'];
  /**
   * Why a label cannot name a class here, or null: a class `bin` on a camera with a zone
   * `bin` would publish `<base>/<camera>/bin` beside the zone's `<base>/<camera>/bin/...`.
   */
  labelClash?: (label: string) => string | null;
  /**
   * Classes shared with other nodes (gallery.sync): merged into what this node lists and
   * recognises, and removals, renames, undos and settings go through it to the whole fleet.
   */
  shared?: SharedClasses;
}

/**
 * The classes' front door (commands, CLI, app): enrollment, classification and store
 * synchronisation are separate services; this keeps the class settings and routes the rest.
 */
export class ImprintingService implements Imprinter {
  private readonly enrollment: Enrollment;
  private readonly classification: ClassificationService;
  private readonly sync: ClassSync;

  constructor(private readonly deps: ImprintingServiceDeps) {
    const { detector, modelId, store, recognizer, limits, logger } = deps;
    const shared = deps.shared ? { shared: deps.shared } : {};
    this.sync = new ClassSync({
      detector, modelId, store, recognizer, logger, events: deps.events, ...shared,
      labels: () => this.list().map((c) => c.label),
      ...(deps.bus ? { bus: deps.bus } : {}),
      ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {}),
      ...(deps.tuner ? { tuner: deps.tuner } : {}),
      ...(deps.tuneDelayMs !== undefined ? { tuneDelayMs: deps.tuneDelayMs } : {}),
    });
    this.enrollment = new Enrollment({
      detector, modelId, store, recognizer, limits, logger, ...shared,
      changed: () => this.sync.changed(),
      labels: () => this.list().map((c) => c.label),
      ...(deps.nodeId ? { nodeId: deps.nodeId } : {}),
      ...(deps.labelClash ? { labelClash: deps.labelClash } : {}),
      ...(deps.onEnroll ? { onEnroll: deps.onEnroll } : {}),
      ...(deps.units ? { units: deps.units } : {}),
      ...(deps.unitClasses ? { unitClasses: deps.unitClasses } : {}),
      ...(deps.salient ? { salient: deps.salient } : {}),
    });
    this.classification = new ClassificationService({
      detector, recognizer, limits, scenes: deps.scenes,
      ...(deps.unitClasses ? { unitClasses: deps.unitClasses } : {}),
    });
  }

  /** The model whose embedding space the classes are kept in. */
  modelId(): string {
    return this.deps.modelId();
  }

  async start(): Promise<void> {
    await this.sync.reembedForeignShots();
    await this.deps.scenes.start();
    this.sync.start();
  }

  async stop(): Promise<void> {
    this.sync.stop();
    await this.deps.scenes.stop();
  }

  enrollImages(label: string, images: Buffer[], opts: EnrollOptions): Promise<EnrollResult> {
    return this.enrollment.enrollImages(label, images, opts);
  }

  enrollPixels(label: string, frames: PixelShot[], opts: EnrollOptions): Promise<EnrollResult> {
    return this.enrollment.enrollPixels(label, frames, opts);
  }

  classifyImage(image: Buffer, field = 'image'): Promise<Classification> {
    return this.classification.classifyImage(image, field);
  }

  classifyPixels(rgb: Uint8Array, unit?: UnitRef, regions?: RegionSource): Promise<Classification> {
    return this.classification.classifyPixels(rgb, unit, regions);
  }

  classifyEmbedding(embedding: Float32Array, unit?: UnitRef): Classification {
    return this.classification.classifyEmbedding(embedding, unit);
  }

  observe(unit: UnitRef, result: Classification, activeLabels: readonly string[]): void {
    this.classification.observe(unit, result, activeLabels);
  }

  recognizerData(): RecognizerData {
    return this.sync.recognizerData();
  }

  tune(): Promise<FineTuneResult | null> {
    return this.sync.tune();
  }

  /**
   * Every class with the threshold in effect for it and where that comes from (with
   * gallery.sync: every class of the fleet). The one place the agent and the CLI read them.
   */
  list(): ClassInfo[] {
    const { shared, recognizer } = this.deps;
    const effective = (label: string, override: number | null) =>
      override !== null
        ? { threshold: override, threshold_source: 'set' as const }
        : { threshold: recognizer.threshold(label), threshold_source: recognizer.thresholdSource(label) };
    if (shared) {
      return [...shared.classes(this.deps.modelId()).values()]
        .map((c) => ({ label: c.label, shots: c.shots, background: c.background, ...effective(c.label, c.threshold), origin: c.origin, created_at: c.created_at, updated_at: c.updated_at }))
        .sort((a, b) => Buffer.compare(Buffer.from(a.label), Buffer.from(b.label)));
    }
    return this.deps.store.listClasses().map(({ threshold_override, ...c }) => ({ ...c, ...effective(c.label, threshold_override) }));
  }

  /**
   * The classes loaded without the detector (the CLI's class management): the same
   * recognizer data and thresholds the agent decides with. `start()` does this and more.
   */
  loadClasses(): void {
    this.sync.load();
  }

  /** Per-class settings (class/set): a threshold override (null: from the data again), background. */
  setClass(label: string, settings: { threshold?: number | null; background?: boolean }): ClassInfo {
    if (this.deps.shared) this.deps.shared.setClass(this.existing(label), settings);
    else this.deps.store.setClass(this.existing(label), settings);
    this.sync.changed();
    const info = this.list().find((c) => c.label === label);
    if (!info) throw new AppError('not_found', `label: no class "${label}"`, 'label');
    return info;
  }

  remove(label: string): { label: string } {
    const { shared } = this.deps;
    if (shared) shared.remove(this.sharedExisting(label));
    else this.deps.store.removeClass(this.existing(label));
    this.sync.changed();
    return { label };
  }

  rename(label: string, to: string): { label: string; to: string } {
    const target = this.enrollment.checkNewLabel(to, 'to', label);
    const { shared } = this.deps;
    if (shared) {
      this.sharedExisting(label);
      if (label !== target && this.list().some((c) => c.label === target)) throw new AppError('conflict', `to: class "${target}" already exists`, 'to');
      if (label !== target) shared.rename(label, target);
    } else {
      this.deps.store.renameClass(this.existing(label), target);
    }
    this.sync.changed();
    return { label, to: target };
  }

  /** Removes the latest shot (with gallery.sync: the newest of the fleet). */
  undo(label: string): { label: string; shots: number } {
    const { shared } = this.deps;
    const result = shared ? shared.undo(this.sharedExisting(label)) : this.deps.store.undoShot(this.existing(label));
    this.sync.changed();
    return result;
  }

  /** Deletes one shot (its class goes with its last shot). AppError('not_found') when there is none. */
  removeShot(id: number): { id: number; label: string; shots: number } {
    const { shared } = this.deps;
    if (shared) shared.refresh();
    const result = shared ? shared.removeShot(id) : this.deps.store.removeShot(id);
    this.sync.changed();
    return { id, ...result };
  }

  /** A label a new class may take (the label rules, and no zone's name); throws AppError naming `field`. */
  checkNewLabel(label: string, field = 'label'): string {
    return this.enrollment.checkNewLabel(label, field);
  }

  /** Something else changed the classes (a correction): reload, and tell everyone. */
  notifyChanged(): void {
    this.sync.changed();
  }

  private existing(label: string): string {
    if (typeof label !== 'string' || label.length === 0) throw new AppError('bad_label', 'label: must be a non-empty string', 'label');
    return label;
  }

  /** A label of a class the fleet has (this node's view of it). */
  private sharedExisting(label: string): string {
    this.existing(label);
    this.deps.shared!.refresh();
    if (!this.deps.shared!.classes(this.deps.modelId()).has(label)) throw new AppError('not_found', `label: no class "${label}"`, 'label');
    return label;
  }
}
