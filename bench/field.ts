/**
 * The field benchmark: seeded fixed-camera clips built from real photos (bench/fieldPlan.ts,
 * bench/fieldRender.ts), embedded offline (bench/fieldData.ts), replayed through each decision
 * mechanism and the product's vote smoother (bench/fieldSim.ts). Prints, per mechanism, recall
 * of enrolled appearances and the false starts side by side. Method and figures:
 * docs/field-accuracy.md.
 *
 *   EDGE_IMPRINT_FIELD_CLIPS=n   seed sets of 10 clips (default 2: the tuning set and one held-out set)
 *   EDGE_IMPRINT_FIELD_VIDEO=dir also write each clip as H.264 + ground-truth JSON into dir
 *   EDGE_IMPRINT_FIELD_WHOLE_FRAME=1  also the tuning clips with the whole frame as the zone
 *                                (a camera without zones; ~25 min more embedding the first time)
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DEFAULT_CENTRED_MARGIN, DEFAULT_CENTRED_THRESHOLD, DEFAULT_MARGIN, DEFAULT_THRESHOLD } from '../src/recognition/defaults.js';
import { DEFAULT_DECISION, DEFAULT_CLASS_THRESHOLDS, DEFAULT_ZONE_FLOOR } from '../src/recognition/zoneDefaults.js';
import { DEFAULT_SCENE_OPTIONS } from '../src/recognition/sceneModel.js';
import { MODEL, ensureDataset } from './accuracy.js';
import { BareEmbedder, benchBackend, embeddingTag } from './embeddings.js';
import { loadShippedMean } from './embeddingMean.js';
import { clipSet, embedClip, fieldPlans, wholeFrame, type EmbeddedClip } from './fieldData.js';
import { ClipRenderer, writeClipVideo } from './fieldRender.js';
import { simulate, sumOutcomes, type ClipOutcome, type Mechanism, type ZoneMechanism } from './fieldSim.js';

const CLIPS_PER_SCENE = Number(process.env.EDGE_IMPRINT_FIELD_CLIPS ?? 2);

export async function loadFieldClips(print: (line: string) => void): Promise<EmbeddedClip[]> {
  ensureDataset(print);
  const sha = createHash('sha256').update(readFileSync(MODEL)).digest('hex');
  const backend = benchBackend();
  let embedder: Promise<BareEmbedder> | undefined;
  const plans = await fieldPlans(CLIPS_PER_SCENE);
  if (process.env.EDGE_IMPRINT_FIELD_WHOLE_FRAME === '1') plans.push(...plans.filter((p) => clipSet(p) === 0).map(wholeFrame));
  const clips: EmbeddedClip[] = [];
  const started = performance.now();
  let computed = 0;
  for (const plan of plans) {
    const r = await embedClip(plan, () => (embedder ??= BareEmbedder.create(MODEL, backend)), embeddingTag(sha, backend));
    if (r.computed) computed++;
    clips.push(r.clip);
  }
  const frames = clips.reduce((n, c) => n + c.frames.length, 0);
  print(`  field clips on ${backend}: ${clips.length} (${frames} frames at 2 fps, ${(frames / 2 / 60).toFixed(0)} min); embedded ${computed} now, the rest cached (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  const videoDir = process.env.EDGE_IMPRINT_FIELD_VIDEO;
  if (videoDir) {
    for (const plan of plans) {
      const renderer = new ClipRenderer(plan);
      await renderer.load();
      const { video } = await writeClipVideo(renderer, videoDir);
      print(`  wrote ${video}`);
    }
  }
  return clips;
}

export const PER_CLASS = '+ per-class thresholds';
export const AUGMENTED = '+ augmentation (6 per shot, against the augmented scene)';
/** What the project keeps: scene model, centred residuals, per-class thresholds, augmentation, corrections. */
export const KEPT = '+ three corrections (reject; the event keeps its start frame)';

/** The mechanisms, each adding one thing to the one before (the baselines first). */
export function fieldMechanisms(means: { mean: Float32Array; residualMean: Float32Array } | null): Mechanism[] {
  const mean = means?.mean ?? null;
  const zone: ZoneMechanism = {
    kind: 'zone',
    name: '+ scene model (residual decision), one floor',
    decision: DEFAULT_DECISION,
    thresholds: null,
    floor: DEFAULT_ZONE_FLOOR,
    augment: false,
    corrections: 0,
    eventFrames: 'start',
    confirmFirst: false,
    // The product's scene rules, except that a clip starts with its enrollment: in the field
    // a zone has learned its empty scene long before anyone enrolls from it.
    scene: { ...DEFAULT_SCENE_OPTIONS, firstLookAfterS: 0 },
    sceneUpdates: true,
    residualMean: null,
  };
  const centred: ZoneMechanism = { ...zone, name: '+ centred residuals (residual mean)', residualMean: means?.residualMean ?? null };
  const perClass: ZoneMechanism = { ...centred, name: PER_CLASS, thresholds: DEFAULT_CLASS_THRESHOLDS };
  const augmented: ZoneMechanism = { ...perClass, name: AUGMENTED, augment: true };
  const out: Mechanism[] = [
    { kind: 'classifier', name: 'baseline: global 0.60 / 0.065', threshold: DEFAULT_THRESHOLD, margin: DEFAULT_MARGIN, background: false, mean: null },
    { kind: 'classifier', name: 'baseline + background class', threshold: DEFAULT_THRESHOLD, margin: DEFAULT_MARGIN, background: true, mean: null },
  ];
  if (mean) {
    out.push({ kind: 'classifier', name: 'centred (generic mean), global', threshold: CENTRED.threshold, margin: CENTRED.margin, background: false, mean });
    out.push({ kind: 'classifier', name: 'centred (generic mean) + background class', threshold: CENTRED.threshold, margin: CENTRED.margin, background: true, mean });
  }
  out.push(
    { ...zone, name: '+ scene model, frozen after warm-up', sceneUpdates: false },
    zone,
    ...(means ? [centred] : []),
    perClass,
    augmented,
    { ...augmented, name: KEPT, corrections: 3 },
    { ...augmented, name: '+ three corrections (reject; the event keeps its 3 voting frames)', corrections: 3, eventFrames: 'votes' },
    { ...augmented, name: '+ three rejects + confirm the first event of each class', corrections: 3, confirmFirst: true },
    { ...perClass, name: 'without augmentation: per-class thresholds + three corrections', corrections: 3 },
  );
  return out;
}

/** Threshold and margin of the centred classifier rows (the photo-set calibration in centred space). */
const CENTRED = { threshold: DEFAULT_CENTRED_THRESHOLD, margin: DEFAULT_CENTRED_MARGIN };

const pct = (n: number, d: number): string => (d === 0 ? '-' : `${((100 * n) / d).toFixed(1)} %`);

export function fieldTable(rows: Array<{ name: string; o: ClipOutcome }>): string[] {
  const lines = [
    '| mechanism | recall (right label) | false starts, empty scene | wrong labels | never-enrolled, first time | never-enrolled, later | after a reject of it |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const { name, o } of rows) {
    lines.push(
      `| ${name} | ${o.recalled}/${o.enrolled} = ${pct(o.recalled, o.enrolled)} | ${o.emptyStarts} | ${o.wrongLabel} | ${o.strangerFirstStarts}/${o.strangerFirst} | ${o.strangerLaterStarts}/${o.strangerLater} | ${o.rejectedLater ? `${o.rejectedLaterStarts}/${o.rejectedLater}` : '-'} |`,
    );
  }
  return lines;
}

export interface FieldSet {
  name: string;
  rows: Array<{ name: string; o: ClipOutcome }>;
}

/** One table per seed set: set 0 is what the zone defaults were tuned on, the others are held out. */
export async function runFieldBench(print: (line: string) => void): Promise<FieldSet[]> {
  const clips = await loadFieldClips(print);
  const mechanisms = fieldMechanisms(loadShippedMean());
  const sets: FieldSet[] = [];
  const setOf = (c: EmbeddedClip): string => (c.plan.id.endsWith('-frame') ? 'whole frame' : String(clipSet(c.plan)));
  for (const set of [...new Set(clips.map(setOf))].sort()) {
    const mine = clips.filter((c) => setOf(c) === set);
    const what = set === '0' ? 'tuning clips' : set === 'whole frame' ? 'tuning clips, whole frame as the zone' : `held-out clips (set ${set})`;
    const name = `${what}, ${mine.length}`;
    let cost = '';
    const rows = mechanisms.map((m) => {
      const started = performance.now();
      const o = sumOutcomes(mine.map((c) => simulate(c, m)));
      if (m.name === KEPT) {
        const frames = mine.reduce((n, c) => n + c.frames.length, 0);
        cost = `  kept mechanisms: ${((1000 * (performance.now() - started)) / frames).toFixed(0)} µs per frame for decide() + smoother + scene update + corrections (${frames} frames, 3 classes)`;
      }
      return { name: m.name, o };
    });
    print(`  ${name}:`);
    for (const line of fieldTable(rows)) print(`  ${line}`);
    print(cost);
    sets.push({ name, rows });
  }
  return sets;
}

if (process.argv[1]?.endsWith('field.ts')) await runFieldBench((l) => console.log(l));
