import { spawn as nodeSpawn } from 'node:child_process';
import type { Logger } from 'pino';
import type { AppConfig, CameraConfig, Roi } from '../config/types.js';
import type { InputSize } from '../media/image.js';
import { fieldError } from '../errors.js';
import type { EventBus } from '../eventBus.js';
import { NONE, type Classification } from '../recognition/types.js';
import { CameraSource, type RawFrame, type SpawnFn, type SupervisionOptions } from '../camera/cameraSource.js';
import { cameraUnits, outsideFrame } from '../camera/ffmpegArgs.js';
import { MotionGate } from './motionGate.js';
import { FrameScheduler, type ScheduledResult, type UnitRef } from './scheduler.js';
import { compareWithEmpty, followSteady, type RegionSource } from '../recognition/regions.js';
import type { Camera, CameraStats, FrameRegion, LiveFrame, UnitState } from './cameraTypes.js';
import { boxShot, cutRegions, EmptyView, objectInSnapshot, unitObject, unitPlace, type SnapshotObject } from './regionCrops.js';
import { cropToInput, regionAt } from '../media/crops.js';
import { ClassSmoother } from './smoother.js';
import { quietStep, type QuietStep } from './quietRule.js';
import { DetectionEvents, eventId } from './events.js';
import { killOnExit } from '../process/kill.js';
import { parentDeathPrefix } from '../process/parentDeath.js';

export type { CameraStats, FrameRegion, LiveFrame } from './cameraTypes.js';

export interface CameraManagerDeps {
  config: Pick<AppConfig, 'cameras' | 'classifier'>;
  bus: EventBus;
  logger: Logger;
  /** A unit's crop; `regions`, when given, cuts the parts of the frame that differ from the unit's empty scene. */
  classify: UnitClassifyFn;
  inputSize: InputSize;
  spawn?: SpawnFn;
  clock?: () => number;
  ffmpegPath?: string;
  supervision?: Partial<SupervisionOptions>;
  /** Observer of every scheduled result, for benchmarks and diagnostics. */
  onResult?: (result: ScheduledResult) => void;
  /** Every freshly inferred result of a unit, with the classes ON there after it: the zone's scene model learns from it (only while nothing is ON). */
  observe?: (unit: UnitRef, result: Classification, activeLabels: string[]) => void;
  /** The non-background classes (read again on `classesChanged`): only these may turn ON. */
  classLabels?: () => string[];
}

export type UnitClassifyFn = (rgb: Uint8Array, unit: UnitRef, regions?: RegionSource) => Promise<Classification>;

/**
 * Builds one supervised source per configured camera and wires
 * source → scheduler (one shared detector) → smoother per unit → events.
 */
export class CameraManager {
  private readonly cameras = new Map<string, Camera>();
  private readonly clock: () => number;
  private readonly log: Logger;
  private scheduler: FrameScheduler | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private readonly events: DetectionEvents;
  private releaseExitKill: (() => void) | null = null;
  private offClasses: (() => void) | null = null;

  constructor(private readonly deps: CameraManagerDeps) {
    this.clock = deps.clock ?? Date.now;
    this.log = deps.logger;
    this.events = new DetectionEvents({ bus: deps.bus, logger: deps.logger, inputSize: deps.inputSize });
  }

  async start(): Promise<void> {
    if (this.scheduler) return;
    const scheduler = new FrameScheduler({
      classify: (rgb, unit, frame) => this.classifyUnit(rgb, unit, frame),
      onResult: (r) => this.onResult(r),
      logger: this.log,
      clock: this.clock,
    });
    this.scheduler = scheduler;
    for (const [name, config] of Object.entries(this.deps.config.cameras)) {
      const camera = this.buildCamera(name, config);
      this.cameras.set(name, camera);
      const units = camera.units.map((u) => ({ zone: u.zone, gate: this.buildGate(config) }));
      scheduler.addCamera(name, { enabled: config.enabled, units });
    }
    await scheduler.start();
    this.keepClasses();
    this.offClasses = this.deps.bus.on('classesChanged', () => this.keepClasses());
    // If the process exits without stop() (a crash), no ffmpeg may outlive it.
    this.releaseExitKill = killOnExit(() => {
      for (const camera of this.cameras.values()) camera.source.killNow();
    });
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
    this.offClasses?.();
    this.offClasses = null;
    const results = await Promise.allSettled([...this.cameras.values()].map((c) => c.source.stop()));
    for (const r of results) if (r.status === 'rejected') this.log.error({ err: r.reason }, 'camera stop failed');
    await this.scheduler?.stop();
    for (const camera of this.cameras.values()) this.events.endAll(camera);
    await this.events.settled();
    this.releaseExitKill?.();
    this.releaseExitKill = null;
    this.scheduler = null;
    this.cameras.clear();
  }

  names(): string[] {
    return [...this.cameras.keys()];
  }

  /** The zones of a camera, in config order (none: the camera classifies its whole frame). */
  zones(name: string): string[] {
    return this.require(name).units.flatMap((u) => (u.zone === null ? [] : [u.zone]));
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

  /** Why a camera's ffmpeg last failed (credentials hidden), or null. */
  lastError(name: string): string | null {
    return this.require(name).source.stats().last_error;
  }

  /** A camera's stream size once ffmpeg named it (zones in pixels are drawn against it), or null. */
  sourceSize(name: string): { width: number; height: number } | null {
    return this.require(name).sourceSize;
  }

  /** Switches detection for one camera at run time; its ffmpeg keeps running (live frames). */
  setEnabled(name: string, enabled: boolean): void {
    const camera = this.require(name);
    this.scheduler?.setEnabled(name, enabled);
    if (!enabled) this.events.endAll(camera);
    this.log.info({ camera: name, enabled }, 'detection switched');
  }

  isEnabled(name: string): boolean {
    this.require(name);
    return this.scheduler?.isEnabled(name) ?? false;
  }

  /**
   * The newest live frame at the model's input size, or null when the camera has none
   * (offline): a zone's crop (exactly what the zone classifies), a box of the scene (cut
   * from the newest snapshot), or the camera's own unit (whole frame or roi).
   */
  async latestFrame(name: string, region: FrameRegion = {}): Promise<LiveFrame | null> {
    const camera = this.require(name);
    const frame = camera.latest;
    if (!frame || this.clock() - frame.at > camera.config.stall_timeout * 1000) return null;
    if ('box' in region) return this.boxOf(camera, region.box, true);
    const zone = 'zone' in region ? region.zone : null;
    const index = camera.units.findIndex((u) => u.zone === zone);
    if (index < 0 && zone !== null) throw fieldError('not_found', 'zone', `camera "${name}" has no zone "${zone}"`);
    // A camera with zones has no whole-frame unit: take the whole scene from its snapshot.
    if (index < 0) return this.boxOf(camera, { x: 0, y: 0, width: 1, height: 1 }, false);
    const crop = frame.crops[index];
    return crop ? { rgb: crop } : null;
  }

  /**
   * The unit a box of the scene lies in: the zone holding the box's centre, or the whole-frame
   * unit of a camera without zones (when the centre is inside its roi); null when none does.
   */
  async unitOfBox(name: string, box: Roi): Promise<{ zone: string | null } | null> {
    const camera = this.require(name);
    const jpeg = camera.source.latestSnapshot();
    if (!jpeg) return null;
    const index = await regionAt(jpeg, box, camera.units.map((u) => u.roi), camera.sourceSize);
    return index < 0 ? null : { zone: camera.units[index]!.zone };
  }

  /** The object in a unit's newest frame, cut out against its empty view (regionCrops.ts), or null. */
  objectInUnit(name: string, zone: string | null): Promise<Uint8Array | null> {
    const camera = this.require(name);
    const i = camera.units.findIndex((u) => u.zone === zone);
    const [unit, frame] = [camera.units[i], camera.latest];
    const crop = frame?.crops[i];
    return unit?.quiet && frame && crop ? unitObject(frame, crop, unit.quiet, unit.roi, camera.sourceSize, this.deps.inputSize, unit.empty) : Promise.resolve(null);
  }

  /** The newest crop of a unit while it showed nothing (its empty scene now), or null. */
  sceneFrame(name: string, zone: string | null): Uint8Array | null {
    return this.require(name).units.find((u) => u.zone === zone)?.scene ?? null;
  }

  /** The object in a picture of one of the cameras' own views (regionCrops.ts), or null. */
  objectInSnapshot(image: Buffer): Promise<SnapshotObject | null> {
    return objectInSnapshot(image, [...this.cameras.values()].flatMap((c) => c.units.map((u) => ({ camera: c.name, empty: u.empty }))), this.deps.inputSize);
  }

  /** The newest snapshot JPEG of a camera (full scene), or null before the first one. */
  latestSnapshot(name: string): Buffer | null {
    return this.require(name).source.latestSnapshot();
  }

  /** A box of the newest snapshot: the object in it (a shot), or the whole scene stretched as a unit sees it. */
  private async boxOf(camera: Camera, box: Roi, object: boolean): Promise<LiveFrame | null> {
    const jpeg = camera.source.latestSnapshot();
    if (!jpeg) {
      throw fieldError('not_found', 'box', `camera "${camera.name}" has no snapshot to cut a box from (snapshot.enabled is false or no frame yet)`);
    }
    if (!object) return { rgb: await cropToInput(jpeg, box, camera.sourceSize, this.deps.inputSize) };
    const index = await regionAt(jpeg, box, camera.units.map((u) => u.roi), camera.sourceSize);
    // A box outside every zone: any unit's empty view shows the whole scene.
    const units = index < 0 ? camera.units : [camera.units[index]!];
    const empties = (await Promise.all(units.map((u) => u.empty.rasters()))).flat();
    return { rgb: await boxShot(jpeg, box, camera.sourceSize, this.deps.inputSize, empties) };
  }

  private require(name: string): Camera {
    const camera = this.cameras.get(name);
    if (!camera) throw fieldError('not_found', 'camera', `no camera named "${name}"`);
    return camera;
  }

  private buildCamera(name: string, config: CameraConfig): Camera {
    const camera: Camera = {
      name,
      config,
      units: cameraUnits(config).map((u) => this.buildUnit(name, u.zone, u.roi)),
      latest: null,
      sourceSize: null,
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
          sourceSize: (size) => this.onSourceSize(camera, size),
        },
      }),
    };
    return camera;
  }

  private buildUnit(camera: string, zone: string | null, roi: Roi | null): UnitState {
    const { vote, off_delay_s } = this.deps.config.classifier;
    const smoother = new ClassSmoother({
      camera,
      zone,
      window: vote.window,
      minHits: vote.min_hits,
      offDelayS: off_delay_s,
      // Every class's own threshold was applied by the decision: any class label is a hit.
      threshold: -Infinity,
      clock: this.clock,
      newId: () => eventId(this.clock()),
    });
    return { zone, roi, smoother, label: null, invalid: false, quiet: null, scene: null, empty: new EmptyView(), comparison: null, changedFrames: 0 };
  }

  private buildGate(config: CameraConfig): MotionGate | null {
    if (!config.motion.enabled) return null;
    return new MotionGate(this.deps.inputSize, {
      threshold: config.motion.threshold,
      maxSkipS: config.motion.max_skip_s,
    });
  }

  /** Pixel zones are checked once the stream's size is known; one outside is not classified. */
  private onSourceSize(camera: Camera, size: { width: number; height: number }): void {
    camera.sourceSize = size;
    for (const unit of camera.units) {
      const problem = unit.zone !== null && unit.roi ? outsideFrame(unit.roi, size) : null;
      unit.invalid = problem !== null;
      if (problem) this.log.error(`cameras.${camera.name}.zones.${unit.zone}.roi: ${problem}; this zone is not classified until it is fixed`);
    }
  }

  /** A unit's crop, with the regions where it differs from the unit's empty scene when it has learned one. */
  private classifyUnit(rgb: Uint8Array, ref: UnitRef, frame: RawFrame): Promise<Classification> {
    const camera = this.cameras.get(ref.camera);
    const unit = camera?.units.find((u) => u.zone === ref.zone);
    if (!camera || !unit) return this.deps.classify(rgb, ref);
    unit.comparison = unit.quiet ? compareWithEmpty(rgb, unit.quiet, this.deps.inputSize) : null;
    const boxes = unit.comparison?.boxes ?? [];
    if (boxes.length === 0 || !camera.config.snapshot.enabled) return this.deps.classify(rgb, ref);
    return this.deps.classify(rgb, ref, () => cutRegions(frame, boxes, unit.roi, camera.sourceSize, this.deps.inputSize, () => unit.empty.raster()));
  }

  /** The unit's empty view after a frame (quietRule.ts): the frame itself, or its steady cells. */
  private keepQuiet(camera: Camera, unit: UnitState, frame: RawFrame, crop: Uint8Array | undefined, result: Classification, active: readonly string[]): QuietStep['step'] | 'kept' {
    const steady = unit.comparison?.steady ?? null;
    const next = quietStep({ label: result.label, active, regions: unit.comparison?.boxes.length ?? 0, steady, changedFrames: unit.changedFrames });
    unit.changedFrames = next.changedFrames;
    if (crop && next.step === 'empty') {
      unit.quiet = Uint8Array.from(crop);
      // Augmented enrollments need a frame the unit itself decided empty, not a whole-frame `unknown`.
      if (result.label === NONE) unit.scene = unit.quiet;
      unit.empty.update(frame, next.absorbed);
      return 'empty';
    }
    const place = unitPlace(unit.roi, camera.sourceSize);
    if (!crop || !unit.quiet || !steady || !place) return 'kept';
    unit.quiet = followSteady(unit.quiet, crop, steady, this.deps.inputSize);
    if (camera.config.snapshot.enabled) unit.empty.follow(frame, steady, place, frame.at);
    return 'follow';
  }

  private onFrame(camera: Camera, frame: RawFrame): void {
    camera.latest = frame;
    this.scheduler?.offer(frame);
  }

  private onResult(r: ScheduledResult): void {
    const camera = this.cameras.get(r.camera);
    if (!camera) return;
    this.deps.onResult?.(r);
    r.units.forEach((u, i) => {
      const unit = camera.units[i];
      if (!unit || unit.invalid) return;
      const update = unit.smoother.push(u.result);
      unit.label = update.label;
      if (!u.reused) {
        const active = unit.smoother.activeLabels();
        const quiet = this.keepQuiet(camera, unit, r.frame, r.frame.crops[i], u.result, active);
        this.traceUnit(camera, unit, r.frame.at, u.result, quiet);
        this.deps.observe?.({ camera: camera.name, zone: unit.zone }, u.result, active);
      }
      this.deps.bus.emit('cameraResult', {
        camera: r.camera,
        zone: unit.zone,
        label: update.label,
        score: u.result.score,
        scores: u.result.scores,
        at: new Date(r.finishedAt),
        // The region goes with the label it found, not with a label the vote still holds.
        ...(u.result.box && u.result.label === update.label ? { box: u.result.box } : {}),
      });
      this.events.publish(camera, unit, update, { frame: r.frame, index: i, result: u.result });
    });
  }

  /** At debug level, each inferred unit: what differed from its empty view and what was decided (field diagnostics). */
  private traceUnit(camera: Camera, unit: UnitState, at: number, result: Classification, quiet: QuietStep['step'] | 'kept'): void {
    if (!this.log.isLevelEnabled('debug')) return;
    const { label, score, reason, box, scores } = result;
    const c = unit.comparison;
    const compared = c ? { median: c.median, bar: c.bar, steady: c.steady ? c.steady.reduce((n, s) => n + s, 0) : null } : { steady: null };
    this.log.debug({ camera: camera.name, zone: unit.zone, at, label, score, reason, box, changed: c?.boxes ?? [], ...compared, quiet, scores }, 'unit decided');
  }

  private tick(): void {
    for (const camera of this.cameras.values()) for (const unit of camera.units) this.events.publish(camera, unit, unit.smoother.tick());
  }

  /** A class removed, renamed or made background ends where it was ON (nothing retained is written). */
  private keepClasses(): void {
    if (!this.deps.classLabels) return;
    const classes = new Set(this.deps.classLabels());
    for (const camera of this.cameras.values()) {
      for (const unit of camera.units) this.events.publish(camera, unit, unit.smoother.keepClasses(classes));
    }
  }
}
