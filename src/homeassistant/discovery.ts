import { DETECTOR_STATES } from '../detector/state.js';
import { createHash } from 'node:crypto';
import {
  availableTopic,
  cameraTopic,
  classStateTopic,
  discoveryTopic,
  eventsTopic,
  formTopics,
  stateTopic,
  statsTopic,
  requestTopic,
  unitTopic,
} from '../mqtt/topics.js';
import { unitLabels, type PublishedUnit } from '../mqtt/publisher.js';
import { PROJECT_URL } from '../version.js';

/**
 * Pure builders of Home Assistant device-based discovery. Components keep the object id and
 * unique_id they had as per-entity configs in earlier versions, so HA keeps their history.
 */

export interface DiscoveryContext {
  prefix: string;
  baseTopic: string;
  nodeId: string;
  version: string;
  cameras: string[];
  /** Non-background class labels: one binary sensor each, per camera or zone. */
  labels: string[];
  /** Each zone, or each camera without zones (zone null), with the classes it may report. */
  units: PublishedUnit[];
  /** The dashboard's address (the node device's configuration_url), when known. */
  configurationUrl?: string | null;
  /** gallery.sync: the node device gets a diagnostic sensor of the fleet gallery. */
  gallery?: boolean;
}

export type Platform = 'sensor' | 'binary_sensor' | 'image' | 'event' | 'text' | 'select' | 'button';

/** One entity of a device, `key` being its key in `cmps` (and its object id in earlier versions). */
export interface Component {
  key: string;
  platform: Platform;
  uniqueId: string;
  /** The entity's options, without `platform`. */
  options: Record<string, unknown>;
}

export interface DeviceDiscovery {
  topic: string;
  components: Component[];
  /** The retained config (`devicePayload`). */
  payload: Record<string, unknown>;
}

/** Keys Home Assistant requires per platform (its MQTT platform schemas), besides availability. */
export const REQUIRED_KEYS: Record<Platform, string[]> = {
  sensor: ['state_topic'],
  binary_sensor: ['state_topic'],
  image: ['image_topic'],
  event: ['state_topic', 'event_types'],
  text: ['command_topic'],
  select: ['command_topic', 'options'],
  button: ['command_topic'],
};

/** The states of the "Detector state" enum sensor (`detector.state` in `<base>/state`). */

/**
 * A discovery-safe id (`[a-z0-9_]`) for a name; names that had to be altered get a short
 * hash so that e.g. `Cat` and `cat`, or `a b` and `a_b`, stay distinct.
 */
export function safeId(name: string): string {
  const cleaned = name.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  if (cleaned === name && cleaned.length > 0) return cleaned;
  return `${cleaned}_${createHash('sha1').update(name).digest('hex').slice(0, 6)}`;
}

/** The node id segment of discovery topics and the prefix of every unique_id. */
export function nodeUid(nodeId: string): string {
  return `edge_imprint_${safeId(nodeId)}`;
}

export function cameraUid(nodeId: string, camera: string): string {
  return `${nodeUid(nodeId)}_${safeId(camera)}`;
}

/** The device config topic of the node (`node`) or of a camera (`camera_<id>`). */
export function deviceTopic(ctx: Pick<DiscoveryContext, 'prefix' | 'nodeId'>, deviceKey: string): string {
  return discoveryTopic(ctx.prefix, 'device', nodeUid(ctx.nodeId), deviceKey);
}

/** Where earlier versions published this entity on its own (cleared by the migration). */
export function legacyTopic(ctx: Pick<DiscoveryContext, 'prefix' | 'nodeId'>, component: Component): string {
  return discoveryTopic(ctx.prefix, component.platform, nodeUid(ctx.nodeId), component.key);
}

function component(
  ctx: DiscoveryContext,
  platform: Platform,
  uniqueId: string,
  options: Record<string, unknown>,
): Component {
  // The object id earlier versions used: the unique_id without the node prefix.
  const key = uniqueId.slice(nodeUid(ctx.nodeId).length + 1);
  return { key, platform, uniqueId, options: { unique_id: uniqueId, ...options } };
}

function nodeComponents(ctx: DiscoveryContext): Component[] {
  const uid = nodeUid(ctx.nodeId);
  const components = [
    component(ctx, 'sensor', `${uid}_detector`, {
      name: 'Detector',
      state_topic: stateTopic(ctx.baseTopic),
      value_template: '{{ value_json.detector.type }}',
      entity_category: 'diagnostic',
      icon: 'mdi:chip',
    }),
    component(ctx, 'sensor', `${uid}_detector_state`, {
      name: 'Detector state',
      state_topic: stateTopic(ctx.baseTopic),
      value_template: '{{ value_json.detector.state }}',
      device_class: 'enum',
      options: [...DETECTOR_STATES],
      entity_category: 'diagnostic',
      icon: 'mdi:state-machine',
    }),
    component(ctx, 'sensor', `${uid}_inference_time`, {
      name: 'Inference time',
      state_topic: statsTopic(ctx.baseTopic),
      value_template: '{{ value_json.detector.inference_ms }}',
      unit_of_measurement: 'ms',
      device_class: 'duration',
      state_class: 'measurement',
      suggested_display_precision: 1,
      entity_category: 'diagnostic',
    }),
  ];
  if (ctx.gallery) components.push(gallerySensor(ctx));
  if (ctx.cameras.length > 0) components.push(...enrollForm(ctx));
  return components;
}

/** The no-code enrollment form: type a label, pick a camera, press the button. */
function enrollForm(ctx: DiscoveryContext): Component[] {
  const uid = nodeUid(ctx.nodeId);
  const form = formTopics(ctx.baseTopic);
  return [
    component(ctx, 'text', `${uid}_enroll_label`, {
      name: 'Enroll label',
      command_topic: form.labelSet,
      state_topic: form.labelState,
      min: 0,
      max: 64,
      mode: 'text',
      icon: 'mdi:tag-plus',
    }),
    component(ctx, 'select', `${uid}_enroll_camera`, {
      name: 'Enroll camera',
      command_topic: form.cameraSet,
      state_topic: form.cameraState,
      options: ctx.cameras,
      icon: 'mdi:cctv',
    }),
    component(ctx, 'button', `${uid}_enroll`, {
      name: 'Enroll from camera',
      command_topic: form.enrollPress,
      payload_press: 'PRESS',
      icon: 'mdi:camera-plus',
    }),
  ];
}

/** The fleet gallery: how many other nodes this one hears; peers, last sync, classes from peers and ignored messages as attributes. */
function gallerySensor(ctx: DiscoveryContext): Component {
  const gallery = '(value_json.gallery | default({}))';
  return component(ctx, 'sensor', `${nodeUid(ctx.nodeId)}_gallery`, {
    name: 'Gallery peers',
    state_topic: stateTopic(ctx.baseTopic),
    value_template: `{{ ${gallery}.get("peers", []) | count }}`,
    json_attributes_topic: stateTopic(ctx.baseTopic),
    json_attributes_template: `{{ ${gallery} | tojson }}`,
    state_class: 'measurement',
    entity_category: 'diagnostic',
    icon: 'mdi:share-variant',
  });
}

/** The event entity reads the shared `events` topic and keeps only its camera's (or zone's) events. */
export function eventTemplate(camera: string, zone: string | null = null): string {
  const zoneTest = zone === null ? '' : ` and value_json.zone == ${JSON.stringify(zone)}`;
  return (
    `{% if value_json.camera == ${JSON.stringify(camera)}${zoneTest} %}` +
    "{{ {'event_type': value_json.type, 'label': value_json.label, 'score': value_json.score, " +
    "'id': value_json.id, 'start_time': value_json.start_time, 'end_time': value_json.end_time} | to_json }}" +
    '{% endif %}'
  );
}

/** A camera's own entities, then each of its units' (its zones, or its whole frame). */
function cameraComponents(ctx: DiscoveryContext, camera: string): Component[] {
  const uid = cameraUid(ctx.nodeId, camera);
  const base = ctx.baseTopic;
  const units = ctx.units.filter((u) => u.camera === camera);
  const own = [
    component(ctx, 'image', `${uid}_snapshot`, {
      name: 'Snapshot',
      image_topic: cameraTopic(base, camera, 'snapshot'),
      content_type: 'image/jpeg',
    }),
    component(ctx, 'binary_sensor', `${uid}_stream`, {
      name: 'Stream',
      state_topic: cameraTopic(base, camera, 'status'),
      payload_on: 'online',
      payload_off: 'offline',
      device_class: 'connectivity',
      entity_category: 'diagnostic',
    }),
    component(ctx, 'event', `${uid}_detection`, {
      name: 'Detection',
      state_topic: eventsTopic(base),
      event_types: ['start', 'end'],
      value_template: eventTemplate(camera),
      icon: 'mdi:motion-sensor',
    }),
  ];
  return [...own, ...units.flatMap((unit) => unitComponents(ctx, unit))];
}

/**
 * The label, class states (and for a zone its snapshot and events) of one unit. A camera
 * without zones keeps the unique ids of earlier versions; a zone's ids add `_zone_<zone>`.
 */
function unitComponents(ctx: DiscoveryContext, unit: PublishedUnit): Component[] {
  const { camera, zone } = unit;
  const base = ctx.baseTopic;
  const uid = zone === null ? cameraUid(ctx.nodeId, camera) : `${cameraUid(ctx.nodeId, camera)}_zone_${safeId(zone)}`;
  const title = (what: string): string => (zone === null ? what : `${zone} ${what.toLowerCase()}`);
  const list = [
    component(ctx, 'sensor', `${uid}_label`, {
      name: title('Label'),
      state_topic: unitTopic(base, camera, zone, 'label'),
      json_attributes_topic: unitTopic(base, camera, zone, 'attributes'),
      icon: 'mdi:tag-search',
    }),
    ...unitLabels(unit, ctx.labels).map((label) =>
      component(ctx, 'binary_sensor', `${uid}_class_${safeId(label)}`, {
        name: zone === null ? label : `${zone} ${label}`,
        state_topic: classStateTopic(base, camera, label, zone),
        payload_on: 'ON',
        payload_off: 'OFF',
        icon: 'mdi:eye',
      }),
    ),
    ...correctionButtons(ctx, unit, uid, title),
    sceneSensor(ctx, unit, uid, title),
  ];
  if (zone === null) return list;
  list.push(
    component(ctx, 'image', `${uid}_snapshot`, {
      name: title('Snapshot'),
      image_topic: unitTopic(base, camera, zone, 'snapshot'),
      content_type: 'image/jpeg',
    }),
    component(ctx, 'event', `${uid}_detection`, {
      name: title('Detection'),
      state_topic: eventsTopic(base),
      event_types: ['start', 'end'],
      value_template: eventTemplate(camera, zone),
      icon: 'mdi:motion-sensor',
    }),
  );
  return list;
}

/** Diagnostics of the unit's learned empty scene: its prototype count, the rest as attributes. */
function sceneSensor(ctx: DiscoveryContext, unit: PublishedUnit, uid: string, title: (what: string) => string): Component {
  const key = JSON.stringify(unit.zone === null ? unit.camera : `${unit.camera}/${unit.zone}`);
  const scene = `(value_json.scenes | default({})).get(${key}, {})`;
  return component(ctx, 'sensor', `${uid}_scene`, {
    name: title('Scene'),
    state_topic: stateTopic(ctx.baseTopic),
    value_template: `{{ ${scene}.get("prototypes", 0) }}`,
    json_attributes_topic: stateTopic(ctx.baseTopic),
    json_attributes_template: `{{ ${scene} | tojson }}`,
    entity_category: 'diagnostic',
    icon: 'mdi:image-filter-hdr',
  });
}

/** "Right" and "Wrong" buttons: event/confirm and event/reject requests on the unit's newest event. */
function correctionButtons(ctx: DiscoveryContext, unit: PublishedUnit, uid: string, title: (what: string) => string): Component[] {
  const target = JSON.stringify({ camera: unit.camera, zone: unit.zone });
  return [
    component(ctx, 'button', `${uid}_right`, {
      name: title('Right'),
      command_topic: requestTopic(ctx.baseTopic, 'event/confirm'),
      payload_press: target,
      icon: 'mdi:check-circle',
    }),
    component(ctx, 'button', `${uid}_wrong`, {
      name: title('Wrong'),
      command_topic: requestTopic(ctx.baseTopic, 'event/reject'),
      payload_press: target,
      icon: 'mdi:close-circle',
    }),
  ];
}

/** The retained config of one device: shared device, origin and availability, and `cmps`. */
export function devicePayload(
  ctx: DiscoveryContext,
  device: Record<string, unknown>,
  components: Component[],
): Record<string, unknown> {
  const cmps: Record<string, unknown> = {};
  for (const c of components) cmps[c.key] = { p: c.platform, ...c.options };
  return {
    dev: device,
    o: { name: 'edge-imprint', sw: ctx.version, url: PROJECT_URL },
    avty_t: availableTopic(ctx.baseTopic),
    pl_avail: 'online',
    pl_not_avail: 'offline',
    cmps,
  };
}

/** `removed` components listed by their platform only: HA's documented way to remove them from a device. */
export function withRemoved(
  device: DeviceDiscovery,
  removed: Array<Pick<Component, 'key' | 'platform'>>,
): Record<string, unknown> {
  const cmps = { ...(device.payload.cmps as Record<string, unknown>) };
  for (const c of removed) cmps[c.key] = { p: c.platform };
  return { ...device.payload, cmps };
}

function nodeDevice(ctx: DiscoveryContext): DeviceDiscovery {
  const device = {
    ids: [nodeUid(ctx.nodeId)],
    name: `edge-imprint ${ctx.nodeId}`,
    mf: 'edge-imprint',
    mdl: 'edge-imprint agent',
    sw: ctx.version,
    ...(ctx.configurationUrl ? { cu: ctx.configurationUrl } : {}),
  };
  const components = nodeComponents(ctx);
  return { topic: deviceTopic(ctx, 'node'), components, payload: devicePayload(ctx, device, components) };
}

function cameraDevice(ctx: DiscoveryContext, camera: string): DeviceDiscovery {
  const device = {
    ids: [cameraUid(ctx.nodeId, camera)],
    name: camera,
    mf: 'edge-imprint',
    mdl: 'camera',
    via_device: nodeUid(ctx.nodeId),
  };
  const components = cameraComponents(ctx, camera);
  return {
    topic: deviceTopic(ctx, `camera_${safeId(camera)}`),
    components,
    payload: devicePayload(ctx, device, components),
  };
}

/** Every device config the node should have right now: the node first, then each camera. */
export function buildDiscovery(ctx: DiscoveryContext): DeviceDiscovery[] {
  return [nodeDevice(ctx), ...ctx.cameras.map((camera) => cameraDevice(ctx, camera))];
}
