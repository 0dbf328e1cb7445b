import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { CameraConfig } from '../config/types.js';
import type { InputSize } from '../media/image.js';
import { buildFfmpegPlan, redactUrl, SNAPSHOT_FD, sourceSizeFromStderr } from './ffmpegArgs.js';
import { FrameSplitter, JpegSplitter } from './frameSplitter.js';
import { ffmpegCause, watchFfmpegExit } from '../process/ffmpegExit.js';

export type SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export type CameraStatus = 'online' | 'offline';

export interface RawFrame {
  camera: string;
  /** The crops of every unit (zone, or the whole frame) stacked: width*height*3 bytes each. */
  rgb: Uint8Array;
  /** One view into `rgb` per unit, in the order of `cameraUnits(config)`. */
  crops: Uint8Array[];
  /** Arrival time (clock ms). */
  at: number;
  seq: number;
  /**
   * The snapshot JPEG of this very frame when snapshots run at the detection rate (it can
   * arrive a moment after the raw frame, so this waits for it, briefly), else the newest
   * snapshot; null when snapshots are off, or the JPEG is long gone or never came.
   */
  snapshot(): Promise<Buffer | null>;
}

export interface CameraSourceSink {
  frame(frame: RawFrame): void;
  /** Called only when the status changes. */
  status(status: CameraStatus): void;
  /** The source's frame size, when ffmpeg names it (cameras with pixel zones). */
  sourceSize?(size: { width: number; height: number }): void;
}

export interface SupervisionOptions {
  restartInitialMs: number;
  restartMaxMs: number;
  /**
   * Restart-loop guard: when ffmpeg came up and then died this many times within
   * `loopWindowMs` (a flapping stream, where each frame resets the backoff), restarts wait
   * `loopDelayMs` and ffmpeg's stderr is logged once. An unreachable camera never
   * produces a frame and is paced by the backoff alone, so its return is noticed quickly.
   */
  loopMaxRestarts: number;
  loopWindowMs: number;
  loopDelayMs: number;
  /** Between SIGTERM and SIGKILL. */
  killGraceMs: number;
  stderrLines: number;
}

export const DEFAULT_SUPERVISION: SupervisionOptions = {
  restartInitialMs: 500,
  restartMaxMs: 3_000,
  loopMaxRestarts: 5,
  loopWindowMs: 60_000,
  loopDelayMs: 10_000,
  killGraceMs: 2_000,
  stderrLines: 20,
};

export interface CameraSourceDeps {
  name: string;
  config: CameraConfig;
  inputSize: InputSize;
  logger: Logger;
  spawn: SpawnFn;
  sink: CameraSourceSink;
  ffmpegPath?: string;
  /**
   * Command put before ffmpeg, e.g. `setpriv --pdeathsig KILL --`: the kernel then kills
   * ffmpeg when the agent dies, even by kill -9 (an ffmpeg reading a silent source never
   * writes, so it would not notice the broken pipe and would run on forever).
   */
  launchPrefix?: readonly string[];
  clock?: () => number;
  supervision?: Partial<SupervisionOptions>;
}

export interface CameraSourceStats {
  status: CameraStatus;
  reconnects: number;
  frames: number;
  running: boolean;
  /** Why ffmpeg last failed, with its last stderr line (credentials hidden); null before any failure. */
  last_error: string | null;
}

/** One running ffmpeg and what is known about it. */
interface Run {
  child: ChildProcess;
  startedAt: number;
  frames: number;
  failed: boolean;
  exited: Promise<void>;
  paired: boolean;
  /** The last few JPEGs by their index in this run (0-based, as the raw frames). */
  jpegs: Map<number, Buffer>;
  jpegCount: number;
  /** Callers waiting for the JPEG of a frame index. */
  waiting: Map<number, ((jpeg: Buffer) => void)[]>;
}

const KEPT_SNAPSHOTS = 16;
/** How long a frame's paired JPEG is waited for (normally it is a few ms behind). */
const SNAPSHOT_WAIT_MS = 1000;

/**
 * One camera's ffmpeg, supervised: restarted with capped exponential backoff when it exits
 * or stops delivering frames, status reported on change only.
 */
export class CameraSource {
  private readonly opts: SupervisionOptions;
  private readonly clock: () => number;
  private readonly log: Logger;
  private run: Run | null = null;
  private running = false;
  private status: CameraStatus | null = null;
  private lastFrameAt = 0;
  private startedAt = 0;
  private frames = 0;
  private reconnects = 0;
  private failuresInRow = 0;
  private flapTimes: number[] = [];
  private loopWarned = false;
  private stderr: string[] = [];
  private lastError: string | null = null;
  private snapshot: Buffer | null = null;
  /** The source size is passed on once per source (it cannot change without a new config). */
  private sizeReported = false;
  private watchdog: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: CameraSourceDeps) {
    this.opts = { ...DEFAULT_SUPERVISION, ...deps.supervision };
    this.clock = deps.clock ?? Date.now;
    this.log = deps.logger.child({ camera: deps.name });
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.startedAt = this.clock();
    // Fine-grained so offline is reported close to stall_timeout, not up to a second later.
    const period = Math.max(50, Math.min(250, this.stallMs() / 10));
    this.watchdog = setInterval(() => this.checkStall(), period);
    this.launch();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.watchdog = null;
    this.restartTimer = null;
    const run = this.run;
    this.run = null;
    if (run) await this.kill(run);
  }

  /** Synchronous SIGKILL of the current ffmpeg, for a process that is exiting anyway. */
  killNow(): void {
    const child = this.run?.child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  stats(): CameraSourceStats {
    return {
      status: this.status ?? 'offline',
      reconnects: this.reconnects,
      frames: this.frames,
      running: this.run !== null,
      last_error: this.lastError,
    };
  }

  latestSnapshot(): Buffer | null {
    return this.snapshot;
  }

  /** Process id of the current ffmpeg, for tests and benchmarks. */
  pid(): number | null {
    return this.run?.child.pid ?? null;
  }

  private stallMs(): number {
    return this.deps.config.stall_timeout * 1000;
  }

  private launch(): void {
    const plan = buildFfmpegPlan(this.deps.config, { inputSize: this.deps.inputSize });
    const ffmpeg = this.deps.ffmpegPath ?? 'ffmpeg';
    this.log.debug({ cmd: redactUrl([ffmpeg, ...plan.args].join(' ')) }, 'starting ffmpeg');
    this.stderr = [];
    const stdio: SpawnOptions['stdio'] = ['ignore', 'pipe', 'pipe'];
    if (plan.snapshots) stdio.push('pipe');
    let child: ChildProcess;
    const [command = ffmpeg, ...args] = [...(this.deps.launchPrefix ?? []), ffmpeg, ...plan.args];
    try {
      child = this.deps.spawn(command, args, { stdio });
    } catch (err) {
      // e.g. a NUL byte in input_args: retried like any failure, so the camera is not lost.
      this.failuresInRow += 1;
      const delay = this.nextDelay();
      this.log.error({ err: redactUrl(String(err)), retry_ms: delay }, 'cannot start ffmpeg');
      this.restartTimer = setTimeout(() => this.relaunch(), delay);
      return;
    }
    const run: Run = {
      child,
      startedAt: this.clock(),
      frames: 0,
      failed: false,
      exited: watchFfmpegExit(child, (why) => this.fail(run, why)),
      paired: plan.pairedSnapshots,
      jpegs: new Map(),
      jpegCount: 0,
      waiting: new Map(),
    };
    this.run = run;
    this.attachOutputs(run, plan.frameBytes, plan.units.length);
  }

  private attachOutputs(run: Run, frameBytes: number, units: number): void {
    const splitter = new FrameSplitter(frameBytes, (rgb) => this.onFrame(run, rgb, units));
    run.child.stdout?.on('data', (chunk: Buffer) => splitter.push(chunk));
    const snapshots = run.child.stdio[SNAPSHOT_FD] as Readable | null | undefined;
    if (snapshots) {
      const jpegs = new JpegSplitter((jpeg) => this.onJpeg(run, jpeg));
      snapshots.on('data', (chunk: Buffer) => jpegs.push(chunk));
      snapshots.on('error', () => undefined);
    }
    let partial = '';
    run.child.stderr?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split(/\r?\n|\r/);
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') this.onStderrLine(line);
    });
  }

  private onJpeg(run: Run, jpeg: Buffer): void {
    this.snapshot = jpeg;
    const index = run.jpegCount;
    run.jpegs.set(index, jpeg);
    run.jpegs.delete(index - KEPT_SNAPSHOTS);
    run.jpegCount += 1;
    for (const resolve of run.waiting.get(index) ?? []) resolve(jpeg);
    run.waiting.delete(index);
  }

  private pairedSnapshot(run: Run, index: number): Promise<Buffer | null> {
    if (index < run.jpegCount) return Promise.resolve(run.jpegs.get(index) ?? null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        run.waiting.delete(index);
        resolve(null);
      }, SNAPSHOT_WAIT_MS);
      const list = run.waiting.get(index) ?? [];
      list.push((jpeg) => {
        clearTimeout(timer);
        resolve(jpeg);
      });
      run.waiting.set(index, list);
    });
  }

  private onStderrLine(line: string): void {
    const size = this.sizeReported ? null : sourceSizeFromStderr(line);
    if (size) {
      this.sizeReported = true;
      this.deps.sink.sourceSize?.(size);
    }
    this.pushStderr(line);
  }

  private pushStderr(line: string): void {
    // Scrubbed on the way in, so nothing can log the raw line later.
    this.stderr.push(redactUrl(line));
    if (this.stderr.length > this.opts.stderrLines) this.stderr.shift();
  }

  private onFrame(run: Run, rgb: Buffer, units: number): void {
    if (run !== this.run || run.failed || !this.running) return;
    const at = this.clock();
    this.lastFrameAt = at;
    this.frames += 1;
    const index = run.frames;
    run.frames += 1;
    this.failuresInRow = 0;
    this.setStatus('online');
    const snapshot = (): Promise<Buffer | null> =>
      run.paired ? this.pairedSnapshot(run, index) : Promise.resolve(this.snapshot);
    const size = rgb.length / units;
    const crops = Array.from({ length: units }, (_, i) => rgb.subarray(i * size, (i + 1) * size));
    this.deps.sink.frame({ camera: this.deps.name, rgb, crops, at, seq: this.frames, snapshot });
  }

  private setStatus(status: CameraStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.log.info({ status }, `camera ${status}`);
    this.deps.sink.status(status);
  }

  /** Offline after `stall_timeout` without a frame; a live ffmpeg that went quiet is killed. */
  private checkStall(): void {
    const now = this.clock();
    const lastSign = Math.max(this.lastFrameAt, this.startedAt);
    if (now - lastSign > this.stallMs()) this.setStatus('offline');
    const run = this.run;
    if (run && !run.failed && now - Math.max(this.lastFrameAt, run.startedAt) > this.stallMs()) {
      this.fail(run, `no frame for ${this.deps.config.stall_timeout} s`);
    }
  }

  private fail(run: Run, reason: string): void {
    if (run.failed) return;
    run.failed = true;
    if (!this.running || run !== this.run) return;
    this.failuresInRow += 1;
    const cause = ffmpegCause(this.stderr);
    this.lastError = cause ? `${reason}: ${cause}` : reason;
    if (run.frames > 0) this.flapTimes.push(this.clock());
    const delay = this.nextDelay();
    this.logFailure(reason, delay);
    void this.kill(run).then(() => this.scheduleRestart(run, delay));
  }

  private scheduleRestart(run: Run, delay: number): void {
    if (!this.running || run !== this.run) return;
    this.run = null;
    this.restartTimer = setTimeout(() => this.relaunch(), delay);
  }

  private relaunch(): void {
    this.restartTimer = null;
    if (!this.running) return;
    this.reconnects += 1;
    this.launch();
  }

  private nextDelay(): number {
    const now = this.clock();
    this.flapTimes = this.flapTimes.filter((t) => now - t < this.opts.loopWindowMs);
    const backoff = Math.min(
      this.opts.restartMaxMs,
      this.opts.restartInitialMs * 2 ** Math.max(0, this.failuresInRow - 1),
    );
    if (this.flapTimes.length >= this.opts.loopMaxRestarts) return Math.max(backoff, this.opts.loopDelayMs);
    this.loopWarned = false;
    return backoff;
  }

  private logFailure(reason: string, delay: number): void {
    const looping = this.flapTimes.length >= this.opts.loopMaxRestarts;
    if (looping && this.loopWarned) {
      this.log.debug({ reason, retry_ms: delay }, 'ffmpeg failed again');
      return;
    }
    if (looping) {
      this.loopWarned = true;
      this.log.warn(
        { reason, retry_ms: delay, failures: this.flapTimes.length, stderr: this.stderr },
        `ffmpeg keeps failing after start (${this.flapTimes.length} times in ${this.opts.loopWindowMs / 1000} s); slowing down`,
      );
      return;
    }
    // An unreachable camera fails every few seconds for as long as it is down: warn on the
    // first failure and about once a minute after, with ffmpeg's last lines each time.
    const level = this.failuresInRow % 15 === 1 ? 'warn' : 'debug';
    this.log[level]({ reason, retry_ms: delay, failures: this.failuresInRow, stderr: this.stderr }, 'ffmpeg failed; restarting');
  }

  /** SIGTERM, then SIGKILL after the grace period: a UDP reader can ignore SIGTERM. */
  private async kill(run: Run): Promise<void> {
    const { child } = run;
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
      if (child.pid === undefined) return;
      await run.exited;
      return;
    }
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, this.opts.killGraceMs);
    await run.exited;
    clearTimeout(timer);
  }
}
