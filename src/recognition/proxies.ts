/**
 * Multi-proxy classes: a class whose photos show distinct looks (a cat asleep and a cat
 * walking, a car from the front and from the side) is represented by up to k unit
 * vectors found by spherical k-means over its shots, and scores the best of them.
 */
import type { ClassWeights } from './types.js';
import { dot, meanDirection } from './vector.js';

export interface ProxyOptions {
  /** Most proxies per class. */
  maxProxies: number;
  /** Shots needed per proxy: a class gets min(maxProxies, floor(shots / minShotsPerProxy)) proxies, at least 1. */
  minShotsPerProxy: number;
  /** k-means iterations (assignments stop changing well before this on real data). */
  iterations?: number;
}

/**
 * Spherical k-means over unit vectors. Deterministic: the first centre is the shot
 * nearest the class mean, each next one the shot farthest from the centres chosen so far
 * (so a single outlier photo can get its own proxy instead of bending the main one).
 * Returns the non-empty centres, L2-normalised.
 */
export function sphericalKMeans(shots: readonly Float32Array[], k: number, iterations = 20): Float32Array[] {
  const first = shots[0];
  if (!first) return [];
  const dim = first.length;
  if (k <= 1 || shots.length <= 1) return [meanDirection(shots, dim)];
  let centres = initialCentres(shots, Math.min(k, shots.length), dim);
  let assignment = new Int32Array(shots.length).fill(-1);
  for (let it = 0; it < iterations; it++) {
    const next = shots.map((s) => nearest(centres, s));
    const changed = next.some((c, i) => c !== assignment[i]);
    assignment = Int32Array.from(next);
    centres = centres
      .map((_, c) => shots.filter((_s, i) => assignment[i] === c))
      .filter((members) => members.length > 0)
      .map((members) => meanDirection(members, dim));
    if (!changed) break;
  }
  return centres;
}

function initialCentres(shots: readonly Float32Array[], k: number, dim: number): Float32Array[] {
  const mean = meanDirection(shots, dim);
  let start = 0;
  shots.forEach((s, i) => {
    if (dot(s, mean) > dot(shots[start]!, mean)) start = i;
  });
  const centres = [shots[start]!];
  while (centres.length < k) {
    let far = -1;
    let farSim = Infinity;
    shots.forEach((s, i) => {
      const sim = Math.max(...centres.map((c) => dot(c, s)));
      if (sim < farSim) {
        farSim = sim;
        far = i;
      }
    });
    centres.push(shots[far]!);
  }
  return centres;
}

function nearest(centres: readonly Float32Array[], v: Float32Array): number {
  let best = 0;
  let bestSim = -Infinity;
  centres.forEach((c, i) => {
    const sim = dot(c, v);
    if (sim > bestSim) {
      bestSim = sim;
      best = i;
    }
  });
  return best;
}

/** How many proxies a class with `shots` shots gets. */
export function proxyCount(shots: number, opts: ProxyOptions): number {
  return Math.max(1, Math.min(opts.maxProxies, Math.floor(shots / Math.max(1, opts.minShotsPerProxy))));
}

/** Class weights with proxies computed from each class's shots (the imprinted sum is kept as is). */
export function withProxies(
  classes: ReadonlyArray<{ label: string; background: boolean; shots: readonly Float32Array[] }>,
  opts: ProxyOptions,
): ClassWeights[] {
  return classes.map((c) => {
    const dim = c.shots[0]?.length ?? 0;
    const sum = new Float32Array(dim);
    for (const s of c.shots) for (let i = 0; i < dim; i++) sum[i]! += s[i]!;
    const k = proxyCount(c.shots.length, opts);
    const weights: ClassWeights = { label: c.label, background: c.background, sum, count: c.shots.length };
    if (k > 1) weights.proxies = sphericalKMeans(c.shots, k, opts.iterations);
    return weights;
  });
}
