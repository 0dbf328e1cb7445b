/**
 * The vote replayed over an agent's own decisions: a paths bench run with
 * EDGE_IMPRINT_PATHS_TRACE=file leaves the clips' truth (file) and each path's debug log
 * (file.<path>.log, every `unit decided`). Each unit's decisions are pushed again, in order and
 * at their time, through the agent's ClassSmoother, once as they were and once with frames that
 * came near a class (Classification.near, recomputed from the logged scores as the Recognizer
 * does: the clip's enrolled classes, regions proposed, top score at NEAR_LEVEL or more, or at
 * EDGE_IMPRINT_NEAR_LEVEL). Prints per path recall and false starts for both, so a vote rule
 * is chosen on runs already made (tuning clips), without rerunning the agent. The first
 * column must equal the bench's own figures: that checks the replay.
 * Run: `node --import tsx bench/voteReplay.ts /tmp/trace.jsonl`.
 */
import { readFileSync } from 'node:fs';
import { nearestCrop } from '../src/imprinting/recognizer.js';
import { ClassSmoother } from '../src/pipeline/smoother.js';
import { NEAR_LEVEL } from '../src/recognition/defaults.js';
import type { Classification } from '../src/recognition/types.js';
import { FPS, type TruthSpan } from './fieldPlan.js';
import { scoreStarts, sumOutcomes, type ClipOutcome, type Start } from './fieldSim.js';

const LEVEL = Number(process.env.EDGE_IMPRINT_NEAR_LEVEL ?? NEAR_LEVEL);

interface TraceRun {
  path: string;
  t0: Record<string, number>;
  clips: Array<{ id: string; evalStart: number; frames: number; truth: { frame: TruthSpan[]; zone: TruthSpan[] } }>;
}

interface Decision {
  camera: string;
  zone: string | null;
  at: number;
  label: string;
  score: number;
  scores?: Record<string, number>;
  changed?: unknown[];
}

function decisionsOf(logFile: string): Decision[] {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"unit decided"'))
    .map((l) => JSON.parse(l) as Decision);
}

/** As the Recognizer sets Classification.near: a frame that named none of the clip's classes, with regions. */
function nearOf(d: Decision, labels: ReadonlySet<string>): Classification['near'] {
  if ((d.changed ?? []).length === 0 || labels.has(d.label)) return undefined;
  return nearestCrop(d.scores ?? {}, labels, LEVEL);
}

/** The start events one unit's decisions give, in clip frames, the evaluation part only. */
function replayUnit(decisions: Decision[], labels: ReadonlySet<string>, frames: { t0: number; from: number; to: number }, near: boolean): Start[] {
  let now = 0;
  const smoother = new ClassSmoother({ camera: 'replay', zone: null, window: 5, minHits: 3, offDelayS: 10, threshold: -Infinity, clock: () => now, newId: () => String(now) });
  const starts: Start[] = [];
  for (const d of decisions) {
    now = d.at;
    const frame = Math.round(((d.at - frames.t0) / 1000) * FPS);
    const nearBy = near ? nearOf(d, labels) : undefined;
    const update = smoother.push({ label: d.label, score: d.score, scores: d.scores ?? {}, ...(nearBy ? { near: nearBy } : {}) });
    for (const e of update.events) if (e.type === 'start' && frame >= frames.from && frame < frames.to) starts.push({ frame, label: e.label });
  }
  return starts;
}

/** The bench's outcome (fieldSim.scoreStarts) per place, without zones (c) and in the zone (z). */
function replay(run: TraceRun, decisions: Decision[], near: boolean): Record<'c' | 'z', ClipOutcome> {
  const place = (prefix: 'c' | 'z'): ClipOutcome =>
    sumOutcomes(
      run.clips.map((clip, i) => {
        const cam = `${prefix}${i}`;
        const truth = prefix === 'z' ? clip.truth.zone : clip.truth.frame;
        const labels = new Set(clip.truth.frame.flatMap((s) => (s.label ? [s.label] : [])));
        const starts = replayUnit(decisions.filter((d) => d.camera === cam), labels, { t0: run.t0[cam]!, from: clip.evalStart * FPS, to: clip.frames }, near);
        return scoreStarts(truth, starts, new Map(), 0);
      }),
    );
  return { c: place('c'), z: place('z') };
}

const show = (o: ClipOutcome): string => `${o.recalled}/${o.enrolled}, empty ${o.emptyStarts}, wrong ${o.wrongLabel}, never-enrolled ${o.strangerFirstStarts}/${o.strangerFirst}`;
const both = (r: Record<'c' | 'z', ClipOutcome>): string => `without zones ${show(r.c)}; zone ${show(r.z)}`;

const trace = process.argv[2];
if (!trace) throw new Error('usage: bench/voteReplay.ts TRACE_FILE (written by the paths bench with EDGE_IMPRINT_PATHS_TRACE)');
console.log(`near level ${LEVEL}`);
for (const line of readFileSync(trace, 'utf8').trim().split('\n')) {
  const run = JSON.parse(line) as TraceRun;
  const decisions = decisionsOf(`${trace}.${run.path}.log`);
  console.log(`${run.path}\n  3 of 5:           ${both(replay(run, decisions, false))}\n  with near frames: ${both(replay(run, decisions, true))}`);
}
