import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from 'pino';
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
