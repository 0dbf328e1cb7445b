import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from 'pino';
import { AppError, errorMessage } from '../errors.js';

export interface EmbeddedBrokerOptions {
  host?: string;
  port?: number;
}

/**
 * The zero-config broker: an in-process aedes (MQTT 3.1.1) used when `mqtt.url` is empty,
 * so a first run works with nothing else installed. Loopback only by default.
 */
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
