/** The broker's address and login as the config gives them, and the mqtt.js options of one attempt. */
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import { AppError, errorMessage } from '../errors.js';
import type { MqttConfig } from '../config/types.js';
import { mqttUrlProblem } from '../config/formats.js';
import { availableTopic } from './topics.js';

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
 * Throws a config error unless mqtt.js can use the URL: the embedded broker's URL and test
 * URLs come from code, not from the checked config.
 */
export function checkUrl(url: string): void {
  const problem = mqttUrlProblem(url);
  if (problem) throw new AppError('config', `mqtt.url: ${problem}`);
}

/** The user named in the URL, for error messages ('' when none). */
export function urlUser(url: string): string {
  try {
    return decodeURIComponent(new URL(url).username);
  } catch {
    return '';
  }
}

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
 * mqtt.js neither reconnects nor queues QoS 0 while offline: MqttConnection owns both, so it
 * never has to change the options of a live client.
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
