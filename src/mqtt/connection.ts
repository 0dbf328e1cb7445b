import { readFileSync } from 'node:fs';
import mqtt, {
  type IClientOptions,
  type IConnackPacket,
  type IPublishPacket,
  type MqttClient,
} from 'mqtt';
import type { Logger } from 'pino';
import { AppError, errorMessage } from '../errors.js';
import type { MqttConfig } from '../config/types.js';
import { mqttUrlProblem } from '../config/formats.js';
import { availableTopic, topicMatches } from './topics.js';
import { redactUrl } from '../config/redact.js';
import { Backoff } from '../process/backoff.js';
import { settleWithin } from '../process/timeout.js';

/** Share of a reconnect delay taken off at random, so many agents do not retry in lockstep. */
const RECONNECT_JITTER = 0.2;

/** Default cap of the offline queue (QoS 1 non-retained messages kept while disconnected). */
export const OFFLINE_QUEUE_SIZE = 50;
/** Default age after which a queued message is dropped instead of sent late. */
export const OFFLINE_QUEUE_MAX_AGE_MS = 60_000;

export interface ConnectionOptions {
  url: string;
  username: string;
  password: string;
  clientId: string;
  /** false: persistent session (fixed client id), so QoS 1 requests queued while away arrive. */
  cleanSession: boolean;
  protocolVersion: 4 | 5;
  tls: { ca: string; cert: string; key: string };
  /** `<base>/available`: last will `offline`, `online` on every (re)connect. */
  availabilityTopic: string;
  minReconnectMs?: number;
  maxReconnectMs?: number;
  connectTimeoutMs?: number;
  keepaliveS?: number;
  /** MQTT v5 only: how long the broker keeps a persistent session after a disconnect. */
  sessionExpiryS?: number;
  /** Most QoS 1 non-retained messages kept while disconnected (the oldest go first). */
  offlineQueueSize?: number;
  /** Queued messages older than this are dropped, not sent late. */
  offlineQueueMaxAgeMs?: number;
}

export type MessageHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => void;

export interface PublishOptions {
  retain?: boolean;
  qos?: 0 | 1;
  /** MQTT v5 publish properties; dropped when talking 3.1.1. */
  properties?: IPublishPacket['properties'];
}

export interface SubscribeOptions {
  /**
   * MQTT v5 "retain as published": a message published retained keeps its retain flag when
   * delivered live too, so a handler can refuse it (3.1.1 brokers clear it on live delivery).
   */
  retainAsPublished?: boolean;
}

/** What the publisher, the request server and Home Assistant discovery need from MQTT. */
export interface MqttTransport {
  publish(topic: string, payload: string | Buffer, opts?: PublishOptions): Promise<void>;
  subscribe(filter: string, handler: MessageHandler, opts?: SubscribeOptions): Promise<() => void>;
  onConnect(listener: () => void): () => void;
  readonly connected: boolean;
}

interface Subscription {
  filter: string;
  handler: MessageHandler;
  retainAsPublished: boolean;
}

/** Why a message was not delivered: QoS 0 while offline, offline queue full, aged out in it. */
export const DROP_REASONS = ['offline_qos0', 'queue_full', 'expired'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'waiting' | 'stopped';

export interface ConnectionStats {
  state: ConnectionState;
  protocol: 4 | 5;
  /** Successful connections since start (1 + reconnects). */
  connects: number;
  /** Messages in the offline queue now. */
  queued: number;
  dropped_offline_qos0: number;
  dropped_queue_full: number;
  dropped_expired: number;
}

export type ConnectFn = (url: string, opts: IClientOptions) => MqttClient;

export interface ConnectionDeps {
  /** Creates one mqtt.js client (one connection attempt); `mqtt.connect` by default. */
  connect?: ConnectFn;
  /** Called for every dropped message (the Prometheus counters). */
  onDropped?: (reason: DropReason, count: number) => void;
  random?: () => number;
  now?: () => number;
}

/** Refusal codes meaning "this broker does not speak MQTT v5" (3.1.1 code 1, v5 code 132). */
const UNSUPPORTED_PROTOCOL = new Set([1, 132]);


/** Connection options from the validated config. `url` is the effective broker (config or embedded). Pure. */
export function connectionOptions(config: MqttConfig, nodeId: string, url: string): ConnectionOptions {
  return {
    url,
    username: config.username,
    password: config.password,
    // A fixed id: a persistent session only survives if we come back under the same id.
    clientId: config.client_id || `edge-imprint-${nodeId}`,
    cleanSession: config.clean_session,
    protocolVersion: config.protocol_version,
    tls: config.tls,
    availabilityTopic: availableTopic(config.base_topic),
  };
}

/**
 * Throws a config error unless the URL is one mqtt.js can use (the schema's own rule:
 * the embedded broker's URL and test URLs come from code, not from the checked config).
 */
export function checkUrl(url: string): void {
  const problem = mqttUrlProblem(url);
  if (problem) throw new AppError('config', `mqtt.url: ${problem}`);
}

function urlUser(url: string): string {
  try {
    return decodeURIComponent(new URL(url).username);
  } catch {
    return '';
  }
}

export { redactUrl };

function readTlsFile(path: string, field: string): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new AppError('config', `mqtt.tls.${field}: cannot read ${path} (${errorMessage(err)})`);
  }
}

/**
 * The mqtt.js options of one connection attempt (pure, apart from reading TLS files).
 * mqtt.js neither reconnects (`reconnectPeriod: 0`) nor queues QoS 0 while offline: the
 * connection below owns both, so it never has to change the options of a live client.
 */
export function clientOptions(opts: ConnectionOptions, protocolVersion: 4 | 5 = opts.protocolVersion): IClientOptions {
  const options: IClientOptions = {
    clientId: opts.clientId,
    clean: opts.cleanSession,
    protocolVersion,
    keepalive: opts.keepaliveS ?? 30,
    connectTimeout: opts.connectTimeoutMs ?? 10_000,
    reconnectPeriod: 0,
    queueQoSZero: false,
    // We resubscribe ourselves on every connect (each attempt is a fresh client).
    resubscribe: false,
    will: { topic: opts.availabilityTopic, payload: Buffer.from('offline'), retain: true, qos: 1 },
  };
  if (opts.username) options.username = opts.username;
  if (opts.password) options.password = opts.password;
  if (protocolVersion === 5 && !opts.cleanSession) {
    options.properties = { sessionExpiryInterval: opts.sessionExpiryS ?? 3600 };
  }
  const ca = readTlsFile(opts.tls.ca, 'ca');
  const cert = readTlsFile(opts.tls.cert, 'cert');
  const key = readTlsFile(opts.tls.key, 'key');
  if (ca) options.ca = ca;
  if (cert) options.cert = cert;
  if (key) options.key = key;
  return options;
}

export interface QueuedMessage {
  topic: string;
  payload: string | Buffer;
  opts: PublishOptions;
  /** When it was first published (ms): its age decides whether it is still worth sending. */
  at: number;
}

/**
 * The messages kept while disconnected, bounded by count and by age: when full the oldest
 * goes, and nothing older than `maxAgeMs` is ever sent. Every drop is reported.
 */
export class OfflineQueue {
  private items: QueuedMessage[] = [];

  constructor(
    private readonly maxSize: number,
    private readonly maxAgeMs: number,
    private readonly now: () => number,
    private readonly onDrop: (reason: DropReason, count: number) => void,
  ) {}

  get length(): number {
    return this.items.length;
  }

  push(message: QueuedMessage): void {
    this.expire();
    this.items.push(message);
    this.trim();
  }

  /** Messages that were in flight when the connection dropped go back first, keeping their age. */
  requeue(messages: QueuedMessage[]): void {
    if (messages.length === 0) return;
    this.items.unshift(...messages);
    this.expire();
    this.trim();
  }

  /** The oldest message still young enough; aged-out ones are dropped on the way. */
  shift(): QueuedMessage | undefined {
    this.expire();
    return this.items.shift();
  }

  private trim(): void {
    const excess = this.items.length - this.maxSize;
    if (excess <= 0) return;
    this.items.splice(0, excess);
    this.onDrop('queue_full', excess);
  }

  private expire(): void {
    const cutoff = this.now() - this.maxAgeMs;
    const before = this.items.length;
    this.items = this.items.filter((m) => m.at >= cutoff);
    const stale = before - this.items.length;
    if (stale > 0) this.onDrop('expired', stale);
  }
}

/** A publish handed to a client and not yet acknowledged. */
interface InFlight {
  client: MqttClient;
  message: QueuedMessage;
  settle: (acked: boolean) => void;
}

/**
 * One MQTT connection for the whole agent, as an explicit state machine:
 * idle → connecting → connected → (connection lost) waiting → connecting → … → stopped.
 *
 * Each attempt is a fresh mqtt.js client built from our own options; we own the retry loop
 * (capped exponential backoff with jitter) and the fallback to MQTT 3.1.1 (the next client
 * is built with protocol 4), so no option of a live client is ever read back or changed.
 * The persistent session lives at the broker (fixed client id, clean=false, v5 session
 * expiry), not in a client object. On every connect: resubscribe, `online`, every retained
 * payload again, then the offline queue. While disconnected: QoS 0 is dropped, QoS 1
 * non-retained goes to the bounded offline queue, retained state waits in the retained map.
 */
export class MqttConnection implements MqttTransport {
  private client: MqttClient | null = null;
  private state: ConnectionState = 'idle';
  /** Connected, and the offline queue has been flushed: new messages may go straight out. */
  private ready = false;
  private version: 4 | 5;
  /** Last payload of every retained topic; an empty payload is a clear still to be sent. */
  private readonly retained = new Map<string, string | Buffer>();
  /** Retained topics already sent on the current connection: not sent again by the republish. */
  private readonly sentOnThisConnection = new Set<string>();
  private readonly subscriptions = new Set<Subscription>();
  private readonly connectListeners = new Set<() => void>();
  private readonly inFlight = new Set<InFlight>();
  private readonly queue: OfflineQueue;
  private readonly backoff: Backoff;
  private readonly connectFn: ConnectFn;
  private readonly now: () => number;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryNow = false;
  /** What went wrong in the current attempt, and the last problem logged (one line each). */
  private problem = '';
  private reported = '';
  private readonly counters = { connects: 0, dropped_offline_qos0: 0, dropped_queue_full: 0, dropped_expired: 0 };

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly logger: Logger,
    private readonly deps: ConnectionDeps = {},
  ) {
    this.version = opts.protocolVersion;
    this.connectFn = deps.connect ?? mqtt.connect;
    this.now = deps.now ?? Date.now;
    this.backoff = new Backoff({ initialMs: opts.minReconnectMs ?? 1000, maxMs: opts.maxReconnectMs ?? 30_000, jitter: RECONNECT_JITTER, ...(deps.random ? { random: deps.random } : {}) });
    this.queue = new OfflineQueue(
      opts.offlineQueueSize ?? OFFLINE_QUEUE_SIZE,
      opts.offlineQueueMaxAgeMs ?? OFFLINE_QUEUE_MAX_AGE_MS,
      this.now,
      (reason, count) => this.dropped(reason, count),
    );
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  get protocolVersion(): 4 | 5 {
    return this.version;
  }

  stats(): ConnectionStats {
    return { state: this.state, protocol: this.version, queued: this.queue.length, ...this.counters };
  }

  /** Resolves after the first connection attempt succeeded or failed; retries go on after. */
  async start(): Promise<void> {
    checkUrl(this.opts.url);
    clientOptions(this.opts); // unreadable TLS files are a config error now, not a retry loop
    this.logger.info(
      { url: redactUrl(this.opts.url), client_id: this.opts.clientId, protocol: this.version },
      'connecting to the MQTT broker',
    );
    await this.attempt();
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    this.ready = false;
    if (!client) return;
    if (client.connected) {
      await settleWithin(this.publishNow(client, this.opts.availabilityTopic, 'offline', { retain: true, qos: 1 }), 2000);
    }
    await settleWithin(client.endAsync().catch(() => undefined), 2000);
    this.release(client);
  }

  /** Never rejects: failures are logged, drops counted. Retained payloads are remembered for reconnects. */
  async publish(topic: string, payload: string | Buffer, opts: PublishOptions = {}): Promise<void> {
    if (opts.retain) return this.publishRetained(topic, payload, opts);
    const client = this.client;
    const qos = opts.qos ?? 1;
    if (client?.connected && (qos === 0 || this.ready)) {
      await this.publishNow(client, topic, payload, opts);
    } else if (qos === 0) {
      this.dropped('offline_qos0', 1);
    } else {
      this.queue.push({ topic, payload, opts, at: this.now() });
    }
  }

  async subscribe(filter: string, handler: MessageHandler, opts: SubscribeOptions = {}): Promise<() => void> {
    const sub: Subscription = { filter, handler, retainAsPublished: opts.retainAsPublished ?? false };
    this.subscriptions.add(sub);
    const client = this.client;
    if (client?.connected) await this.subscribeOn(client, [filter]);
    return () => {
      this.subscriptions.delete(sub);
      const stillUsed = [...this.subscriptions].some((s) => s.filter === filter);
      if (!stillUsed && this.client?.connected) this.client.unsubscribe(filter);
    };
  }

  onConnect(listener: () => void): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  /** Retained state is never queued: the retained map is sent again on every connect. */
  private async publishRetained(topic: string, payload: string | Buffer, opts: PublishOptions): Promise<void> {
    // Re-inserted, so a reconnect sends the retained topics in the order they last changed.
    this.retained.delete(topic);
    this.retained.set(topic, payload);
    const client = this.client;
    if (!client?.connected) return;
    this.sentOnThisConnection.add(topic);
    const acked = await this.publishNow(client, topic, payload, opts);
    this.forgetSentClear(topic, acked);
  }

  /** A clear (empty retained payload) is remembered only until the broker has it. */
  private forgetSentClear(topic: string, acked: boolean): void {
    if (acked && this.retained.get(topic)?.length === 0) this.retained.delete(topic);
  }

  /** One connection attempt with a fresh client; resolves when it connected or closed. */
  private attempt(): Promise<void> {
    this.retryTimer = null;
    if (this.state === 'stopped') return Promise.resolve();
    this.state = 'connecting';
    this.problem = '';
    let client: MqttClient;
    try {
      client = this.connectFn(this.opts.url, clientOptions(this.opts, this.version));
    } catch (err) {
      this.problem = errorMessage(err);
      this.scheduleRetry(this.backoff.next(), false);
      return Promise.resolve();
    }
    this.client = client;
    return new Promise((resolve) => {
      client.on('message', (topic, payload, packet) => this.dispatch(topic, payload, packet));
      client.on('error', (err) => this.onError(client, err));
      client.on('connect', (packet) => {
        this.onConnected(client, packet);
        resolve();
      });
      client.on('close', () => {
        this.onClose(client);
        resolve();
      });
    });
  }

  private onConnected(client: MqttClient, packet: IConnackPacket): void {
    if (client !== this.client) return;
    this.state = 'connected';
    this.sentOnThisConnection.clear();
    this.counters.connects++;
    this.backoff.reset();
    if (this.reported) this.logger.info('MQTT connection restored');
    this.reported = '';
    this.logger.info(
      { session_present: packet.sessionPresent, protocol: this.version },
      'connected to the MQTT broker',
    );
    void this.afterConnect(client);
  }

  /** Order matters: subscribe before announcing, so nothing sent on `online` is missed. */
  private async afterConnect(client: MqttClient): Promise<void> {
    const filters = [...new Set([...this.subscriptions].map((s) => s.filter))];
    await this.subscribeOn(client, filters);
    await this.publishNow(client, this.opts.availabilityTopic, 'online', { retain: true, qos: 1 });
    // Topics published meanwhile already went out with their latest payload.
    const again = [...this.retained].filter(([topic]) => !this.sentOnThisConnection.has(topic));
    await Promise.all(
      again.map(async ([topic, payload]) =>
        this.forgetSentClear(topic, await this.publishNow(client, topic, payload, { retain: true, qos: 1 })),
      ),
    );
    await this.flushQueue(client);
    if (!this.ready) return;
    for (const listener of this.connectListeners) {
      try {
        listener();
      } catch (err) {
        this.logger.error({ err }, 'MQTT connect listener failed');
      }
    }
  }

  /**
   * Sends what was queued while away, oldest first (anything aged out meanwhile is dropped),
   * and marks the connection ready the moment the queue is empty: a message published after
   * that check goes straight out instead of waiting in the queue for the next reconnect.
   */
  private async flushQueue(client: MqttClient): Promise<void> {
    let sent = 0;
    for (let message = this.queue.shift(); message; message = this.queue.shift()) {
      if (client !== this.client || !client.connected) {
        this.queue.requeue([message]);
        return;
      }
      await this.publishNow(client, message.topic, message.payload, message.opts, message.at);
      sent++;
    }
    this.ready = client === this.client && client.connected;
    if (sent > 0) this.logger.info({ sent }, 'MQTT: sent the messages queued while disconnected');
  }

  private onError(client: MqttClient, err: Error & { code?: unknown }): void {
    if (client !== this.client) return;
    const code = typeof err.code === 'number' ? err.code : undefined;
    if (code !== undefined && UNSUPPORTED_PROTOCOL.has(code) && this.version === 5) {
      // The next client is built with protocol 4; nothing of this one is changed.
      this.version = 4;
      this.retryNow = true;
      this.logger.warn('the MQTT broker refused MQTT v5; falling back to MQTT 3.1.1');
      return;
    }
    this.problem = describeError(err, code, this.opts.username || urlUser(this.opts.url));
  }

  private onClose(client: MqttClient): void {
    if (client !== this.client) return;
    const lost = this.state === 'connected';
    this.client = null;
    this.ready = false;
    this.release(client);
    if (this.retryNow) {
      this.retryNow = false;
      this.scheduleRetry(0, false);
      return;
    }
    if (!this.problem) this.problem = lost ? 'connection lost' : 'the broker closed the connection';
    this.scheduleRetry(this.backoff.next(), lost);
  }

  private scheduleRetry(delayMs: number, lost: boolean): void {
    if (this.state === 'stopped') return;
    if (this.problem) this.report(this.problem, lost, delayMs);
    this.state = 'waiting';
    this.retryTimer = setTimeout(() => void this.attempt(), delayMs);
  }

  /** One clear line per distinct problem; repeats while retrying go to debug. */
  private report(problem: string, lost: boolean, retryMs: number): void {
    if (problem === this.reported) {
      this.logger.debug({ retry_ms: retryMs }, `MQTT: ${problem}`);
      return;
    }
    this.reported = problem;
    if (lost && problem === 'connection lost') {
      this.logger.warn({ retry_ms: retryMs }, 'MQTT connection lost; reconnecting');
    } else {
      this.logger.error({ url: redactUrl(this.opts.url), retry_ms: retryMs }, `MQTT: ${problem}; retrying with backoff`);
    }
  }

  /**
   * Lets go of a closed client: its unacknowledged QoS 1 non-retained messages go back to the
   * offline queue (at least once), retained ones are covered by the retained map.
   */
  private release(client: MqttClient): void {
    const back: QueuedMessage[] = [];
    for (const entry of this.inFlight) {
      if (entry.client !== client) continue;
      this.inFlight.delete(entry);
      const { opts } = entry.message;
      if (!opts.retain && (opts.qos ?? 1) === 1) back.push(entry.message);
      entry.settle(false);
    }
    this.queue.requeue(back);
    client.end(true);
  }

  /** Resolves true once the broker acknowledged it, false if it failed or the client closed first. */
  private publishNow(
    client: MqttClient,
    topic: string,
    payload: string | Buffer,
    opts: PublishOptions,
    at: number = this.now(),
  ): Promise<boolean> {
    const properties = this.version === 5 ? opts.properties : undefined;
    return new Promise((resolve) => {
      const entry: InFlight = { client, message: { topic, payload, opts, at }, settle: resolve };
      this.inFlight.add(entry);
      const options = { qos: opts.qos ?? 1, retain: opts.retain ?? false, ...(properties ? { properties } : {}) };
      const done = (err?: Error): void => {
        if (!this.inFlight.delete(entry)) return;
        if (err) this.logger.debug({ topic, err: errorMessage(err) }, 'MQTT publish failed');
        resolve(!err);
      };
      try {
        client.publish(topic, payload, options, done);
      } catch (err) {
        // mqtt.js throws when the client closed meanwhile (the broker handed its session to a
        // newer connection): not sent, as if the connection had dropped.
        done(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  private async subscribeOn(client: MqttClient, filters: string[]): Promise<void> {
    if (filters.length === 0) return;
    const rap = (filter: string): boolean => [...this.subscriptions].some((s) => s.filter === filter && s.retainAsPublished);
    try {
      await client.subscribeAsync(Object.fromEntries(filters.map((f) => [f, { qos: 1 as const, ...(rap(f) ? { rap: true } : {}) }])));
    } catch (err) {
      this.logger.error({ filters, err: errorMessage(err) }, 'MQTT subscribe failed');
    }
  }

  private dropped(reason: DropReason, count: number): void {
    this.counters[`dropped_${reason}`] += count;
    this.deps.onDropped?.(reason, count);
  }

  private dispatch(topic: string, payload: Buffer, packet: IPublishPacket): void {
    for (const sub of this.subscriptions) {
      if (!topicMatches(sub.filter, topic)) continue;
      try {
        sub.handler(topic, payload, packet);
      } catch (err) {
        this.logger.error({ err, topic }, 'MQTT message handler failed');
      }
    }
  }
}

/** A one-line explanation of a connection error, never containing a secret. */
export function describeError(err: Error, code: number | undefined, username: string): string {
  const who = username ? `user "${username}"` : 'anonymous login';
  if (code === 4 || code === 134) return `the broker rejected the credentials of ${who} (bad username or password)`;
  // Mosquitto answers a wrong password with "not authorized" under MQTT v5.
  if (code === 5 || code === 135) return `the broker refused ${who}: not authorized (wrong credentials, or not allowed)`;
  const sysCode = (err as { code?: unknown }).code;
  if (sysCode === 'ECONNREFUSED') return 'the broker refused the TCP connection (is it running?)';
  if (sysCode === 'ENOTFOUND') return 'the broker host name does not resolve';
  return err.message;
}
