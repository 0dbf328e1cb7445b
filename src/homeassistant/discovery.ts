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
} from '../mqtt/topics.js';

/** Pure builders of Home Assistant MQTT discovery configs. */

export interface DiscoveryContext {
  prefix: string;
  baseTopic: string;
  nodeId: string;
  version: string;
  cameras: string[];
  /** Non-background class labels: one binary sensor each, per camera. */
  labels: string[];
}

export interface DiscoveryEntry {
  component: Component;
  topic: string;
  config: Record<string, unknown>;
}

export type Component = 'sensor' | 'binary_sensor' | 'image' | 'event' | 'text' | 'select' | 'button';

/** Keys Home Assistant requires per component (its MQTT platform schemas), besides availability. */
export const REQUIRED_KEYS: Record<Component, string[]> = {
  sensor: ['state_topic'],
  binary_sensor: ['state_topic'],
  image: ['image_topic'],
  event: ['state_topic', 'event_types'],
  text: ['command_topic'],
  select: ['command_topic', 'options'],
  button: ['command_topic'],
};

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

function nodeDevice(ctx: DiscoveryContext): Record<string, unknown> {
  return {
    identifiers: [nodeUid(ctx.nodeId)],
    name: `edge-imprint ${ctx.nodeId}`,
    manufacturer: 'edge-imprint',
    model: 'edge-imprint agent',
    sw_version: ctx.version,
  };
}

function cameraDevice(ctx: DiscoveryContext, camera: string): Record<string, unknown> {
  return {
    identifiers: [cameraUid(ctx.nodeId, camera)],
    name: camera,
    manufacturer: 'edge-imprint',
    model: 'camera',
    via_device: nodeUid(ctx.nodeId),
  };
}

function entry(
  ctx: DiscoveryContext,
  component: Component,
  uniqueId: string,
  device: Record<string, unknown>,
  config: Record<string, unknown>,
): DiscoveryEntry {
  const objectId = uniqueId.slice(nodeUid(ctx.nodeId).length + 1);
  return {
    component,
    topic: discoveryTopic(ctx.prefix, component, nodeUid(ctx.nodeId), objectId),
    config: {
      unique_id: uniqueId,
      has_entity_name: true,
      availability_topic: availableTopic(ctx.baseTopic),
      payload_available: 'online',
      payload_not_available: 'offline',
      device,
      origin: { name: 'edge-imprint', sw_version: ctx.version },
      ...config,
    },
  };
}

function nodeEntities(ctx: DiscoveryContext): DiscoveryEntry[] {
  const uid = nodeUid(ctx.nodeId);
  const device = nodeDevice(ctx);
  const form = formTopics(ctx.baseTopic);
  const entries = [
    entry(ctx, 'sensor', `${uid}_detector`, device, {
      name: 'Detector',
      state_topic: stateTopic(ctx.baseTopic),
      value_template: '{{ value_json.detector.type }}',
      entity_category: 'diagnostic',
      icon: 'mdi:chip',
    }),
    entry(ctx, 'sensor', `${uid}_inference_time`, device, {
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
  if (ctx.cameras.length === 0) return entries;
  // The no-code enrollment form: type a label, pick a camera, press the button.
  entries.push(
    entry(ctx, 'text', `${uid}_enroll_label`, device, {
      name: 'Enroll label',
      command_topic: form.labelSet,
      state_topic: form.labelState,
      min: 0,
      max: 64,
      mode: 'text',
      icon: 'mdi:tag-plus',
    }),
    entry(ctx, 'select', `${uid}_enroll_camera`, device, {
      name: 'Enroll camera',
      command_topic: form.cameraSet,
      state_topic: form.cameraState,
      options: ctx.cameras,
      icon: 'mdi:cctv',
    }),
    entry(ctx, 'button', `${uid}_enroll`, device, {
      name: 'Enroll from camera',
      command_topic: form.enrollPress,
      payload_press: 'PRESS',
      icon: 'mdi:camera-plus',
    }),
  );
  return entries;
}

/** The event entity reads the shared `events` topic and keeps only its camera's events. */
export function eventTemplate(camera: string): string {
  return (
    `{% if value_json.camera == ${JSON.stringify(camera)} %}` +
    "{{ {'event_type': value_json.type, 'label': value_json.label, 'score': value_json.score, " +
    "'id': value_json.id, 'start_time': value_json.start_time, 'end_time': value_json.end_time} | to_json }}" +
    '{% endif %}'
  );
}

function cameraEntities(ctx: DiscoveryContext, camera: string): DiscoveryEntry[] {
  const uid = cameraUid(ctx.nodeId, camera);
  const device = cameraDevice(ctx, camera);
  const base = ctx.baseTopic;
  return [
    entry(ctx, 'sensor', `${uid}_label`, device, {
      name: 'Label',
      state_topic: cameraTopic(base, camera, 'label'),
      json_attributes_topic: cameraTopic(base, camera, 'attributes'),
      icon: 'mdi:tag-search',
    }),
    entry(ctx, 'image', `${uid}_snapshot`, device, {
      name: 'Snapshot',
      image_topic: cameraTopic(base, camera, 'snapshot'),
      content_type: 'image/jpeg',
    }),
    entry(ctx, 'binary_sensor', `${uid}_stream`, device, {
      name: 'Stream',
      state_topic: cameraTopic(base, camera, 'status'),
      payload_on: 'online',
      payload_off: 'offline',
      device_class: 'connectivity',
      entity_category: 'diagnostic',
    }),
    entry(ctx, 'event', `${uid}_detection`, device, {
      name: 'Detection',
      state_topic: eventsTopic(base),
      event_types: ['start', 'end'],
      value_template: eventTemplate(camera),
      icon: 'mdi:motion-sensor',
    }),
    ...ctx.labels.map((label) =>
      entry(ctx, 'binary_sensor', `${uid}_class_${safeId(label)}`, device, {
        name: label,
        state_topic: classStateTopic(base, camera, label),
        payload_on: 'ON',
        payload_off: 'OFF',
        icon: 'mdi:eye',
      }),
    ),
  ];
}

/** Every discovery config the node should have right now. */
export function buildDiscovery(ctx: DiscoveryContext): DiscoveryEntry[] {
  return [...nodeEntities(ctx), ...ctx.cameras.flatMap((camera) => cameraEntities(ctx, camera))];
}
