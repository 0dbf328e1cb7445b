/**
 * The node's enrollment entities: the no-code form (label, camera, a zone select per camera
 * with zones, the button) and the "Last enrollment" sensor. Pure.
 */
import { formTopics, lastEnrollmentTopic } from '../mqtt/topics.js';
import { LAST_ENROLLMENT_STATES } from '../mqtt/lastEnrollment.js';
import { component, nodeUid, safeId, type Component, type DiscoveryContext } from './component.js';

/** The zone select's option for the whole frame (zone names are `[a-z0-9_]`, so no zone takes it). */
export const WHOLE_CAMERA = 'whole camera';

/** Each camera with zones, with its zones in configuration order. */
export function zonesByCamera(ctx: Pick<DiscoveryContext, 'cameras' | 'units'>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const camera of ctx.cameras) {
    const zones = ctx.units.filter((u) => u.camera === camera && u.zone !== null).map((u) => u.zone!);
    if (zones.length > 0) out.set(camera, zones);
  }
  return out;
}

/**
 * Type a label, pick a camera (and, on a camera with zones, its zone), press the button. A select's
 * options are fixed by its config, so each camera with zones gets its own zone select.
 */
export function enrollForm(ctx: DiscoveryContext): Component[] {
  const uid = nodeUid(ctx.nodeId);
  const form = formTopics(ctx.baseTopic);
  const zoneSelects = [...zonesByCamera(ctx)].map(([camera, zones]) =>
    component(ctx, 'select', `${uid}_enroll_zone_${safeId(camera)}`, {
      name: `Enroll zone of ${camera}`,
      command_topic: form.zoneSet(camera),
      state_topic: form.zoneState(camera),
      options: [...zones, WHOLE_CAMERA],
      icon: 'mdi:selection-drag',
    }),
  );
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
    ...zoneSelects,
    component(ctx, 'button', `${uid}_enroll`, {
      name: 'Enroll from camera',
      command_topic: form.enrollPress,
      payload_press: 'PRESS',
      icon: 'mdi:camera-plus',
    }),
  ];
}

/** The latest class/enroll answer, from any source: ok / warning / error, the rest as attributes. */
export function lastEnrollmentSensor(ctx: DiscoveryContext): Component {
  const topic = lastEnrollmentTopic(ctx.baseTopic);
  return component(ctx, 'sensor', `${nodeUid(ctx.nodeId)}_last_enrollment`, {
    name: 'Last enrollment',
    state_topic: topic,
    value_template: '{{ value_json.result }}',
    device_class: 'enum',
    options: [...LAST_ENROLLMENT_STATES],
    json_attributes_topic: topic,
    icon: 'mdi:school',
  });
}
