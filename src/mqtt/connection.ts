import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import { redactUrl } from '../config/redact.js';
import { settleWithin } from '../process/timeout.js';
import { checkUrl, clientOptions, urlUser, type ConnectionOptions } from './clientOptions.js';
import { OFFLINE_QUEUE_MAX_AGE_MS, OFFLINE_QUEUE_SIZE, OfflineQueue, type DropReason, type QueuedMessage } from './offlineQueue.js';
import { describeError, ReconnectLoop } from './reconnectLoop.js';
import { topicMatches } from './topics.js';
import type { MessageHandler, MqttTransport, PublishOptions } from './transport.js';

interface Subscription {
  filter: string;
  handler: MessageHandler;
}

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

/** A publish handed to a client and not yet acknowledged. */
interface InFlight {
  client: MqttClient;
  message: QueuedMessage;
  settle: (acked: boolean) => void;
}

/**
 * The agent's one MQTT connection: idle → connecting → connected → waiting → … → stopped.
 * Each attempt is a fresh mqtt.js client, so no option of a live client is ever read back or
 * changed; the persistent session lives at the broker (fixed client id), not in a client.
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
  private readonly loop: ReconnectLoop;
  private readonly connectFn: ConnectFn;
  private readonly now: () => number;
  private readonly counters = { connects: 0, dropped_offline_qos0: 0, dropped_queue_full: 0, dropped_expired: 0 };

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly logger: Logger,
    private readonly deps: ConnectionDeps = {},
  ) {
    this.version = opts.protocolVersion;
    this.connectFn = deps.connect ?? mqtt.connect;
    this.now = deps.now ?? Date.now;
    const { url, minReconnectMs, maxReconnectMs } = opts;
    this.loop = new ReconnectLoop({ url, minReconnectMs, maxReconnectMs, random: deps.random, logger, retry: () => void this.attempt() });
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
    this.loop.stop();
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

  async subscribe(filter: string, handler: MessageHandler): Promise<() => void> {
    const sub: Subscription = { filter, handler };
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
    this.loop.attempting();
    if (this.state === 'stopped') return Promise.resolve();
    this.state = 'connecting';
    let client: MqttClient;
    try {
      client = this.connectFn(this.opts.url, clientOptions(this.opts, this.version));
    } catch (err) {
      this.loop.failed(errorMessage(err));
      this.waiting();
      this.loop.notStarted();
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
    this.loop.connected();
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
    if (client !== this.client || !client.connected) return;
    this.ready = true;
    for (const listener of this.connectListeners) {
      try {
        listener();
      } catch (err) {
        this.logger.error({ err }, 'MQTT connect listener failed');
      }
    }
  }

  /** Sends what was queued while away, oldest first; anything aged out meanwhile is dropped. */
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
    if (sent > 0) this.logger.info({ sent }, 'MQTT: sent the messages queued while disconnected');
  }

  private onError(client: MqttClient, err: Error & { code?: unknown }): void {
    if (client !== this.client) return;
    const code = typeof err.code === 'number' ? err.code : undefined;
    if (code !== undefined && UNSUPPORTED_PROTOCOL.has(code) && this.version === 5) {
      // The next client is built with protocol 4; nothing of this one is changed.
      this.version = 4;
      this.loop.retryAtOnce();
      this.logger.warn('the MQTT broker refused MQTT v5; falling back to MQTT 3.1.1');
      return;
    }
    this.loop.failed(describeError(err, code, this.opts.username || urlUser(this.opts.url)));
  }

  private onClose(client: MqttClient): void {
    if (client !== this.client) return;
    const lost = this.state === 'connected';
    this.client = null;
    this.ready = false;
    this.release(client);
    this.waiting();
    this.loop.closed(lost);
  }

  private waiting(): void {
    if (this.state !== 'stopped') this.state = 'waiting';
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
    try {
      await client.subscribeAsync(filters, { qos: 1 });
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
