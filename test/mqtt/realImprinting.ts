// The real imprinter (real CPU model, real SQLite store) for the MQTT tests and bench, with
// the same shape as test/helpers/imprinting.ts `startImprinting`; used until that helper lands.
import { SupervisedDetector } from '../../src/detector/supervisedDetector.js';
import { EventBus } from '../../src/eventBus.js';
import { ImprintedClassifier } from '../../src/imprinting/classifier.js';
import { ImprintingService } from '../../src/imprinting/service.js';
import { ClassStore } from '../../src/imprinting/store.js';
import { loadManifest } from '../../src/models/manifest.js';
import { SHARED_MODELS, testLogger } from '../helpers/env.js';

export async function startImprinting(opts: { dataDir: string }) {
  const logger = testLogger();
  const bus = new EventBus(logger);
  const detector = new SupervisedDetector({
    config: {
      type: 'cpu',
      device: '',
      threads: 2,
      model: {
        cpu: 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite',
        edgetpu: 'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite',
      },
      edgetpu_library: 'libedgetpu.so.1',
      inference_timeout_ms: 5000,
    },
    modelDir: SHARED_MODELS,
    manifest: loadManifest(),
    logger: logger,
    bus,
  });
  await detector.start();
  const store = new ClassStore({ dataDir: opts.dataDir, logger: logger });
  await store.start();
  const imprinter = new ImprintingService({
    detector,
    modelId: () => detector.info().model_sha256,
    store,
    classifier: new ImprintedClassifier({ threshold: 0.5, margin: 0.02 }),
    limits: { max_payload_bytes: 8 << 20, max_megapixels: 40, queue_size: 16 },
    logger: logger,
    bus,
  });
  await imprinter.start();
  return {
    imprinter,
    detector,
    bus,
    stop: async () => {
      await imprinter.stop();
      await store.stop();
      await detector.stop();
    },
  };
}
