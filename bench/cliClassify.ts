/**
 * `edge-imprint classify` as a user runs it (issue 17): the built CLI (dist/, which `npm run
 * bench` builds first) on 41 photos and on 1, each a fresh process. The difference over 40 is
 * what one more photo costs (read, decode, resize, embed, classify) without the start-up.
 * Photos: the committed fixture JPEGs (every clone has them), in name order, repeated to 41.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { median, ms, type Report } from './report.js';
import { FIXTURE_IMAGES, MODEL_DIR, ROOT, tempDir } from './setup.js';

const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const PHOTOS = 41;
const ROUNDS = 5;
const TARGET_MS = 15;
const CLASSES: Array<[string, string[]]> = [
  ['cat', ['cat_train_0.jpg', 'cat_720p.jpg']],
  ['dog', ['dog_train_0.jpg', 'pets.jpg']],
  ['hotdog', ['hotdog_train_0.jpg', 'hotdog_train_1.jpg']],
];

type Backend = 'auto' | 'tflite';

/** Runs the built CLI; its wall time in ms (throws with its stderr when it fails). */
function runCli(args: string[], dataDir: string, backend: Backend): number {
  const env = { ...process.env, EDGE_IMPRINT_DETECTOR_BACKEND: backend };
  const started = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args, '--model-dir', MODEL_DIR, '--data-dir', dataDir], { env, encoding: 'utf8', cwd: ROOT });
  const wall = performance.now() - started;
  if (r.status !== 0) throw new Error(`edge-imprint ${args[0]} failed (${r.status}): ${r.stderr}`);
  return wall;
}

/** The fixture photos in name order, repeated until there are `n`. */
function photoList(n: number): string[] {
  const names = readdirSync(FIXTURE_IMAGES).filter((f) => f.endsWith('.jpg')).sort();
  return Array.from({ length: n }, (_, i) => join(FIXTURE_IMAGES, names[i % names.length]!));
}

/** Median wall ms of `classify` on all photos and on the first one, alternated so load hits both alike. */
function timeClassify(dataDir: string, photos: string[], backend: Backend, rounds: number): { many: number[]; one: number[] } {
  const many: number[] = [];
  const one: number[] = [];
  runCli(['classify', photos[0]!], dataDir, backend); // warms the page cache and the ONNX cache file
  for (let i = 0; i < rounds; i++) {
    many.push(runCli(['classify', ...photos], dataDir, backend));
    one.push(runCli(['classify', photos[0]!], dataDir, backend));
  }
  return { many, one };
}

export async function runCliClassifyBench(report: Report): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm run bench builds first)`);
  const dir = tempDir();
  try {
    for (const [label, names] of CLASSES) runCli(['enroll', label, ...names.map((n) => join(FIXTURE_IMAGES, n))], dir.path, 'auto');
    const photos = photoList(PHOTOS);
    const load = loadavg().map((v) => v.toFixed(2)).join(', ');
    for (const [backend, rounds] of [['auto', ROUNDS], ['tflite', 3]] as const) {
      const t = timeClassify(dir.path, photos, backend, rounds);
      const [many, one] = [median(t.many), median(t.one)];
      const perPhoto = (many - one) / (PHOTOS - 1);
      report.line(`  ${backend}: ${PHOTOS} photos ${t.many.map((v) => v.toFixed(0)).join(' ')} ms; 1 photo ${t.one.map((v) => v.toFixed(0)).join(' ')} ms`);
      report.add({
        section: 'cli-classify',
        figure: `built CLI classify, (${PHOTOS} photos − 1 photo) / ${PHOTOS - 1}, detector.backend ${backend === 'auto' ? 'auto (ONNX Runtime on the CPU)' : 'tflite'}, median of ${rounds} runs each, load ${load}`,
        value: `(${ms(many)} − ${ms(one)}) / ${PHOTOS - 1} = ${ms(perPhoto)}`,
        target: backend === 'auto' ? `≤ ${TARGET_MS} ms` : 'reported (the reference)',
        ...(backend === 'auto' ? { ok: perPhoto <= TARGET_MS } : {}),
      });
    }
  } finally {
    dir.cleanup();
  }
}
