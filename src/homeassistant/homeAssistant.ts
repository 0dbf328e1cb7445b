import { setTimeout as sleep } from 'node:timers/promises';
import type { IPublishPacket } from 'mqtt';
import type { Logger } from 'pino';
import type { EventBus } from '../eventBus.js';
import type { ClassInfo } from '../recognition/types.js';
import type { MqttTransport } from '../mqtt/transport.js';
import { stateLabels, type PublishedUnit } from '../mqtt/publisher.js';
import { availableTopic, discoveryFilter, formTopics, haStatusTopic } from '../mqtt/topics.js';
import { buildDiscovery, nodeUid, withRemoved, type Component, type DeviceDiscovery } from './discovery.js';
import { isMigrateMarker, MIGRATE_PAYLOAD, planMigration, retainedComponents } from './migration.js';
import { MAX_LABEL_LENGTH } from '../recognition/labels.js';
import { WHOLE_CAMERA, zonesByCamera } from './enrollDiscovery.js';

export interface HomeAssistantDeps {
  transport: MqttTransport;
  bus: EventBus;
  baseTopic: string;
  /** Discovery prefix (`mqtt.discovery.prefix`, usually `homeassistant`). */
  prefix: string;
  nodeId: string;
  version: string;
  cameras: () => string[];
  /** Each zone, or each camera without zones, with the classes it may report. */
  units: () => PublishedUnit[];
  listClasses: () => ClassInfo[];
  /** The "Enroll from camera" button (zone null: the whole frame); answers on `<base>/response/class/enroll`. */
  enrollFromCamera: (label: string, camera: string, zone: string | null) => void;
  logger: Logger;
  /** The dashboard's address: the node device's "Visit" link (configuration_url). */
  configurationUrl?: string | null;
  /** gallery.sync: a diagnostic gallery sensor on the node device. */
  gallery?: boolean;
  /** Pause between migration steps, so Home Assistant has handled one before the next. */
  stepPauseMs?: number;
  /** Longest wait for the retained discovery configs after the first connect. */
  scanTimeoutMs?: number;
}

/**
 * scanning: collecting the discovery configs retained under this node (first connect);
 * migrating: Home Assistant's migration steps; ready: announcing changes; stopped.
 */
type Phase = 'scanning' | 'migrating' | 'ready' | 'stopped';

interface Announced {
  json: string;
  components: Array<Pick<Component, 'key' | 'platform'>>;
}

/** How long later-found stray configs are collected before they are dealt with together. */
const STRAY_BATCH_MS = 300;

/**
 * Home Assistant MQTT discovery, device-based (node and cameras). It scans before the first
 * announce because earlier versions left per-entity configs retained that must be migrated.
 */
export class HomeAssistant {
  private phase: Phase = 'scanning';
  private readonly offs: Array<() => void> = [];
  /** Device config topic → what was last announced there. */
  private announced = new Map<string, Announced>();
  /** Discovery configs retained under this node: found while scanning, or strays found later. */
  private found = new Map<string, Buffer>();
  private readonly strays = new Map<string, Buffer>();
  private scanTimer: NodeJS.Timeout | null = null;
  private strayTimer: NodeJS.Timeout | null = null;
  private readonly abort = new AbortController();
  private formLabel: string | null = null;
  private formCamera: string | null = null;
  /** Camera → the zone in its zone select (or WHOLE_CAMERA): chosen by the user, or as the previous run left it. */
  private readonly formZones = new Map<string, string>();
  /** Cameras whose zone the user chose in this run: the previous run's state no longer applies. */
  private readonly zonesChosen = new Set<string>();

  constructor(private readonly deps: HomeAssistantDeps) {}

  async start(): Promise<void> {
    const { transport, bus, baseTopic, prefix } = this.deps;
    const form = formTopics(baseTopic);
    this.offs.push(
      bus.on('classesChanged', () => {
        if (this.phase === 'ready') this.announce();
      }),
      transport.onConnect(() => this.armScanTimeout()),
    );
    const subs = await Promise.all([
      transport.subscribe(haStatusTopic(prefix), (_t, payload) => {
        if (payload.toString() === 'online') this.onBirth();
      }),
      transport.subscribe(discoveryFilter(prefix, nodeUid(this.deps.nodeId)), (topic, payload) =>
        this.onRetainedConfig(topic, payload),
      ),
      // Our own `online`, published after every subscription of this connection was made:
      // the broker delivers it after the retained configs those subscriptions brought.
      transport.subscribe(availableTopic(baseTopic), (_t, payload, packet) => this.onAvailable(payload, packet)),
      transport.subscribe(form.labelSet, (_t, payload) => this.setLabel(payload.toString('utf8'))),
      transport.subscribe(form.cameraSet, (_t, payload) => this.setCamera(payload.toString('utf8'))),
      // A retained press would enroll again at every restart: only live presses count.
      transport.subscribe(form.enrollPress, (_t, _p, packet) => packet.retain || this.pressEnroll(), { retainAsPublished: true }),
      // Recover the form as the previous run left it.
      transport.subscribe(form.labelState, (_t, payload) => {
        if (this.formLabel === null && payload.length > 0) this.formLabel = payload.toString('utf8');
      }),
      transport.subscribe(form.cameraState, (_t, payload) => {
        if (this.formCamera === null && payload.length > 0) this.setCamera(payload.toString('utf8'));
      }),
      transport.subscribe(form.zoneSetFilter, (topic, payload) => this.setZone(topic, payload.toString('utf8'), true)),
      transport.subscribe(form.zoneState('+'), (topic, payload) => this.setZone(topic, payload.toString('utf8'), false)),
    ]);
    this.offs.push(...subs);
    if (transport.connected) this.armScanTimeout();
    const first = this.deps.cameras()[0];
    if (this.formCamera === null && first !== undefined) this.setCamera(first);
  }

  async stop(): Promise<void> {
    this.phase = 'stopped';
    this.abort.abort();
    for (const timer of [this.scanTimer, this.strayTimer]) if (timer) clearTimeout(timer);
    for (const off of this.offs.splice(0)) off();
  }

  /** A component gone from a device is first sent with its platform only: that is how HA removes it. */
  announce(force = false): void {
    const devices = this.devices();
    const next = new Map<string, Announced>();
    let published = 0;
    for (const device of devices) {
      const json = JSON.stringify(device.payload);
      const before = this.announced.get(device.topic);
      const keys = new Set(device.components.map((c) => c.key));
      const removed = before?.components.filter((c) => !keys.has(c.key)) ?? [];
      if (removed.length > 0) this.retain(device.topic, JSON.stringify(withRemoved(device, removed)));
      if (force || removed.length > 0 || before?.json !== json) {
        this.retain(device.topic, json);
        published++;
      }
      next.set(device.topic, { json, components: device.components.map(({ key, platform }) => ({ key, platform })) });
    }
    for (const topic of this.announced.keys()) {
      if (!next.has(topic)) this.retain(topic, '');
    }
    this.announced = next;
    this.deps.logger.debug({ devices: next.size, published }, 'Home Assistant discovery announced');
  }

  private devices(): DeviceDiscovery[] {
    return buildDiscovery({
      prefix: this.deps.prefix,
      baseTopic: this.deps.baseTopic,
      nodeId: this.deps.nodeId,
      version: this.deps.version,
      cameras: this.deps.cameras(),
      labels: stateLabels(this.deps.listClasses()),
      units: this.deps.units(),
      configurationUrl: this.deps.configurationUrl ?? null,
      gallery: this.deps.gallery ?? false,
    });
  }

  private armScanTimeout(): void {
    if (this.phase !== 'scanning' || this.scanTimer) return;
    this.scanTimer = setTimeout(() => this.endScan(), this.deps.scanTimeoutMs ?? 3000);
  }

  private onAvailable(payload: Buffer, packet: IPublishPacket): void {
    if (!packet.retain && payload.toString() === 'online') this.endScan();
  }

  private endScan(): void {
    if (this.phase !== 'scanning') return;
    if (this.scanTimer) clearTimeout(this.scanTimer);
    this.phase = 'migrating';
    const found = this.found;
    this.found = new Map();
    void this.migrate(found, true).finally(() => this.settle());
  }

  /** Back to ready: announce a class change made meanwhile, deal with strays that came in. */
  private settle(): void {
    if (this.phase !== 'migrating') return;
    this.phase = 'ready';
    this.announce();
    this.publishZones();
    if (this.strays.size > 0) this.scheduleStrays();
  }

  /** Home Assistant's documented migration order, so entity ids and history survive the move. */
  private async migrate(found: Map<string, Buffer>, initial: boolean): Promise<void> {
    const plan = planMigration(this.deps.prefix, found, this.devices());
    const { logger } = this.deps;
    if (plan.migrate.length > 0) {
      logger.info({ entities: plan.migrate.length }, 'Home Assistant: migrating per-entity discovery to device-based discovery');
      for (const topic of plan.migrate) this.retain(topic, MIGRATE_PAYLOAD);
      if (!(await this.pause())) return;
    }
    if (initial) this.recallAnnounced(found);
    if (initial || plan.migrate.length > 0) this.announce(true);
    if (plan.migrate.length + plan.remove.length === 0) return;
    if (plan.migrate.length > 0 && !(await this.pause())) return;
    for (const topic of [...plan.migrate, ...plan.remove]) this.retain(topic, '');
    if (plan.remove.length > 0) logger.info({ topics: plan.remove }, 'removed stale Home Assistant discovery configs');
    if (plan.migrate.length > 0) logger.info('Home Assistant: migration to device-based discovery done');
  }

  /**
   * The device configs an earlier run left retained count as announced: a component gone
   * since (a camera given zones, a class removed while stopped) gets HA's removal marker.
   */
  private recallAnnounced(found: Map<string, Buffer>): void {
    const wanted = new Set(this.devices().map((d) => d.topic));
    for (const [topic, payload] of found) {
      if (wanted.has(topic) && !this.announced.has(topic)) this.announced.set(topic, { json: payload.toString('utf8'), components: retainedComponents(payload) });
    }
  }

  /** False when stopped meanwhile: the remaining steps are left for the next start. */
  private async pause(): Promise<boolean> {
    try {
      await sleep(this.deps.stepPauseMs ?? 1000, undefined, { signal: this.abort.signal });
      return true;
    } catch {
      return false;
    }
  }

  private onRetainedConfig(topic: string, payload: Buffer): void {
    if (payload.length === 0) return;
    if (this.phase === 'scanning') {
      this.found.set(topic, payload);
      return;
    }
    // Our own device configs and migration markers come back to us; anything else is a stray.
    if (this.announced.has(topic) || isMigrateMarker(payload) || this.phase === 'stopped') return;
    this.strays.set(topic, payload);
    if (this.phase === 'ready') this.scheduleStrays();
  }

  private scheduleStrays(): void {
    if (this.strayTimer) return;
    this.strayTimer = setTimeout(() => {
      this.strayTimer = null;
      if (this.phase !== 'ready') return;
      const strays = new Map(this.strays);
      this.strays.clear();
      this.phase = 'migrating';
      void this.migrate(strays, false).finally(() => this.settle());
    }, STRAY_BATCH_MS);
  }

  private onBirth(): void {
    if (this.phase !== 'ready') return; // the announce at the end of the migration covers it
    this.deps.logger.info('Home Assistant came online; re-announcing discovery');
    this.announce(true);
    const form = formTopics(this.deps.baseTopic);
    if (this.formLabel !== null) this.retain(form.labelState, this.formLabel);
    if (this.formCamera !== null) this.retain(form.cameraState, this.formCamera);
    this.publishZones();
  }

  /** Each camera with zones: its zone select's choice, the first zone until one is chosen. */
  private zoneChoices(): Map<string, string> {
    const choices = new Map<string, string>();
    for (const [camera, zones] of zonesByCamera({ cameras: this.deps.cameras(), units: this.deps.units() })) {
      const chosen = this.formZones.get(camera);
      choices.set(camera, chosen !== undefined && (chosen === WHOLE_CAMERA || zones.includes(chosen)) ? chosen : zones[0]!);
    }
    return choices;
  }

  private publishZones(): void {
    const form = formTopics(this.deps.baseTopic);
    for (const [camera, zone] of this.zoneChoices()) this.retain(form.zoneState(camera), zone);
  }

  /**
   * A zone select set by the user (`/set`), or its state as the previous run left it (recovered
   * unless the user chose meanwhile). Unknown cameras or zones are ignored with a warning.
   */
  private setZone(topic: string, value: string, chosen: boolean): void {
    const form = formTopics(this.deps.baseTopic);
    const camera = topic.slice(form.zoneState('').length).replace(/\/set$/, '');
    const zones = zonesByCamera({ cameras: this.deps.cameras(), units: this.deps.units() }).get(camera);
    if (!zones || !(value === WHOLE_CAMERA || zones.includes(value))) {
      if (chosen) this.deps.logger.warn({ camera, zone: value }, 'enrollment form: unknown camera or zone ignored');
      return;
    }
    if (!chosen && this.zonesChosen.has(camera)) return;
    if (chosen) this.zonesChosen.add(camera);
    this.formZones.set(camera, value);
    if (chosen) this.retain(form.zoneState(camera), value);
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
    const choice = this.zoneChoices().get(camera);
    const zone = choice === undefined || choice === WHOLE_CAMERA ? null : choice;
    this.deps.logger.info({ label, camera, zone }, 'Home Assistant: enroll from camera');
    this.deps.enrollFromCamera(label, camera, zone);
  }

  private retain(topic: string, payload: string): void {
    void this.deps.transport.publish(topic, payload, { retain: true, qos: 1 });
  }
}
