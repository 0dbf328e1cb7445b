/** The shared parts of the discovery builders: the context they read, ids, and one component. Pure. */
import { createHash } from 'node:crypto';
import type { PublishedUnit } from '../mqtt/publisher.js';

/** What every discovery builder reads: the node, its cameras, units and classes. */
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

/** Builds one component; its key in `cmps` is the unique_id without the node prefix. */
export function component(
  ctx: DiscoveryContext,
  platform: Platform,
  uniqueId: string,
  options: Record<string, unknown>,
): Component {
  // The object id earlier versions used: the unique_id without the node prefix.
  const key = uniqueId.slice(nodeUid(ctx.nodeId).length + 1);
  return { key, platform, uniqueId, options: { unique_id: uniqueId, ...options } };
}

