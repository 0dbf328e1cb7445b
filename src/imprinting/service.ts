import type { Logger } from 'pino';
import type { LimitsConfig } from '../config/types.js';
import { inputThumbnail, jpegToInput, prepareImage, type PreparedImage } from '../media/image.js';
import type { Detector } from '../detector/types.js';
import { AppError, fieldError } from '../errors.js';
import type { EventBus } from '../eventBus.js';
import type { EventStore } from '../storage/eventStore.js';
import type { FineTuneResult } from '../recognition/fineTune.js';
import type { Recognizer, RecognizerData } from './recognizer.js';
import type { SceneBook } from './sceneBook.js';
import type { SharedClass, SharedClasses } from './shared.js';
import type { EnrollOptions, Imprinter, PixelShot } from './imprinter.js';
import { validateLabel, checkLabelCollision } from '../recognition/labels.js';
import type { ClassStore, ZoneResidual } from '../storage/classStore.js';
import { meanDirection } from '../recognition/vector.js';
import { augment, AUGMENTATIONS, type Augmentation } from '../recognition/augment.js';
import type { BackgroundTuner } from './tuner.js';
import { NONE, UNKNOWN, type Classification, type ClassInfo, type EnrollResult, type NewShot, type UnitRef } from '../recognition/types.js';

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
 * Learns and recognises classes: decodes images, embeds them on the detector, stores
 * the shots, and keeps the classifier's weights in step with the store — including
 * changes made by another process on the same data dir.
 */
export class ImprintingService implements Imprinter {
  private pollTimer: NodeJS.Timeout | null = null;
  private tuneTimer: NodeJS.Timeout | null = null;
  private tuningNow = false;
  private tuneAgain = false;
  private seenVersion = -1;
  /** Bumped by every reload: a tuning result for an older generation is stale. */
  private generation = 0;
  private lastTuning: FineTuneResult | null = null;

  constructor(private readonly deps: ImprintingServiceDeps) {}

  async start(): Promise<void> {
    await this.reembedForeignShots();
    await this.deps.scenes.start();
    this.reload();
    const pollMs = this.deps.pollMs ?? 2000;
    this.pollTimer = setInterval(() => this.pollStore(), pollMs);
    this.pollTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.tuneTimer) clearTimeout(this.tuneTimer);
    this.pollTimer = null;
    this.tuneTimer = null;
    await this.deps.scenes.stop();
  }

  /** The last fine-tuning outcome (held-out figures), or null when none ran yet. */
  tuning(): FineTuneResult | null {
    return this.lastTuning;
  }

  async enrollImages(label: string, images: Buffer[], opts: EnrollOptions): Promise<EnrollResult> {
    const valid = this.newLabel(label);
    if (images.length === 0) throw new AppError('bad_request', 'images: at least one image is needed', 'images');
    // Decode everything first: one bad image rejects the request before anything is stored.
    const prepared: PreparedImage[] = [];
    for (const [i, image] of images.entries()) {
      opts.signal?.throwIfAborted();
      prepared.push(await this.prepare(image, opts.names?.[i] ?? (images.length > 1 ? `images[${i}]` : 'image')));
    }
    const shots: NewShot[] = [];
    for (const p of prepared) {
      opts.signal?.throwIfAborted();
      shots.push({ embedding: await this.deps.detector.embed(p.rgb), thumbnail: p.thumbnail, source: opts.source });
    }
    return this.store(valid, shots, opts);
  }

  /**
   * Live frames. With `opts.unit` (a camera zone, or a camera's whole frame) each shot also
   * keeps how that unit saw it — its residual against the unit's learned scene — so the
   * unit recognises the class against its own scene from then on; with `opts.sceneRgb` (a
   * recent frame of the empty unit) also the residuals of six augmentations of the shot
   * against the same augmentations of the scene (more looks from one frame).
   */
  async enrollPixels(label: string, frames: PixelShot[], opts: EnrollOptions): Promise<EnrollResult> {
    const valid = this.newLabel(label);
    if (frames.length === 0) throw new AppError('bad_request', 'frames: at least one frame is needed', 'frames');
    const sceneLooks = opts.unit && opts.sceneRgb ? await this.augmentedLooks(opts.sceneRgb, opts.signal) : null;
    const shots: NewShot[] = [];
    const units: ZoneResidual[][] = [];
    for (const frame of frames) {
      opts.signal?.throwIfAborted();
      const thumbnail = await inputThumbnail(frame.rgb, this.deps.detector.inputSize);
      const embedding = await this.deps.detector.embed(frame.rgb);
      shots.push({ embedding, thumbnail, source: opts.source });
      units.push(opts.unit ? await this.unitResiduals(opts.unit, frame.rgb, embedding, sceneLooks, opts.signal) : []);
    }
    if (opts.unit && units.every((u) => u.length === 0)) {
      this.deps.logger.warn({ camera: opts.unit.camera, zone: opts.unit.zone }, 'this camera unit has not learned its empty scene yet: the class is recognised there by its look only');
    }
    return this.store(valid, shots, { ...opts, units });
  }

  async classifyImage(image: Buffer, field = 'image'): Promise<Classification> {
    const prepared = await this.prepare(image, field);
    return this.classifyPixels(prepared.rgb);
  }

  /**
   * Pixels at the model's input size: a photo (no `unit`), or a camera unit's frame, decided
   * against that unit's learned scene, with only the zone's classes when it lists them. The
   * embedding (and the residual) come back with the decision: events keep them.
   */
  async classifyPixels(rgb: Uint8Array, unit?: UnitRef): Promise<Classification> {
    return this.classifyEmbedding(await this.deps.detector.embed(rgb), unit);
  }

  /** The decision for an embedding already made (classifyPixels' second half, for benchmarks). */
  classifyEmbedding(embedding: Float32Array, unit?: UnitRef): Classification {
    if (!unit) return this.deps.recognizer.classify(embedding);
    return this.deps.recognizer.recognize(embedding, unit, this.deps.unitClasses?.(unit) ?? []);
  }

  /**
   * A unit's fresh frame after smoothing: its scene learns from it while no class is ON
   * there, and never from a frame that matched a class (an object at the door when the agent
   * starts must not become the door's empty scene).
   */
  observe(unit: UnitRef, result: Classification, activeLabels: readonly string[]): void {
    const matched = result.label !== NONE && result.label !== UNKNOWN;
    if (result.embedding) this.deps.scenes.observe(unit, result.embedding, activeLabels.length > 0 || matched);
  }

  /** Embedding and decision together, for benchmarks and diagnostics. */
  async embedImage(image: Buffer): Promise<Float32Array> {
    const prepared = await this.prepare(image, 'image');
    return this.deps.detector.embed(prepared.rgb);
  }

  /** Every class with the threshold in effect for it (with gallery.sync: every class of the fleet). */
  list(): ClassInfo[] {
    const { shared, recognizer } = this.deps;
    if (shared) {
      return [...shared.classes(this.deps.modelId()).values()]
        .map((c) => ({ label: c.label, shots: c.shots, background: c.background, threshold: c.threshold ?? recognizer.threshold(c.label), origin: c.origin, created_at: c.created_at, updated_at: c.updated_at }))
        .sort((a, b) => Buffer.compare(Buffer.from(a.label), Buffer.from(b.label)));
    }
    return this.deps.store.listClasses().map(({ threshold_override, ...c }) => ({
      ...c,
      threshold: threshold_override ?? recognizer.threshold(c.label),
    }));
  }

  /** Per-class settings (class/set): a threshold override (null: from the data again), background. */
  setClass(label: string, settings: { threshold?: number | null; background?: boolean }): ClassInfo {
    if (this.deps.shared) this.deps.shared.setClass(this.existing(label), settings);
    else this.deps.store.setClass(this.existing(label), settings);
    this.changed();
    const info = this.list().find((c) => c.label === label);
    if (!info) throw new AppError('not_found', `label: no class "${label}"`, 'label');
    return info;
  }

  remove(label: string): { label: string } {
    const { shared } = this.deps;
    if (shared) shared.remove(this.sharedExisting(label));
    else this.deps.store.removeClass(this.existing(label));
    this.changed();
    return { label };
  }

  rename(label: string, to: string): { label: string; to: string } {
    const target = this.newLabel(to, 'to', label);
    const { shared } = this.deps;
    if (shared) {
      this.sharedExisting(label);
      if (label !== target && this.list().some((c) => c.label === target)) throw new AppError('conflict', `to: class "${target}" already exists`, 'to');
      if (label !== target) shared.rename(label, target);
    } else {
      this.deps.store.renameClass(this.existing(label), target);
    }
    this.changed();
    return { label, to: target };
  }

  /** Removes the latest shot (with gallery.sync: the newest of the fleet). */
  undo(label: string): { label: string; shots: number } {
    const { shared } = this.deps;
    const result = shared ? shared.undo(this.sharedExisting(label)) : this.deps.store.undoShot(this.existing(label));
    this.changed();
    return result;
  }

  /** Deletes one shot (its class goes with its last shot). AppError('not_found') when there is none. */
  removeShot(id: number): { id: number; label: string; shots: number } {
    const { shared } = this.deps;
    if (shared) shared.refresh();
    const result = shared ? shared.removeShot(id) : this.deps.store.removeShot(id);
    this.changed();
    return { id, ...result };
  }

  /** A label a new class may take (the label rules, and no zone's name); throws AppError naming `field`. */
  checkNewLabel(label: string, field = 'label'): string {
    return this.newLabel(label, field);
  }

  /** Something else changed the classes (a correction): reload, and tell everyone. */
  notifyChanged(): void {
    this.changed();
  }

  /** A valid label that no zone name takes, nor another class's entity id (`self`: a rename's source). */
  private newLabel(label: string, field = 'label', self?: string): string {
    const valid = validateLabel(label, field);
    const clash = this.deps.labelClash?.(valid);
    if (clash) throw fieldError('bad_label', field, clash);
    checkLabelCollision(valid, this.list().map((c) => c.label), field, self);
    return valid;
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

  private prepare(image: Buffer, field: string): Promise<PreparedImage> {
    const limits = { maxBytes: this.deps.limits.max_payload_bytes, maxMegapixels: this.deps.limits.max_megapixels };
    return prepareImage(image, this.deps.detector.inputSize, limits, field);
  }

  /** The shot's residual in its unit, then its augmentations' against the augmented scene. */
  private async unitResiduals(
    unit: UnitRef,
    rgb: Uint8Array,
    embedding: Float32Array,
    sceneLooks: Map<Augmentation, Float32Array> | null,
    signal?: AbortSignal,
  ): Promise<ZoneResidual[]> {
    const residual = this.deps.recognizer.residualFor(unit, embedding);
    if (!residual) return [];
    const out: ZoneResidual[] = [{ ...unit, residual, augmentation: '' }];
    if (!sceneLooks) return out;
    const { width, height } = this.deps.detector.inputSize;
    for (const [kind, scene] of sceneLooks) {
      signal?.throwIfAborted();
      const look = await this.deps.detector.embed(augment(rgb, width, height, kind));
      out.push({ ...unit, residual: this.deps.recognizer.residualAgainst(look, scene), augmentation: kind });
    }
    return out;
  }

  /** The unit's empty scene under each augmentation, embedded once per enrollment. */
  private async augmentedLooks(sceneRgb: Uint8Array, signal?: AbortSignal): Promise<Map<Augmentation, Float32Array>> {
    const { width, height } = this.deps.detector.inputSize;
    const looks = new Map<Augmentation, Float32Array>();
    for (const kind of AUGMENTATIONS) {
      signal?.throwIfAborted();
      looks.set(kind, await this.deps.detector.embed(augment(sceneRgb, width, height, kind)));
    }
    return looks;
  }

  /** One transaction; a request cancelled (deadline, shutdown) before it stores nothing. */
  private store(label: string, shots: NewShot[], opts: EnrollOptions & { units?: ZoneResidual[][] }): EnrollResult {
    opts.signal?.throwIfAborted();
    const { background } = opts;
    const storeOpts = {
      model: this.deps.modelId(),
      ...(background === undefined ? {} : { background }),
      ...(this.deps.nodeId ? { origin: this.deps.nodeId } : {}),
      ...(opts.units ? { units: opts.units } : {}),
    };
    const result = this.deps.store.addShots(label, shots, storeOpts);
    // An explicit background flag is a settings change the fleet must hear of (a class new here adopts the fleet's otherwise).
    if (this.deps.shared && background !== undefined) {
      this.deps.shared.refresh();
      this.deps.shared.setClass(label, { background });
    }
    this.deps.onEnroll?.(shots.length);
    this.changed();
    this.deps.logger.info({ label, added: result.added, shots: result.shots }, 'class enrolled');
    return result;
  }

  private reload(): void {
    this.seenVersion = this.deps.store.dataVersion();
    this.generation++;
    try {
      this.deps.shared?.refresh();
    } catch (err) {
      this.deps.logger.error({ err }, 'could not bring the shared gallery up to date; deciding with what it had');
    }
    // Plain imprinting takes effect at once; fine-tuned weights replace it when ready.
    try {
      this.deps.recognizer.load(this.recognizerData());
    } catch (err) {
      // A damaged store (a shot that is no embedding) keeps what was loaded before.
      this.deps.logger.error({ err }, 'could not reload the classes; still deciding with the ones loaded before');
    }
    this.scheduleTuning();
  }

  /**
   * Everything the recognizer learns from, of the current model only: every class's raw shot
   * embeddings, per camera unit the residual shots and negatives, the threshold overrides;
   * with gallery.sync also the other nodes' shots and class negatives (their units stay theirs).
   */
  recognizerData(): RecognizerData {
    const model = this.deps.modelId();
    const local = this.deps.store.shotEmbeddings();
    const overrides = new Map(this.deps.store.listClasses().map((c) => [c.label, c.threshold_override]));
    const data = {
      classes: local.map((c) => ({ ...c, override: overrides.get(c.label) ?? null })),
      zoneShots: this.deps.store.zoneShots(model),
      negatives: this.deps.events.negatives(model),
    };
    return this.deps.shared ? withShared(data, this.deps.shared.classes(model)) : data;
  }

  private scheduleTuning(): void {
    if (!this.deps.tuner) return;
    if (this.tuneTimer) clearTimeout(this.tuneTimer);
    this.tuneTimer = setTimeout(() => {
      this.tuneTimer = null;
      // One tuning at a time (seconds of CPU for a large gallery): changes meanwhile tune once after it.
      if (this.tuningNow) {
        this.tuneAgain = true;
        return;
      }
      this.tuningNow = true;
      // tune() settles with null on every failure; the catch is for a bug in it.
      this.tune()
        .catch((err: unknown) => this.deps.logger.error({ err }, 'fine-tuning failed unexpectedly'))
        .finally(() => {
          this.tuningNow = false;
          if (this.tuneAgain) {
            this.tuneAgain = false;
            this.scheduleTuning();
          }
        });
    }, this.deps.tuneDelayMs ?? 1000);
    this.tuneTimer.unref();
  }

  /**
   * Fine-tunes on the stored shots; applies the result if no change came in meanwhile.
   * Never rejects: any failure (the store, the worker, applying the weights) keeps the
   * imprinted weights in use and resolves null.
   */
  async tune(): Promise<FineTuneResult | null> {
    const tuner = this.deps.tuner;
    if (!tuner) return null;
    try {
      return await this.tuneWith(tuner);
    } catch (err) {
      this.deps.logger.warn({ err }, 'fine-tuning failed; keeping the imprinted weights');
      return null;
    }
  }

  /** Trains in the space photos are judged in (centred embeddings). */
  private async tuneWith(tuner: BackgroundTuner): Promise<FineTuneResult | null> {
    const generation = this.generation;
    const { recognizer } = this.deps;
    const classes = this.recognizerData().classes.map((c) => ({ label: c.label, background: c.background, shots: c.shots.map((x) => recognizer.centred(x)) }));
    const result = await tuner.tune(classes);
    if (generation !== this.generation) return null;
    if (result.used) {
      const tuned = new Map(result.weights.map((w) => [w.label, w.sum]));
      const weights = classes.map((c) => {
        const sum = meanDirection(c.shots, c.shots[0]?.length ?? 0);
        const proxy = tuned.get(c.label);
        return { label: c.label, background: c.background, sum, count: c.shots.length, ...(proxy ? { proxies: [proxy] } : {}) };
      });
      recognizer.setTuned(weights);
    }
    this.lastTuning = result;
    this.deps.logger.info({ used: result.used, held_out: result.heldOut }, `fine-tuning: ${result.reason}`);
    return result;
  }

  private changed(): void {
    this.reload();
    this.deps.bus?.emit('classesChanged', { labels: this.list().map((c) => c.label) });
  }

  private pollStore(): void {
    try {
      if (this.deps.store.dataVersion() !== this.seenVersion) {
        this.deps.logger.info('classes changed by another process; reloading');
        this.changed();
      }
    } catch (err) {
      this.deps.logger.warn({ err }, 'could not check the class store for changes');
    }
  }

  /**
   * Shots embedded by another model live in another embedding space: comparing them
   * with new frames would be meaningless. Re-embed them from their stored thumbnails.
   */
  private async reembedForeignShots(): Promise<void> {
    const model = this.deps.modelId();
    const foreign = this.deps.store.shots().filter((s) => s.model !== model);
    if (foreign.length === 0) return;
    this.deps.logger.warn(
      `${foreign.length} stored shots were embedded by another model; re-embedding them from their thumbnails`,
    );
    const updates: Array<{ id: number; embedding: Float32Array }> = [];
    for (const shot of foreign) {
      const rgb = await jpegToInput(shot.thumbnail, this.deps.detector.inputSize);
      updates.push({ id: shot.id, embedding: await this.deps.detector.embed(rgb) });
    }
    this.deps.store.replaceEmbeddings(updates, model);
  }
}

/** This node's data with the fleet's: peers' shots added to each class, settings and class negatives from the fleet. Pure. */
function withShared(data: RecognizerData, shared: Map<string, SharedClass>): RecognizerData {
  const local = new Map(data.classes.map((c) => [c.label, c]));
  const classes = [...shared.values()].map((c) => ({
    label: c.label,
    background: c.background,
    shots: [...(local.get(c.label)?.shots ?? []), ...c.peerShots],
    override: c.threshold,
  }));
  // A class of this store the fleet's view lacks (not taken in yet) still counts.
  const missing = data.classes.filter((c) => !shared.has(c.label));
  const classNegatives = [...shared.values()].flatMap((c) => c.peerNegatives.map((embedding) => ({ label: c.label, embedding })));
  return { ...data, classes: [...classes.filter((c) => c.shots.length > 0), ...missing], classNegatives };
}
