/** What the publisher, the request server, Home Assistant discovery and the fleet need from MQTT. */
import type { IPublishPacket } from 'mqtt';

export type MessageHandler = (topic: string, payload: Buffer, packet: IPublishPacket) => void;

export interface PublishOptions {
  retain?: boolean;
  qos?: 0 | 1;
  /** MQTT v5 publish properties; dropped when talking 3.1.1. */
  properties?: IPublishPacket['properties'];
}

export interface MqttTransport {
  publish(topic: string, payload: string | Buffer, opts?: PublishOptions): Promise<void>;
  subscribe(filter: string, handler: MessageHandler): Promise<() => void>;
  onConnect(listener: () => void): () => void;
  readonly connected: boolean;
}
