import { existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import type { Logger } from 'pino';
import type { MqttConfig } from '../config/types.js';
import { AppError, errorMessage } from '../errors.js';
import { AUTH_REFUSALS, probeBroker } from './brokerProbe.js';

export interface EmbeddedBrokerOptions {
  host?: string;
  port?: number;
}

export interface LocalBrokerOptions extends EmbeddedBrokerOptions {
  /** The credentials the agent will log in with. */
  username?: string;
  password?: string;
  /** Time allowed for the probe's CONNECT/CONNACK. */
  timeoutMs?: number;
}

/**
 * With no `mqtt.url`: a broker already answering where the embedded one would listen (often
 * Home Assistant's), else null. Throws when the port holds something the agent cannot use.
 */
export async function findLocalBroker(opts: LocalBrokerOptions, logger: Logger): Promise<string | null> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 1883;
  const url = `mqtt://${host}:${port}`;
  const result = await probeBroker({ host, port, username: opts.username, password: opts.password, timeoutMs: opts.timeoutMs });
  switch (result.kind) {
    case 'none':
      return null;
    case 'broker':
      logger.info({ url }, `no mqtt.url configured: using the MQTT broker already answering on ${url} (set mqtt.url to choose a broker)`);
      return url;
    case 'refused': {
      const who = opts.username ? `the login of user "${opts.username}"` : 'an anonymous login';
      const fix = AUTH_REFUSALS.has(result.code)
        ? 'set mqtt.url to it with mqtt.username and mqtt.password (or mqtt.password_file)'
        : 'set mqtt.url to a broker the agent can use';
      throw new AppError(
        'config',
        `no mqtt.url configured and the MQTT broker on ${host}:${port} refused ${who} (${result.reason}): ${fix}, or set mqtt.embedded.port to a free port to run the embedded broker`,
      );
    }
    case 'not_mqtt':
      throw new AppError(
        'config',
        `no mqtt.url configured and ${host}:${port} is in use by a program that is not an MQTT broker (${result.reason}): stop it, set mqtt.embedded.port to a free port for the embedded broker, or set mqtt.url to your broker`,
      );
  }
}

/** An in-process aedes broker, so a first run works with nothing else installed. Loopback only by default. */
export class EmbeddedBroker {
  private broker: Aedes | null = null;
  private server: Server | null = null;
  readonly host: string;
  readonly port: number;

  constructor(
    opts: EmbeddedBrokerOptions,
    private readonly logger: Logger,
  ) {
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 1883;
  }

  get url(): string {
    return `mqtt://${this.host}:${this.port}`;
  }

  async start(): Promise<void> {
    const broker = await Aedes.createBroker();
    const server = createServer(broker.handle);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.port, this.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await new Promise<void>((r) => broker.close(() => r()));
      throw new AppError(
        'config',
        `embedded MQTT broker: cannot listen on ${this.host}:${this.port} (${errorMessage(err)}); set mqtt.url to an existing broker`,
      );
    }
    this.broker = broker;
    this.server = server;
    this.logger.warn(
      { url: this.url },
      `no mqtt.url configured: started the embedded MQTT broker on ${this.url} (set mqtt.url to use your own broker)`,
    );
  }

  async stop(): Promise<void> {
    const { broker, server } = this;
    this.broker = null;
    this.server = null;
    if (broker) await new Promise<void>((r) => broker.close(() => r()));
    // aedes has closed its clients by now, so the listener closes promptly.
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}

// ---- which broker (mqtt.embedded.enabled) ----

/** A broker service the init system starts, and the port it listens on. */
export interface BrokerService {
  description: string;
  port: number;
}

/** MQTT's registered port: where a broker service listens unless configured otherwise. */
export const MQTT_PORT = 1883;

const BROKER_NAMES = /^(snap\.)?(mosquitto|emqx|nanomq|vernemq|hivemq)/;

/**
 * A broker service this machine's init system will start, or null: a systemd unit enabled for
 * multi-user.target while systemd runs, or an OpenRC service of the default runlevel. A
 * package installed where no init system runs (a container, a CI runner) starts nothing.
 * `root` is '/' (tests give a directory laid out like one).
 */
export function brokerServiceAt(root = '/'): BrokerService | null {
  const list = (dir: string): string[] => {
    try {
      return readdirSync(join(root, dir));
    } catch {
      return [];
    }
  };
  if (existsSync(join(root, 'run/systemd/system'))) {
    const unit = list('etc/systemd/system/multi-user.target.wants').find((f) => BROKER_NAMES.test(f) && f.endsWith('.service'));
    if (unit) return { description: `systemd unit ${unit}`, port: MQTT_PORT };
  }
  if (existsSync(join(root, 'run/openrc'))) {
    const service = list('etc/runlevels/default').find((f) => BROKER_NAMES.test(f));
    if (service) return { description: `OpenRC service ${service}`, port: MQTT_PORT };
  }
  return null;
}

/**
 * With no mqtt.url: the URL to use and whether the embedded broker must start there, as
 * mqtt.embedded.enabled says; logs the choice and why. The embedded broker has no
 * authentication, so `auto` never takes the port of a broker service this machine starts (at
 * boot it may not be up yet): the MQTT connection retries until it is. Tests inject `brokerService`.
 */
export async function chooseLocalBroker(
  mqtt: Pick<MqttConfig, 'embedded' | 'username' | 'password'>,
  logger: Logger,
  brokerService: () => BrokerService | null = () => brokerServiceAt(),
): Promise<{ url: string; embedded: boolean }> {
  const { host, port, enabled } = mqtt.embedded;
  const url = `mqtt://${host}:${port}`;
  if (enabled === true) {
    logger.info({ url }, `mqtt.embedded.enabled is true: the embedded broker serves ${url}`);
    return { url, embedded: true };
  }
  const found = await findLocalBroker({ host, port, username: mqtt.username, password: mqtt.password }, logger);
  if (found) return { url: found, embedded: false };
  if (enabled === false) {
    logger.warn({ url }, `no MQTT broker answers on ${url} yet; mqtt.embedded.enabled is false: waiting for it (retrying), no embedded broker`);
    return { url, embedded: false };
  }
  const service = brokerService();
  if (service && service.port === port) {
    logger.warn(
      { url, service: service.description },
      `no MQTT broker answers on ${url} yet, but this machine starts one (${service.description}): waiting for it (retrying) instead of taking its port with the unauthenticated embedded broker (mqtt.embedded.enabled: auto; true embeds anyway)`,
    );
    return { url, embedded: false };
  }
  const why = service ? `the broker service here (${service.description}) listens on ${service.port}, not ${port}` : 'no MQTT broker service is set to start on this machine';
  logger.info({ url }, `no MQTT broker answers on ${url} and ${why}: starting the embedded broker (mqtt.embedded.enabled: auto)`);
  return { url, embedded: true };
}
