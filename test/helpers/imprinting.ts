import { loadConfig } from '../../src/config/load.js';
import type { AppConfig } from '../../src/config/types.js';
import { Core } from '../../src/core.js';
import type { Detector } from '../../src/detector/types.js';
import { EventBus } from '../../src/eventBus.js';
import type { ImprintingService } from '../../src/imprinting/service.js';
import { MODEL_DIR, testLogger } from './env.js';

export interface StartedImprinting {
  imprinter: ImprintingService;
  detector: Detector;
  bus: EventBus;
  core: Core;
  config: AppConfig;
  stop(): Promise<void>;
}

/** The real inference core (CPU model from the test model cache) on a test data dir. */
export async function startImprinting(opts: {
  dataDir: string;
  bus?: EventBus;
  config?: (c: AppConfig) => AppConfig;
}): Promise<StartedImprinting> {
  const logger = testLogger();
  const base = loadConfig({ env: {}, overrides: { data_dir: opts.dataDir, model_dir: MODEL_DIR } });
  const config = opts.config ? opts.config(base) : { ...base, detector: { ...base.detector, type: 'cpu' as const } };
  const bus = opts.bus ?? new EventBus(logger);
  const core = new Core({ config, logger, bus });
  await core.start();
  return {
    imprinter: core.service,
    detector: core.detector,
    bus,
    core,
    config,
    stop: () => core.stop(),
  };
}
