/**
 * Hybrid logical clock (Kulkarni et al., 2014): stamps that follow the wall clock when the
 * nodes' clocks agree, and still order every change after every change a node had seen
 * when it made it, whatever their clocks say. Each node advances its clock past every stamp
 * it receives, so a change made after hearing of another is stamped after it.
 *
 * A stamp is text, `<wall ms, 15 digits>.<counter, 6 digits>@<node id>`, so that comparing
 * two stamps as strings compares (wall, counter, node): a total order, the same on every node.
 * Pure: the gallery book keeps the clock's state in SQLite.
 */

export type Stamp = string;

export interface ClockState {
  wall: number;
  counter: number;
}

const STAMP = /^(\d{15})\.(\d{6})@([a-z0-9_]{1,64})$/;
const MAX_COUNTER = 999_999;
/** A stamp further ahead of this node's wall clock than this is refused: a wrong clock or a forgery. */
export const MAX_DRIFT_MS = 10 * 60_000;

export function formatStamp(state: ClockState, node: string): Stamp {
  return `${String(state.wall).padStart(15, '0')}.${String(state.counter).padStart(6, '0')}@${node}`;
}

/** The parts of a well-formed stamp, or null. */
export function parseStamp(stamp: string): (ClockState & { node: string }) | null {
  const m = STAMP.exec(stamp);
  if (!m) return null;
  return { wall: Number(m[1]), counter: Number(m[2]), node: m[3]! };
}

/** The node that made a stamp (the part after `@`). */
export function stampNode(stamp: Stamp): string {
  return stamp.slice(stamp.indexOf('@') + 1);
}

/** The wall-clock time of a stamp, in ms. */
export function stampWall(stamp: Stamp): number {
  return Number(stamp.slice(0, 15));
}

/** The next state for a local event: after `state`, and at least the physical time. */
export function tick(state: ClockState, physicalMs: number): ClockState {
  if (physicalMs > state.wall) return { wall: physicalMs, counter: 0 };
  return bump(state);
}

/** The state after seeing `remote`: never behind it, so the next tick() is after it. */
export function observe(state: ClockState, remote: ClockState): ClockState {
  if (remote.wall > state.wall || (remote.wall === state.wall && remote.counter > state.counter)) return { wall: remote.wall, counter: remote.counter };
  return state;
}

/** One counter step; a full counter moves to the next millisecond (still after). */
function bump(state: ClockState): ClockState {
  return state.counter >= MAX_COUNTER ? { wall: state.wall + 1, counter: 0 } : { wall: state.wall, counter: state.counter + 1 };
}
