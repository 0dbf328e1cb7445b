import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { TFLiteNodeModelRunner } from 'tfjs-tflite-node';
import { loadConfig } from '../src/config/load.js';
import { Core } from '../src/core.js';
import { SupervisedDetector } from '../src/detector/supervisedDetector.js';
import { loadManifest } from '../src/models/manifest.js';
import { median, ms, percentile, type Report } from './report.js';
import { benchLogger, FIXTURE_IMAGES, MODEL_DIR, tempDir } from './setup.js';

const MODEL = 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite';
const THREADS = 2;

function bareRunner(): { infer(input: Uint8Array): void } {
  const bytes = readFileSync(join(MODEL_DIR, MODEL));
  const runner = new TFLiteNodeModelRunner(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), {
    threads: THREADS,
  });
  const input = runner.getInputs()[0]!.data() as Uint8Array;
  return {
    infer(rgb: Uint8Array) {
      input.set(rgb);
      runner.infer();
    },
  };
}

/**
 * Engine (supervised child: IPC, copy into the input buffer, dequantise, normalise) versus
 * the bare runner in this process, same model and threads, in alternating blocks so that
 * machine noise hits both sides alike.
 */
export async function runEngineBench(report: Report): Promise<void> {
  const config = loadConfig({ env: {}, overrides: { model_dir: MODEL_DIR } });
  const detector = new SupervisedDetector({
    // The TFLite reference: this figure is the supervision's cost over the same runtime.
    config: { ...config.detector, type: 'cpu', backend: 'tflite', threads: THREADS },
    modelDir: MODEL_DIR,
    manifest: loadManifest(),
    logger: benchLogger(),
  });
  await detector.start();
  const bare = bareRunner();
  const rgb = await sharp(join(FIXTURE_IMAGES, 'cat_test_0.jpg')).resize(224, 224, { fit: 'fill' }).raw().toBuffer();
  const bareTimes: number[] = [];
  const engineTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    bare.infer(rgb);
    await detector.embed(rgb);
  }
  for (let block = 0; block < 6; block++) {
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      bare.infer(rgb);
      bareTimes.push(performance.now() - t);
    }
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      await detector.embed(rgb);
      engineTimes.push(performance.now() - t);
    }
  }
  await detector.stop();
  const ratio = median(engineTimes) / median(bareTimes);
  report.add({
    section: 'inference',
    figure: `engine ÷ bare TFLiteNodeModelRunner, ms per embedding (median of ${engineTimes.length}, ${THREADS} threads)`,
    value: `${ms(median(engineTimes))} ÷ ${ms(median(bareTimes))} = ${ratio.toFixed(3)}`,
    target: '≤ 1.05',
    ok: ratio <= 1.05,
  });
}

/** A 1920x1080 JPEG made from a real photo (the test photos have no 1080p file). */
export async function photo1080p(): Promise<Buffer> {
  return sharp(join(FIXTURE_IMAGES, 'cat_720p.jpg')).resize(1920, 1080, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
}

/** Enroll one 1080p JPEG end to end: decode, resize, embed, store (fsync'd). */
export async function runEnrollBench(report: Report): Promise<void> {
  const dir = tempDir();
  const config = loadConfig({ env: {}, overrides: { model_dir: MODEL_DIR, data_dir: dir.path } });
  const core = new Core({ config: { ...config, detector: { ...config.detector, type: 'cpu' } }, logger: benchLogger() });
  await core.start();
  const jpeg = await photo1080p();
  const times: number[] = [];
  try {
    for (let i = 0; i < 33; i++) {
      const t = performance.now();
      await core.service.enrollImages(`class ${i % 10}`, [jpeg], { source: 'bench' });
      if (i >= 3) times.push(performance.now() - t);
    }
  } finally {
    await core.stop();
    dir.cleanup();
  }
  const p50 = percentile(times, 50);
  const p95 = percentile(times, 95);
  report.add({
    section: 'enrollment',
    figure: `enroll one 1080p JPEG (${Math.round(jpeg.length / 1024)} kB), p50 / p95 of ${times.length}`,
    value: `${ms(p50)} / ${ms(p95)}`,
    target: '≤ 100 / 150 ms',
    ok: p50 <= 100 && p95 <= 150,
  });
}
