import type { Logger } from 'pino';
import type { DetectorState } from '../detector/state.js';
import type { EventBus, Events } from '../eventBus.js';
import type { ClassInfo } from '../recognition/types.js';
import type { MqttTransport } from './transport.js';
import {
  cameraTopic,
  classesTopic,
  unitTopic,
  classStateTopic,
  eventsTopic,
  stateTopic,
  statsTopic,
} from './topics.js';

export interface StatePayload {
  version: string;
  node_id: string;
  /** `state` is republished (retained) on every change; the Home Assistant sensor reads it. */
  detector: { type: 'edgetpu' | 'cpu'; backend?: 'coral' | 'onnx' | 'tflite'; device: string; model: string; state: DetectorState };
  classes: string[];
  cameras: Record<string, { status: 'online' | 'offline' }>;
  /**
   * Each camera unit's learned empty scene ("door", or "door/bin" for a zone): how many
   * prototypes, when it last changed, and a look waiting to become one.
   */
  scenes?: Record<string, SceneSummary>;
  /** The fleet gallery (gallery.sync): peers seen, last sync, classes from peers, messages ignored. */
  gallery?: GalleryState;
  started_at: string;
}

export interface GalleryState {
  topic: string;
  peers: string[];
  last_sync: string | null;
  classes_from_peers: number;
  rejected: Record<string, number>;
}

export interface SceneSummary {
  prototypes: number;
  updated_at: string | null;
  pending_since: string | null;
}

export interface StatsPayload {
  uptime_s: number;
  rss_mb: number;
  detector: { type: 'edgetpu' | 'cpu'; backend?: 'coral' | 'onnx' | 'tflite'; state: DetectorState; inference_ms: number; restarts: number };
  cameras: Record<
    string,
    { status: 'online' | 'offline'; camera_fps: number; process_fps: number; skipped_fps: number; reconnects: number }
  >;
}

export interface EventPayload {
  type: 'start' | 'end';
  id: string;
  camera: string;
  /** Present for events of a zone. */
  zone?: string;
  label: string;
  score: number;
  start_time: string;
  end_time: string | null;
  /** Start events: where in the frame (fractions) the class was found; absent when the whole unit decided. */
  box?: BoxPayload;
}

export interface BoxPayload {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface AttributesPayload {
  label: string;
  score: number;
  scores: Record<string, number>;
  at: string;
  /** Where in the frame (fractions) `label` was found; absent when the whole unit decided. */
  box?: BoxPayload;
}

/** `events` payload: the bus event without its snapshot, times as ISO strings. Pure. */
export function eventPayload(e: Events['detectionEvent']): EventPayload {
  return {
    type: e.type,
    id: e.id,
    camera: e.camera,
    ...(e.zone === null ? {} : { zone: e.zone }),
    label: e.label,
    score: round(e.score),
    start_time: e.start_time.toISOString(),
    end_time: e.end_time ? e.end_time.toISOString() : null,
    ...(e.box ? { box: boxPayload(e.box) } : {}),
  };
}

/** Fractions to 4 decimals (a tenth of a pixel on a 1080p frame's width). */
function boxPayload(b: BoxPayload): BoxPayload {
  return { x: round(b.x), y: round(b.y), width: round(b.width), height: round(b.height) };
}

export function attributesPayload(r: Events['cameraResult']): AttributesPayload {
  const scores = Object.fromEntries(Object.entries(r.scores).map(([k, v]) => [k, round(v)]));
  return { label: r.label, score: round(r.score), scores, at: r.at.toISOString(), ...(r.box ? { box: boxPayload(r.box) } : {}) };
}

/** Labels that get an ON/OFF topic and a binary sensor: every non-background class. */
export function stateLabels(classes: ClassInfo[]): string[] {
  return classes.filter((c) => !c.background).map((c) => c.label);
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

export interface PublishedUnit {
  camera: string;
  zone: string | null;
  classes: string[];
}

/** The labels a unit has ON/OFF topics for: every non-background class, or the zone's own list. Pure. */
export function unitLabels(unit: PublishedUnit, labels: string[]): string[] {
  return unit.classes.length === 0 ? labels : labels.filter((l) => unit.classes.includes(l));
}

export interface PublisherDeps {
  transport: MqttTransport;
  bus: EventBus;
  baseTopic: string;
  logger: Logger;
  getState: () => StatePayload;
  getStats: () => StatsPayload;
  listClasses: () => ClassInfo[];
  cameras: () => string[];
  /**
   * What publishes a label and ON/OFF states: each zone, or the camera itself when it has
   * none; `classes` (when not empty) are the only classes that zone reports.
   */
  units: () => PublishedUnit[];
  /** Seconds between `stats` messages (`mqtt.stats_interval`); 0 disables them. */
  statsIntervalS: number;
  /** Minimum milliseconds between two `attributes` messages of a camera whose label did not change. */
  attributesIntervalMs?: number;
  now?: () => number;
}

/** Turns bus events into the contract's topics, with the contract's retain flags. */
export class MqttPublisher {
  private readonly offs: Array<() => void> = [];
  private statsTimer: NodeJS.Timeout | null = null;
  private readonly lastLabel = new Map<string, string>();
  private readonly lastAttributesAt = new Map<string, number>();
  private labels = new Set<string>();

  constructor(private readonly deps: PublisherDeps) {}

  async start(): Promise<void> {
    const { bus } = this.deps;
    this.offs.push(
      bus.on('cameraStatus', (e) => this.onCameraStatus(e)),
      bus.on('cameraResult', (e) => this.onResult(e)),
      bus.on('classState', (e) => this.retain(classStateTopic(this.deps.baseTopic, e.camera, e.label, e.zone), e.on ? 'ON' : 'OFF')),
      bus.on('detectionEvent', (e) => this.onDetection(e)),
      bus.on('classesChanged', () => this.onClassesChanged()),
      bus.on('detectorChanged', () => this.publishState()),
      bus.on('scenesSaved', () => this.publishState()),
      bus.on('galleryChanged', () => this.publishState()),
    );
    this.publishState();
    for (const [camera, { status }] of Object.entries(this.deps.getState().cameras)) {
      this.retain(cameraTopic(this.deps.baseTopic, camera, 'status'), status);
    }
    this.onClassesChanged();
    this.clearCameraLevel();
    if (this.deps.statsIntervalS > 0) {
      this.publishStats();
      this.statsTimer = setInterval(() => this.publishStats(), this.deps.statsIntervalS * 1000);
      this.statsTimer.unref();
    }
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = null;
  }

  publishState(): void {
    this.retain(stateTopic(this.deps.baseTopic), JSON.stringify(this.deps.getState()));
  }

  publishStats(): void {
    try {
      void this.deps.transport.publish(statsTopic(this.deps.baseTopic), JSON.stringify(this.deps.getStats()), {
        qos: 0,
      });
    } catch (err) {
      this.deps.logger.error({ err }, 'cannot build the stats payload');
    }
  }

  private onCameraStatus(e: Events['cameraStatus']): void {
    this.retain(cameraTopic(this.deps.baseTopic, e.camera, 'status'), e.status);
    this.publishState();
  }

  private onResult(e: Events['cameraResult']): void {
    const { baseTopic } = this.deps;
    const key = `${e.camera}/${e.zone ?? ''}`;
    const now = (this.deps.now ?? Date.now)();
    const changed = this.lastLabel.get(key) !== e.label;
    const last = this.lastAttributesAt.get(key) ?? -Infinity;
    if (changed) {
      this.lastLabel.set(key, e.label);
      this.retain(unitTopic(baseTopic, e.camera, e.zone, 'label'), e.label);
    }
    if (changed || now - last >= (this.deps.attributesIntervalMs ?? 1000)) {
      this.lastAttributesAt.set(key, now);
      this.retain(unitTopic(baseTopic, e.camera, e.zone, 'attributes'), JSON.stringify(attributesPayload(e)));
    }
  }

  /** A zone's snapshot goes to the zone and, as the camera's latest, to the camera too. */
  private onDetection(e: Events['detectionEvent']): void {
    const { transport, baseTopic } = this.deps;
    if (e.type === 'start' && e.snapshot) {
      this.retain(unitTopic(baseTopic, e.camera, e.zone, 'snapshot'), e.snapshot);
      if (e.zone !== null) this.retain(cameraTopic(baseTopic, e.camera, 'snapshot'), e.snapshot);
    }
    void transport.publish(eventsTopic(baseTopic), JSON.stringify(eventPayload(e)), { qos: 1 });
  }

  /** New classes start OFF; a removed class's ON/OFF topics are cleared (empty retained). */
  private onClassesChanged(): void {
    const { baseTopic } = this.deps;
    const classes = this.deps.listClasses();
    this.retain(classesTopic(baseTopic), JSON.stringify(classes));
    this.publishState();
    const next = new Set(stateLabels(classes));
    for (const unit of this.deps.units()) {
      const before = new Set(unitLabels(unit, [...this.labels]));
      const now = new Set(unitLabels(unit, [...next]));
      for (const label of before) if (!now.has(label)) this.retain(classStateTopic(baseTopic, unit.camera, label, unit.zone), '');
      for (const label of now) if (!before.has(label)) this.retain(classStateTopic(baseTopic, unit.camera, label, unit.zone), 'OFF');
    }
    this.labels = next;
  }

  /**
   * A camera with zones publishes its label, attributes and ON/OFF per zone: what it
   * published itself before it had zones is cleared, not left stale on the broker.
   */
  private clearCameraLevel(): void {
    const { baseTopic } = this.deps;
    const units = this.deps.units();
    const labels = stateLabels(this.deps.listClasses());
    for (const camera of this.deps.cameras()) {
      const own = units.filter((u) => u.camera === camera);
      if (own.length === 0 || own.some((u) => u.zone === null)) continue;
      for (const leaf of ['label', 'attributes'] as const) this.retain(cameraTopic(baseTopic, camera, leaf), '');
      for (const label of labels) this.retain(classStateTopic(baseTopic, camera, label), '');
    }
  }

  private retain(topic: string, payload: string | Buffer): void {
    void this.deps.transport.publish(topic, payload, { retain: true, qos: 1 });
  }
}
