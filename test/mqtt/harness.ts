import mqtt, { type IClientPublishOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { LimitsConfig } from '../../src/config/types.js';
import { EventBus } from '../../src/eventBus.js';
import type { HomeAssistant } from '../../src/homeassistant/homeAssistant.js';
import type { Imprinter, PixelShot } from '../../src/imprinting/imprinter.js';
import type { ConnectionOptions } from '../../src/mqtt/clientOptions.js';
import type { MqttConnection } from '../../src/mqtt/connection.js';
import { MqttApi } from '../../src/mqttApi.js';
import type { MqttPublisher, StatePayload, StatsPayload } from '../../src/mqtt/publisher.js';
import type { RequestServer } from '../../src/mqtt/requests.js';
import { loadConfig } from '../../src/config/load.js';
import { Commands, type ClassControl } from '../../src/commands/commands.js';
import type { Corrections } from '../../src/imprinting/corrections.js';
import type { EventStore } from '../../src/storage/eventStore.js';
import type { PublishedUnit } from '../../src/mqtt/publisher.js';
import type { FrameRegion } from '../../src/pipeline/cameraManager.js';
import { CommandRunner } from '../../src/commands/runner.js';
import { tempDir, waitFor } from '../helpers/env.js';
import { startImprinting } from '../helpers/imprinting.js';

/** The MQTT side of the agent wired as the composition root does, for tests and the bench. */

export const BASE = 'edge-imprint';
export const PREFIX = 'homeassistant';

/** The shipped defaults, as a test agent gets them. */
const DEFAULTS = loadConfig({ env: {}, hostname: 'testnode' });
export const DEFAULT_LIMITS: LimitsConfig = DEFAULTS.limits;

export interface AgentOptions {
  url: string;
  imprinter: Imprinter;
  /** class/set and the event commands: the real core's (startTestImprinting), or none. */
  classes?: ClassControl;
  corrections?: Corrections;
  bus: EventBus;
  logger: Logger;
  cameras?: string[];
  latestFrame?: (camera: string, region?: FrameRegion) => PixelShot | null | Promise<PixelShot | null>;
  /** Zones per camera (default none). */
  zones?: Record<string, string[]>;
  sceneFrame?: (camera: string, zone: string | null) => Uint8Array | null;
  /** Injected wait between camera frames (abortable). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  setCameraEnabled?: (camera: string, enabled: boolean) => void;
  limits?: Partial<LimitsConfig>;
  connection?: Partial<ConnectionOptions>;
  statsIntervalS?: number;
  discovery?: boolean;
}

export interface Agent {
  api: MqttApi;
  connection: MqttConnection;
  requests: RequestServer;
  publisher: MqttPublisher;
  homeAssistant: HomeAssistant | null;
  runner: CommandRunner;
  enabled: Map<string, boolean>;
  stop(): Promise<void>;
}

/** Starts the agent's MQTT side exactly as the composition root does (MqttApi). */
export async function startAgent(opts: AgentOptions): Promise<Agent> {
  const cameras = opts.cameras ?? ['door'];
  const enabled = new Map(cameras.map((c) => [c, true]));
  const listClasses = () => opts.imprinter.list();
  const state = (): StatePayload => ({
    version: '0.1.0',
    node_id: 'testnode',
    detector: { type: 'cpu', device: '1 thread', model: 'test.tflite', state: 'ready' },
    classes: listClasses().map((c) => c.label),
    cameras: Object.fromEntries(cameras.map((c) => [c, { status: 'online' as const }])),
    started_at: new Date(0).toISOString(),
  });
  const stats = (): StatsPayload => ({
    uptime_s: 1,
    rss_mb: 100,
    detector: { type: 'cpu', state: 'ready', inference_ms: 12.5, restarts: 0 },
    cameras: {},
  });
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const latestFrame = opts.latestFrame ?? (() => null);
  const cameraControl = {
    names: () => cameras,
    zones: (camera: string) => opts.zones?.[camera] ?? [],
    sceneFrame: (camera: string, zone: string | null) => opts.sceneFrame?.(camera, zone) ?? null,
    latestFrame: async (camera: string, region?: FrameRegion) => latestFrame(camera, region),
    setEnabled: (camera: string, on: boolean) => {
      enabled.set(camera, on);
      opts.setCameraEnabled?.(camera, on);
    },
  };
  const missing = (): never => {
    throw new Error('this test agent has no class settings or corrections (pass them from startTestImprinting)');
  };
  const commands = new Commands({
    imprinter: opts.imprinter,
    limits,
    cameras: cameraControl,
    classes: opts.classes ?? { setClass: missing, removeShot: missing },
    corrections: opts.corrections ?? (new Proxy({}, { get: () => missing }) as Corrections),
    ...(opts.sleep ? { sleep: opts.sleep } : {}),
  });
  const runner = new CommandRunner({ capacity: limits.queue_size });
  const api = new MqttApi({
    config: {
      ...DEFAULTS.mqtt,
      url: opts.url,
      base_topic: BASE,
      client_id: `edge-imprint-test-${Math.random().toString(16).slice(2, 8)}`,
      discovery: { enabled: opts.discovery !== false, prefix: PREFIX },
      stats_interval: opts.statsIntervalS ?? 0,
      clean_session: true,
      protocol_version: 5,
    },
    url: opts.url,
    nodeId: 'testnode',
    version: '0.1.0',
    maxPayloadBytes: limits.max_payload_bytes,
    bus: opts.bus,
    logger: opts.logger,
    commands,
    runner,
    listClasses,
    cameras: () => cameras,
    units: () => cameras.flatMap((camera): PublishedUnit[] => {
      const zones = opts.zones?.[camera] ?? [];
      return zones.length === 0 ? [{ camera, zone: null, classes: [] }] : zones.map((zone) => ({ camera, zone, classes: [] }));
    }),
    getState: state,
    getStats: stats,
    connectionOverrides: { minReconnectMs: 200, maxReconnectMs: 1000, ...opts.connection },
  });
  await api.start();
  return {
    api,
    connection: api.connection,
    requests: api.requests,
    publisher: api.publisher,
    homeAssistant: api.homeAssistant,
    runner,
    enabled,
    // As the agent stops: requests answered first, then MQTT.
    stop: async () => {
      await runner.stop();
      await api.stop();
    },
  };
}

/** A plain mqtt.js client playing the user's script or Home Assistant. */
export class TestClient {
  readonly messages: Array<{ topic: string; payload: Buffer; retain: boolean; properties?: unknown }> = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) =>
      this.messages.push({ topic, payload, retain: packet.retain, properties: packet.properties }),
    );
  }

  static async connect(url: string, opts: mqtt.IClientOptions = {}): Promise<TestClient> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 100, ...opts });
    return new TestClient(client);
  }

  async subscribe(filter: string): Promise<void> {
    await this.client.subscribeAsync(filter, { qos: 1 });
  }

  async publish(topic: string, payload: string | Buffer, opts: IClientPublishOptions = {}): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1, ...opts });
  }

  count(topic: string): number {
    return this.messages.filter((m) => m.topic === topic).length;
  }

  /** The first message on `topic`, received after index `from`, matching `match`. */
  async next(
    topic: string,
    from = 0,
    match: (payload: Buffer) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<{ topic: string; payload: Buffer; retain: boolean; properties?: unknown }> {
    return waitFor(
      () => this.messages.slice(from).find((m) => m.topic === topic && match(m.payload)),
      timeoutMs,
      `a message on ${topic}`,
    );
  }

  /** Sends one request and waits for its answer (matched on a fresh transaction when JSON). */
  async request(
    command: string,
    payload: unknown,
    opts: { raw?: boolean; responseCommand?: string; timeoutMs?: number } = {},
  ): Promise<Record<string, unknown>> {
    const responseTopic = `${BASE}/response/${opts.responseCommand ?? command}`;
    await this.subscribe(responseTopic);
    const from = this.messages.length;
    let body: string | Buffer;
    let tx: string | undefined;
    if (opts.raw) {
      body = payload as string | Buffer;
    } else if (payload && typeof payload === 'object' && !Array.isArray(payload) && !Buffer.isBuffer(payload)) {
      tx = `tx-${Math.random().toString(16).slice(2)}`;
      body = JSON.stringify({ ...payload, transaction: tx });
    } else {
      body = JSON.stringify(payload);
    }
    await this.publish(`${BASE}/request/${command}`, body);
    const msg = await this.next(
      responseTopic,
      from,
      (p) => tx === undefined || (JSON.parse(p.toString()) as { transaction?: string }).transaction === tx,
      opts.timeoutMs ?? 15_000,
    );
    return JSON.parse(msg.payload.toString()) as Record<string, unknown>;
  }

  async end(): Promise<void> {
    await this.client.endAsync(true);
  }
}

export interface TestImprinting {
  imprinter: Imprinter;
  classes: ClassControl;
  corrections: Corrections;
  /** The event store the corrections use (tests add events to it). */
  events: EventStore;
  bus: EventBus;
  /** The model's input size, for fake camera frames. */
  inputSize: { width: number; height: number };
  stop(): Promise<void>;
}

/** The real imprinter on the real CPU model, in a temporary data dir. */
/** The real inference core; `limits` as the agent would share them with its requests. */
export async function startTestImprinting(limits?: Partial<LimitsConfig>): Promise<TestImprinting> {
  const dir = tempDir('edge-imprint-mqtt-');
  const real = await startImprinting({
    dataDir: dir.path,
    config: (c) => ({ ...c, detector: { ...c.detector, type: 'cpu' }, limits: { ...c.limits, ...limits } }),
  });
  return {
    imprinter: real.imprinter,
    classes: real.core.service,
    corrections: real.core.corrections,
    events: real.core.events,
    bus: real.bus,
    inputSize: real.detector.inputSize,
    stop: async () => {
      await real.stop();
      dir.cleanup();
    },
  };
}
