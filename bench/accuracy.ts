/**
 * Few-shot accuracy on a real image set (Tux Paint's photo stamps, see bench/embeddings.ts):
 * N-way K-shot episodes, seeded, scored closed-set (top-1 over the enrolled classes) for
 *   imprint     - one weight per class, the normalised mean of its shots (the product default)
 *   1-NN        - every shot is its own prototype
 *   multi-proxy - up to k proxies per class by spherical k-means, score = best proxy
 *   fine-tuned  - fineTune(): softmax regression from the imprinted weights, kept only when
 *                 it holds up on held-out shots (else imprinting, which is what it returns)
 *   fine-tuned (always) - trainSoftmax() without the held-out check, to show what the check buys
 * and then calibrates the classifier's threshold and margin open-set (see runCalibration).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CENTRED_MARGIN, DEFAULT_CENTRED_THRESHOLD, DEFAULT_MARGIN, DEFAULT_THRESHOLD } from '../src/recognition/defaults.js';
import { checkShippedMean } from './embeddingMean.js';
import { MEAN_PHOTOS, SCENES } from './fieldPlan.js';
import { DEFAULT_FINE_TUNE, fineTune, trainSoftmax, type LabelledShots } from '../src/recognition/fineTune.js';
import { withProxies, type ProxyOptions } from '../src/recognition/proxies.js';
import { ImprintedClassifier } from '../src/recognition/classifier.js';
import type { ClassWeights } from '../src/recognition/types.js';
import { centre } from '../src/recognition/centring.js';
import { classThresholds } from '../src/recognition/classThresholds.js';
import { meanDirection, seededRandom, shuffled } from '../src/recognition/vector.js';
import { DATASET_DIR, embedFiles, listDataset, type LabelledFiles } from './embeddings.js';
import { FIXTURE_IMAGES, MODEL_DIR, ROOT } from './setup.js';

export const MODEL = join(MODEL_DIR, 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite');
const SHOTS = [1, 5, 10, 20];
const EPISODES = Number(process.env.EDGE_IMPRINT_BENCH_EPISODES ?? 30);
const MAX_QUERIES = 10;
export const PROXY_OPTIONS: ProxyOptions = { maxProxies: 3, minShotsPerProxy: 4 };

const METHODS = ['imprint', '1-NN', 'multi-proxy', 'fine-tuned', 'fine-tuned (always)'] as const;
type Method = (typeof METHODS)[number];

export interface EmbeddedClass {
  label: string;
  embeddings: Float32Array[];
}

interface Episode {
  support: LabelledShots[];
  queries: Array<{ x: Float32Array; y: number }>;
}

export interface AccuracyRow {
  ways: number;
  shots: number;
  episodes: number;
  accuracy: Record<Method, number>;
  fineTuneUsed: number;
}

/**
 * Installs the image sets with scripts/fetch-dataset.sh when any is missing (apt-get; needs
 * root or sudo): the stamps, and the scene photos of the field benchmark and the generic means.
 */
export function ensureDataset(print: (line: string) => void): void {
  const photos = [...SCENES.map((s) => s.path), ...MEAN_PHOTOS];
  if (existsSync(DATASET_DIR) && photos.every((p) => existsSync(p))) return;
  print('  image sets missing: running scripts/fetch-dataset.sh (apt-get install tuxpaint-stamps-default tuxpaint-data lomiri-wallpapers-16.04, ~185 MB)');
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'fetch-dataset.sh')], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error('scripts/fetch-dataset.sh failed: install tuxpaint-stamps-default tuxpaint-data lomiri-wallpapers-16.04, or set EDGE_IMPRINT_DATASET_DIR');
}

export async function loadEmbeddedDataset(print: (line: string) => void): Promise<EmbeddedClass[]> {
  ensureDataset(print);
  const dataset: LabelledFiles[] = listDataset();
  const files = dataset.flatMap((c) => c.files);
  const { embeddings, computed, ms } = await embedFiles(files, MODEL);
  print(`  dataset: ${dataset.length} classes, ${files.length} photos; embedded ${computed} now, the rest cached (${(ms / 1000).toFixed(1)} s)`);
  return dataset.map((c) => ({ label: c.label, embeddings: c.files.map((f) => embeddings.get(f)!) }));
}

function makeEpisode(classes: EmbeddedClass[], ways: number, shots: number, random: () => number): Episode {
  const eligible = classes.filter((c) => c.embeddings.length > shots);
  const chosen = shuffled(eligible, random).slice(0, ways);
  const queries: Episode['queries'] = [];
  const support = chosen.map((c, y) => {
    const order = shuffled(c.embeddings, random);
    for (const x of order.slice(shots, shots + MAX_QUERIES)) queries.push({ x, y });
    return { label: c.label, shots: order.slice(0, shots) };
  });
  return { support, queries };
}

function weightsFor(method: Method, support: LabelledShots[]): { weights: ClassWeights[]; used?: boolean } {
  const dim = support[0]?.shots[0]?.length ?? 0;
  const unit = (vs: Float32Array[]): ClassWeights[] =>
    support.map((c, i) => ({ label: c.label, background: false, sum: vs[i]!, count: c.shots.length }));
  switch (method) {
    case 'imprint':
      return { weights: unit(support.map((c) => meanDirection(c.shots, dim))) };
    case '1-NN':
      return { weights: support.map((c) => ({ label: c.label, background: false, sum: meanDirection(c.shots, dim), count: c.shots.length, proxies: c.shots })) };
    case 'multi-proxy':
      return { weights: withProxies(support.map((c) => ({ ...c, background: false })), PROXY_OPTIONS) };
    case 'fine-tuned': {
      const r = fineTune(support);
      return { weights: r.weights, used: r.used };
    }
    case 'fine-tuned (always)':
      return { weights: unit(trainSoftmax(support, DEFAULT_FINE_TUNE)) };
  }
}

function closedSetAccuracy(weights: ClassWeights[], episode: Episode): number {
  const classifier = new ImprintedClassifier({ threshold: -1, margin: 0 });
  classifier.setClasses(weights);
  let correct = 0;
  for (const q of episode.queries) {
    const r = classifier.classify(q.x);
    if (r.label === episode.support[q.y]!.label) correct++;
  }
  return correct / Math.max(1, episode.queries.length);
}

function runShots(classes: EmbeddedClass[], ways: number | 'all', shots: number): AccuracyRow {
  const random = seededRandom(1000 * shots + (ways === 'all' ? 999 : ways));
  const eligible = classes.filter((c) => c.embeddings.length > shots).length;
  const n = ways === 'all' ? eligible : Math.min(ways, eligible);
  const sums = Object.fromEntries(METHODS.map((m) => [m, 0])) as Record<Method, number>;
  let used = 0;
  for (let e = 0; e < EPISODES; e++) {
    const episode = makeEpisode(classes, n, shots, random);
    for (const m of METHODS) {
      const { weights, used: u } = weightsFor(m, episode.support);
      if (u) used++;
      sums[m] += closedSetAccuracy(weights, episode);
    }
  }
  const accuracy = Object.fromEntries(METHODS.map((m) => [m, sums[m] / EPISODES])) as Record<Method, number>;
  return { ways: n, shots, episodes: EPISODES, accuracy, fineTuneUsed: used };
}

export function accuracyTable(rows: AccuracyRow[]): string[] {
  const pct = (v: number): string => `${(100 * v).toFixed(1)} %`;
  const lines = [
    `| N-way | K-shot | episodes | ${METHODS.join(' | ')} | fine-tune kept |`,
    `| --- | --- | --- | ${METHODS.map(() => '---').join(' | ')} | --- |`,
  ];
  for (const r of rows) {
    lines.push(`| ${r.ways} | ${r.shots} | ${r.episodes} | ${METHODS.map((m) => pct(r.accuracy[m])).join(' | ')} | ${r.fineTuneUsed}/${r.episodes} |`);
  }
  return lines;
}

export async function runAccuracyBench(
  print: (line: string) => void,
): Promise<{ rows: AccuracyRow[]; calibration: Calibration; centred: { calibration: Calibration; coral: CoralOutcome } | null }> {
  const classes = await loadEmbeddedDataset(print);
  const rows: AccuracyRow[] = [];
  const started = performance.now();
  for (const ways of [5, 'all'] as const) for (const k of SHOTS) rows.push(runShots(classes, ways, k));
  print(`  episodes: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  for (const line of accuracyTable(rows)) print(`  ${line}`);
  for (const r of rows.filter((x) => x.shots >= 5)) {
    const ok = r.accuracy['fine-tuned'] >= r.accuracy.imprint;
    print(`  fine-tuned ${(100 * r.accuracy['fine-tuned']).toFixed(1)} % vs imprint ${(100 * r.accuracy.imprint).toFixed(1)} % (${r.ways}-way ${r.shots}-shot) ${ok ? '[ok]' : '[MISSED]'}`);
  }
  openSetByMethod(classes, print);
  const coral = await coralCheck();
  const calibration = runCalibration(classes, print, robustlyPasses(coral));
  printCoral(print, coral(calibration.threshold, calibration.margin), calibration.threshold, calibration.margin);
  if (calibration.threshold !== DEFAULT_THRESHOLD || calibration.margin !== DEFAULT_MARGIN) {
    printCoral(print, coral(DEFAULT_THRESHOLD, DEFAULT_MARGIN), DEFAULT_THRESHOLD, DEFAULT_MARGIN);
  }
  const centred = await centredCalibration(classes, print);
  return { rows, calibration, centred };
}

/**
 * The same calibration with every embedding centred by the shipped generic mean, and with
 * per-class thresholds from data on top (measured; not kept, see docs/field-accuracy.md).
 */
async function centredCalibration(classes: EmbeddedClass[], print: (line: string) => void): Promise<{ calibration: Calibration; coral: CoralOutcome } | null> {
  const shipped = await checkShippedMean(print);
  if (!shipped) return null;
  const variants: Variant[] = [
    { name: 'centred', mean: shipped.mean, perClass: null },
    { name: 'centred + per-class thresholds', mean: shipped.mean, perClass: { impostorMargin: 0.05, ceiling: 1 } },
  ];
  let kept: { calibration: Calibration; coral: CoralOutcome } | null = null;
  for (const variant of variants) {
    const coral = await coralCheck(variant);
    const calibration = runCalibration(classes, print, robustlyPasses(coral), variant);
    const outcome = coral(calibration.threshold, calibration.margin);
    if (!kept) {
      kept = { calibration, coral: outcome };
      printCoral(print, outcome, calibration.threshold, calibration.margin);
      const atDefaults = coral(DEFAULT_CENTRED_THRESHOLD, DEFAULT_CENTRED_MARGIN);
      print(`  centred, at the shipped DEFAULT_CENTRED_THRESHOLD ${DEFAULT_CENTRED_THRESHOLD} / margin ${DEFAULT_CENTRED_MARGIN}: Coral check ${atDefaults.passed ? 'passes' : 'FAILS'}`);
    }
  }
  return kept;
}

// ---------------------------------------------------------------------------------------
// Open-set calibration of threshold and margin.

interface OpenSetQuery {
  best: number;
  second: number;
  correct: boolean; // best class is the true class (always false for unknowns)
  known: boolean;
  /** The best class's threshold from data (classThresholds without a floor); -Infinity when not used. */
  classThreshold: number;
}

/**
 * How embeddings and thresholds are handled: `mean` centres every embedding (shots, queries,
 * Coral photos) before imprinting; `perClass` adds each class's threshold from data on top of
 * the global one (the global value is then the floor).
 */
export interface Variant {
  name: string;
  mean: Float32Array | null;
  perClass: { impostorMargin: number; ceiling: number } | null;
}

export const PLAIN: Variant = { name: 'as shipped', mean: null, perClass: null };

/** Per class: its threshold from the other enrolled classes' shots and its own spread. */
function dataThresholds(support: LabelledShots[], perClass: Variant['perClass']): Map<string, number> {
  if (!perClass) return new Map();
  const t = classThresholds(support.map((c) => ({ label: c.label, shots: c.shots })), [], { floor: -1, ...perClass });
  return new Map(t.map((c) => [c.label, c.threshold]));
}

export interface Calibration {
  threshold: number;
  margin: number;
  balancedAccuracy: number;
  knownCorrect: number;
  unknownRejected: number;
  /** The same figures for the shipped defaults (DEFAULT_THRESHOLD / DEFAULT_MARGIN). */
  defaults: { balancedAccuracy: number; knownCorrect: number; unknownRejected: number };
  /** The best values when the Coral check is ignored. */
  unrestricted: { threshold: number; margin: number; balancedAccuracy: number };
}

/** Half the classes enrolled with K shots, the other half never enrolled; every query's best and second score. */
function openSetQueries(
  classes: EmbeddedClass[],
  shots: number,
  episodes: number,
  seed: number,
  method: Method = 'imprint',
  variant: Variant = PLAIN,
): OpenSetQuery[] {
  const random = seededRandom(seed);
  classes = classes.map((c) => ({ label: c.label, embeddings: c.embeddings.map((x) => centre(x, variant.mean)) }));
  const out: OpenSetQuery[] = [];
  for (let e = 0; e < episodes; e++) {
    const order = shuffled(classes.filter((c) => c.embeddings.length > shots), random);
    const half = Math.floor(order.length / 2);
    const known = order.slice(0, half).map((c) => ({ label: c.label, emb: shuffled(c.embeddings, random) }));
    const classifier = new ImprintedClassifier({ threshold: -1, margin: 0 });
    const support = known.map((c) => ({ label: c.label, shots: c.emb.slice(0, shots) }));
    classifier.setClasses(weightsFor(method, support).weights);
    const perClass = dataThresholds(support, variant.perClass);
    const score = (x: Float32Array, label: string | null): void => {
      const r = classifier.classify(x);
      const sorted = Object.values(r.scores).sort((a, b) => b - a);
      const classThreshold = perClass.get(r.label) ?? -Infinity;
      out.push({ best: sorted[0]!, second: sorted[1] ?? -Infinity, correct: label !== null && r.label === label, known: label !== null, classThreshold });
    };
    for (const c of known) for (const x of c.emb.slice(shots, shots + MAX_QUERIES)) score(x, c.label);
    for (const c of order.slice(half)) for (const x of shuffled(c.embeddings, random).slice(0, MAX_QUERIES)) score(x, null);
  }
  return out;
}

function rates(queries: OpenSetQuery[], threshold: number, margin: number): { knownCorrect: number; unknownRejected: number; balancedAccuracy: number } {
  let known = 0;
  let knownCorrect = 0;
  let unknown = 0;
  let rejected = 0;
  for (const q of queries) {
    const accepted = q.best >= Math.max(threshold, q.classThreshold) && q.best - q.second >= margin;
    if (q.known) {
      known++;
      if (accepted && q.correct) knownCorrect++;
    } else {
      unknown++;
      if (!accepted) rejected++;
    }
  }
  const kc = knownCorrect / Math.max(1, known);
  const ur = rejected / Math.max(1, unknown);
  return { knownCorrect: kc, unknownRejected: ur, balancedAccuracy: (kc + ur) / 2 };
}

/**
 * Grid search of threshold (0.30-0.95, step 0.01) and margin (0-0.15, step 0.005) for the
 * best balanced accuracy (known queries labelled correctly + unknown queries rejected) / 2,
 * pooled over 1-, 3- and 5-shot enrolments (what users do: a few photos per class).
 * `allowed` restricts the grid (the Coral photos' check); the unrestricted optimum is printed too.
 */
export function runCalibration(
  classes: EmbeddedClass[],
  print: (line: string) => void,
  allowed: (threshold: number, margin: number) => boolean = () => true,
  variant: Variant = PLAIN,
): Calibration {
  const queries = [1, 3, 5].flatMap((k) => openSetQueries(classes, k, 40, 7000 + k, 'imprint', variant));
  type Point = { threshold: number; margin: number; knownCorrect: number; unknownRejected: number; balancedAccuracy: number };
  let free: Point | undefined;
  let best: Point | undefined;
  // Centred cosines are lower than raw ones: their grid starts at 0.
  for (let ti = variant.mean ? 0 : 30; ti <= 95; ti++) {
    for (let mi = 0; mi <= 30; mi++) {
      const t = ti / 100;
      const m = mi / 200;
      const point = { threshold: t, margin: m, ...rates(queries, t, m) };
      if (!free || point.balancedAccuracy > free.balancedAccuracy) free = point;
      if (allowed(t, m) && (!best || point.balancedAccuracy > best.balancedAccuracy)) best = point;
    }
  }
  if (!free) throw new Error('empty calibration grid');
  if (!best) {
    print('  no threshold/margin on the grid passes the Coral check; using the unrestricted optimum');
    best = free;
  }
  const defaults = rates(queries, DEFAULT_THRESHOLD, DEFAULT_MARGIN);
  const describe = (r: Point): string =>
    `threshold ${r.threshold}, margin ${r.margin}: balanced accuracy ${pct(r.balancedAccuracy)} (known correct ${pct(r.knownCorrect)}, unknown rejected ${pct(r.unknownRejected)})`;
  print(`  open-set calibration (${variant.name}): ${queries.filter((q) => q.known).length} known + ${queries.filter((q) => !q.known).length} unknown queries`);
  print(`  unrestricted optimum: ${describe(free)}`);
  print(`  optimum passing the Coral check: ${describe(best)}`);
  if (variant === PLAIN) print(`  shipped defaults: ${describe({ threshold: DEFAULT_THRESHOLD, margin: DEFAULT_MARGIN, ...defaults })}`);
  return { ...best, defaults, unrestricted: { threshold: free.threshold, margin: free.margin, balancedAccuracy: free.balancedAccuracy } };
}

const pct = (v: number): string => `${(100 * v).toFixed(1)} %`;

const CORAL_TRAIN: Record<string, string[]> = { cat: ['cat_train_0'], dog: ['dog_train_0'], hotdog: ['hotdog_train_0', 'hotdog_train_1'] };
const CORAL_QUERIES = ['cat_test_0', 'dog_test_0', 'hotdog_test_0', 'cat', 'cat_720p', 'hot_dog', 'pets', 'bird', 'owl', 'parrot', 'sunflower', 'dragonfly'];
const CORAL_OTHERS = ['bird', 'owl', 'parrot', 'sunflower', 'dragonfly'];

/** Open-set balanced accuracy at the shipped defaults for each way of building the weights. */
function openSetByMethod(classes: EmbeddedClass[], print: (line: string) => void): void {
  for (const k of [5, 10]) {
    const parts = (['imprint', 'multi-proxy', 'fine-tuned'] as const).map((m) => {
      const r = rates(openSetQueries(classes, k, 20, 9000 + k, m), DEFAULT_THRESHOLD, DEFAULT_MARGIN);
      return `${m} ${pct(r.balancedAccuracy)} (known ${pct(r.knownCorrect)}, unknown rejected ${pct(r.unknownRejected)})`;
    });
    print(`  open set at the defaults, ${k}-shot: ${parts.join('; ')}`);
  }
}

export interface CoralOutcome {
  labels: Record<string, string>;
  scores: Record<string, Record<string, number>>;
  testsCorrect: boolean;
  catsCorrect: boolean;
  unknowns: number;
  /** Every *_test_* is its class, cat.jpg and cat_720p.jpg are cat, and at least 4 of the 5 others are unknown. */
  passed: boolean;
}

/** Coral's imprinting check: enroll cat/dog/hotdog from the *_train_* photos and classify the others. */
export async function coralCheck(variant: Variant = PLAIN): Promise<(threshold: number, margin: number) => CoralOutcome> {
  const names = [...Object.values(CORAL_TRAIN).flat(), ...CORAL_QUERIES];
  const path = (n: string): string => join(FIXTURE_IMAGES, `${n}.jpg`);
  // The agent's own decoding path, since these values ship as its defaults.
  const { embeddings } = await embedFiles(names.map(path), MODEL, 'product');
  const emb = (n: string): Float32Array => centre(embeddings.get(path(n))!, variant.mean);
  const perClass = dataThresholds(Object.entries(CORAL_TRAIN).map(([label, ns]) => ({ label, shots: ns.map(emb) })), variant.perClass);
  const weights = Object.entries(CORAL_TRAIN).map(([label, ns]) => ({
    label,
    background: false,
    sum: meanDirection(ns.map(emb), emb(ns[0]!).length),
    count: ns.length,
  }));
  return (threshold, margin) => {
    const classifier = new ImprintedClassifier({ threshold, margin });
    classifier.setClasses(weights);
    const labels: Record<string, string> = {};
    const scores: Record<string, Record<string, number>> = {};
    for (const n of CORAL_QUERIES) {
      const r = classifier.classify(emb(n));
      labels[n] = r.score < (perClass.get(r.label) ?? -Infinity) ? 'unknown' : r.label;
      scores[n] = r.scores;
    }
    const testsCorrect = ['cat_test_0', 'dog_test_0', 'hotdog_test_0'].every((n) => labels[n] === n.split('_')[0]);
    const catsCorrect = labels.cat === 'cat' && labels.cat_720p === 'cat';
    const unknowns = CORAL_OTHERS.filter((n) => labels[n] === 'unknown').length;
    return { labels, scores, testsCorrect, catsCorrect, unknowns, passed: testsCorrect && catsCorrect && unknowns >= 4 };
  };
}

/**
 * The Coral check must still pass with the threshold 0.02 and the margin 0.01 away on
 * either side: the Edge TPU twin and other decoders shift scores by about that much, and a
 * default sitting on the edge of the check would flip with them.
 */
export function robustlyPasses(coral: (t: number, m: number) => CoralOutcome): (t: number, m: number) => boolean {
  return (t, m) => [-1, 0, 1].every((d) => coral(t + 0.02 * d, Math.max(0, m + 0.01 * d)).passed);
}

export function printCoral(print: (line: string) => void, outcome: CoralOutcome, threshold: number, margin: number): void {
  for (const n of CORAL_QUERIES) {
    const top = Object.entries(outcome.scores[n] ?? {})
      .map(([l, s]) => `${l} ${s.toFixed(3)}`)
      .join(', ');
    print(`  coral ${n}.jpg -> ${outcome.labels[n]} (${top})`);
  }
  print(
    `  coral check at threshold ${threshold}, margin ${margin}: *_test_* ${outcome.testsCorrect ? 'all correct' : 'NOT all correct'}, ` +
      `cat.jpg ${outcome.labels.cat}, cat_720p.jpg ${outcome.labels.cat_720p}, ${outcome.unknowns}/5 of ${CORAL_OTHERS.join('/')} unknown`,
  );
}
