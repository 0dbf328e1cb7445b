import type { Logger } from 'pino';
import type { EventBus } from '../eventBus.js';
import type { ClassInfo } from '../imprinting/types.js';
import type { MqttTransport } from '../mqtt/connection.js';
import { stateLabels } from '../mqtt/publisher.js';
import { discoveryFilter, formTopics, haStatusTopic } from '../mqtt/topics.js';
import { buildDiscovery, nodeUid, type DiscoveryContext } from './discovery.js';
import { MAX_LABEL_LENGTH } from '../imprinting/labels.js';

export interface HomeAssistantDeps {
  transport: MqttTransport;
  bus: EventBus;
  baseTopic: string;
  /** Discovery prefix (`mqtt.discovery.prefix`, usually `homeassistant`). */
  prefix: string;
  nodeId: string;
  version: string;
  cameras: () => string[];
  listClasses: () => ClassInfo[];
  /** The "Enroll from camera" button; answers on `<base>/response/class/enroll`. */
  enrollFromCamera: (label: string, camera: string) => void;
  logger: Logger;
}

/**
 * Home Assistant MQTT discovery: announces the node and camera devices, re-announces on
 * HA's birth message, clears the configs of entities that no longer exist (also those left
 * retained by an earlier run), and holds the state of the no-code enrollment form.
 */
export class HomeAssistant {
  private readonly offs: Array<() => void> = [];
  /** Discovery topic → the config JSON last published there. */
  private announced = new Map<string, string>();
  private formLabel: string | null = null;
  private formCamera: string | null = null;

  constructor(private readonly deps: HomeAssistantDeps) {}

  async start(): Promise<void> {
    const { transport, bus, baseTopic, prefix } = this.deps;
    const form = formTopics(baseTopic);
    this.announce();
    this.offs.push(bus.on('classesChanged', () => this.announce()));
    const subs = await Promise.all([
      transport.subscribe(haStatusTopic(prefix), (_t, payload) => {
        if (payload.toString() === 'online') this.onBirth();
      }),
      // Subscribed after the first announce, so only configs we no longer want are cleared.
      transport.subscribe(discoveryFilter(prefix, nodeUid(this.deps.nodeId)), (topic, payload) =>
        this.onRetainedConfig(topic, payload),
      ),
      transport.subscribe(form.labelSet, (_t, payload) => this.setLabel(payload.toString('utf8'))),
      transport.subscribe(form.cameraSet, (_t, payload) => this.setCamera(payload.toString('utf8'))),
      transport.subscribe(form.enrollPress, () => this.pressEnroll()),
      // Recover the form as the previous run left it.
      transport.subscribe(form.labelState, (_t, payload) => {
        if (this.formLabel === null && payload.length > 0) this.formLabel = payload.toString('utf8');
      }),
      transport.subscribe(form.cameraState, (_t, payload) => {
        if (this.formCamera === null && payload.length > 0) this.setCamera(payload.toString('utf8'));
      }),
    ]);
    this.offs.push(...subs);
    const first = this.deps.cameras()[0];
    if (this.formCamera === null && first !== undefined) this.setCamera(first);
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
  }

  /**
   * Publishes the configs that changed (all of them when `force`) and clears the ones
   * announced before but gone now. Enrollments change classes often; most configs don't.
   */
  announce(force = false): void {
    const ctx: DiscoveryContext = {
      prefix: this.deps.prefix,
      baseTopic: this.deps.baseTopic,
      nodeId: this.deps.nodeId,
      version: this.deps.version,
      cameras: this.deps.cameras(),
      labels: stateLabels(this.deps.listClasses()),
    };
    const next = new Map(buildDiscovery(ctx).map((e) => [e.topic, JSON.stringify(e.config)]));
    for (const topic of this.announced.keys()) {
      if (!next.has(topic)) this.retain(topic, '');
    }
    let published = 0;
    for (const [topic, json] of next) {
      if (!force && this.announced.get(topic) === json) continue;
      this.retain(topic, json);
      published++;
    }
    this.announced = next;
    this.deps.logger.debug({ entities: next.size, published }, 'Home Assistant discovery announced');
  }

  private onBirth(): void {
    this.deps.logger.info('Home Assistant came online; re-announcing discovery');
    this.announce(true);
    const form = formTopics(this.deps.baseTopic);
    if (this.formLabel !== null) this.retain(form.labelState, this.formLabel);
    if (this.formCamera !== null) this.retain(form.cameraState, this.formCamera);
  }

  private onRetainedConfig(topic: string, payload: Buffer): void {
    if (payload.length === 0 || this.announced.has(topic)) return;
    this.deps.logger.info({ topic }, 'removing a stale Home Assistant entity');
    this.retain(topic, '');
  }

  private setLabel(value: string): void {
    // The text entity allows 64 characters (the label limit); anything longer is cut
    // rather than echoed back retained at any size. The button press validates it.
    this.formLabel = [...value.trim()].slice(0, MAX_LABEL_LENGTH).join('');
    this.retain(formTopics(this.deps.baseTopic).labelState, this.formLabel);
  }

  private setCamera(value: string): void {
    if (!this.deps.cameras().includes(value)) {
      this.deps.logger.warn({ camera: value }, 'enrollment form: unknown camera ignored');
      return;
    }
    this.formCamera = value;
    this.retain(formTopics(this.deps.baseTopic).cameraState, value);
  }

  private pressEnroll(): void {
    const label = this.formLabel ?? '';
    const camera = this.formCamera ?? '';
    this.deps.logger.info({ label, camera }, 'Home Assistant: enroll from camera');
    this.deps.enrollFromCamera(label, camera);
  }

  private retain(topic: string, payload: string): void {
    void this.deps.transport.publish(topic, payload, { retain: true, qos: 1 });
  }
}
