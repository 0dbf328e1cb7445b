import { parseDiscoveryTopic } from '../mqtt/topics.js';
import type { DeviceDiscovery } from './discovery.js';

/**
 * From the per-entity configs earlier versions left retained to device-based discovery, by
 * HA's documented steps: `migrate_discovery` keeps each entity's registry entry (id, history).
 */

/** The payload of step 5: HA unloads the entity discovered there and keeps its settings. */
export const MIGRATE_PAYLOAD = JSON.stringify({ migrate_discovery: true });

export interface MigrationPlan {
  /** Per-entity configs of entities that still exist: marker, device configs, then cleared. */
  migrate: string[];
  /** Configs of entities or devices that no longer exist: cleared (HA removes them). */
  remove: string[];
}

function parsed(payload: Buffer): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Home Assistant's migration request, in full or abbreviated (`migr_discvry`). */
export function isMigrateMarker(payload: Buffer): boolean {
  const config = parsed(payload);
  return config.migrate_discovery === true || config.migr_discvry === true;
}

function uniqueIdOf(payload: Buffer): string {
  const config = parsed(payload);
  const id = config.unique_id ?? config.uniq_id;
  return typeof id === 'string' ? id : '';
}

/**
 * What to do with the discovery configs found retained under this node (`found`: topic →
 * payload), given the device configs wanted now. Pure.
 */
export function planMigration(prefix: string, found: Map<string, Buffer>, devices: DeviceDiscovery[]): MigrationPlan {
  const wanted = new Set(devices.map((d) => d.topic));
  const uniqueIds = new Set(devices.flatMap((d) => d.components.map((c) => c.uniqueId)));
  const plan: MigrationPlan = { migrate: [], remove: [] };
  for (const [topic, payload] of found) {
    const where = parseDiscoveryTopic(prefix, topic);
    if (!where || payload.length === 0 || wanted.has(topic)) continue;
    if (where.component === 'device') plan.remove.push(topic);
    // A marker left by an interrupted migration: finish it.
    else if (isMigrateMarker(payload) || uniqueIds.has(uniqueIdOf(payload))) plan.migrate.push(topic);
    else plan.remove.push(topic);
  }
  return plan;
}
