import type { Logger } from 'pino';
import type { AppConfig } from './config/types.js';
import { SupervisedDetector } from './detector/supervisedDetector.js';
import type { DetectorChange } from './detector/state.js';
import type { EventBus } from './eventBus.js';
import type { EmbeddingMean } from './recognition/centring.js';
import type { UnitRef } from './recognition/types.js';
import { Recognizer, type RecognizerOptions } from './imprinting/recognizer.js';
import { SceneBook } from './imprinting/sceneBook.js';
import type { SceneModelOptions } from './recognition/sceneModel.js';
import { DEFAULT_CLASS_THRESHOLDS, DEFAULT_DECISION } from './recognition/zoneDefaults.js';
import { loadEmbeddingMean } from './models/embeddingMean.js';
import { ImprintingService } from './imprinting/service.js';
import { ClassStore } from './storage/classStore.js';
import { Corrections } from './imprinting/corrections.js';
import { EventRecorder } from './imprinting/eventRecorder.js';
import { EventStore } from './storage/eventStore.js';
import { BackgroundTuner } from './imprinting/tuner.js';
import { SalientModel } from './imprinting/salientModel.js';
import { loadManifest, modelPath } from './models/manifest.js';
import { GalleryBook } from './fleet/galleryBook.js';

export interface CoreOptions {
  config: AppConfig;
  logger: Logger;
  bus?: EventBus;
  onInference?: (ms: number) => void;
  onEnroll?: (shots: number) => void;
  /** The model id without starting the detector (the CLI's corrections): sha256 of the CPU model. */
  modelId?: () => string;
  /** The scene model's rules, for benchmarks that compress a camera's life into minutes. */
  sceneOptions?: Partial<Omit<SceneModelOptions, 'clock'>>;
}

/** The recognizer's rules from the configuration; the rest are the calibrated defaults. */
export function recognizerOptions(config: Pick<AppConfig, 'classifier'>): RecognizerOptions {
  const { threshold, margin, zone_threshold } = config.classifier;
  const { impostorMargin, ceiling } = DEFAULT_CLASS_THRESHOLDS;
  return {
    threshold,
    margin,
    classThresholds: { impostorMargin, ceiling },
    zone: { decision: DEFAULT_DECISION, thresholds: { ...DEFAULT_CLASS_THRESHOLDS, floor: zone_threshold } },
  };
}

/** The zone a class label would collide with, described, or null. Pure. */
export function zoneClash(config: Pick<AppConfig, 'cameras'>, label: string): string | null {
  for (const [camera, c] of Object.entries(config.cameras)) {
    if (Object.hasOwn(c.zones, label)) return `"${label}" is the name of a zone (cameras.${camera}.zones.${label}); a class cannot take it`;
  }
  return null;
}

/** The camera units: each zone, or the whole frame of a camera without zones. Pure. */
export function configuredUnits(config: Pick<AppConfig, 'cameras'>): UnitRef[] {
  return Object.entries(config.cameras).flatMap(([camera, c]): UnitRef[] => {
    const zones = Object.keys(c.zones);
    return zones.length === 0 ? [{ camera, zone: null }] : zones.map((zone) => ({ camera, zone }));
  });
}

/** One line per zone class that names no class yet (enroll it, or fix the list). Pure. */
export function unknownZoneClasses(config: Pick<AppConfig, 'cameras'>, labels: readonly string[]): string[] {
  const known = new Set(labels);
  const lines: string[] = [];
  for (const [camera, c] of Object.entries(config.cameras)) {
    for (const [zone, z] of Object.entries(c.zones)) {
      const missing = z.classes.filter((l) => !known.has(l));
      if (missing.length > 0) {
        lines.push(`cameras.${camera}.zones.${zone}.classes: no class ${missing.map((l) => `"${l}"`).join(', ')} yet (enroll it, e.g. from this zone)`);
      }
    }
  }
  return lines;
}

/** Where the optional salient-object model lies: the manifest's `salient` file in the model dir. */
function salientModelPath(modelDir: string): string {
  const file = loadManifest().find((f) => f.role === 'salient');
  return modelPath(modelDir, file?.name ?? 'u2netp.onnx');
}

/**
 * The inference core every entry point needs (the agent, the CLI, the tests): detector,
 * class store, classifier and the imprinting service over them. Started in that order,
 * stopped in reverse.
 */
export class Core {
  readonly detector: SupervisedDetector;
  readonly store: ClassStore;
  readonly recognizer: Recognizer;
  readonly scenes: SceneBook;
  readonly service: ImprintingService;
  readonly tuner: BackgroundTuner | null;
  readonly salient: SalientModel;
  readonly events: EventStore;
  readonly corrections: Corrections;
  /** Keeps detection events from the bus (absent without a bus: the CLI). */
  readonly recorder: EventRecorder | null;
  /** This node's side of the fleet gallery (gallery.sync), also for the CLI; the MQTT sync is the agent's. */
  readonly gallery: GalleryBook | null;

  private readonly logger: Logger;

  constructor(opts: CoreOptions) {
    const { config, logger, bus } = opts;
    this.logger = logger;
    this.detector = new SupervisedDetector({
      config: config.detector,
      modelDir: config.model_dir,
      manifest: loadManifest(),
      logger: logger.child({ part: 'detector' }),
      ...(bus ? { onChange: (change: DetectorChange) => bus.emit('detectorChanged', change) } : {}),
      ...(opts.onInference ? { onInference: opts.onInference } : {}),
    });
    this.store = new ClassStore({ dataDir: config.data_dir, logger: logger.child({ part: 'store' }) });
    const retention = { maxCount: config.events.max_count, maxAgeDays: config.events.max_age_days };
    this.events = new EventStore(this.store, retention);
    this.scenes = new SceneBook({
      events: this.events,
      ...(bus ? { bus } : {}),
      ...(opts.sceneOptions ? { options: opts.sceneOptions } : {}),
      modelId: () => this.detector.modelId(),
      logger: logger.child({ part: 'scenes' }),
    });
    this.recognizer = new Recognizer(recognizerOptions(config), this.scenes);
    this.salient = new SalientModel({ modelPath: salientModelPath(config.model_dir), logger: logger.child({ part: 'salient' }) });
    this.tuner = config.classifier.fine_tune ? new BackgroundTuner(logger.child({ part: 'tuner' })) : null;
    const modelId = opts.modelId ?? (() => this.detector.modelId());
    this.gallery = config.gallery.sync
      ? new GalleryBook({ store: this.store, nodeId: config.node_id, modelId, logger: logger.child({ part: 'gallery' }), tombstoneDays: config.gallery.tombstone_days })
      : null;
    this.service = new ImprintingService({
      detector: this.detector,
      modelId,
      store: this.store,
      events: this.events,
      recognizer: this.recognizer,
      scenes: this.scenes,
      nodeId: config.node_id,
      limits: config.limits,
      logger: logger.child({ part: 'imprinting' }),
      ...(bus ? { bus } : {}),
      ...(opts.onEnroll ? { onEnroll: opts.onEnroll } : {}),
      ...(this.tuner ? { tuner: this.tuner } : {}),
      unitClasses: (unit) => (unit.zone === null ? [] : (config.cameras[unit.camera]?.zones[unit.zone]?.classes ?? [])),
      units: () => configuredUnits(config),
      labelClash: (label) => zoneClash(config, label),
      ...(this.gallery ? { shared: this.gallery } : {}),
      salient: this.salient,
    });
    this.corrections = new Corrections({
      store: this.store,
      events: this.events,
      modelId: opts.modelId ?? (() => this.detector.modelId()),
      newLabel: (label, field) => this.service.checkNewLabel(label, field),
      changed: () => this.service.notifyChanged(),
    });
    this.recorder = bus
      ? new EventRecorder({
          bus,
          events: this.events,
          modelId: () => this.detector.modelId(),
          inputSize: () => this.detector.inputSize,
          logger: logger.child({ part: 'events' }),
        })
      : null;
  }

  async start(): Promise<void> {
    await this.store.start();
    try {
      await this.gallery?.start();
      await this.detector.start();
      this.recognizer.setMean(this.embeddingMean());
      await this.salient.start();
      await this.service.start();
      await this.recorder?.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /**
   * The store and the classes as the agent sees them, without the detector (the CLI's class
   * list): needs CoreOptions.modelId. Stop with stop().
   */
  async startClasses(): Promise<void> {
    await this.store.start();
    await this.gallery?.start();
    // No model known (no model installed and no shots): nothing to centre, and nothing to warn of.
    if (this.service.modelId() !== '') this.recognizer.setMean(this.embeddingMean());
    this.service.loadClasses();
  }

  /** The shipped means of the model in use; without one, embeddings are not centred. */
  private embeddingMean(): EmbeddingMean | null {
    const mean = loadEmbeddingMean(this.service.modelId());
    if (!mean) this.logger.warn('no embedding mean ships for this model: embeddings are not centred (set classifier.threshold for raw cosines, e.g. 0.6)');
    return mean;
  }

  async stop(): Promise<void> {
    for (const part of [this.recorder, this.service, this.salient, this.tuner, this.detector, this.gallery, this.store]) {
      if (!part) continue;
      try {
        await part.stop();
      } catch {
        // Stopping continues with the other parts; each stop() is safe to call.
      }
    }
  }
}
