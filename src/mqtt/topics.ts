/**
 * Every MQTT topic the agent uses, built in one place so the contract's topic table and
 * the code cannot drift apart. Pure functions of the base topic (and discovery prefix).
 */

export type CameraLeaf = 'status' | 'label' | 'attributes' | 'snapshot';

export const availableTopic = (base: string): string => `${base}/available`;
export const stateTopic = (base: string): string => `${base}/state`;
export const statsTopic = (base: string): string => `${base}/stats`;
export const classesTopic = (base: string): string => `${base}/classes`;
export const eventsTopic = (base: string): string => `${base}/events`;
/** Retained: the latest class/enroll answer, whoever asked (Home Assistant's "Last enrollment"). */
export const lastEnrollmentTopic = (base: string): string => `${base}/last_enrollment`;

export const cameraTopic = (base: string, camera: string, leaf: CameraLeaf): string =>
  `${base}/${camera}/${leaf}`;

/** `<base>/<camera>/<leaf>`, or `<base>/<camera>/<zone>/<leaf>` for a zone. */
export const unitTopic = (base: string, camera: string, zone: string | null, leaf: CameraLeaf): string =>
  zone === null ? `${base}/${camera}/${leaf}` : `${base}/${camera}/${zone}/${leaf}`;

/** `<base>/<camera>[/<zone>]/<label>`: `ON` / `OFF` for one non-background class. */
export const classStateTopic = (base: string, camera: string, label: string, zone: string | null = null): string =>
  zone === null ? `${base}/${camera}/${label}` : `${base}/${camera}/${zone}/${label}`;

export const requestTopic = (base: string, command: string): string => `${base}/request/${command}`;
export const responseTopic = (base: string, command: string): string => `${base}/response/${command}`;
export const requestFilter = (base: string): string => `${base}/request/#`;

/** The command part of a request topic, or null when the topic is not a request. */
export function commandOf(base: string, topic: string): string | null {
  const prefix = `${base}/request/`;
  return topic.startsWith(prefix) ? topic.slice(prefix.length) : null;
}

/** Topics of the Home Assistant no-code enrollment form (state held by the agent). */
export const formTopics = (base: string) => ({
  labelState: `${base}/enroll_form/label`,
  labelSet: `${base}/enroll_form/label/set`,
  cameraState: `${base}/enroll_form/camera`,
  cameraSet: `${base}/enroll_form/camera/set`,
  enrollPress: `${base}/enroll_form/enroll`,
  /** One zone select per camera with zones: `<base>/enroll_form/zone/<camera>` (and `/set`). */
  zoneState: (camera: string) => `${base}/enroll_form/zone/${camera}`,
  zoneSet: (camera: string) => `${base}/enroll_form/zone/${camera}/set`,
  zoneSetFilter: `${base}/enroll_form/zone/+/set`,
});

export const haStatusTopic = (prefix: string): string => `${prefix}/status`;

/** `<prefix>/<component>/<node id>/<object id>/config`; component `device` now, a platform in earlier versions. */
export const discoveryTopic = (
  prefix: string,
  component: string,
  nodeId: string,
  objectId: string,
): string => `${prefix}/${component}/${nodeId}/${objectId}/config`;

/** Every discovery config topic of one node (device-based and per-entity), to find stale ones. */
export const discoveryFilter = (prefix: string, nodeId: string): string =>
  `${prefix}/+/${nodeId}/+/config`;

/** The component and object id of a topic matched by `discoveryFilter`, or null. */
export function parseDiscoveryTopic(prefix: string, topic: string): { component: string; objectId: string } | null {
  if (!topic.startsWith(`${prefix}/`)) return null;
  const parts = topic.slice(prefix.length + 1).split('/');
  const [component, , objectId, leaf] = parts;
  if (parts.length !== 4 || leaf !== 'config' || !component || !objectId) return null;
  return { component, objectId };
}

/** MQTT wildcard match of a topic against a subscription filter. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const part = f[i];
    if (part === '#') return true;
    if (i >= t.length) return false;
    if (part !== '+' && part !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * The fleet gallery (gallery.topic): each node publishes under its own node id, so an ACL can
 * give it its own subtree; labels are URI-encoded so any label is one safe topic level.
 */
export const galleryFilter = (topic: string): string => `${topic}/#`;
export const galleryManifestTopic = (topic: string, node: string): string => `${topic}/${node}/manifest`;
export const galleryOpsTopic = (topic: string, node: string): string => `${topic}/${node}/ops`;
export const galleryClassTopic = (topic: string, node: string, model: string, label: string): string =>
  `${topic}/${node}/class/${model.slice(0, 16)}/${encodeURIComponent(label)}`;

export type GalleryTopic =
  | { node: string; kind: 'manifest' | 'ops' }
  | { node: string; kind: 'class'; model: string; label: string };

/** What a topic under the gallery topic names, or null when it is none of the gallery's topics. */
export function parseGalleryTopic(topic: string, galleryTopic: string): GalleryTopic | null {
  if (!topic.startsWith(`${galleryTopic}/`)) return null;
  const parts = topic.slice(galleryTopic.length + 1).split('/');
  const [node, kind, model, label] = parts;
  if (!node) return null;
  if ((kind === 'manifest' || kind === 'ops') && parts.length === 2) return { node, kind };
  if (kind !== 'class' || parts.length !== 4 || !model || !label) return null;
  try {
    return { node, kind, model, label: decodeURIComponent(label) };
  } catch {
    return null;
  }
}
