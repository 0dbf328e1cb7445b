/**
 * Replays an embedded field clip (bench/fieldData.ts) through one decision mechanism and the
 * product's vote smoother (ClassSmoother: window 5, 3 hits, 10 s off delay), and scores the
 * start events against the clip's ground truth.
 *
 * Mechanisms:
 *   classifier  the shipped ImprintedClassifier on the zone's whole embedding (optionally
 *               centred by the generic mean), optionally with a user background class made of
 *               3 frames of the empty scene;
 *   zone        src/recognition/decision.ts: residuals against the zone's SceneModel, per-class
 *               thresholds (classThresholds) or one floor, optional augmented shots, and a
 *               user who rejects up to `corrections` wrong start events per clip.
 */
import { ClassSmoother, type DetectionEvent } from '../src/pipeline/smoother.js';
import { centre } from '../src/recognition/centring.js';
import { decisionClasses } from '../src/recognition/classThresholds.js';
import { ImprintedClassifier } from '../src/recognition/classifier.js';
import { decide, residual, residualShot, type DecisionClass, type DecisionOptions, type Negative } from '../src/recognition/decision.js';
import { DEFAULT_SCENE_OPTIONS, SceneModel, type SceneModelOptions } from '../src/recognition/sceneModel.js';
import type { Classification } from '../src/recognition/types.js';
import { meanDirection } from '../src/recognition/vector.js';
import type { EmbeddedClip } from './fieldData.js';
import { FPS, truth, type TruthSpan } from './fieldPlan.js';

export interface ClassifierMechanism {
  kind: 'classifier';
  name: string;
  threshold: number;
  margin: number;
  background: boolean;
  mean: Float32Array | null;
}

export interface ZoneMechanism {
  kind: 'zone';
  name: string;
  decision: DecisionOptions;
  /** null: one threshold (floor) for every class. */
  thresholds: { floor: number; impostorMargin: number; ceiling: number } | null;
  floor: number;
  augment: boolean;
  /** Wrong start events the simulated user rejects per clip. */
  corrections: number;
  /** Confirm the first right start event of each class (its frame becomes a shot). */
  confirmFirst: boolean;
  /** Frames an event keeps for a correction: its start frame only, or every frame that voted for it. */
  eventFrames: 'start' | 'votes';
  scene: Omit<SceneModelOptions, 'clock'>;
  /** Keep learning the scene during the evaluation (else frozen after the warm-up). */
  sceneUpdates: boolean;
  residualMean: Float32Array | null;
}

export type Mechanism = ClassifierMechanism | ZoneMechanism;

export const SMOOTHER = { window: 5, minHits: 3, offDelayS: 10 };
/** A start this long after the object left the zone still belongs to its appearance (votes lag). */
const LAG_FRAMES = 3;

export interface ClipOutcome {
  enrolled: number;
  recalled: number;
  wrongLabel: number;
  emptyStarts: number;
  strangerFirst: number;
  strangerFirstStarts: number;
  strangerLater: number;
  strangerLaterStarts: number;
  /** Later appearances of strangers that had been rejected once, and how many of them still started. */
  rejectedLater: number;
  rejectedLaterStarts: number;
  corrections: number;
}

export interface Start {
  frame: number;
  label: string;
}

export type Attribution = { kind: 'empty' } | { kind: 'span'; span: TruthSpan };

export function attribute(spans: TruthSpan[], frame: number): Attribution {
  const span = spans.find((s) => frame >= s.startFrame && frame <= s.endFrame + LAG_FRAMES);
  return span ? { kind: 'span', span } : { kind: 'empty' };
}

function newSmoother(clock: () => number): ClassSmoother {
  let id = 0;
  return new ClassSmoother({ camera: 'field', zone: null, ...SMOOTHER, threshold: -Infinity, clock, newId: () => String(++id) });
}

/** The clip's frames from the evaluation start, pushed one by one. */
function evalFrames(clip: EmbeddedClip): number[] {
  return Array.from({ length: clip.plan.frames - clip.plan.evalStart * FPS }, (_, i) => clip.plan.evalStart * FPS + i);
}

function labelsOf(clip: EmbeddedClip): string[] {
  return [...new Set(clip.plan.shots.map((s) => s.label))];
}

function runClassifier(clip: EmbeddedClip, m: ClassifierMechanism): Start[] {
  const tf = (x: Float32Array): Float32Array => centre(x, m.mean);
  const dim = clip.frames[0]!.length;
  const weights = labelsOf(clip).map((label) => {
    const shots = clip.plan.shots.filter((s) => s.label === label).map((s) => tf(clip.frames[s.frame]!));
    return { label, background: false, sum: meanDirection(shots, dim), count: shots.length };
  });
  if (m.background) {
    const shots = clip.plan.backgroundFrames.map((f) => tf(clip.frames[f]!));
    weights.push({ label: 'empty_scene', background: true, sum: meanDirection(shots, dim), count: shots.length });
  }
  const classifier = new ImprintedClassifier({ threshold: m.threshold, margin: m.margin });
  classifier.setClasses(weights);
  let now = 0;
  const smoother = newSmoother(() => now);
  const starts: Start[] = [];
  for (const f of evalFrames(clip)) {
    now = (f / FPS) * 1000;
    for (const e of smoother.push(classifier.classify(tf(clip.frames[f]!))).events) if (e.type === 'start') starts.push({ frame: f, label: e.label });
  }
  return starts;
}

interface ZoneState {
  scene: SceneModel;
  shots: Map<string, Float32Array[]>;
  negatives: Negative[];
}

function buildClasses(state: ZoneState, m: ZoneMechanism): DecisionClass[] {
  const classes = [...state.shots].map(([label, shots]) => ({ label, shots }));
  const opts = m.thresholds ?? { floor: m.floor, impostorMargin: 0, ceiling: 1 };
  return decisionClasses(classes, state.negatives, { ...opts, perClass: m.thresholds !== null }).classes;
}

/** Learns the scene from the start of the clip and takes the enrollment shots (with augmentations) as residuals. */
function enroll(clip: EmbeddedClip, m: ZoneMechanism, clock: { now: number }): ZoneState {
  const plan = clip.plan;
  const scene = new SceneModel({ ...m.scene, clock: () => clock.now });
  const shots = new Map<string, Float32Array[]>();
  for (let f = 0; f < plan.evalStart * FPS; f++) {
    clock.now = (f / FPS) * 1000;
    const x = clip.frames[f]!;
    const shotIndex = plan.shots.findIndex((s) => s.frame === f);
    if (shotIndex >= 0) {
      const shot = plan.shots[shotIndex]!;
      const list = shots.get(shot.label) ?? [];
      const r = residualShot(x, scene.prototypes(), m.residualMean);
      if (r) list.push(r);
      // An augmented shot minus the equally augmented empty scene: a flipped or cropped frame
      // against the unflipped scene would be all scene change.
      if (m.augment) clip.augmented[shotIndex]!.forEach((v, k) => list.push(residual(v, clip.augmentedScene[shotIndex]![k]!, m.residualMean).vector));
      shots.set(shot.label, list);
    }
    scene.observe(x, { classOn: false });
  }
  return { scene, shots, negatives: [] };
}

function runZone(clip: EmbeddedClip, m: ZoneMechanism, spans: TruthSpan[]): { starts: Start[]; rejected: Map<string, number> } {
  const clock = { now: 0 };
  const state = enroll(clip, m, clock);
  let classes = buildClasses(state, m);
  const smoother = newSmoother(() => clock.now);
  const starts: Start[] = [];
  const rejected = new Map<string, number>();
  let corrections = 0;
  const recent: Array<{ x: Float32Array; r: Float32Array | null; label: string }> = [];
  const confirmed = new Set<string>();
  for (const f of evalFrames(clip)) {
    clock.now = (f / FPS) * 1000;
    const x = clip.frames[f]!;
    const d = decide(x, { classes, scene: state.scene.prototypes(), allowed: null, negatives: state.negatives, residualMean: m.residualMean }, m.decision);
    const result: Classification = { label: d.label, score: d.score, scores: d.scores };
    recent.push({ x, r: d.vector, label: d.label });
    if (recent.length > SMOOTHER.window) recent.shift();
    for (const e of smoother.push(result).events) {
      if (e.type !== 'start') continue;
      starts.push({ frame: f, label: e.label });
      if (m.confirmFirst && !isWrong(spans, f, e) && !confirmed.has(e.label)) {
        confirmed.add(e.label);
        if (d.vector) state.shots.get(e.label)!.push(d.vector);
        classes = buildClasses(state, m);
      }
      if (corrections < m.corrections && isWrong(spans, f, e)) {
        corrections++;
        const where = attribute(spans, f);
        // The event keeps its frame(s): rejecting it makes them negatives of its label in this zone.
        const kept = m.eventFrames === 'votes' ? recent.filter((r) => r.label === e.label) : [recent[recent.length - 1]!];
        for (const k of kept) if (k.r) state.negatives.push({ label: e.label, residual: k.r });
        if (where.kind === 'empty') state.scene.addPrototype(x);
        else if (!rejected.has(where.span.object)) rejected.set(where.span.object, where.span.index);
        classes = buildClasses(state, m);
      }
    }
    if (m.sceneUpdates) state.scene.observe(x, { classOn: smoother.activeLabels().length > 0 });
  }
  return { starts, rejected };
}

function isWrong(spans: TruthSpan[], frame: number, e: DetectionEvent): boolean {
  const where = attribute(spans, frame);
  return where.kind === 'empty' || !where.span.enrolled || where.span.label !== e.label;
}

export function simulate(clip: EmbeddedClip, m: Mechanism): ClipOutcome {
  const spans = truth(clip.plan);
  const { starts, rejected } = m.kind === 'classifier' ? { starts: runClassifier(clip, m), rejected: new Map<string, number>() } : runZone(clip, m, spans);
  return scoreStarts(spans, starts, rejected, m.kind === 'zone' ? Math.min(m.corrections, rejected.size) : 0);
}

/**
 * Scores a clip's start events against its ground truth: `rejected` maps a never-enrolled
 * object to the appearance at which a user rejected its event. Shared by the offline
 * simulation and the live pipeline benchmark (bench/fieldLive.ts).
 */
export function scoreStarts(spans: TruthSpan[], starts: Start[], rejected: ReadonlyMap<string, number>, corrections: number): ClipOutcome {
  const o: ClipOutcome = { enrolled: 0, recalled: 0, wrongLabel: 0, emptyStarts: 0, strangerFirst: 0, strangerFirstStarts: 0, strangerLater: 0, strangerLaterStarts: 0, rejectedLater: 0, rejectedLaterStarts: 0, corrections };
  const startsIn = (s: TruthSpan): Start[] => starts.filter((st) => st.frame >= s.startFrame && st.frame <= s.endFrame + LAG_FRAMES);
  for (const s of spans) {
    const mine = startsIn(s);
    if (s.enrolled) {
      o.enrolled++;
      if (mine.some((st) => st.label === s.label)) o.recalled++;
      o.wrongLabel += mine.filter((st) => st.label !== s.label).length;
    } else if (s.index === 0) {
      o.strangerFirst++;
      if (mine.length > 0) o.strangerFirstStarts++;
    } else {
      o.strangerLater++;
      if (mine.length > 0) o.strangerLaterStarts++;
      const at = rejected.get(s.object);
      if (at !== undefined && s.index > at) {
        o.rejectedLater++;
        if (mine.length > 0) o.rejectedLaterStarts++;
      }
    }
  }
  o.emptyStarts = starts.filter((st) => attribute(spans, st.frame).kind === 'empty').length;
  return o;
}

export function sumOutcomes(all: ClipOutcome[]): ClipOutcome {
  const total = { ...all[0]! };
  for (const k of Object.keys(total) as Array<keyof ClipOutcome>) total[k] = all.reduce((s, o) => s + o[k], 0);
  return total;
}

export { DEFAULT_SCENE_OPTIONS };
