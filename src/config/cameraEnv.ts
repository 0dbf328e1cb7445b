/**
 * Per-camera environment variables: `EDGE_IMPRINT_CAMERAS_<NAME>_<KEY>`, KEY being the
 * camera key path upper-cased with `.` → `_` (URL, FPS, MOTION_ENABLED, SNAPSHOT_QUALITY ...).
 * Names and keys both contain `_`, so a split is chosen in this order: a camera already
 * defined (file or EDGE_IMPRINT_CAMERAS) wins; otherwise the longest KEY that matches.
 */
import type { ConfigIssue } from './issues.js';
import { ENV_PREFIX } from './schema.js';

export const CAMERA_ENV_PREFIX = `${ENV_PREFIX}CAMERAS_`;

export interface CameraEnvOverrides {
  /** camera name → nested object of raw string values, e.g. { motion: { enabled: 'true' } } */
  overrides: Map<string, Record<string, unknown>>;
  issues: ConfigIssue[];
}

interface Split {
  name: string;
  keyPath: string;
}

function candidates(rest: string, keyPaths: readonly string[]): Split[] {
  const out: Split[] = [];
  for (const keyPath of keyPaths) {
    const suffix = `_${keyPath.toUpperCase().replace(/\./g, '_')}`;
    if (rest.length > suffix.length && rest.endsWith(suffix)) {
      out.push({ name: rest.slice(0, -suffix.length).toLowerCase(), keyPath });
    }
  }
  // Longest key first: MOTION_ENABLED before ENABLED.
  return out.sort((a, b) => b.keyPath.length - a.keyPath.length);
}

function setPath(target: Record<string, unknown>, keyPath: string, value: string): void {
  const parts = keyPath.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] ?? keyPath] = value;
}

export function cameraEnvOverrides(
  env: NodeJS.ProcessEnv,
  knownNames: readonly string[],
  keyPaths: readonly string[],
): CameraEnvOverrides {
  const overrides = new Map<string, Record<string, unknown>>();
  const issues: ConfigIssue[] = [];
  const known = new Set(knownNames.map((n) => n.toLowerCase()));
  for (const [variable, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!variable.startsWith(CAMERA_ENV_PREFIX) || value === undefined) continue;
    const found = candidates(variable.slice(CAMERA_ENV_PREFIX.length), keyPaths);
    const chosen = found.find((c) => known.has(c.name)) ?? found[0];
    if (!chosen) {
      const keys = keyPaths.map((k) => k.toUpperCase().replace(/\./g, '_')).join(', ');
      issues.push({ path: variable, message: `not a camera setting: use ${CAMERA_ENV_PREFIX}<NAME>_<KEY>, KEY one of ${keys}` });
      continue;
    }
    const target = overrides.get(chosen.name) ?? {};
    setPath(target, chosen.keyPath, value);
    overrides.set(chosen.name, target);
  }
  return { overrides, issues };
}
