/**
 * When a unit's frame becomes its empty view (the scene regions are proposed against), and
 * when it only lends it its steady cells. Pure: the frame's comparison with the empty view and
 * the decision in, the step and the new count of frames out.
 */
import { NONE, UNKNOWN } from '../recognition/types.js';

/** Frames in a row whose changes no class claimed before a unit takes them as its empty scene (a parked car). */
export const QUIET_AFTER = 25;
/** The same for a change the unit calls `unknown` (something is there it cannot name): a user may still want to enroll it. */
export const UNKNOWN_QUIET_AFTER = 8 * QUIET_AFTER;

export interface QuietInput {
  /** The unit's result label, and the classes ON there after it. */
  label: string;
  active: readonly string[];
  /** How many regions the frame has that differ from the empty view. */
  regions: number;
  /** Its steady cells (1 = the empty view still); null when the view changed as a whole. */
  steady: Uint8Array | null;
  /** Frames in a row before this one with a change no class claimed. */
  changedFrames: number;
}

export interface QuietStep {
  /** `empty`: the frame is the empty view from now on; `follow`: the view takes its steady cells. */
  step: 'empty' | 'follow';
  /** The frame had a change it kept (regions or faint cells): the view before it is worth keeping. */
  absorbed: boolean;
  changedFrames: number;
}

/**
 * A frame with no class decided or ON becomes the empty view when every cell is steady; a
 * change no class claims does after QUIET_AFTER frames (faint cells only, or decided `none`:
 * a parked car) or UNKNOWN_QUIET_AFTER decided `unknown` (a view gone stale, light the gains do
 * not even out, would otherwise keep proposing the same regions forever). Faint cells are over
 * half the bar with no region: an object just coming into view, too faint to propose yet;
 * taking that frame as the empty view would leave its ghost there for good. Every other frame
 * lends the view its steady cells, whatever is ON: light drifting while a class is ON would
 * else grow regions of its own.
 */
export function quietStep(f: QuietInput): QuietStep {
  const decided = (f.label !== NONE && f.label !== UNKNOWN) || f.active.length > 0;
  const faint = f.regions === 0 && f.steady !== null && f.steady.includes(0);
  const changed = f.regions > 0 || faint;
  const changedFrames = !decided && changed ? f.changedFrames + 1 : 0;
  const after = f.label === NONE || faint ? QUIET_AFTER : UNKNOWN_QUIET_AFTER;
  if (!decided && (!changed || changedFrames >= after)) return { step: 'empty', absorbed: changed, changedFrames: 0 };
  return { step: 'follow', absorbed: false, changedFrames };
}
