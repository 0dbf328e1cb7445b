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
import { availableTopic, topicMatches } from './topics.js';
import { redactUrl } from '../config/redact.js';

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
}

export type MessageHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => void;

export interface PublishOptions {
  retain?: boolean;
  qos?: 0 | 1;
  /** MQTT v5 publish properties; dropped when talking 3.1.1. */
  properties?: IPublishPacket['properties'];
}

/** What the publisher, the request server and Home Assistant discovery need from MQTT. */
export interface MqttTransport {
  publish(topic: string, payload: string | Buffer, opts?: PublishOptions): Promise<void>;
  subscribe(filter: string, handler: MessageHandler): Promise<() => void>;
  onConnect(listener: () => void): () => void;
  readonly connected: boolean;
}

interface Subscription {
  filter: string;
  handler: MessageHandler;
}

/** Refusal codes meaning "this broker does not speak MQTT v5" (3.1.1 code 1, v5 code 132). */
const UNSUPPORTED_PROTOCOL = new Set([1, 132]);

export type ConnectFn = (url: string, opts: IClientOptions) => MqttClient;

const SCHEMES = new Set(['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:', 'ssl:']);

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

/** Throws a config error unless the URL is one mqtt.js can use; never echoes credentials. */
export function checkUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppError('config', 'mqtt.url: not a valid URL (e.g. mqtt://host:1883)');
  }
  if (!SCHEMES.has(parsed.protocol)) {
    throw new AppError('config', `mqtt.url: unsupported scheme "${parsed.protocol}" (use mqtt://, mqtts://, ws:// or wss://)`);
  }
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

/** The mqtt.js options for our connection options (pure, apart from reading TLS files). */
export function clientOptions(opts: ConnectionOptions): IClientOptions {
  const v5 = opts.protocolVersion === 5;
  const options: IClientOptions = {
    clientId: opts.clientId,
    clean: opts.cleanSession,
    protocolVersion: opts.protocolVersion,
    keepalive: opts.keepaliveS ?? 30,
    connectTimeout: opts.connectTimeoutMs ?? 10_000,
    reconnectPeriod: opts.minReconnectMs ?? 1000,
    reconnectOnConnackError: true,
    // We resubscribe ourselves on every connect (simpler with the v5→3.1.1 fallback).
    resubscribe: false,
    will: { topic: opts.availabilityTopic, payload: Buffer.from('offline'), retain: true, qos: 1 },
  };
  if (opts.username) options.username = opts.username;
  if (opts.password) options.password = opts.password;
  if (v5 && !opts.cleanSession) options.properties = { sessionExpiryInterval: opts.sessionExpiryS ?? 3600 };
  const ca = readTlsFile(opts.tls.ca, 'ca');
  const cert = readTlsFile(opts.tls.cert, 'cert');
  const key = readTlsFile(opts.tls.key, 'key');
  if (ca) options.ca = ca;
  if (cert) options.cert = cert;
  if (key) options.key = key;
  return options;
}

/**
 * One MQTT connection for the whole agent. Publishes `online` on every (re)connect,
 * republishes the last payload of every retained topic after a reconnect, backs off
 * exponentially while the broker is down or refuses us, and falls back to MQTT 3.1.1
 * when the broker refuses v5.
 */
export class MqttConnection implements MqttTransport {
  private client: MqttClient | null = null;
  private readonly retained = new Map<string, string | Buffer>();
  private readonly subscriptions = new Set<Subscription>();
  private readonly connectListeners = new Set<() => void>();
  private lastError = '';
  private backoffMs: number;
  private version: 4 | 5;

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly logger: Logger,
    private readonly connectFn: ConnectFn = mqtt.connect,
  ) {
    this.backoffMs = opts.minReconnectMs ?? 1000;
    this.version = opts.protocolVersion;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  get protocolVersion(): 4 | 5 {
    return this.version;
  }

  /** Resolves after the first connection attempt succeeded or failed; retries go on after. */
  async start(): Promise<void> {
    checkUrl(this.opts.url);
    const options = clientOptions(this.opts);
    this.logger.info(
      { url: redactUrl(this.opts.url), client_id: this.opts.clientId, protocol: this.version },
      'connecting to the MQTT broker',
    );
    const client = this.connectFn(this.opts.url, options);
    this.client = client;
    client.on('message', (topic, payload, packet) => this.dispatch(topic, payload, packet));
    client.on('error', (err) => this.onError(client, err));
    client.on('close', () => this.onClose(client));
    await new Promise<void>((resolve) => {
      const done = (): void => {
        client.off('connect', done);
        client.off('close', done);
        resolve();
      };
      client.on('connect', (packet) => this.onConnected(client, packet));
      client.once('connect', done);
      client.once('close', done);
    });
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return;
    if (client.connected) {
      await this.publishNow(client, this.opts.availabilityTopic, 'offline', { retain: true, qos: 1 });
    }
    await Promise.race([
      client.endAsync(),
      new Promise((r) => setTimeout(r, 2000).unref()),
    ]).catch(() => undefined);
    client.end(true);
  }

  /** Never rejects: failures are logged. Retained payloads are remembered for reconnects. */
  async publish(topic: string, payload: string | Buffer, opts: PublishOptions = {}): Promise<void> {
    if (opts.retain) {
      if (payload.length === 0) this.retained.delete(topic);
      else this.retained.set(topic, payload);
    }
    const client = this.client;
    // Retained state is resent on connect anyway; don't pile it up in the offline queue.
    if (!client || (opts.retain && !client.connected)) return;
    await this.publishNow(client, topic, payload, opts);
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

  private async publishNow(
    client: MqttClient,
    topic: string,
    payload: string | Buffer,
    opts: PublishOptions,
  ): Promise<void> {
    const properties = this.version === 5 ? opts.properties : undefined;
    try {
      await client.publishAsync(topic, payload, {
        qos: opts.qos ?? 1,
        retain: opts.retain ?? false,
        ...(properties ? { properties } : {}),
      });
    } catch (err) {
      this.logger.debug({ topic, err: errorMessage(err) }, 'MQTT publish failed');
    }
  }

  private async subscribeOn(client: MqttClient, filters: string[]): Promise<void> {
    if (filters.length === 0) return;
    try {
      await client.subscribeAsync(filters, { qos: 1 });
    } catch (err) {
      this.logger.error({ filters, err: errorMessage(err) }, 'MQTT subscribe failed');
    }
  }

  private onConnected(client: MqttClient, packet: IConnackPacket): void {
    if (this.lastError) this.logger.info('MQTT connection restored');
    this.lastError = '';
    this.backoffMs = this.opts.minReconnectMs ?? 1000;
    client.options.reconnectPeriod = this.backoffMs;
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
    await Promise.all(
      [...this.retained].map(([topic, payload]) =>
        this.publishNow(client, topic, payload, { retain: true, qos: 1 }),
      ),
    );
    for (const listener of this.connectListeners) {
      try {
        listener();
      } catch (err) {
        this.logger.error({ err }, 'MQTT connect listener failed');
      }
    }
  }

  private onError(client: MqttClient, err: Error & { code?: unknown }): void {
    const code = typeof err.code === 'number' ? err.code : undefined;
    if (code !== undefined && UNSUPPORTED_PROTOCOL.has(code) && this.version === 5) {
      this.version = 4;
      client.options.protocolVersion = 4;
      delete client.options.properties;
      this.logger.warn('the MQTT broker refused MQTT v5; falling back to MQTT 3.1.1');
      return;
    }
    const message = describeError(err, code, this.opts.username || urlUser(this.opts.url));
    // One clear line per distinct problem; repeats while retrying go to debug.
    if (message !== this.lastError) {
      this.logger.error(
        { url: redactUrl(this.opts.url), retry_ms: this.backoffMs },
        `MQTT: ${message}; retrying with backoff`,
      );
      this.lastError = message;
    } else {
      this.logger.debug(`MQTT: ${message}`);
    }
  }

  private onClose(client: MqttClient): void {
    if (this.client !== client) return;
    if (!this.lastError) {
      this.lastError = 'connection lost';
      this.logger.warn({ retry_ms: this.backoffMs }, 'MQTT connection lost; reconnecting');
    }
    client.options.reconnectPeriod = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxReconnectMs ?? 30_000);
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
