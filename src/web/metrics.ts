/**
 * Prometheus metrics of the agent, on a registry of its own (never prom-client's global
 * one, so two agents in one test process do not share counters).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DROP_REASONS, type DropReason } from '../mqtt/offlineQueue.js';

export interface CameraStats {
  camera_fps: number;
  process_fps: number;
  skipped_fps: number;
  reconnects: number;
  status: string;
}

export type CameraStatsProvider = () => Record<string, CameraStats>;

export interface MetricsOptions {
  /** Also export Node's process metrics (CPU, RSS, event loop lag, GC). Default true. */
  processMetrics?: boolean;
  /** Commands used as label values; anything else is counted as `other`. */
  commands?: readonly string[];
}

/** The request commands of the contract; `class/enroll/<label>` is counted as `class/enroll`. */
export const KNOWN_COMMANDS = [
  'class/enroll',
  'class/remove',
  'class/rename',
  'class/undo',
  'class/list',
  'classify',
  'camera/detect',
] as const;

// Inference on a Coral takes a few ms, on a CPU tens of ms; a hang is seconds.
const INFERENCE_BUCKETS_S = [0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.2, 0.5, 1, 2, 5];

export class Metrics {
  readonly registry = new Registry();
  private readonly commands: Set<string>;
  private cameraStats: CameraStatsProvider = () => ({});
  private readonly inference: Histogram;
  private readonly enrollments: Counter;
  private readonly requests: Counter<'command'>;
  private readonly requestErrors: Counter<'command'>;
  private readonly mqttDropped: Counter<'reason'>;
  private readonly galleryRejected: Counter<'reason'>;
  private readonly camera: Record<'fps' | 'processFps' | 'skippedFps' | 'reconnects' | 'online', Gauge<'camera'>>;

  constructor(options: MetricsOptions = {}) {
    this.commands = new Set(options.commands ?? KNOWN_COMMANDS);
    const registers = [this.registry];
    this.inference = new Histogram({
      name: 'edge_imprint_inference_seconds',
      help: 'Time of one embedding inference on the detector',
      buckets: INFERENCE_BUCKETS_S,
      registers,
    });
    this.enrollments = new Counter({ name: 'edge_imprint_enrollments_total', help: 'Shots imprinted into classes', registers });
    this.requests = new Counter({
      name: 'edge_imprint_requests_total',
      help: 'MQTT requests received, by command',
      labelNames: ['command'],
      registers,
    });
    this.requestErrors = new Counter({
      name: 'edge_imprint_request_errors_total',
      help: 'MQTT requests answered with an error, by command',
      labelNames: ['command'],
      registers,
    });
    this.mqttDropped = new Counter({
      name: 'edge_imprint_mqtt_dropped_total',
      help: 'MQTT messages not delivered: QoS 0 while disconnected, offline queue full, or aged out in it',
      labelNames: ['reason'],
      registers,
    });
    // Every reason shows from the start (at 0), so a dashboard can tell "none" from "unknown".
    for (const reason of DROP_REASONS) this.mqttDropped.inc({ reason }, 0);
    this.galleryRejected = new Counter({
      name: 'edge_imprint_gallery_rejected_total',
      help: 'Fleet gallery messages ignored: garbled, oversized, forged, or stamped too far ahead',
      labelNames: ['reason'],
      registers,
    });
    const gauge = (name: string, help: string): Gauge<'camera'> =>
      new Gauge({ name: `edge_imprint_camera_${name}`, help, labelNames: ['camera'], registers });
    this.camera = {
      fps: gauge('fps', 'Frames per second arriving from the camera'),
      processFps: gauge('process_fps', 'Frames per second classified'),
      skippedFps: gauge('skipped_fps', 'Frames per second dropped (detector busy or no motion)'),
      reconnects: gauge('reconnects', 'ffmpeg restarts since the agent started'),
      online: gauge('online', '1 when the stream delivers frames, else 0'),
    };
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'edge_imprint_' });
  }

  observeInference(ms: number): void {
    if (Number.isFinite(ms) && ms >= 0) this.inference.observe(ms / 1000);
  }

  recordEnrollment(shots = 1): void {
    if (shots > 0) this.enrollments.inc(shots);
  }

  recordRequest(command: string): void {
    this.requests.inc({ command: this.commandLabel(command) });
  }

  recordRequestError(command: string): void {
    this.requestErrors.inc({ command: this.commandLabel(command) });
  }

  recordMqttDropped(reason: DropReason, count = 1): void {
    if (count > 0) this.mqttDropped.inc({ reason }, count);
  }

  recordGalleryRejected(reason: string): void {
    this.galleryRejected.inc({ reason });
  }

  /** Called at each scrape; cameras it no longer lists disappear from the output. */
  setCameraStatsProvider(provider: CameraStatsProvider): void {
    this.cameraStats = provider;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  async text(): Promise<string> {
    this.refreshCameras();
    return this.registry.metrics();
  }

  /** Topics are user input: unknown commands share one label so the series stay bounded. */
  private commandLabel(command: string): string {
    if (this.commands.has(command)) return command;
    if (command.startsWith('class/enroll/') && this.commands.has('class/enroll')) return 'class/enroll';
    return 'other';
  }

  private refreshCameras(): void {
    for (const g of Object.values(this.camera)) g.reset();
    let stats: Record<string, CameraStats>;
    try {
      stats = this.cameraStats();
    } catch {
      // A failing provider must not break the scrape; the cameras are simply absent.
      return;
    }
    for (const [camera, s] of Object.entries(stats)) {
      const labels = { camera };
      this.camera.fps.set(labels, finite(s.camera_fps));
      this.camera.processFps.set(labels, finite(s.process_fps));
      this.camera.skippedFps.set(labels, finite(s.skipped_fps));
      this.camera.reconnects.set(labels, finite(s.reconnects));
      this.camera.online.set(labels, s.status === 'online' ? 1 : 0);
    }
  }
}

function finite(x: number): number {
  return Number.isFinite(x) ? x : 0;
}
