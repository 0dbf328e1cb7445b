/**
 * ONNX Runtime against the TFLite reference on the CPU (issue 17): ms per embedding, a
 * frame's 4 zones in one run, how many cameras a 2-core box holds, the detector child's
 * start-up and memory, and how close the embeddings are on every fixture photo.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TfliteBackend } from '../src/detector/backend.js';
import { jpegToInput } from '../src/media/image.js';
import { OnnxBackend } from '../src/detector/onnxBackend.js';
import type { BackendSpec } from '../src/detector/protocol.js';
import { SupervisedDetector } from '../src/detector/supervisedDetector.js';
import { loadConfig } from '../src/config/load.js';
import { dot } from '../src/recognition/vector.js';
import { loadManifest } from '../src/models/manifest.js';
import { median, ms, percentile, type Report } from './report.js';
import { benchLogger, FIXTURE_IMAGES, MODEL_DIR } from './setup.js';

const MODEL = 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite';
const THREADS = 2;
const ZONES = 4;
const FPS = 2;
const CORES = 2;
const CPU_BUDGET = 0.7;

type Timed = { wall: number[]; cpu: number[] };

async function time(run: () => unknown, times: Timed): Promise<void> {
  const cpu = process.cpuUsage();
  const t = performance.now();
  await run();
  times.wall.push(performance.now() - t);
  const used = process.cpuUsage(cpu);
  times.cpu.push((used.user + used.system) / 1000);
}

const blank = (): Timed => ({ wall: [], cpu: [] });

/** Both sides in alternating blocks of the same photo, so that machine noise hits them alike. */
async function perEmbedding(onnx: OnnxBackend, tflite: TfliteBackend, rgb: Uint8Array): Promise<{ onnx: Timed; tflite: Timed }> {
  const o = blank();
  const t = blank();
  for (let i = 0; i < 5; i++) {
    await onnx.embed(rgb);
    tflite.embed(rgb);
  }
  for (let block = 0; block < 6; block++) {
    for (let i = 0; i < 10; i++) await time(() => onnx.embed(rgb), o);
    for (let i = 0; i < 10; i++) await time(() => tflite.embed(rgb), t);
  }
  return { onnx: o, tflite: t };
}

async function zonesBatched(onnx: OnnxBackend, tflite: TfliteBackend, crops: Uint8Array[]): Promise<{ onnx: Timed; tflite: Timed }> {
  const o = blank();
  const t = blank();
  await onnx.embedBatch(crops);
  for (let block = 0; block < 4; block++) {
    for (let i = 0; i < 10; i++) await time(() => onnx.embedBatch(crops), o);
    for (let i = 0; i < 3; i++) await time(() => crops.forEach((c) => tflite.embed(c)), t);
  }
  return { onnx: o, tflite: t };
}

/** Cameras at FPS with ZONES zones each that CORES cores hold under CPU_BUDGET, from CPU ms per frame. */
const capacity = (cpuMsPerFrame: number): number => Math.floor((CPU_BUDGET * CORES * 1000) / (FPS * cpuMsPerFrame));

function childRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** The supervised child from spawn to ready (require, model, session, warm-up), and its RSS after some inferences. */
async function childFigures(backend: 'onnx' | 'tflite', rgb: Uint8Array): Promise<{ startMs: number; rssMb: number; running: string }> {
  const config = loadConfig({ env: {}, overrides: { model_dir: MODEL_DIR } });
  const detector = new SupervisedDetector({
    config: { ...config.detector, type: 'cpu', backend, threads: THREADS },
    modelDir: MODEL_DIR,
    manifest: loadManifest(),
    logger: benchLogger(),
  });
  const t = performance.now();
  await detector.start();
  const startMs = performance.now() - t;
  for (let i = 0; i < 10; i++) await detector.embed(rgb);
  const pid = (detector as unknown as { child: { pid: number } | null }).child?.pid ?? 0;
  const rssMb = pid ? childRssMb(pid) : NaN;
  const running = detector.info().backend;
  await detector.stop();
  return { startMs, rssMb, running };
}

export async function runOnnxBench(report: Report): Promise<void> {
  const spec: BackendSpec = { kind: 'cpu', modelPath: join(MODEL_DIR, MODEL), modelSha256: '', threads: THREADS, device: '', library: '' };
  const onnx = await OnnxBackend.create(spec);
  const tflite = new TfliteBackend(spec, undefined);
  const photos = readdirSync(FIXTURE_IMAGES).filter((f) => f.endsWith('.jpg'));
  const inputs = await Promise.all(photos.map((p) => jpegToInput(readFileSync(join(FIXTURE_IMAGES, p)), onnx.inputSize)));
  const rgb = inputs[photos.indexOf('cat_test_0.jpg')]!;

  const one = await perEmbedding(onnx, tflite, rgb);
  const [om, tm] = [median(one.onnx.wall), median(one.tflite.wall)];
  report.add({
    section: 'onnx',
    figure: `ms per embedding, ONNX Runtime ÷ TFLite, same photo, same run, ${THREADS} threads (median of ${one.onnx.wall.length}; p90 ${ms(percentile(one.onnx.wall, 90))} vs ${ms(percentile(one.tflite.wall, 90))})`,
    value: `${ms(om)} ÷ ${ms(tm)} = ${(om / tm).toFixed(3)} (${(tm / om).toFixed(1)}× faster)`,
    target: '≤ 4 ms median, ≥ 8× faster, p90 ≤ 6 ms',
    ok: om <= 4 && tm / om >= 8 && percentile(one.onnx.wall, 90) <= 6,
  });

  const crops = inputs.slice(0, ZONES);
  const zones = await zonesBatched(onnx, tflite, crops);
  const [zo, zt] = [median(zones.onnx.wall), median(zones.tflite.wall)];
  report.add({
    section: 'onnx',
    figure: `one frame with ${ZONES} zones: ONNX Runtime batched in one run vs TFLite one by one (median)`,
    value: `${ms(zo)} vs ${ms(zt)}`,
    target: '≤ 8 ms batched',
    ok: zo <= 8,
  });
  const [co, ct] = [median(zones.onnx.cpu), median(zones.tflite.cpu)];
  report.add({
    section: 'onnx',
    figure: `cameras at ${FPS} fps with ${ZONES} zones each that one ${CORES}-core box holds under ${CPU_BUDGET * 100} % CPU (CPU ms per frame: ${ms(co)} vs ${ms(ct)})`,
    value: `ONNX Runtime ${capacity(co)} vs TFLite ${capacity(ct)}`,
    target: 'reported',
  });

  const cosines = inputs.map((_, i) => i);
  const values: number[] = [];
  for (const i of cosines) values.push(dot(await onnx.embed(inputs[i]!), tflite.embed(inputs[i]!)));
  const low = Math.min(...values);
  report.add({
    section: 'onnx',
    figure: `cosine ONNX Runtime vs TFLite on every fixture photo (${values.length}): min, median`,
    value: `${low.toFixed(5)}, ${median(values).toFixed(5)}`,
    target: 'min ≥ 0.999',
    ok: low >= 0.999,
  });
  await onnx.close();

  const childOnnx = await childFigures('onnx', rgb);
  const childTflite = await childFigures('tflite', rgb);
  report.add({
    section: 'onnx',
    figure: 'detector child start-up (spawn, require, model, session, warm-up) and RSS: ONNX Runtime vs TFLite',
    value: `${ms(childOnnx.startMs)}, ${childOnnx.rssMb.toFixed(0)} MB (${childOnnx.running}) vs ${ms(childTflite.startMs)}, ${childTflite.rssMb.toFixed(0)} MB (${childTflite.running})`,
    target: 'reported',
  });
}
