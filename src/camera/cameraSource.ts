import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { urlSecrets } from '../config/redact.js';
import type { CameraConfig } from '../config/types.js';
import type { InputSize } from '../media/image.js';
import {
  DEFAULT_SUPERVISION,
  SupervisedProcess,
  type ProcessStatus,
  type RunHandle,
  type LaunchPlan,
  type SpawnFn,
  type SupervisionOptions,
} from '../process/supervisedProcess.js';
import { buildFfmpegPlan, type FfmpegPlan, SNAPSHOT_FD, sourceSizeFromStderr } from './ffmpegArgs.js';
import { FrameSplitter, JpegSplitter } from './frameSplitter.js';

export { DEFAULT_SUPERVISION, type SpawnFn, type SupervisionOptions };

export type CameraStatus = ProcessStatus;

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
  /** Whether snapshot() is this very frame's JPEG (snapshots at the detection rate), not merely the newest. */
  pairedSnapshot?: boolean;
}

export interface CameraSourceSink {
  frame(frame: RawFrame): void;
  /** Called only when the status changes. */
  status(status: CameraStatus): void;
  /** The source's frame size, when ffmpeg names it (cameras with pixel zones). */
  sourceSize?(size: { width: number; height: number }): void;
}

export interface CameraSourceDeps {
  name: string;
  config: CameraConfig;
  inputSize: InputSize;
  logger: Logger;
  spawn: SpawnFn;
  sink: CameraSourceSink;
  ffmpegPath?: string;
  /** Put before ffmpeg: parentDeathPrefix() (process/parentDeath.ts) ties its life to the agent's. */
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

/** One started ffmpeg's frames and snapshots. */
interface Run {
  handle: RunHandle;
  frames: number;
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

/** One camera's ffmpeg (supervised by process/supervisedProcess.ts): its frames and snapshots. */
export class CameraSource {
  private readonly log: Logger;
  private readonly clock: () => number;
  private readonly process: SupervisedProcess;
  private status: CameraStatus | null = null;
  private frames = 0;
  private snapshot: Buffer | null = null;
  /** The source size is passed on once per source (it cannot change without a new config). */
  private sizeReported = false;
  /** The plan of the ffmpeg being started, for attach(). */
  private plan: FfmpegPlan | null = null;

  constructor(private readonly deps: CameraSourceDeps) {
    this.log = deps.logger.child({ camera: deps.name });
    this.clock = deps.clock ?? Date.now;
    this.process = new SupervisedProcess({
      label: 'ffmpeg',
      logger: this.log,
      spawn: deps.spawn,
      launchPrefix: deps.launchPrefix ?? [],
      stallMs: deps.config.stall_timeout * 1000,
      stallReason: `no frame for ${deps.config.stall_timeout} s`,
      secrets: urlSecrets(deps.config.url),
      options: { ...DEFAULT_SUPERVISION, ...deps.supervision },
      clock: this.clock,
      hooks: {
        plan: () => this.launchPlan(),
        attach: (child, handle) => this.attach(child, handle),
        stderrLine: (line) => this.onStderrLine(line),
        status: (status) => this.setStatus(status),
      },
    });
  }

  async start(): Promise<void> {
    this.process.start();
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }

  /** Synchronous SIGKILL of the current ffmpeg, for a process that is exiting anyway. */
  killNow(): void {
    this.process.killNow();
  }

  stats(): CameraSourceStats {
    return {
      status: this.status ?? 'offline',
      reconnects: this.process.restarts(),
      frames: this.frames,
      running: this.process.hasChild(),
      last_error: this.process.lastError(),
    };
  }

  latestSnapshot(): Buffer | null {
    return this.snapshot;
  }

  /** Process id of the current ffmpeg, for tests and benchmarks. */
  pid(): number | null {
    return this.process.pid();
  }

  private launchPlan(): LaunchPlan {
    const plan = buildFfmpegPlan(this.deps.config, { inputSize: this.deps.inputSize });
    this.plan = plan;
    const stdio: SpawnOptions['stdio'] = ['ignore', 'pipe', 'pipe'];
    if (plan.snapshots) stdio.push('pipe');
    return { command: this.deps.ffmpegPath ?? 'ffmpeg', args: plan.args, stdio };
  }

  private attach(child: ChildProcess, handle: RunHandle): void {
    const plan = this.plan;
    if (!plan) return;
    const run: Run = { handle, frames: 0, paired: plan.pairedSnapshots, jpegs: new Map(), jpegCount: 0, waiting: new Map() };
    const units = plan.units.length;
    const splitter = new FrameSplitter(plan.frameBytes, (rgb) => this.onFrame(run, rgb, units));
    child.stdout?.on('data', (chunk: Buffer) => splitter.push(chunk));
    const snapshots = child.stdio[SNAPSHOT_FD] as Readable | null | undefined;
    if (snapshots) {
      const jpegs = new JpegSplitter((jpeg) => this.onJpeg(run, jpeg));
      snapshots.on('data', (chunk: Buffer) => jpegs.push(chunk));
      snapshots.on('error', () => undefined);
    }
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
    if (!size) return;
    this.sizeReported = true;
    this.deps.sink.sourceSize?.(size);
  }

  private onFrame(run: Run, rgb: Buffer, units: number): void {
    if (!run.handle.output()) return;
    this.frames += 1;
    const index = run.frames;
    run.frames += 1;
    const snapshot = (): Promise<Buffer | null> =>
      run.paired ? this.pairedSnapshot(run, index) : Promise.resolve(this.snapshot);
    const size = rgb.length / units;
    const crops = Array.from({ length: units }, (_, i) => rgb.subarray(i * size, (i + 1) * size));
    const at = this.clock();
    this.deps.sink.frame({ camera: this.deps.name, rgb, crops, at, seq: this.frames, snapshot, pairedSnapshot: run.paired });
  }

  private setStatus(status: CameraStatus): void {
    this.status = status;
    this.log.info({ status }, `camera ${status}`);
    this.deps.sink.status(status);
  }
}
