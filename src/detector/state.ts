/**
 * The detector's state: one value that `/health`, the retained MQTT `state`, `stats` and
 * the Home Assistant sensor all read, changed only by SupervisedDetector.setState().
 *
 *   starting   → ready | fallback   the first child is ready (fallback: the CPU stands in
 *                                   for an Edge TPU that failed)
 *   ready      → restarting         the child died (native crash, hang killed, SIGKILL)
 *   fallback   → restarting         the child died, or it is time to try the Edge TPU again
 *   restarting → ready | fallback   a new child is ready
 *   any        → failed             a crash loop (GIVE_UP), or a CPU model that cannot load;
 *                                   inferences are refused at once
 *   failed     → restarting         the rare retry (GIVE_UP.retryMs)
 */
export const DETECTOR_STATES = ['starting', 'ready', 'restarting', 'failed', 'fallback'] as const;
export type DetectorState = (typeof DETECTOR_STATES)[number];

/** A change of state, with the backend it concerns (the agent puts it on its bus). */
export interface DetectorChange {
  state: DetectorState;
  type: 'edgetpu' | 'cpu';
  device: string;
  model: string;
  reason: string;
}

/**
 * When the supervisor stops restarting the child and says `failed`:
 * - `crashes`: 5 in a row without one successful inference between them. A transient cause
 *   (the OOM killer, one bad frame) costs one or two restarts; five in a row is a loop. The
 *   Edge TPU falls back to the CPU after 3 failures, and the CPU then gets its own 5.
 * - `windowMs`: within 10 minutes. A loop's crashes come seconds apart (backoff 0.25 → 4 s);
 *   an idle agent (no camera, no request) can go hours without an inference, and crashes
 *   that far apart are separate incidents, not a loop.
 * - `retryMs`: a failed detector tries once more every 5 minutes, so a transient cause (a
 *   driver reload, memory pressure) recovers without a human, while a persistent one costs a
 *   single child start per 5 minutes. A retry that crashes before its first successful
 *   inference goes straight back to `failed`.
 */
export interface GiveUpPolicy {
  crashes: number;
  windowMs: number;
  retryMs: number;
}

export const GIVE_UP: GiveUpPolicy = { crashes: 5, windowMs: 10 * 60_000, retryMs: 5 * 60_000 };

/** Ready, or the CPU standing in for the Edge TPU: both answer inferences. */
export function detectorUp(state: DetectorState): boolean {
  return state === 'ready' || state === 'fallback';
}

/** The `/health` check of the detector. Pure. */
export function detectorHealth(state: DetectorState, type: 'edgetpu' | 'cpu'): { up: boolean; detail: string } {
  const detail = state === 'ready' ? type : state === 'fallback' ? 'fallback (cpu)' : state;
  return { up: detectorUp(state), detail };
}

/** Crash times since the last successful inference, within the give-up window. */
export class CrashWindow {
  private times: number[] = [];

  constructor(private readonly windowMs: number) {}

  /** Records a crash at `now`; returns how many the window holds. */
  record(now: number): number {
    this.times = this.times.filter((t) => now - t < this.windowMs);
    this.times.push(now);
    return this.times.length;
  }

  clear(): void {
    this.times = [];
  }
}
