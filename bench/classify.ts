/**
 * Cost of classifying one embedding as the number of classes grows: the median time with
 * 1000 classes minus the median with 10 classes (target <= 1 ms), both sides printed.
 * Weights and queries are seeded random unit vectors of the model's 1024 dimensions; the
 * cost does not depend on their values.
 */
import { ImprintedClassifier } from '../src/recognition/classifier.js';
import type { ClassWeights } from '../src/recognition/types.js';
import { dotRows, l2Normalize, seededRandom } from '../src/recognition/vector.js';

const DIM = 1024;
const RUNS = 2000;

function randomUnit(random: () => number): Float32Array {
  const v = new Float32Array(DIM);
  for (let i = 0; i < DIM; i++) v[i] = random() * 2 - 1;
  return l2Normalize(v);
}

function classes(n: number, random: () => number): ClassWeights[] {
  return Array.from({ length: n }, (_, i) => ({ label: `class_${i}`, background: false, sum: randomUnit(random), count: 1 }));
}

/** Median ms of one classify() call, after a warm-up so the JIT has compiled the loop. */
function medianClassifyMs(classifier: ImprintedClassifier, queries: Float32Array[]): number {
  for (let i = 0; i < 200; i++) classifier.classify(queries[i % queries.length]!);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    classifier.classify(queries[i % queries.length]!);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Median ms of the JS fallback's dot products over 1000 x 1024 (what runs without WebAssembly SIMD). */
function jsScoresMs(queries: Float32Array[], random: () => number): number {
  const matrix = new Float32Array(1000 * DIM);
  for (let r = 0; r < 1000; r++) matrix.set(randomUnit(random), r * DIM);
  const out = new Float64Array(1000);
  const times: number[] = [];
  for (let i = 0; i < 200 + RUNS; i++) {
    const started = performance.now();
    dotRows(matrix, 1000, queries[i % queries.length]!, out);
    if (i >= 200) times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export interface ClassifyBenchResult {
  ms10: number;
  ms1000: number;
  difference: number;
  ok: boolean;
}

export async function runClassifyBench(print: (line: string) => void): Promise<ClassifyBenchResult> {
  const random = seededRandom(42);
  const queries = Array.from({ length: 64 }, () => randomUnit(random));
  const small = new ImprintedClassifier({ threshold: 0.6, margin: 0.05 });
  small.setClasses(classes(10, random));
  const large = new ImprintedClassifier({ threshold: 0.6, margin: 0.05 });
  large.setClasses(classes(1000, random));
  const ms10 = medianClassifyMs(small, queries);
  const ms1000 = medianClassifyMs(large, queries);
  const difference = ms1000 - ms10;
  const ok = difference <= 1;
  print(`  scoring loop: ${large.kernel()}`);
  print(`  classify, 10 classes: ${ms10.toFixed(3)} ms (median of ${RUNS})`);
  print(`  classify, 1000 classes: ${ms1000.toFixed(3)} ms (median of ${RUNS})`);
  print(`  1000 classes minus 10 classes: ${difference.toFixed(3)} ms (target <= 1 ms) ${ok ? '[ok]' : '[MISSED]'}`);
  print(`  (plain JS fallback, scores of 1000 classes alone: ${jsScoresMs(queries, random).toFixed(3)} ms)`);
  return { ms10, ms1000, difference, ok };
}
