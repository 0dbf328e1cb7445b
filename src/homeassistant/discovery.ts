import { DETECTOR_STATES } from '../detector/state.js';
import {
  availableTopic,
  cameraTopic,
  classStateTopic,
  discoveryTopic,
  eventsTopic,
  stateTopic,
  statsTopic,
  requestTopic,
  unitTopic,
} from '../mqtt/topics.js';
import { unitLabels, type PublishedUnit } from '../mqtt/publisher.js';
import { PROJECT_URL } from '../version.js';
import { cameraUid, component, nodeUid, safeId, type Component, type DeviceDiscovery, type DiscoveryContext, type Platform } from './component.js';
import { enrollForm, lastEnrollmentSensor } from './enrollDiscovery.js';

export { cameraUid, nodeUid, safeId, type Component, type DeviceDiscovery, type DiscoveryContext, type Platform };

/**
 * Pure builders of Home Assistant device-based discovery. Components keep the object id and
 * unique_id they had as per-entity configs in earlier versions, so HA keeps their history.
 */

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

/** The device config topic of the node (`node`) or of a camera (`camera_<id>`). */
export function deviceTopic(ctx: Pick<DiscoveryContext, 'prefix' | 'nodeId'>, deviceKey: string): string {
  return discoveryTopic(ctx.prefix, 'device', nodeUid(ctx.nodeId), deviceKey);
}

/** Where earlier versions published this entity on its own (cleared by the migration). */
export function legacyTopic(ctx: Pick<DiscoveryContext, 'prefix' | 'nodeId'>, component: Component): string {
  return discoveryTopic(ctx.prefix, component.platform, nodeUid(ctx.nodeId), component.key);
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
  components.push(lastEnrollmentSensor(ctx));
  if (ctx.cameras.length > 0) components.push(...enrollForm(ctx));
  return components;
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
  // Capitalised as the camera's own entities are: "Bin label" beside "Label".
  const zoneName = zone === null ? '' : zone.replace(/^./u, (c) => c.toUpperCase());
  const title = (what: string): string => (zone === null ? what : `${zoneName} ${what.toLowerCase()}`);
  const list = [
    component(ctx, 'sensor', `${uid}_label`, {
      name: title('Label'),
      state_topic: unitTopic(base, camera, zone, 'label'),
      json_attributes_topic: unitTopic(base, camera, zone, 'attributes'),
      icon: 'mdi:tag-search',
    }),
    ...unitLabels(unit, ctx.labels).map((label) =>
      component(ctx, 'binary_sensor', `${uid}_class_${safeId(label)}`, {
        name: zone === null ? label : `${zoneName} ${label}`,
        state_topic: classStateTopic(base, camera, label, zone),
        payload_on: 'ON',
        payload_off: 'OFF',
        // Shown as Detected / Clear.
        device_class: 'occupancy',
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

/** States of the Scene sensor, for a user: is the unit's empty scene known yet? */
export const SCENE_STATES = ['learned', 'learning', 'not learned yet'] as const;

/** Diagnostics of the unit's learned empty scene: whether it is learned; its prototypes and the rest as attributes. */
function sceneSensor(ctx: DiscoveryContext, unit: PublishedUnit, uid: string, title: (what: string) => string): Component {
  const key = JSON.stringify(unit.zone === null ? unit.camera : `${unit.camera}/${unit.zone}`);
  const scene = `(value_json.scenes | default({})).get(${key}, {})`;
  return component(ctx, 'sensor', `${uid}_scene`, {
    name: title('Scene'),
    state_topic: stateTopic(ctx.baseTopic),
    value_template:
      `{% set s = ${scene} %}` +
      '{% if s.get("prototypes", 0) > 0 %}learned{% elif s.get("pending_since") %}learning{% else %}not learned yet{% endif %}',
    device_class: 'enum',
    options: [...SCENE_STATES],
    json_attributes_topic: stateTopic(ctx.baseTopic),
    json_attributes_template: `{{ ${scene} | tojson }}`,
    entity_category: 'diagnostic',
    icon: 'mdi:image-filter-hdr',
  });
}

/** "Last detection right" / "wrong" buttons: event/confirm and event/reject requests on the unit's newest event. */
function correctionButtons(ctx: DiscoveryContext, unit: PublishedUnit, uid: string, title: (what: string) => string): Component[] {
  const target = JSON.stringify({ camera: unit.camera, zone: unit.zone });
  return [
    component(ctx, 'button', `${uid}_right`, {
      name: title('Last detection right'),
      command_topic: requestTopic(ctx.baseTopic, 'event/confirm'),
      payload_press: target,
      icon: 'mdi:check-circle',
    }),
    component(ctx, 'button', `${uid}_wrong`, {
      name: title('Last detection wrong'),
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
    // Not the bare camera name: the camera's own integration usually has a device called that.
    name: `edge-imprint ${camera}`,
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
