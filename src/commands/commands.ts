/**
 * The commands users send (over MQTT today, from the dashboard too): each one validates its
 * payload, says which lane it runs in and how long it may take, and calls one service. The
 * MQTT request server and any other front end only translate to and from these.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { isFractional } from '../config/formats.js';
import type { LimitsConfig, Roi } from '../config/types.js';
import { imageKind } from '../media/image.js';
import { AppError, fieldError } from '../errors.js';
import type { EnrollOptions, Imprinter, PixelShot } from '../imprinting/imprinter.js';
import { validateLabel } from '../recognition/labels.js';
import type { FrameRegion } from '../pipeline/cameraManager.js';
import type { SnapshotObject } from '../pipeline/regionCrops.js';
import type { Job } from './lanes.js';
import type { Corrections, EventRef } from '../imprinting/corrections.js';
import type { ClassInfo, EnrollResult, EnrollWarning, UnitRef } from '../recognition/types.js';
import {
  RequestSchemas,
  type ClassSetRequest,
  type EventListRequest,
  type EventRefRequest,
  type ClassifyRequest,
  type DetectRequest,
  type EnrollRequest,
  type JsonCommand,
  type LabelRequest,
  type RenameRequest,
  type ShotRequest,
} from './schemas.js';

/** What commands need from the cameras. */
export interface CameraControl {
  names(): string[];
  /** The zones of a camera (none: it classifies its whole frame). */
  zones(camera: string): string[];
  /** The newest frame at the model's input size, or null when the camera has none (offline). */
  latestFrame(camera: string, region?: FrameRegion): Promise<PixelShot | null>;
  /** The newest crop of a unit while it was empty (for augmented enrollments), or null. */
  sceneFrame(camera: string, zone: string | null): Uint8Array | null;
  /** The object in a picture of a camera's own view (it differs from that camera's empty view), or null; absent: pictures are photos. */
  objectInSnapshot?(image: Buffer): Promise<SnapshotObject | null>;
  /** The object in a unit's newest frame, cut out against its empty view, or null; absent: live enrollments learn whole frames only. */
  objectInUnit?(camera: string, zone: string | null): Promise<Uint8Array | null>;
  /** The unit (zone, or null: the whole frame) a box of the scene lies in, or null when none; absent: no unit learns from boxes. */
  unitOfBox?(camera: string, box: Roi): Promise<{ zone: string | null } | null>;
  setEnabled(camera: string, enabled: boolean): void;
}

/** What the class settings and correction commands call. */
export interface ClassControl {
  setClass(label: string, settings: { threshold?: number | null; background?: boolean }): ClassInfo;
  /** Deletes one shot by its id (the dashboard's gallery); its class goes with its last shot. */
  removeShot(id: number): { id: number; label: string; shots: number };
}

export interface CommandDeps {
  imprinter: Imprinter;
  limits: LimitsConfig;
  cameras: CameraControl;
  classes: ClassControl;
  corrections: Corrections;
  /** Abortable wait between camera frames (injected by tests). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const DEFAULT_INTERVAL_MS = 500;
const DATA_URL = /^data:[^;,]*;base64,/;
const BASE64 = /^[A-Za-z0-9+/\-_]*={0,2}$/;

/** The commands and their lanes, in one table: a new command is one more row. */
export class Commands {
  private readonly schemas = new RequestSchemas();
  private readonly table: Record<JsonCommand, (payload: unknown) => Job>;

  constructor(private readonly deps: CommandDeps) {
    const v = <T>(command: JsonCommand, payload: unknown): T => this.schemas.validate<T>(command, payload);
    this.table = {
      'class/enroll': (p) => this.enroll(v<EnrollRequest>('class/enroll', p)),
      'class/remove': (p) => {
        const label = validateLabel(v<LabelRequest>('class/remove', p).label);
        return this.control(() => deps.imprinter.remove(label));
      },
      'class/undo': (p) => {
        const label = validateLabel(v<LabelRequest>('class/undo', p).label);
        return this.control(() => deps.imprinter.undo(label));
      },
      'class/rename': (p) => {
        const req = v<RenameRequest>('class/rename', p);
        const [from, to] = [validateLabel(req.label), validateLabel(req.to, 'to')];
        return this.control(() => deps.imprinter.rename(from, to));
      },
      'class/list': (p) => {
        v('class/list', p);
        return this.control(() => deps.imprinter.list());
      },
      classify: (p) => this.classifyBytes(decodeBase64Image(v<ClassifyRequest>('classify', p).image, 'image'), 'image'),
      'class/set': (p) => {
        const req = v<ClassSetRequest>('class/set', p);
        const label = validateLabel(req.label);
        const settings = { ...(req.threshold !== undefined ? { threshold: req.threshold } : {}), ...(req.background !== undefined ? { background: req.background } : {}) };
        return this.control(() => deps.classes.setClass(label, settings));
      },
      'shot/remove': (p) => {
        const { id } = v<ShotRequest>('shot/remove', p);
        return this.control(() => {
          try {
            return deps.classes.removeShot(id);
          } catch (err) {
            if (err instanceof AppError && err.code === 'not_found') throw fieldError('not_found', 'id', `no shot ${id} (removed already?)`);
            throw err;
          }
        });
      },
      'event/list': (p) => {
        const { camera, zone, label, limit } = v<EventListRequest>('event/list', p);
        const filter = { ...(camera ? { camera } : {}), ...(zone ? { zone } : {}), ...(label ? { label } : {}), limit: limit ?? 50 };
        return this.control(() => deps.corrections.list(filter));
      },
      'event/confirm': (p) => {
        const ref = this.eventRef(v<EventRefRequest>('event/confirm', p));
        return this.control(() => deps.corrections.confirm(ref));
      },
      'event/reject': (p) => {
        const req = v<EventRefRequest>('event/reject', p);
        const ref = this.eventRef(req);
        return this.control(() => deps.corrections.reject(ref, { empty: req.empty ?? false }));
      },
      'event/relabel': (p) => {
        const req = v<EventRefRequest>('event/relabel', p);
        const ref = this.eventRef(req);
        const label = validateLabel(req.label);
        return this.control(() => deps.corrections.relabel(ref, label));
      },
      'event/undo': (p) => {
        const ref = this.eventRef(v<EventRefRequest>('event/undo', p));
        return this.control(() => deps.corrections.undo(ref));
      },
      'camera/detect': (p) => {
        const { camera, enabled } = v<DetectRequest>('camera/detect', p);
        this.requireCamera(camera);
        return this.control(() => {
          deps.cameras.setEnabled(camera, enabled);
          return { camera, enabled };
        });
      },
    };
  }

  has(command: string): command is JsonCommand {
    return Object.hasOwn(this.table, command);
  }

  /** The job for a JSON command; throws AppError naming the field at fault. */
  job(command: string, payload: unknown): Job {
    if (!this.has(command)) throw new AppError('bad_request', `unknown command "${command}"`);
    return this.table[command](payload);
  }

  /** Whether a payload is the image itself, not JSON (`classify` takes both; its first bytes tell). */
  takesRawImage(command: string, payload: Buffer): boolean {
    return command === 'classify' && imageKind(payload) !== null;
  }

  /** `class/enroll/<label>` with the raw bytes of one image; the enrollment checks the image. */
  rawEnrollJob(label: string, image: Buffer, field: string): Job {
    // The enrollment checks the label first, before decoding anything.
    return this.imagesJob((signal) => this.enrollPictures(label, [image], { source: 'mqtt', signal, names: [field] }));
  }

  /** `classify` with the raw bytes of one image; the classification checks the image. */
  classifyBytes(image: Buffer, field: string): Job {
    return this.imagesJob(async () => {
      // The answer the contract gives: no embedding or residual (they are for events).
      const { label, score, scores } = await this.deps.imprinter.classifyImage(image, field);
      return { label, score, scores };
    });
  }

  private enroll(req: EnrollRequest): Job {
    if ((req.images === undefined) === (req.camera === undefined)) {
      throw new AppError('bad_request', 'images, camera: give exactly one of "images" or "camera"', 'images');
    }
    const background = req.background ?? false;
    if (req.images) {
      const names = req.images.map((_, i) => `images[${i}]`);
      const images = req.images.map((image, i) => decodeBase64Image(image, names[i]!));
      return this.imagesJob((signal) => this.enrollPictures(req.label, images, { background, source: 'mqtt', signal, names }));
    }
    // Checked before the frames are taken, not after seconds of them.
    const label = validateLabel(req.label);
    const camera = req.camera ?? '';
    this.requireCamera(camera);
    const region = this.regionOf(camera, req);
    const frames = req.frames ?? 1;
    const intervalMs = req.interval_ms ?? DEFAULT_INTERVAL_MS;
    return {
      lane: 'camera',
      // A camera enrollment takes its frames' time on top of the usual allowance.
      timeoutMs: this.timeoutMs() + (frames - 1) * intervalMs,
      run: (signal) => this.enrollFrames(label, camera, { frames, intervalMs, background, region }, signal),
    };
  }

  /**
   * Images enrolled as photos, except pictures of a camera's own view (an automation's
   * `camera.snapshot`, the dashboard's picture): the object in each, cut out against that
   * camera's empty view, is the shot, as a box drawn round it would be; the answer says so.
   * Background classes keep the whole view.
   */
  private async enrollPictures(label: string, images: Buffer[], opts: EnrollOptions): Promise<EnrollResult> {
    const find = this.deps.cameras.objectInSnapshot?.bind(this.deps.cameras);
    if (!find || opts.background) return this.deps.imprinter.enrollImages(label, images, opts);
    validateLabel(label);
    const found = await Promise.all(images.map((image) => find(image).catch(() => null)));
    const camera = found[0]?.camera;
    // All of one camera's view, or all photos: one class is not half cut-outs, half photos.
    if (!camera || found.some((f) => f?.camera !== camera)) return this.deps.imprinter.enrollImages(label, images, opts);
    const notes = found.map((f, i) => snapshotNote(opts.names?.[i] ?? `images[${i}]`, f!));
    return this.deps.imprinter.enrollImages(label, found.map((f) => f!.png), { ...opts, source: `camera:${camera}/snapshot`, notes });
  }

  /** The zone or box of a camera enrollment, checked before any frame is taken. */
  private regionOf(camera: string, req: EnrollRequest): FrameRegion {
    if (req.zone !== undefined && req.box !== undefined) throw fieldError('bad_request', 'zone', 'give either "zone" or "box", not both');
    if (req.zone !== undefined) {
      const zones = this.deps.cameras.zones(camera);
      if (!zones.includes(req.zone)) {
        throw fieldError('not_found', 'zone', `camera "${camera}" has no zone "${req.zone}"${zones.length ? ` (zones: ${zones.join(', ')})` : ''}`);
      }
      return { zone: req.zone };
    }
    if (req.box !== undefined) return { box: checkBox(req.box) };
    return {};
  }

  private async enrollFrames(
    label: string,
    camera: string,
    opts: { frames: number; intervalMs: number; background: boolean; region: FrameRegion },
    signal: AbortSignal,
  ): Promise<unknown> {
    const sleep = this.deps.sleep ?? ((ms: number, s: AbortSignal) => delay(ms, undefined, { signal: s }));
    const unit = await this.unitOf(camera, opts.region);
    // A box is the class's shot; the unit it lies in learns it from its own frame of the same moment.
    const unitRegion: FrameRegion | null = 'box' in opts.region && unit ? (unit.zone === null ? {} : { zone: unit.zone }) : null;
    const shots: PixelShot[] = [];
    const objects: Array<Uint8Array | null> = [];
    for (let i = 0; i < opts.frames; i++) {
      if (i > 0) await sleep(opts.intervalMs, signal);
      signal.throwIfAborted();
      const frame = await this.deps.cameras.latestFrame(camera, opts.region);
      if (!frame) throw fieldError('not_found', 'camera', `"${camera}" has no live frame (is the stream online?)`);
      const unitFrame = unitRegion ? await this.deps.cameras.latestFrame(camera, unitRegion) : null;
      shots.push(unitFrame ? { rgb: frame.rgb, unitRgb: unitFrame.rgb } : frame);
      // A unit's frames: the object in them too (what differs from the unit's empty view).
      if (unit && !('box' in opts.region) && !opts.background) objects.push((await this.deps.cameras.objectInUnit?.(unit.camera, unit.zone)) ?? null);
    }
    const cut = objects.length === shots.length && objects.every((o) => o !== null);
    const where = ('zone' in opts.region ? `/${opts.region.zone}` : 'box' in opts.region ? '/box' : '') + (cut ? '/object' : '');
    // The class's look is the object; the unit still learns the whole frame against its scene.
    if (cut) shots.splice(0, shots.length, ...shots.map((s, i) => ({ rgb: objects[i]!, unitRgb: s.rgb })));
    const sceneRgb = unit ? this.deps.cameras.sceneFrame(unit.camera, unit.zone) : null;
    const context = { ...(unit ? { unit } : {}), ...(sceneRgb ? { sceneRgb } : {}) };
    return this.deps.imprinter.enrollPixels(label, shots, { background: opts.background, source: `camera:${camera}${where}`, signal, ...context });
  }

  /**
   * The camera unit that learns from these frames: the zone, the whole frame of a camera
   * without zones, or for a box the unit it lies in (the zone holding its centre).
   */
  private async unitOf(camera: string, region: FrameRegion): Promise<UnitRef | null> {
    if ('zone' in region) return { camera, zone: region.zone };
    if ('box' in region) {
      const found = (await this.deps.cameras.unitOfBox?.(camera, region.box)) ?? null;
      return found ? { camera, zone: found.zone } : null;
    }
    return this.deps.cameras.zones(camera).length === 0 ? { camera, zone: null } : null;
  }

  /** `{id}`, or `{camera, zone?}` for the newest event there (Home Assistant's buttons). */
  private eventRef(req: EventRefRequest): EventRef {
    if ((req.id === undefined) === (req.camera === undefined)) {
      throw fieldError('bad_request', 'id', 'give either "id", or "camera" (and "zone") for the newest event there');
    }
    if (req.id !== undefined) return { id: req.id };
    const camera = req.camera ?? '';
    this.requireCamera(camera);
    const zone = req.zone ?? null;
    if (zone !== null && !this.deps.cameras.zones(camera).includes(zone)) {
      throw fieldError('not_found', 'zone', `camera "${camera}" has no zone "${zone}"`);
    }
    return { camera, zone };
  }

  private control(work: () => unknown): Job {
    return { lane: 'control', timeoutMs: this.timeoutMs(), run: async () => work() };
  }

  private imagesJob(run: (signal: AbortSignal) => Promise<unknown>): Job {
    return { lane: 'images', timeoutMs: this.timeoutMs(), run };
  }

  private timeoutMs(): number {
    return this.deps.limits.request_timeout_s * 1000;
  }

  private requireCamera(camera: string): void {
    if (!this.deps.cameras.names().includes(camera)) throw fieldError('not_found', 'camera', `no camera named "${camera}"`);
  }
}

function snapshotNote(name: string, f: SnapshotObject): EnrollWarning {
  const b = [f.box.x, f.box.y, f.box.width, f.box.height].map((v) => v.toFixed(3)).join(', ');
  return { code: 'object_from_snapshot', message: `${name} is camera "${f.camera}"'s view: learned what differs from its empty view (box x, y, width, height ${b}), not the whole picture` };
}

/** A box of the frame: pixels, or fractions when every value is at most 1; never empty or outside. */
export function checkBox(box: Roi): Roi {
  if (box.width <= 0 || box.height <= 0) throw fieldError('bad_request', 'box', 'width and height must be above 0');
  if (box.x < 0 || box.y < 0) throw fieldError('bad_request', 'box', 'x and y must be at least 0');
  if (isFractional(box) && (box.x + box.width > 1 + 1e-9 || box.y + box.height > 1 + 1e-9)) {
    throw fieldError('bad_request', 'box', 'reaches outside the frame: x + width and y + height must be at most 1 for fractions');
  }
  return box;
}

/** The bytes of a base64 (optionally a data: URL) image string; the image itself is checked where it is decoded. */
export function decodeBase64Image(value: string, field: string): Buffer {
  const body = value.replace(DATA_URL, '').replace(/\s+/g, '');
  if (!BASE64.test(body)) throw fieldError('bad_image', field, 'not valid base64');
  return Buffer.from(body, 'base64');
}
