import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { DetectorChange } from './detector/state.js';
import type { FineTuneResult } from './recognition/fineTune.js';

/**
 * Typed in-process events. A listener that throws is logged and never takes the
 * emitter (or the agent) down with it.
 */
export interface Events {
  cameraStatus: { camera: string; status: 'online' | 'offline' };
  cameraResult: {
    camera: string;
    /** null: the whole frame of a camera without zones. */
    zone: string | null;
    label: string;
    score: number;
    scores: Record<string, number>;
    at: Date;
    /** The region (fractions of the frame) this frame's label was found in; absent when the whole unit decided. */
    box?: { x: number; y: number; width: number; height: number };
  };
  classState: { camera: string; zone: string | null; label: string; on: boolean };
  detectionEvent: {
    type: 'start' | 'end';
    id: string;
    camera: string;
    zone: string | null;
    label: string;
    score: number;
    start_time: Date;
    end_time: Date | null;
    snapshot: Buffer | null;
    /** Start events: the embedding of the frame that turned the class ON (for corrections). */
    embedding: Float32Array | null;
    /** Start events: that frame's residual against its unit's scene (null: no scene yet). */
    residual: Float32Array | null;
    /** Start events: that frame's crop as the model saw it (RGB at the model's input size). */
    crop: Uint8Array | null;
    /** Start events: the region (fractions of the frame) the class was found in; absent when the whole unit decided. */
    box?: { x: number; y: number; width: number; height: number };
  };
  classesChanged: { labels: string[] };
  /** A fine-tuning applied to the current classes (held-out figures; `used`: its weights decide now). */
  fineTuned: FineTuneResult;
  /** The fleet gallery's status changed (peers, last sync, messages ignored): `state` shows it. */
  galleryChanged: Record<string, never>;
  /** Learned scenes were saved (every few minutes when they changed): diagnostics may refresh. */
  scenesSaved: { units: string[] };
  /** Every change of the detector's state (see detector/state.ts), with the backend it concerns. */
  detectorChanged: DetectorChange;
  /** Every class/enroll answer, whichever face asked (the "Last enrollment" sensor shows the latest). */
  enrollAnswered: EnrollAnswered;
}

/** Who asked for an enrollment: an MQTT client, Home Assistant's enroll form, or the dashboard. */
export type EnrollSource = 'mqtt' | 'home_assistant' | 'dashboard';

export interface EnrollAnswered {
  source: EnrollSource;
  /** What was asked: the label (null when the request named none), and the camera and zone when given. */
  request: { label: string | null; camera: string | null; zone: string | null; box: boolean };
  /** The answer as sent (status, data or error and code). */
  response: { status: 'ok' | 'error'; data?: unknown; error?: string; code?: string };
  at: Date;
}

type Listener<K extends keyof Events> = (payload: Events[K]) => void | Promise<void>;

export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor(private readonly logger: Logger) {
    this.emitter.setMaxListeners(100);
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    this.emitter.emit(event, payload);
  }

  on<K extends keyof Events>(event: K, listener: Listener<K>): () => void {
    const wrapped = (payload: Events[K]): void => {
      try {
        const result = listener(payload);
        if (result instanceof Promise) {
          result.catch((err: unknown) => this.logger.error({ err, event }, 'event listener failed'));
        }
      } catch (err) {
        this.logger.error({ err, event }, 'event listener failed');
      }
    };
    this.emitter.on(event, wrapped);
    return () => this.emitter.off(event, wrapped);
  }

  removeAllListeners(): void {
    this.emitter.removeAllListeners();
  }
}
