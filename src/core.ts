import type { Logger } from 'pino';
import type { AppConfig } from './config/types.js';
import { SupervisedDetector } from './detector/supervisedDetector.js';
import type { EventBus } from './eventBus.js';
import { ImprintedClassifier } from './imprinting/classifier.js';
import { ImprintingService } from './imprinting/service.js';
import { ClassStore } from './imprinting/store.js';
import { BackgroundTuner } from './imprinting/tuner.js';
import { loadManifest } from './models/manifest.js';

export interface CoreOptions {
  config: AppConfig;
  logger: Logger;
  bus?: EventBus;
  onInference?: (ms: number) => void;
  onEnroll?: (shots: number) => void;
}

/**
 * The inference core every entry point needs (the agent, the CLI, the tests): detector,
 * class store, classifier and the imprinting service over them. Started in that order,
 * stopped in reverse.
 */
export class Core {
  readonly detector: SupervisedDetector;
  readonly store: ClassStore;
  readonly classifier: ImprintedClassifier;
  readonly service: ImprintingService;
  readonly tuner: BackgroundTuner | null;

  constructor(opts: CoreOptions) {
    const { config, logger, bus } = opts;
    this.detector = new SupervisedDetector({
      config: config.detector,
      modelDir: config.model_dir,
      manifest: loadManifest(),
      logger: logger.child({ part: 'detector' }),
      ...(bus ? { bus } : {}),
      ...(opts.onInference ? { onInference: opts.onInference } : {}),
    });
    this.store = new ClassStore({ dataDir: config.data_dir, logger: logger.child({ part: 'store' }) });
    this.classifier = new ImprintedClassifier({
      threshold: config.classifier.threshold,
      margin: config.classifier.margin,
    });
    this.tuner = config.classifier.fine_tune ? new BackgroundTuner(logger.child({ part: 'tuner' })) : null;
    this.service = new ImprintingService({
      detector: this.detector,
      modelId: () => this.detector.modelId(),
      store: this.store,
      classifier: this.classifier,
      limits: config.limits,
      logger: logger.child({ part: 'imprinting' }),
      ...(bus ? { bus } : {}),
      ...(opts.onEnroll ? { onEnroll: opts.onEnroll } : {}),
      ...(this.tuner ? { tuner: this.tuner } : {}),
      unitClasses: (unit) => (unit.zone === null ? [] : (config.cameras[unit.camera]?.zones[unit.zone]?.classes ?? [])),
    });
  }

  async start(): Promise<void> {
    await this.store.start();
    try {
      await this.detector.start();
      await this.service.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    for (const part of [this.service, this.tuner, this.detector, this.store]) {
      if (!part) continue;
      try {
        await part.stop();
      } catch {
        // Stopping continues with the other parts; each stop() is safe to call.
      }
    }
  }
}
