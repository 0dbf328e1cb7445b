/**
 * The composition root: builds every part from the configuration, starts them in order
 * and stops them in reverse, each stop in its own try/catch so one failure cannot block
 * the others.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import sharp from 'sharp';
import { CameraManager } from './pipeline/cameraManager.js';
import { Commands } from './commands/commands.js';
import { CommandRunner } from './commands/runner.js';
import { DEMO_CAMERA, ensureDemoClip } from './camera/demoCamera.js';
import { defaultCameraConfig } from './config/load.js';
import { configSecrets } from './config/redact.js';
import type { AppConfig } from './config/types.js';
import { Core, unknownZoneClasses } from './core.js';
import { detectorHealth } from './detector/state.js';
import { AppError, errorMessage } from './errors.js';
import { EventBus } from './eventBus.js';
import { ensureModels } from './models/firstRun.js';
import type { MqttConnection } from './mqtt/connection.js';
import { chooseLocalBroker, EmbeddedBroker } from './mqtt/embeddedBroker.js';
import { MqttApi } from './mqttApi.js';
import type { PublishedUnit, StatePayload, StatsPayload } from './mqtt/publisher.js';
import { VERSION } from './version.js';
import { HttpServer } from './web/httpServer.js';
import { LIVE_PATH_PREFIX, LiveStreams } from './web/live/liveStreams.js';
import { Metrics } from './web/metrics.js';
import { Dashboard, dashboardUrl } from './web/dashboard/dashboard.js';
import type { CameraView, StatusView } from './web/apiTypes.js';
import { redactUrl } from './config/redact.js';
import { startupBanner } from './startupBanner.js';
import { GallerySync } from './fleet/gallerySync.js';
import { imageLimitsOf, untrustedToInput } from './media/image.js';

interface Part {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface AgentOptions {
  config: AppConfig;
  logger: Logger;
  /** Folder with the model files for an offline first run (EDGE_IMPRINT_MODEL_MIRROR). */
  modelMirror?: string;
  /** No camera configured on a first run: add the looping demo camera. */
  demoCamera?: boolean;
}

export class Agent {
  readonly bus: EventBus;
  readonly metrics = new Metrics();
  private readonly started: Part[] = [];
  private readonly startedAt = new Date();
  private core: Core | null = null;
  private cameras: CameraManager | null = null;
  private mqttUrl = '';
  private embeddedBroker = false;
  private connection: MqttConnection | null = null;
  private gallery: GallerySync | null = null;
  private config: AppConfig;
  /** The HTTP port actually bound (http.port may be 0), for the start-up banner; 0 before. */
  private httpPort = 0;

  constructor(private readonly opts: AgentOptions) {
    this.config = opts.config;
    this.bus = new EventBus(opts.logger.child({ part: 'bus' }));
  }

  async start(): Promise<void> {
    const { logger } = this.opts;
    // Every image is decoded once: libvips' operation cache would only hold memory.
    sharp.cache(false);
    const config = await this.withDemoCamera(this.opts.config);
    this.config = config;
    await ensureModels({ config, logger, ...(this.opts.modelMirror ? { mirror: this.opts.modelMirror } : {}) });
    const core = this.buildCore();
    await this.startPart({ name: 'core', start: () => core.start(), stop: () => core.stop() });
    for (const line of unknownZoneClasses(config, core.service.list().map((c) => c.label))) logger.warn(line);
    const cameras = this.buildCameras(core);
    await this.startPart({ name: 'cameras', start: () => cameras.start(), stop: () => cameras.stop() });
    const commands = new Commands({ imprinter: core.service, limits: config.limits, cameras, classes: core.service, corrections: core.corrections });
    const runner = new CommandRunner({ capacity: config.limits.queue_size });
    await this.startMqtt(core, cameras, commands, runner);
    await this.startPart({ name: 'cameras', start: async () => undefined, stop: () => cameras.stop() }); // before MQTT stops: OFF and `end` go out before `offline`
    await this.startGallery(core);
    // Stopped before MQTT (parts stop in reverse): requests in flight are answered while it can still publish.
    await this.startPart({ name: 'requests', start: async () => undefined, stop: () => runner.stop() });
    await this.startHttp(commands, runner);
    logger.info(startupBanner({ config, mqttUrl: this.mqttUrl, embeddedBroker: this.embeddedBroker, cameras: cameras.names(), httpPort: this.httpPort }));
  }

  async stop(): Promise<void> {
    for (const part of this.started.splice(0).reverse()) {
      try {
        await part.stop();
      } catch (err) {
        this.opts.logger.error({ err: errorMessage(err) }, `stopping ${part.name} failed`);
      }
    }
    this.bus.removeAllListeners();
  }

  private async withDemoCamera(config: AppConfig): Promise<AppConfig> {
    if (!this.opts.demoCamera) return config;
    let clip: string;
    try {
      clip = await ensureDemoClip(config.data_dir);
    } catch (err) {
      // Cameras need ffmpeg anyway; say so, and still run for enrollment and classify.
      this.opts.logger.warn(`no demo camera: ffmpeg could not make its clip (${errorMessage(err)}); is ffmpeg installed?`);
      return config;
    }
    this.opts.logger.warn(
      `no camera is configured: running the demo camera "${DEMO_CAMERA}" (ffmpeg's test pattern). ` +
        'Add your cameras under `cameras:` in config/config.yaml (see config/config.example.yaml).',
    );
    return { ...config, cameras: { [DEMO_CAMERA]: { ...defaultCameraConfig(clip), fps: 2 } } };
  }

  private async startPart(part: Part): Promise<void> {
    await part.start();
    this.started.push(part);
  }

  private buildCore(): Core {
    this.core = new Core({
      config: this.config,
      logger: this.opts.logger,
      bus: this.bus,
      onInference: (ms) => this.metrics.observeInference(ms),
      onEnroll: (shots) => this.metrics.recordEnrollment(shots),
    });
    return this.core;
  }

  private buildCameras(core: Core): CameraManager {
    const { logger } = this.opts;
    const config = this.config;
    this.cameras = new CameraManager({
      config,
      bus: this.bus,
      logger: logger.child({ part: 'camera' }),
      classify: (rgb, unit, regions) => core.service.classifyPixels(rgb, unit, regions),
      observe: (unit, result, active) => core.service.observe(unit, result, active),
      classLabels: () => core.service.list().flatMap((c) => (c.background ? [] : [c.label])),
      inputSize: core.detector.inputSize,
    });
    const cameras = this.cameras;
    this.metrics.setCameraStatsProvider(() => cameras.stats());
    return cameras;
  }

  private async startMqtt(core: Core, cameras: CameraManager, commands: Commands, runner: CommandRunner): Promise<void> {
    const { logger } = this.opts;
    const config = this.config;
    const { url, embedded } = await this.chooseBroker();
    this.mqttUrl = url;
    this.embeddedBroker = embedded;
    const api = new MqttApi({
      // The embedded broker (aedes) speaks 3.1.1 only: skip the v5 attempt.
      config: embedded ? { ...config.mqtt, protocol_version: 4 } : config.mqtt,
      url,
      nodeId: config.node_id,
      version: VERSION,
      maxPayloadBytes: config.limits.max_payload_bytes,
      bus: this.bus,
      logger,
      commands,
      runner,
      listClasses: () => core.service.list(),
      cameras: () => cameras.names(),
      units: () => publishedUnits(config),
      getState: () => this.state(core, cameras),
      getStats: () => this.stats(core, cameras),
      configurationUrl: dashboardUrl(config.http),
      gallery: config.gallery.sync,
      galleryTopic: config.gallery.topic,
      onMqttDropped: (reason, count) => this.metrics.recordMqttDropped(reason, count),
      onAnswer: (command, response) => {
        this.metrics.recordRequest(command);
        if (response.status === 'error') this.metrics.recordRequestError(command);
      },
    });
    await this.startPart({ name: 'mqtt', start: () => api.start(), stop: () => api.stop() });
    this.connection = api.connection;
  }

  /** The fleet gallery over the agent's MQTT connection (gallery.sync); stopped before MQTT. */
  private async startGallery(core: Core): Promise<void> {
    const book = core.gallery;
    if (!book || !this.connection) return;
    const { detector } = core;
    const sync = new GallerySync({
      transport: this.connection,
      book,
      bus: this.bus,
      config: this.config.gallery,
      nodeId: this.config.node_id,
      modelId: () => detector.modelId(),
      embedThumbnail: async (jpeg) => detector.embed(await untrustedToInput(jpeg, detector.inputSize, imageLimitsOf(this.config.limits))),
      changed: () => core.service.notifyChanged(),
      logger: this.opts.logger.child({ part: 'gallery' }),
      onRejected: (reason) => this.metrics.recordGalleryRejected(reason),
    });
    this.gallery = sync;
    await this.startPart({ name: 'gallery', start: () => sync.start(), stop: () => sync.stop() });
    this.bus.emit('galleryChanged', {});
  }

  /** mqtt.url; without it a local broker or the embedded one, as mqtt.embedded.enabled says. */
  private async chooseBroker(): Promise<{ url: string; embedded: boolean }> {
    const { mqtt } = this.config;
    if (mqtt.url) return { url: mqtt.url, embedded: false };
    const logger = this.opts.logger.child({ part: 'broker' });
    const choice = await chooseLocalBroker(mqtt, logger);
    if (!choice.embedded) return choice;
    const broker = new EmbeddedBroker(mqtt.embedded ?? {}, logger);
    await this.startPart({ name: 'embedded broker', start: () => broker.start(), stop: () => broker.stop() });
    return { url: broker.url, embedded: true };
  }

  private async startHttp(commands: Commands, runner: CommandRunner): Promise<void> {
    const { logger } = this.opts;
    const config = this.config;
    if (!config.http.enabled) return;
    const core = this.core!;
    // The live view admits whom the dashboard admits (its login, and only from its own pages).
    const live = new LiveStreams({ cameras: config.cameras, logger: logger.child({ part: 'live' }), authorize: (req) => dashboard.allowUpgrade(req) });
    const dashboard = this.buildDashboard(commands, runner, live);
    await this.startPart({ name: 'dashboard', start: () => dashboard.start(), stop: () => dashboard.stop() });
    const server = new HttpServer({
      config: config.http,
      logger: logger.child({ part: 'http' }),
      metrics: this.metrics,
      checks: {
        detector: () => detectorHealth(core.detector.state, core.detector.info().type),
        mqtt: () => this.connection?.connected ?? false,
      },
      secrets: configSecrets(config),
      routes: [dashboard.route],
      upgrades: [(req, socket, head) => live.handleUpgrade(req, socket, head)],
      metricsAllowed: (req) => dashboard.gate.metricsAllowed(req),
    });
    await this.startPart({ name: 'http', start: () => server.start(), stop: () => server.stop() });
    this.httpPort = server.port;
    // Stopped before the HTTP server (parts stop in reverse): it cannot close while WebSockets are open.
    await this.startPart({ name: 'live view', start: () => live.start(), stop: () => live.stop() });
  }

  /** The dashboard: the same commands and lanes as MQTT, the stores' images, and the bus. */
  private buildDashboard(commands: Commands, runner: CommandRunner, live: LiveStreams): Dashboard {
    const core = this.core!;
    const cameras = this.cameras!;
    const config = this.config;
    return new Dashboard({
      config: config.http,
      logger: this.opts.logger.child({ part: 'dashboard' }),
      bus: this.bus,
      commands,
      runner,
      maxBodyBytes: config.limits.max_payload_bytes,
      nodeId: config.node_id,
      version: VERSION,
      gallery: core.store,
      eventSnapshot: (id) => core.events.snapshot(id),
      cameraSnapshot: (name) => (cameras.names().includes(name) ? cameras.latestSnapshot(name) : null),
      cameras: () => cameraViews(config, cameras, live.names()),
      status: () => this.statusView(core, cameras, live),
    });
  }

  private statusView(core: Core, cameras: CameraManager, live: LiveStreams): StatusView {
    const liveStatus = live.status();
    const state = this.state(core, cameras);
    const stats = this.stats(core, cameras);
    const reasons = core.detector.reasons();
    return {
      version: state.version,
      node_id: state.node_id,
      started_at: state.started_at,
      uptime_s: stats.uptime_s,
      rss_mb: stats.rss_mb,
      detector: { ...state.detector, backend_reason: reasons.backend, state_reason: reasons.state, inference_ms: stats.detector.inference_ms, restarts: stats.detector.restarts },
      mqtt: { connected: this.connection?.connected ?? false, broker: redactUrl(this.mqttUrl) },
      cameras: Object.fromEntries(
        Object.entries(stats.cameras).map(([name, s]) => [
          name,
          { ...s, enabled: cameras.isEnabled(name), last_error: cameras.lastError(name), live: liveStatus[name] ?? null },
        ]),
      ),
      classes: state.classes.length,
    };
  }

  private state(core: Core, cameras: CameraManager): StatePayload {
    const info = core.detector.info();
    const stats = cameras.stats();
    return {
      version: VERSION,
      node_id: this.config.node_id,
      detector: { type: info.type, backend: info.backend, device: info.device, model: info.model, state: core.detector.state },
      classes: core.service.list().map((c) => c.label),
      cameras: Object.fromEntries(Object.entries(stats).map(([name, s]) => [name, { status: s.status }])),
      scenes: core.scenes.summaries(),
      ...(this.gallery ? { gallery: this.gallery.status() } : {}),
      started_at: this.startedAt.toISOString(),
    };
  }

  private stats(core: Core, cameras: CameraManager): StatsPayload {
    const info = core.detector.info();
    const d = core.detector.stats();
    return {
      uptime_s: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      rss_mb: Math.round(process.memoryUsage.rss() / 2 ** 20),
      detector: { type: info.type, backend: info.backend, state: core.detector.state, inference_ms: d.inference_ms, restarts: d.restarts },
      cameras: cameras.stats(),
    };
  }
}

/** What the live page draws per camera: zones, roi, the stream's size, the live view's path. */
function cameraViews(config: AppConfig, cameras: CameraManager, live: string[]): CameraView[] {
  const stats = cameras.stats();
  return cameras.names().map((name) => {
    const c = config.cameras[name]!;
    return {
      name,
      enabled: cameras.isEnabled(name),
      status: stats[name]?.status ?? 'offline',
      live: live.includes(name) ? `${LIVE_PATH_PREFIX.slice(1)}${encodeURIComponent(name)}` : null,
      roi: c.roi,
      source_size: cameras.sourceSize(name),
      zones: Object.entries(c.zones).flatMap(([zone, z]) => (z.roi ? [{ name: zone, roi: z.roi, classes: z.classes }] : [])),
    };
  });
}

/** Each zone, or each camera without zones, with the classes it may report. Pure. */
export function publishedUnits(config: AppConfig): PublishedUnit[] {
  return Object.entries(config.cameras).flatMap(([camera, c]): PublishedUnit[] => {
    const zones = Object.entries(c.zones);
    if (zones.length === 0) return [{ camera, zone: null, classes: [] }];
    return zones.map(([zone, z]) => ({ camera, zone, classes: z.classes }));
  });
}

/**
 * Last-resort handlers for errors no part caught (every part catches its own; reaching
 * these is a bug, logged so it gets reported). Returns their removal.
 */
function guardProcess(logger: Logger): () => void {
  // A lost rejection has unwound its own chain: keep serving (Node's default would exit).
  const onRejection = (reason: unknown): void => {
    logger.error({ err: reason }, 'unhandled promise rejection (a bug, please report it); still running');
  };
  // A synchronous throw may leave code half-way, unsafe to resume: exit 1 for a clean restart.
  const onException = (err: Error): void => {
    logger.fatal({ err }, 'uncaught exception (a bug, please report it); exiting');
    process.exit(1);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}

/** Runs the agent until SIGINT/SIGTERM. Returns the process exit code. */
export async function runAgent(config: AppConfig, logger: Logger, opts: { demoCamera: boolean }): Promise<number> {
  const unguard = guardProcess(logger);
  try {
    return await runUntilSignal(config, logger, opts);
  } finally {
    unguard();
  }
}

async function runUntilSignal(config: AppConfig, logger: Logger, opts: { demoCamera: boolean }): Promise<number> {
  const mirror = process.env.EDGE_IMPRINT_MODEL_MIRROR;
  const agent = new Agent({ config, logger, demoCamera: opts.demoCamera, ...(mirror ? { modelMirror: mirror } : {}) });
  try {
    await agent.start();
  } catch (err) {
    logger.fatal(err instanceof AppError ? err.message : { err }, 'edge-imprint could not start');
    await agent.stop();
    return 1;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  logger.info(`${signal}: stopping on ${hostname()}`);
  await agent.stop();
  logger.info('stopped');
  return 0;
}
