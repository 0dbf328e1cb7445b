import { NONE, UNKNOWN, type Classification } from '../recognition/types.js';
import type { Events } from '../eventBus.js';

export interface SmootherOptions {
  camera: string;
  /** The zone whose frames this smoother sees (null: the camera's whole frame). */
  zone: string | null;
  /**
   * Votes: a class turns ON when it won at least `minHits` of the last `window` frames, a frame
   * that came near it (Classification.near) counting as one once this frame is a win.
   */
  window: number;
  minHits: number;
  /** A class turns OFF after this long without a winning frame. */
  offDelayS: number;
  /** Scores at or under this never count as a hit (the classifier applies it too). */
  threshold: number;
  clock: () => number;
  newId: () => string;
}

/** A start or end of a class on a camera: the bus's `detectionEvent` payload. */
export type DetectionEvent = Events['detectionEvent'];

export interface SmootherUpdate {
  /** The camera's smoothed label: an ON class, else `unknown` or `none`. */
  label: string;
  changes: { label: string; on: boolean }[];
  events: DetectionEvent[];
}

interface ActiveClass {
  id: string;
  startedAt: number;
  lastHitAt: number;
  score: number;
}

interface Vote {
  label: string;
  score: number;
  at: number;
  /** The frame named no class but came near `label`. */
  near?: boolean;
}

/**
 * Turns per-frame classifications into stable per-class ON/OFF states and start/end
 * events. The classifier already maps background wins to `none` and weak matches to
 * `unknown`; neither is a class, so neither can turn ON.
 */
export class ClassSmoother {
  private votes: Vote[] = [];
  private readonly active = new Map<string, ActiveClass>();
  /** The classes that may turn ON (null: any); see `keepClasses`. */
  private classes: ReadonlySet<string> | null = null;

  constructor(private readonly opts: SmootherOptions) {}

  /** One classified frame (the camera manager attaches the frame's snapshot to a start). */
  push(result: Classification): SmootherUpdate {
    const now = this.opts.clock();
    const hit = isClassLabel(result.label) && result.score > this.opts.threshold && this.mayTurnOn(result.label);
    const vote = this.voteOf(result, hit, now);
    this.votes.push(vote);
    if (this.votes.length > this.opts.window) this.votes.shift();
    const update: SmootherUpdate = { label: NONE, changes: [], events: [] };
    if (hit) this.onHit(vote, now, update);
    this.expire(now, update);
    update.label = this.currentLabel();
    return update;
  }

  /** Time passing without frames (camera offline, motion gate) still ends classes. */
  tick(): SmootherUpdate {
    const update: SmootherUpdate = { label: NONE, changes: [], events: [] };
    this.expire(this.opts.clock(), update);
    update.label = this.currentLabel();
    return update;
  }

  /** Ends every active class now (camera disabled, agent stopping). */
  endAll(): SmootherUpdate {
    const update: SmootherUpdate = { label: NONE, changes: [], events: [] };
    const now = this.opts.clock();
    for (const label of [...this.active.keys()]) this.end(label, now, update);
    this.votes = [];
    return update;
  }

  /**
   * From now on only `classes` may turn ON. An active class not among them (removed,
   * renamed, made background) is forgotten: its event ends, but no OFF is reported, since
   * its ON/OFF topic was cleared and must stay so.
   */
  keepClasses(classes: ReadonlySet<string>): SmootherUpdate {
    this.classes = classes;
    this.votes = this.votes.filter((v) => !isClassLabel(v.label) || classes.has(v.label));
    const update: SmootherUpdate = { label: NONE, changes: [], events: [] };
    const now = this.opts.clock();
    for (const label of [...this.active.keys()]) if (!classes.has(label)) this.end(label, now, update);
    update.changes = [];
    update.label = this.currentLabel();
    return update;
  }

  activeLabels(): string[] {
    return [...this.active.keys()];
  }

  /** Whether `label` may turn ON (see keepClasses). */
  private mayTurnOn(label: string): boolean {
    return this.classes?.has(label) ?? true;
  }

  /** A frame's vote: its class when it won, else the class it came near (a class that may turn ON), else its label. */
  private voteOf(result: Classification, hit: boolean, at: number): Vote {
    if (hit) return { label: result.label, score: result.score, at };
    const near = result.near && this.mayTurnOn(result.near.label) ? result.near.label : null;
    return near ? { label: near, score: 0, at, near: true } : { label: result.label, score: 0, at };
  }

  private onHit(vote: Vote, now: number, update: SmootherUpdate): void {
    const current = this.active.get(vote.label);
    if (current) {
      current.lastHitAt = now;
      current.score = Math.max(current.score, vote.score);
      return;
    }
    const hits = this.votes.filter((v) => v.label === vote.label && (v.score > 0 || v.near)).length;
    if (hits < this.opts.minHits) return;
    const id = this.opts.newId();
    this.active.set(vote.label, { id, startedAt: now, lastHitAt: now, score: vote.score });
    update.changes.push({ label: vote.label, on: true });
    update.events.push({
      type: 'start',
      id,
      camera: this.opts.camera,
      zone: this.opts.zone,
      label: vote.label,
      score: vote.score,
      start_time: new Date(now),
      end_time: null,
      snapshot: null,
      embedding: null,
      residual: null,
      crop: null,
    });
  }

  /** Ends classes without a recent hit; no frame at all for as long forgets the votes. */
  private expire(now: number, update: SmootherUpdate): void {
    const maxAge = this.opts.offDelayS * 1000;
    const newest = this.votes[this.votes.length - 1];
    if (newest && now - newest.at >= maxAge) this.votes = [];
    for (const [label, state] of this.active) {
      if (now - state.lastHitAt >= maxAge) this.end(label, now, update);
    }
  }

  private end(label: string, now: number, update: SmootherUpdate): void {
    const state = this.active.get(label);
    if (!state) return;
    this.active.delete(label);
    update.changes.push({ label, on: false });
    update.events.push({
      type: 'end',
      id: state.id,
      camera: this.opts.camera,
      zone: this.opts.zone,
      label,
      score: state.score,
      start_time: new Date(state.startedAt),
      end_time: new Date(now),
      snapshot: null,
      embedding: null,
      residual: null,
      crop: null,
    });
  }

  /**
   * An ON class (the one with most votes in the window when several are ON); otherwise
   * `unknown` if most recent frames saw something unconfirmed, else `none`.
   */
  private currentLabel(): string {
    if (this.active.size > 0) {
      let best = '';
      let bestCount = -1;
      for (const label of this.active.keys()) {
        const count = this.votes.filter((v) => v.label === label).length;
        if (count > bestCount) {
          best = label;
          bestCount = count;
        }
      }
      return best;
    }
    const nothing = this.votes.filter((v) => v.label === NONE).length;
    return this.votes.length > 0 && nothing * 2 < this.votes.length ? UNKNOWN : NONE;
  }
}

function isClassLabel(label: string): boolean {
  return label !== NONE && label !== UNKNOWN && label !== '';
}
