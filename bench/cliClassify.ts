/**
 * `edge-imprint classify` as a user runs it (issue 17): the built CLI (dist/, which `npm run
 * bench` builds first) on 41 photos and on 1, each a fresh process. The difference over 40 is
 * what one more photo costs (read, decode, resize, embed, classify) without the start-up.
 * Photos: the committed fixture JPEGs (every clone has them), in name order, repeated to 41.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { median, ms, type Report } from './report.js';
import { FIXTURE_IMAGES, MODEL_DIR, ROOT, tempDir } from './setup.js';

const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const PHOTOS = 41;
const ROUNDS = 7;
const TARGET_MS = 15;
const CLASSES: Array<[string, string[]]> = [
  ['cat', ['cat_train_0.jpg', 'cat_720p.jpg']],
  ['dog', ['dog_train_0.jpg', 'pets.jpg']],
  ['hotdog', ['hotdog_train_0.jpg', 'hotdog_train_1.jpg']],
];

type Backend = 'auto' | 'tflite';
type Timed = { wall: number; cpu: number };

/**
 * CPU ms of this process's finished children (user + system), which include the CLI's own
 * reaped detector child: /proc reports them in USER_HZ ticks (100 per second on Linux).
 */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

/** Runs the built CLI; its wall and CPU ms (throws with its stderr when it fails). */
function runCli(args: string[], dataDir: string, backend: Backend): Timed {
  const env = { ...process.env, EDGE_IMPRINT_DETECTOR_BACKEND: backend };
  const cpu = childrenCpuMs();
  const started = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args, '--model-dir', MODEL_DIR, '--data-dir', dataDir], { env, encoding: 'utf8', cwd: ROOT });
  const wall = performance.now() - started;
  if (r.status !== 0) throw new Error(`edge-imprint ${args[0]} failed (${r.status}): ${r.stderr}`);
  return { wall, cpu: childrenCpuMs() - cpu };
}

/** The fixture photos in name order, repeated until there are `n`. */
function photoList(n: number): string[] {
  const names = readdirSync(FIXTURE_IMAGES).filter((f) => f.endsWith('.jpg')).sort();
  return Array.from({ length: n }, (_, i) => join(FIXTURE_IMAGES, names[i % names.length]!));
}

/** Median wall ms of `classify` on all photos and on the first one, alternated so load hits both alike. */
function timeClassify(dataDir: string, photos: string[], backend: Backend, rounds: number): { many: Timed[]; one: Timed[] } {
  const many: Timed[] = [];
  const one: Timed[] = [];
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
      const wall = (runs: Timed[]): number[] => runs.map((r) => r.wall);
      const [many, one] = [median(wall(t.many)), median(wall(t.one))];
      const perPhoto = (many - one) / (PHOTOS - 1);
      const [cpuMany, cpuOne] = [median(t.many.map((r) => r.cpu)), median(t.one.map((r) => r.cpu))];
      const list = (runs: Timed[]): string => runs.map((r) => `${r.wall.toFixed(0)} (CPU ${r.cpu.toFixed(0)})`).join(' ');
      report.line(`  ${backend}: ${PHOTOS} photos ${list(t.many)} ms; 1 photo ${list(t.one)} ms`);
      report.line(`  ${backend}: CPU of the CLI and its detector child, (${PHOTOS} − 1) / ${PHOTOS - 1}: (${ms(cpuMany)} − ${ms(cpuOne)}) / ${PHOTOS - 1} = ${ms((cpuMany - cpuOne) / (PHOTOS - 1))} per photo`);
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
