/**
 * Loads the configuration: defaults < YAML file < environment < CLI overrides, then checks
 * it strictly and lists every problem at once (`path: message (value)`), secrets hidden.
 *
 * The schema (src/config/schema.ts) is the one description; convict applies it to the main
 * section and to each entry of a map (cameras). Before convict, a shape pass drops unknown
 * keys with a "did you mean" (src/config/structure.ts); after it, the few rules that tie two
 * keys together.
 */
import { hostname as osHostname } from 'node:os';
import type { AppConfig, CameraConfig } from './types.js';
import { cameraEnvOverrides } from './cameraEnv.js';
import { isFractional, type Roi } from './formats.js';
import { labelProblem } from '../recognition/labels.js';
import { runConvict } from './convictRun.js';
import { ConfigError, formatIssue, type ConfigIssue } from './issues.js';
import {
  ENV_PREFIX,
  NAME_PATTERN,
  RESERVED_CAMERA_NAMES,
  cameraSchema,
  defaultNodeId,
  zoneSchema,
  defaultsOf,
  leaves,
  mainSchema,
  withoutMaps,
  withoutSecretFiles,
  type SchemaNode,
} from './schema.js';
import { collectSecrets, getPath, mainSecretFiles, resolveSecretFiles, scrubIssue } from './secrets.js';
import { checkStructure, showValue } from './structure.js';
import { isPlain, parseYaml, readYamlFile, type Plain } from './yamlFile.js';

export { ConfigError, formatIssue, type ConfigIssue } from './issues.js';

export interface LoadConfigOptions {
  /** YAML file; none means defaults + environment only. */
  file?: string;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** CLI flags; they win over the file and the environment. */
  overrides?: { data_dir?: string; model_dir?: string };
  /** For the default node_id; defaults to os.hostname(). */
  hostname?: string;
}

const CAMERAS_ENV = `${ENV_PREFIX}CAMERAS`;
const MIN_PASSWORD_LENGTH = 8;
const MIN_TOKEN_LENGTH = 16;

/** Every problem as `path: message (value)`; empty when the configuration is valid. */
export function validateConfig(opts: LoadConfigOptions = {}): string[] {
  return inspectConfig(opts).issues.map(formatIssue);
}

/** The validated configuration, or a ConfigError listing every problem. */
export function loadConfig(opts: LoadConfigOptions = {}): AppConfig {
  const { config, issues } = inspectConfig(opts);
  if (!config || issues.length > 0) throw new ConfigError(issues);
  return config;
}

/** A camera with every default and the given URL (e.g. a demo camera built in code). */
export function defaultCameraConfig(url: string): CameraConfig {
  return { ...defaultsOf(cameraSchema()), url };
}

export function inspectConfig(opts: LoadConfigOptions): { config: AppConfig | null; issues: ConfigIssue[] } {
  const env = opts.env ?? process.env;
  const issues: ConfigIssue[] = [];
  const raw = opts.file === undefined ? {} : readYamlFile(opts.file, issues);
  const main = loadMain(raw, env, opts, issues);
  const cameras = loadCameras(raw.cameras, env, issues);
  crossCheck(main, issues);
  const secrets = collectSecrets(raw, main, cameras, env);
  // Always read the secret files: their content must be hidden from every other message too.
  resolveSecretFiles(main, cameras, issues, secrets);
  checkAuth(main, issues);
  const safe = issues.map((i) => scrubIssue(i, secrets));
  return { config: safe.length === 0 ? buildConfig(main, cameras) : null, issues: safe };
}

/** convict over one section (maps excluded), after the shape pass; returns its values. */
function loadSection(schema: SchemaNode, raw: unknown, path: string, env: NodeJS.ProcessEnv, issues: ConfigIssue[], adjust?: (set: (p: string, v: unknown) => void) => void): Plain {
  const prefix = path === '' ? '' : `${path}.`;
  const shaped = checkStructure(schema, raw, path, issues);
  const run = runConvict(withoutMaps(schema), withoutMapValues(schema, shaped), env, prefix, issues);
  adjust?.((p, v) => run.set(p, v));
  run.validate();
  return run.values;
}

function withoutMapValues(schema: SchemaNode, values: Plain): Plain {
  return Object.fromEntries(Object.entries(values).filter(([key]) => !isMapKey(schema, key)));
}

function isMapKey(schema: SchemaNode, key: string): boolean {
  const node = schema[key] as { kind?: unknown } | undefined;
  return node?.kind === 'map';
}

function loadMain(raw: Plain, env: NodeJS.ProcessEnv, opts: LoadConfigOptions, issues: ConfigIssue[]): Plain {
  const schema = mainSchema({ nodeId: defaultNodeId(opts.hostname ?? osHostname()) });
  return loadSection(schema, raw, '', env, issues, (set) => {
    if (opts.overrides?.data_dir !== undefined) set('data_dir', opts.overrides.data_dir);
    if (opts.overrides?.model_dir !== undefined) set('model_dir', opts.overrides.model_dir);
  });
}

// ---------------------------------------------------------------- cameras

function mergeDeep(base: unknown, over: unknown): unknown {
  if (!isPlain(base) || !isPlain(over)) return over === undefined ? base : over;
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = mergeDeep(base[key], value);
  return out;
}

/** File cameras, then EDGE_IMPRINT_CAMERAS (a YAML/JSON map), then per-key variables. */
function gatherCameras(rawCameras: unknown, env: NodeJS.ProcessEnv, issues: ConfigIssue[]): Map<string, unknown> {
  const cameras = new Map<string, unknown>();
  if (isPlain(rawCameras)) for (const [name, cam] of Object.entries(rawCameras)) cameras.set(name, cam);
  else if (rawCameras !== undefined && rawCameras !== null) {
    issues.push({ path: 'cameras', message: 'must be a mapping of camera name to settings', value: showValue(rawCameras) });
  }
  const fromEnv = env[CAMERAS_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    const parsed = parseYaml(fromEnv, CAMERAS_ENV, issues);
    if (isPlain(parsed)) for (const [name, cam] of Object.entries(parsed)) cameras.set(name, mergeDeep(cameras.get(name), cam));
    else if (parsed !== undefined && parsed !== null) issues.push({ path: CAMERAS_ENV, message: 'must be a YAML or JSON mapping of camera name to settings' });
  }
  const keyPaths = leaves(cameraSchema()).map(([path]) => path);
  const perKey = cameraEnvOverrides(env, [...cameras.keys()], keyPaths);
  issues.push(...perKey.issues);
  for (const [name, over] of perKey.overrides) cameras.set(name, mergeDeep(cameras.get(name), over));
  return cameras;
}

function checkCameraName(name: string, issues: ConfigIssue[]): void {
  const path = `cameras.${name}`;
  if (!NAME_PATTERN.test(name)) {
    const hint = name.toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/^_+/, '');
    issues.push({ path, message: `camera names are 1-64 characters of a-z, 0-9 and _, starting with a letter or digit (e.g. "${hint}")` });
  } else if (RESERVED_CAMERA_NAMES.includes(name)) {
    issues.push({ path, message: `is a reserved name (${RESERVED_CAMERA_NAMES.join(', ')})` });
  }
}

function loadCameras(rawCameras: unknown, env: NodeJS.ProcessEnv, issues: ConfigIssue[]): Map<string, Plain> {
  const schema = cameraSchema();
  const out = new Map<string, Plain>();
  for (const [name, raw] of gatherCameras(rawCameras, env, issues)) {
    const path = `cameras.${name}`;
    checkCameraName(name, issues);
    // Camera keys come from EDGE_IMPRINT_CAMERAS_<NAME>_<KEY>, never from the leaves' own variables.
    const values = loadSection(schema, raw, path, {}, issues);
    if (values.url !== '' && values.url_file !== '') {
      issues.push({ path: `${path}.url_file`, message: 'set either url or url_file, not both' });
    } else if (values.enabled === true && values.url === '' && values.url_file === '') {
      issues.push({ path: `${path}.url`, message: 'is required (or url_file) while the camera is enabled' });
    }
    values.zones = loadZones(isPlain(raw) ? raw.zones : undefined, path, issues);
    if (values.roi !== null && Object.keys(values.zones as Plain).length > 0) {
      issues.push({ path: `${path}.roi`, message: 'cannot be combined with zones: zones are regions of the whole frame, give each its own roi' });
    }
    out.set(name, values);
  }
  return out;
}

/** A camera's zones: names by the label rules, each with a region inside the frame. */
function loadZones(raw: unknown, cameraPath: string, issues: ConfigIssue[]): Plain {
  const path = `${cameraPath}.zones`;
  if (raw === undefined || raw === null) return {};
  if (!isPlain(raw)) {
    issues.push({ path, message: 'must be a mapping of zone name to {roi, classes}', value: showValue(raw) });
    return {};
  }
  const zones: Plain = {};
  for (const [name, zoneRaw] of Object.entries(raw)) {
    const zonePath = `${path}.${name}`;
    const problem = labelProblem(name);
    if (problem) issues.push({ path: zonePath, message: `zone names follow the class label rules: ${problem}` });
    const zone = loadSection(zoneSchema(), zoneRaw, zonePath, {}, issues);
    checkZoneRoi(zone.roi as Roi | null, `${zonePath}.roi`, issues);
    zones[name] = zone;
  }
  return zones;
}

function checkZoneRoi(roi: Roi | null, path: string, issues: ConfigIssue[]): void {
  if (roi === null) {
    if (issues.some((i) => i.path === path)) return; // given, but already reported as invalid
    issues.push({ path, message: 'is required: the region {x, y, width, height} in source pixels, or fractions of the frame' });
    return;
  }
  if (!isFractional(roi)) return; // pixel regions are checked against the stream's size when it is known
  const shown = showValue(roi);
  if (roi.x + roi.width > 1 + 1e-9) issues.push({ path, message: 'is outside the frame: x + width must be at most 1 for fractions', value: shown });
  if (roi.y + roi.height > 1 + 1e-9) issues.push({ path, message: 'is outside the frame: y + height must be at most 1 for fractions', value: shown });
}

// ---------------------------------------------------------------- cross checks and result

function crossCheck(main: Plain, issues: ConfigIssue[]): void {
  const window = getPath(main, 'classifier.vote.window');
  const minHits = getPath(main, 'classifier.vote.min_hits');
  if (typeof window === 'number' && typeof minHits === 'number' && minHits > window) {
    issues.push({ path: 'classifier.vote.min_hits', message: `must not exceed classifier.vote.window (${window})`, value: String(minHits) });
  }
  for (const { path, target } of mainSecretFiles()) {
    if (getPath(main, target) !== '' && getPath(main, path) !== '') issues.push({ path, message: `set either ${target} or ${path}, not both` });
  }
  const cert = getPath(main, 'mqtt.tls.cert');
  const key = getPath(main, 'mqtt.tls.key');
  if ((cert === '') !== (key === '')) {
    issues.push({ path: cert === '' ? 'mqtt.tls.cert' : 'mqtt.tls.key', message: 'mqtt.tls.cert and mqtt.tls.key go together' });
  }
  checkGalleryTopic(main, issues);
}

/** The gallery is shared by every node: under one node's base topic it would mix with that node's own topics. */
function checkGalleryTopic(main: Plain, issues: ConfigIssue[]): void {
  const gallery = getPath(main, 'gallery.topic');
  const base = getPath(main, 'mqtt.base_topic');
  if (typeof gallery !== 'string' || typeof base !== 'string') return;
  const inside = (a: string, b: string): boolean => a === b || a.startsWith(`${b}/`);
  if (inside(gallery, base) || inside(base, gallery)) {
    issues.push({ path: 'gallery.topic', message: `must be a topic of its own, apart from mqtt.base_topic ("${base}")`, value: JSON.stringify(gallery) });
  }
}

/** A guessable dashboard password or token is refused (their values are never shown). */
function checkAuth(main: Plain, issues: ConfigIssue[]): void {
  const password = getPath(main, 'http.auth.password');
  if (typeof password === 'string' && password !== '' && password.length < MIN_PASSWORD_LENGTH) {
    issues.push({ path: 'http.auth.password', message: `must be at least ${MIN_PASSWORD_LENGTH} characters` });
  }
  const tokens = getPath(main, 'http.auth.token');
  if (typeof tokens === 'string' && tokens.split(/\s+/).some((t) => t !== '' && t.length < MIN_TOKEN_LENGTH)) {
    issues.push({ path: 'http.auth.token', message: `each token must be at least ${MIN_TOKEN_LENGTH} characters (e.g. openssl rand -hex 24)` });
  }
}

/**
 * The values convict validated against the schema, typed by the schema: this is the one
 * place where checked plain values become AppConfig.
 */
function buildConfig(main: Plain, cameras: Map<string, Plain>): AppConfig {
  const cameraSection = cameraSchema();
  const entries = [...cameras].map(([name, camera]) => [name, withoutSecretFiles(cameraSection, camera)]);
  const mainSection = mainSchema({ nodeId: String(main.node_id) });
  const config = { ...withoutSecretFiles(mainSection, main), cameras: Object.fromEntries(entries) } as AppConfig;
  if (config.mqtt.client_id === '') config.mqtt.client_id = `edge-imprint-${config.node_id}`;
  return config;
}
