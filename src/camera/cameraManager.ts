import { existsSync } from 'node:fs';
import { spawn as nodeSpawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import sharp from 'sharp';
import type { AppConfig, CameraConfig } from '../config/types.js';
import type { InputSize } from '../detector/types.js';
import { AppError } from '../errors.js';
import type { EventBus } from '../eventBus.js';
import { CameraSource, type CameraStatus, type RawFrame, type SpawnFn, type SupervisionOptions } from './cameraSource.js';
import { MotionGate } from './motionGate.js';
import { FrameScheduler, type ClassifyFn, type ScheduledResult } from './scheduler.js';
import { ClassSmoother, type SmootherUpdate } from './smoother.js';

/** Per camera, as in the `stats` MQTT payload. */
/** util-linux's setpriv (on every Debian) ties each ffmpeg's life to the agent's; see CameraSourceDeps. */
export function parentDeathPrefix(): readonly string[] {
  return existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--'] : [];
}

export interface CameraStats {
  status: CameraStatus;
  camera_fps: number;
  process_fps: number;
  skipped_fps: number;
  reconnects: number;
}

export interface LiveFrame {
  /** RGB at the detector input size, as the detector sees it. */
  rgb: Uint8Array;
}

export interface CameraManagerDeps {
  config: Pick<AppConfig, 'cameras' | 'classifier'>;
  bus: EventBus;
  logger: Logger;
  classify: ClassifyFn;
  inputSize: InputSize;
  spawn?: SpawnFn;
  clock?: () => number;
  ffmpegPath?: string;
  supervision?: Partial<SupervisionOptions>;
  /** Observer of every scheduled result, for benchmarks and diagnostics. */
  onResult?: (result: ScheduledResult) => void;
}

interface Camera {
  name: string;
  config: CameraConfig;
  source: CameraSource;
  smoother: ClassSmoother;
  latest: RawFrame | null;
  label: string | null;
  /** Detection events go out in order, even when a start waits for its snapshot. */
  events: Promise<void>;
}

/**
 * Builds one supervised source per configured camera and wires
 * source → scheduler (one shared detector) → smoother → event bus.
 */
export class CameraManager {
  private readonly cameras = new Map<string, Camera>();
  private readonly clock: () => number;
  private readonly log: Logger;
  private scheduler: FrameScheduler | null = null;
  private ticker: NodeJS.Timeout | null = null;
  /** If the process exits without stop() (a crash), no ffmpeg may outlive it. */
  private readonly killOnExit = (): void => {
    for (const camera of this.cameras.values()) camera.source.killNow();
  };

  constructor(private readonly deps: CameraManagerDeps) {
    this.clock = deps.clock ?? Date.now;
    this.log = deps.logger;
  }

  async start(): Promise<void> {
    if (this.scheduler) return;
    const scheduler = new FrameScheduler({
      classify: this.deps.classify,
      onResult: (r) => this.onResult(r),
      logger: this.log,
      clock: this.clock,
    });
    this.scheduler = scheduler;
    for (const [name, config] of Object.entries(this.deps.config.cameras)) {
      const camera = this.buildCamera(name, config);
      this.cameras.set(name, camera);
      scheduler.addCamera(name, { enabled: config.enabled, gate: this.buildGate(config) });
    }
    await scheduler.start();
    process.once('exit', this.killOnExit);
    // A camera without a URL (allowed while disabled) has nothing to run.
    const runnable = [...this.cameras.values()].filter((c) => c.config.url !== '');
    await Promise.all(runnable.map((c) => c.source.start()));
    // Classes must turn OFF on time even when no frame arrives (camera down, detector down).
    this.ticker = setInterval(() => this.tick(), 1000);
    this.log.info({ cameras: [...this.cameras.keys()] }, 'cameras started');
  }

  /** Stops every ffmpeg (awaited: none survives), then the scheduler; ends active classes. */
  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    const results = await Promise.allSettled([...this.cameras.values()].map((c) => c.source.stop()));
    for (const r of results) if (r.status === 'rejected') this.log.error({ err: r.reason }, 'camera stop failed');
    await this.scheduler?.stop();
    for (const camera of this.cameras.values()) this.publish(camera, camera.smoother.endAll());
    await Promise.all([...this.cameras.values()].map((c) => c.events));
    process.off('exit', this.killOnExit);
    this.scheduler = null;
    this.cameras.clear();
  }

  names(): string[] {
    return [...this.cameras.keys()];
  }

  stats(): Record<string, CameraStats> {
    const out: Record<string, CameraStats> = {};
    for (const [name, camera] of this.cameras) {
      const source = camera.source.stats();
      const sched = this.scheduler?.stats(name);
      out[name] = {
        status: source.status,
        camera_fps: sched?.camera_fps ?? 0,
        process_fps: sched?.process_fps ?? 0,
        skipped_fps: sched?.skipped_fps ?? 0,
        reconnects: source.reconnects,
      };
    }
    return out;
  }

  /** Switches detection for one camera at run time; its ffmpeg keeps running (live frames). */
  setEnabled(name: string, enabled: boolean): void {
    const camera = this.require(name);
    this.scheduler?.setEnabled(name, enabled);
    if (!enabled) this.publish(camera, camera.smoother.endAll());
    this.log.info({ camera: name, enabled }, 'detection switched');
  }

  isEnabled(name: string): boolean {
    this.require(name);
    return this.scheduler?.isEnabled(name) ?? false;
  }

  /** The newest frame of a camera at the model's input size, or null when it has none (offline). */
  latestFrame(name: string): LiveFrame | null {
    const camera = this.require(name);
    const frame = camera.latest;
    if (!frame || this.clock() - frame.at > camera.config.stall_timeout * 1000) return null;
    return { rgb: frame.rgb };
  }

  /** The newest snapshot JPEG of a camera (full scene), or null before the first one. */
  latestSnapshot(name: string): Buffer | null {
    return this.require(name).source.latestSnapshot();
  }

  private require(name: string): Camera {
    const camera = this.cameras.get(name);
    if (!camera) throw new AppError('not_found', `camera: no camera named "${name}"`);
    return camera;
  }

  private buildCamera(name: string, config: CameraConfig): Camera {
    const { vote, off_delay_s, threshold } = this.deps.config.classifier;
    const camera: Camera = {
      name,
      config,
      latest: null,
      label: null,
      events: Promise.resolve(),
      smoother: new ClassSmoother({
        camera: name,
        window: vote.window,
        minHits: vote.min_hits,
        offDelayS: off_delay_s,
        threshold,
        clock: this.clock,
        newId: () => eventId(this.clock()),
      }),
      source: new CameraSource({
        name,
        config,
        inputSize: this.deps.inputSize,
        logger: this.log,
        spawn: this.deps.spawn ?? (nodeSpawn as SpawnFn),
        ffmpegPath: this.deps.ffmpegPath,
        launchPrefix: parentDeathPrefix(),
        clock: this.clock,
        supervision: this.deps.supervision,
        sink: {
          frame: (frame) => this.onFrame(camera, frame),
          status: (status) => this.deps.bus.emit('cameraStatus', { camera: name, status }),
        },
      }),
    };
    return camera;
  }

  private buildGate(config: CameraConfig): MotionGate | null {
    if (!config.motion.enabled) return null;
    return new MotionGate(this.deps.inputSize, {
      threshold: config.motion.threshold,
      maxSkipS: config.motion.max_skip_s,
    });
  }

  private onFrame(camera: Camera, frame: RawFrame): void {
    camera.latest = frame;
    this.scheduler?.offer(frame);
  }

  private onResult(r: ScheduledResult): void {
    const camera = this.cameras.get(r.camera);
    if (!camera) return;
    this.deps.onResult?.(r);
    const update = camera.smoother.push(r.result);
    camera.label = update.label;
    this.deps.bus.emit('cameraResult', {
      camera: r.camera,
      label: update.label,
      score: r.result.score,
      scores: r.result.scores,
      at: new Date(r.finishedAt),
    });
    this.publish(camera, update, r.frame);
  }

  private tick(): void {
    for (const camera of this.cameras.values()) this.publish(camera, camera.smoother.tick());
  }

  /** Class changes at once, then the events, queued per camera so they keep their order. */
  private publish(camera: Camera, update: SmootherUpdate, frame?: RawFrame): void {
    for (const change of update.changes) {
      this.deps.bus.emit('classState', { camera: camera.name, label: change.label, on: change.on });
    }
    for (const event of update.events) {
      this.log.info(
        { camera: camera.name, label: event.label, score: round3(event.score), id: event.id },
        `detection ${event.type}`,
      );
      camera.events = camera.events.then(async () => {
        const snapshot = event.type === 'start' && frame ? await this.snapshotOf(camera, frame) : event.snapshot;
        this.deps.bus.emit('detectionEvent', { ...event, snapshot });
      });
    }
  }

  /**
   * The snapshot JPEG of the frame itself; with snapshots off (or the JPEG lost) a JPEG of
   * the model-input frame, which is the exact frame, only small.
   */
  private async snapshotOf(camera: Camera, frame: RawFrame): Promise<Buffer | null> {
    const jpeg = camera.config.snapshot.enabled ? await frame.snapshot() : null;
    return jpeg ?? this.encodeJpeg(frame.rgb, camera.config.snapshot.quality).catch(() => null);
  }

  private async encodeJpeg(rgb: Uint8Array, quality: number): Promise<Buffer> {
    const { width, height } = this.deps.inputSize;
    return sharp(rgb, { raw: { width, height, channels: 3 } })
      .jpeg({ quality: Math.min(100, Math.max(1, Math.round(quality))) })
      .toBuffer();
  }
}

/** Sortable and unique: `<unix seconds with ms>-<6 random base36 chars>`, as Frigate does. */
function eventId(now: number): string {
  return `${(now / 1000).toFixed(3)}-${randomBytes(4).readUInt32BE(0).toString(36).padStart(6, '0').slice(-6)}`;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
