import type { Logger } from 'pino';
import type { Classification, UnitRef } from '../recognition/types.js';

export type { UnitRef };
import type { RawFrame } from '../camera/cameraSource.js';
import type { MotionGate } from './motionGate.js';
import { RateMeter } from './rateMeter.js';
import { settleWithin } from '../process/timeout.js';

/** A hung detector must not hang shutdown; the detector has its own inference timeout. */
const STOP_WAIT_MS = 5_000;

/** One unit's crop of `frame` (the frame for what else it holds: its snapshot). */
export type ClassifyFn = (rgb: Uint8Array, unit: UnitRef, frame: RawFrame) => Promise<Classification>;

export interface UnitResult {
  zone: string | null;
  result: Classification;
  /** True when the motion gate skipped inference and the unit's last result was reused. */
  reused: boolean;
}

export interface ScheduledResult {
  camera: string;
  frame: RawFrame;
  /** One per unit, in the camera's unit order. */
  units: UnitResult[];
  /** Clock ms: inference of the first unit started / of the last finished (equal when all reused). */
  startedAt: number;
  finishedAt: number;
}

export interface SchedulerUnit {
  zone: string | null;
  gate: MotionGate | null;
}

export interface SchedulerDeps {
  classify: ClassifyFn;
  onResult: (result: ScheduledResult) => void;
  logger: Logger;
  clock?: () => number;
}

export interface SchedulerCameraStats {
  camera_fps: number;
  process_fps: number;
  skipped_fps: number;
  /** Totals since start. */
  frames: number;
  processed: number;
  skipped: number;
  motion_skipped: number;
  errors: number;
}

interface UnitSlot {
  zone: string | null;
  gate: MotionGate | null;
  last: Classification | null;
}

interface Slot {
  name: string;
  enabled: boolean;
  pending: RawFrame | null;
  units: UnitSlot[];
  arrived: RateMeter;
  processed: RateMeter;
  skipped: RateMeter;
  totals: { frames: number; processed: number; skipped: number; motion_skipped: number; errors: number };
}

/**
 * Shares one detector between all cameras. Each camera holds at most one pending frame
 * (a newer frame replaces it and the replaced one counts as skipped), one inference runs
 * at a time, and cameras with a pending frame take turns, so a fast camera cannot starve
 * a slow one and latency stays bounded under any load.
 */
export class FrameScheduler {
  private readonly slots: Slot[] = [];
  private readonly clock: () => number;
  private next = 0;
  private busy = false;
  private running = false;
  private idle: Promise<void> = Promise.resolve();
  private lastErrorLog = 0;

  constructor(private readonly deps: SchedulerDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  addCamera(name: string, opts: { enabled: boolean; units: SchedulerUnit[] }): void {
    if (this.slots.some((s) => s.name === name)) return;
    this.slots.push({
      name,
      enabled: opts.enabled,
      pending: null,
      units: opts.units.map((u) => ({ zone: u.zone, gate: u.gate, last: null })),
      arrived: new RateMeter(this.clock),
      processed: new RateMeter(this.clock),
      skipped: new RateMeter(this.clock),
      totals: { frames: 0, processed: 0, skipped: 0, motion_skipped: 0, errors: 0 },
    });
  }

  async start(): Promise<void> {
    this.running = true;
  }

  /** Waits (bounded) for the inference in flight, then drops whatever is pending. */
  async stop(): Promise<void> {
    this.running = false;
    await settleWithin(this.idle, STOP_WAIT_MS);
    for (const slot of this.slots) slot.pending = null;
  }

  setEnabled(name: string, enabled: boolean): boolean {
    const slot = this.slot(name);
    if (!slot) return false;
    slot.enabled = enabled;
    if (!enabled) slot.pending = null;
    for (const unit of slot.units) unit.gate?.reset();
    return true;
  }

  isEnabled(name: string): boolean {
    return this.slot(name)?.enabled ?? false;
  }

  offer(frame: RawFrame): void {
    const slot = this.slot(frame.camera);
    if (!slot || !this.running) return;
    slot.totals.frames += 1;
    slot.arrived.mark();
    slot.processed.begin();
    slot.skipped.begin();
    if (!slot.enabled) return;
    if (slot.pending) this.countSkip(slot);
    slot.pending = frame;
    this.pump();
  }

  stats(name: string): SchedulerCameraStats | null {
    const slot = this.slot(name);
    if (!slot) return null;
    return {
      camera_fps: round1(slot.arrived.rate()),
      process_fps: round1(slot.processed.rate()),
      skipped_fps: round1(slot.skipped.rate()),
      ...slot.totals,
    };
  }

  private slot(name: string): Slot | undefined {
    return this.slots.find((s) => s.name === name);
  }

  private countSkip(slot: Slot): void {
    slot.totals.skipped += 1;
    slot.skipped.mark();
  }

  /** Round robin: the first camera with a pending frame after the one served last. */
  private takeNext(): { slot: Slot; frame: RawFrame } | null {
    const n = this.slots.length;
    for (let i = 0; i < n; i++) {
      const index = (this.next + i) % n;
      const slot = this.slots[index];
      if (slot?.pending) {
        const frame = slot.pending;
        slot.pending = null;
        this.next = (index + 1) % n;
        return { slot, frame };
      }
    }
    return null;
  }

  private pump(): void {
    if (this.busy || !this.running) return;
    const job = this.takeNext();
    if (!job) return;
    this.busy = true;
    this.idle = this.process(job.slot, job.frame).finally(() => {
      this.busy = false;
      this.pump();
    });
  }

  /** Every unit of one frame, back to back; the frame is delivered whole or not at all. */
  private async process(slot: Slot, frame: RawFrame): Promise<void> {
    const startedAt = this.clock();
    const units: UnitResult[] = [];
    let inferred = false;
    try {
      // All of the frame's inferences are asked at once: a batching detector (ONNX Runtime)
      // runs the zones' crops in one go.
      const asked = slot.units.map((unit, i) => {
        const crop = frame.crops[i] ?? frame.rgb;
        return this.reusable(unit, crop, startedAt) ?? this.deps.classify(crop, { camera: slot.name, zone: unit.zone }, frame);
      });
      const reused = asked.map((a) => !(a instanceof Promise));
      const results = await Promise.all(asked);
      for (const [i, unit] of slot.units.entries()) {
        const result = results[i]!;
        if (!reused[i]) {
          unit.last = result;
          inferred = true;
        }
        units.push({ zone: unit.zone, result, reused: reused[i]! });
      }
    } catch (err) {
      slot.totals.errors += 1;
      this.logError(slot.name, err);
      return;
    }
    const finishedAt = inferred ? this.clock() : startedAt;
    if (inferred) {
      slot.totals.processed += 1;
      slot.processed.mark();
    } else {
      slot.totals.motion_skipped += 1;
    }
    if (!this.running || !slot.enabled) return;
    this.deliver({ camera: slot.name, frame, units, startedAt, finishedAt });
  }

  /** The unit's last result when its motion gate says the crop did not change. */
  private reusable(unit: UnitSlot, crop: Uint8Array, now: number): Classification | null {
    if (!unit.gate) return null;
    if (!unit.last) {
      unit.gate.shouldInfer(crop, now);
      return null;
    }
    return unit.gate.shouldInfer(crop, now) ? null : unit.last;
  }

  private deliver(result: ScheduledResult): void {
    try {
      this.deps.onResult(result);
    } catch (err) {
      this.deps.logger.error({ err, camera: result.camera }, 'result handler failed');
    }
  }

  /** The detector being down makes every frame fail; one line per 10 s is enough. */
  private logError(camera: string, err: unknown): void {
    const now = this.clock();
    if (now - this.lastErrorLog < 10_000) return;
    this.lastErrorLog = now;
    this.deps.logger.warn({ err, camera }, 'classification failed; frames are dropped until it recovers');
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
