import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { CameraConfig, Roi } from '../config/types.js';
import type { InputSize } from '../media/image.js';
import type { EventBus } from '../eventBus.js';
import type { Classification } from '../recognition/types.js';
import type { RawFrame } from '../camera/cameraSource.js';
import { outlineZone, rgbToJpeg } from '../media/snapshots.js';
import type { ClassSmoother, SmootherUpdate } from './smoother.js';

/** What the events need of a camera unit: where it is, and its smoother. */
export interface EventUnit {
  zone: string | null;
  roi: Roi | null;
  smoother: ClassSmoother;
}

/** What the events need of a camera: its snapshot settings and the stream's size. */
export interface EventCamera {
  name: string;
  config: Pick<CameraConfig, 'snapshot'>;
  sourceSize: { width: number; height: number } | null;
  units: EventUnit[];
}

/** The frame that turned a class ON: its snapshot, crop, embedding and residual go with the start event. */
export interface FrameCause {
  frame: RawFrame;
  index: number;
  result: Classification;
}

export interface DetectionEventsDeps {
  bus: EventBus;
  logger: Logger;
  inputSize: InputSize;
}

/** Class ON/OFF changes and start/end events of the smoothed units, out on the bus. */
export class DetectionEvents {
  /** Per camera: its events go out in order, even when a start waits for its snapshot. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly deps: DetectionEventsDeps) {}

  /** Class changes at once, then the events, queued per camera so they keep their order. */
  publish(camera: EventCamera, unit: EventUnit, update: SmootherUpdate, cause?: FrameCause): void {
    for (const change of update.changes) {
      this.deps.bus.emit('classState', { camera: camera.name, zone: unit.zone, label: change.label, on: change.on });
    }
    for (const event of update.events) {
      this.deps.logger.info(
        { camera: camera.name, zone: unit.zone ?? undefined, label: event.label, score: round3(event.score), id: event.id },
        `detection ${event.type}`,
      );
      const start = event.type === 'start' && cause ? cause : null;
      // Caught per event: one failure must not silence the camera's later events.
      const chain = (this.chains.get(camera.name) ?? Promise.resolve()).then(async () => {
        const snapshot = start ? await this.snapshotOf(camera, unit, start).catch(() => null) : event.snapshot;
        const embedding = start?.result.embedding ?? null;
        const residual = start?.result.residual ?? null;
        const crop = start ? (start.frame.crops[start.index] ?? null) : null;
        const box = start?.result.box;
        this.deps.bus.emit('detectionEvent', { ...event, snapshot, embedding, residual, crop, ...(box ? { box } : {}) });
      }).catch((err: unknown) => this.deps.logger.error({ err, camera: camera.name }, 'detection event failed'));
      this.chains.set(camera.name, chain);
    }
  }

  /** Ends every class ON on a camera (detection switched off, stopping). */
  endAll(camera: EventCamera): void {
    for (const unit of camera.units) this.publish(camera, unit, unit.smoother.endAll());
  }

  /** Resolves once every event queued so far is out. */
  async settled(): Promise<void> {
    await Promise.all([...this.chains.values()]);
    this.chains.clear();
  }

  /**
   * The snapshot JPEG of the frame itself (a zone's outlined on it); with snapshots off (or
   * the JPEG lost) a JPEG of the unit's crop, which is the exact frame the model saw.
   */
  private async snapshotOf(camera: EventCamera, unit: EventUnit, cause: FrameCause): Promise<Buffer | null> {
    const { enabled, quality } = camera.config.snapshot;
    const jpeg = enabled ? await cause.frame.snapshot() : null;
    if (jpeg && unit.roi && unit.zone !== null) return outlineZone(jpeg, unit.roi, camera.sourceSize, quality).catch(() => jpeg);
    if (jpeg) return jpeg;
    const crop = cause.frame.crops[cause.index] ?? cause.frame.rgb;
    return rgbToJpeg(crop, this.deps.inputSize, quality).catch(() => null);
  }
}

/** Sortable and unique: `<unix seconds with ms>-<6 random base36 chars>`, as Frigate does. */
export function eventId(now: number): string {
  return `${(now / 1000).toFixed(3)}-${randomBytes(4).readUInt32BE(0).toString(36).padStart(6, '0').slice(-6)}`;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
