import type { Logger } from 'pino';
import type { Commands } from './commands/commands.js';
import type { ResponsePayload } from './commands/response.js';
import type { CommandRunner } from './commands/runner.js';
import type { MqttConfig } from './config/types.js';
import type { EventBus } from './eventBus.js';
import { HomeAssistant } from './homeassistant/homeAssistant.js';
import type { ClassInfo } from './recognition/types.js';
import { connectionOptions, type ConnectionOptions } from './mqtt/clientOptions.js';
import { MqttConnection } from './mqtt/connection.js';
import type { DropReason } from './mqtt/offlineQueue.js';
import { MqttPublisher, type PublishedUnit, type StatePayload, type StatsPayload } from './mqtt/publisher.js';
import { RequestServer } from './mqtt/requests.js';
import { LastEnrollment } from './mqtt/lastEnrollment.js';

export interface MqttApiDeps {
  config: MqttConfig;
  /** The broker actually used: `config.url`, or the embedded broker's URL. */
  url: string;
  nodeId: string;
  version: string;
  /** limits.max_payload_bytes. */
  maxPayloadBytes: number;
  bus: EventBus;
  logger: Logger;
  commands: Commands;
  runner: CommandRunner;
  listClasses: () => ClassInfo[];
  cameras: () => string[];
  /** Zones, or cameras without zones: what publishes labels and class states. */
  units: () => PublishedUnit[];
  getState: () => StatePayload;
  getStats: () => StatsPayload;
  onAnswer?: (command: string, response: ResponsePayload) => void;
  /** Every message the connection dropped (QoS 0 while offline, offline queue full or aged out). */
  onMqttDropped?: (reason: DropReason, count: number) => void;
  /** The dashboard's address, for Home Assistant's node device (configuration_url). */
  configurationUrl?: string | null;
  /** gallery.sync: the node device gets a gallery sensor. */
  gallery?: boolean;
  /** gallery.topic: never a response topic (the subtree is the fleet's, synced or not). */
  galleryTopic: string;
  /** Test hooks: reconnect timings and the like. */
  connectionOverrides?: Partial<ConnectionOptions>;
}

/**
 * The agent's whole MQTT side: one connection, the publisher, the request server and
 * (when enabled) Home Assistant discovery, started in the order that loses nothing.
 */
export class MqttApi {
  readonly connection: MqttConnection;
  readonly requests: RequestServer;
  readonly publisher: MqttPublisher;
  readonly homeAssistant: HomeAssistant | null;
  private readonly lastEnrollment: LastEnrollment;

  constructor(private readonly deps: MqttApiDeps) {
    const { config, logger } = deps;
    this.connection = new MqttConnection(
      { ...connectionOptions(config, deps.nodeId, deps.url), ...deps.connectionOverrides },
      logger.child({ part: 'mqtt' }),
      deps.onMqttDropped ? { onDropped: deps.onMqttDropped } : {},
    );
    const listClasses = deps.listClasses;
    this.requests = new RequestServer({
      transport: this.connection,
      baseTopic: config.base_topic,
      commands: deps.commands,
      runner: deps.runner,
      maxPayloadBytes: deps.maxPayloadBytes,
      logger: logger.child({ part: 'requests' }),
      discoveryPrefix: config.discovery.prefix,
      galleryTopic: deps.galleryTopic,
      bus: deps.bus,
      ...(deps.onAnswer ? { onAnswer: deps.onAnswer } : {}),
    });
    this.publisher = new MqttPublisher({
      transport: this.connection,
      bus: deps.bus,
      baseTopic: config.base_topic,
      logger: logger.child({ part: 'mqtt' }),
      getState: deps.getState,
      getStats: deps.getStats,
      listClasses,
      cameras: deps.cameras,
      units: deps.units,
      statsIntervalS: config.stats_interval,
    });
    this.lastEnrollment = new LastEnrollment({ transport: this.connection, bus: deps.bus, baseTopic: config.base_topic });
    this.homeAssistant = config.discovery.enabled
      ? new HomeAssistant({
          transport: this.connection,
          bus: deps.bus,
          baseTopic: config.base_topic,
          prefix: config.discovery.prefix,
          nodeId: deps.nodeId,
          version: deps.version,
          cameras: deps.cameras,
          units: deps.units,
          listClasses,
          enrollFromCamera: (label, camera, zone) => this.requests.enrollFromCamera(label, camera, zone),
          configurationUrl: deps.configurationUrl ?? null,
          gallery: deps.gallery ?? false,
          logger: logger.child({ part: 'homeassistant' }),
        })
      : null;
  }

  /** Registers every subscription and first state, then connects (they go out on connect). */
  async start(): Promise<void> {
    await this.requests.start();
    await this.publisher.start();
    await this.lastEnrollment.start();
    await this.homeAssistant?.start();
    await this.connection.start();
  }

  /** Each part stops on its own, so one failure cannot keep the others (or `offline`) back. */
  async stop(): Promise<void> {
    for (const part of [this.homeAssistant, this.lastEnrollment, this.publisher, this.requests, this.connection]) {
      try {
        await part?.stop();
      } catch (err) {
        this.deps.logger.error({ err }, 'MQTT part failed to stop');
      }
    }
  }
}
