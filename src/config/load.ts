/**
 * Loads the configuration: defaults < YAML file < environment < CLI overrides, then checks
 * it strictly and lists every problem at once (`path: message (value)`), secrets hidden.
 *
 * convict supplies the defaults, the environment mapping and the merge. Two things are done
 * here instead: a structural pass before convict sees the file (convict crashes on an object
 * where a value belongs, and only reports problems as one joined string), and the leaf checks
 * (to keep each problem's path and value apart, so secrets can be hidden per key).
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import convict from 'convict';
import { LineCounter, parseDocument } from 'yaml';
import type { AppConfig, CameraConfig } from './types.js';
import { CONVERTERS, VALIDATORS, type FormatName, type LeafSpec } from './formats.js';
import { ConfigError, formatIssue, type ConfigIssue } from './issues.js';
import { cameraEnvOverrides } from './cameraEnv.js';
import { redactUrl, scrubSecrets, urlSecrets } from './redact.js';
import {
  CAMERA_NAME_PATTERN,
  ENV_PREFIX,
  RESERVED_CAMERA_NAMES,
  cameraSchema,
  defaultNodeId,
  defaultsOf,
  isLeaf,
  leaves,
  mainSchema,
  type SchemaNode,
} from './schema.js';

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

type Plain = Record<string, unknown>;

const CAMERAS_ENV = `${ENV_PREFIX}CAMERAS`;

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
  const camera = without(defaultsOf(cameraSchema()), 'url_file');
  return { ...(camera as unknown as CameraConfig), url };
}

export function inspectConfig(opts: LoadConfigOptions): { config: AppConfig | null; issues: ConfigIssue[] } {
  const env = opts.env ?? process.env;
  const issues: ConfigIssue[] = [];
  const raw = opts.file === undefined ? {} : readYamlFile(opts.file, issues);
  const { cameras: rawCameras, ...rest } = raw;
  const main = loadMain(rest, env, opts, issues);
  const cameras = loadCameras(rawCameras, env, issues);
  crossCheck(main, issues);
  const secrets = collectSecrets(raw, main, cameras, env);
  // Always read the secret files: their content must be hidden from every other message too.
  resolveSecretFiles(main, cameras, issues, secrets);
  const safe = issues.map((i) => scrubIssue(i, secrets));
  return { config: safe.length === 0 ? buildConfig(main, cameras) : null, issues: safe };
}

// ---------------------------------------------------------------- reading

function isPlain(x: unknown): x is Plain {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function parseYaml(text: string, where: string, issues: ConfigIssue[]): unknown {
  // prettyErrors off: its context lines would quote the file, secrets included.
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const pos = lineCounter.linePos(err.pos[0]);
      const at = ` line ${pos.line}, column ${pos.col}`;
      issues.push({ path: `${where}${at}`, message: `YAML: ${err.message}` });
    }
    return undefined;
  }
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (err) {
    issues.push({ path: where, message: `YAML: ${err instanceof Error ? err.message : String(err)}` });
    return undefined;
  }
}

function readYamlFile(file: string, issues: ConfigIssue[]): Plain {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    issues.push({ path: file, message: `cannot read the config file (${code})` });
    return {};
  }
  const parsed = parseYaml(text, file, issues);
  if (parsed === undefined || parsed === null) return {};
  if (!isPlain(parsed)) {
    issues.push({ path: file, message: 'must be a YAML mapping of keys (see config/config.example.yaml)' });
    return {};
  }
  return parsed;
}

// ---------------------------------------------------------------- checking

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

function unknownKeyMessage(key: string, known: string[]): string {
  const near = known.filter((k) => editDistance(k, key) <= 2 || k.startsWith(key) || key.startsWith(k));
  return near.length > 0 ? `unknown key (did you mean ${near.join(' or ')}?)` : `unknown key (known: ${known.join(', ')})`;
}

function showValue(value: unknown, spec?: LeafSpec): string | undefined {
  // A URL key given a mapping or list (`{user, password}`) may hold a secret in any field.
  if (spec?.sensitive || (spec?.redactUrl && typeof value !== 'string')) return undefined;
  const text = JSON.stringify(value) ?? String(value);
  const short = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  const shown = redactUrl(short);
  // A URL-like value that is not quite a URL may still carry `user:password@`.
  return spec?.redactUrl && shown.includes('@') ? shown.replace(/^.*@/, '"***@') : shown;
}

/**
 * Keeps only known keys with the right shape, reporting the rest. A leaf given a mapping is
 * reported here (convict would crash on it); `null` means "use the default", as YAML writes
 * an empty value.
 */
function checkStructure(node: SchemaNode, raw: unknown, path: string, issues: ConfigIssue[]): Plain {
  if (raw === undefined || raw === null) return {};
  if (!isPlain(raw)) {
    issues.push({ path, message: 'must be a mapping of keys', value: showValue(raw) });
    return {};
  }
  const out: Plain = {};
  for (const [key, value] of Object.entries(raw)) {
    const childPath = path === '' ? key : `${path}.${key}`;
    const spec = Object.hasOwn(node, key) ? node[key] : undefined;
    if (!spec) {
      issues.push({ path: childPath, message: unknownKeyMessage(key, Object.keys(node)) });
    } else if (!isLeaf(spec)) {
      out[key] = checkStructure(spec, value, childPath, issues);
    } else if (value === null || value === undefined) {
      continue;
    } else if (isPlain(value)) {
      const problem = leafProblem(spec, value);
      if (problem) issues.push({ path: childPath, message: problem, value: showValue(value, spec) });
      else out[key] = value;
    } else {
      out[key] = value;
    }
  }
  return out;
}

function leafProblem(spec: LeafSpec, value: unknown): string | null {
  try {
    VALIDATORS[spec.format](value, spec);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function getPath(values: Plain, path: string): unknown {
  let node: unknown = values;
  for (const part of path.split('.')) node = isPlain(node) ? node[part] : undefined;
  return node;
}

function checkLeaves(schema: SchemaNode, values: Plain, prefix: string, env: NodeJS.ProcessEnv, issues: ConfigIssue[]): void {
  for (const [path, spec] of leaves(schema)) {
    const value = getPath(values, path);
    const problem = leafProblem(spec, value);
    if (problem === null) continue;
    const fromEnv = spec.env !== undefined && env[spec.env] !== undefined ? `, set by ${spec.env}` : '';
    issues.push({ path: prefix + path, message: problem + fromEnv, value: showValue(value, spec) });
  }
}

// ---------------------------------------------------------------- convict

let formatsRegistered = false;

/** convict keeps formats in module state; registering ours is idempotent. */
function registerFormats(): void {
  if (formatsRegistered) return;
  for (const [name, validate] of Object.entries(VALIDATORS)) {
    convict.addFormat({
      name,
      validate: (x: unknown, schema: unknown) => validate(x, schema as LeafSpec),
      coerce: (x: unknown) => (typeof x === 'string' ? CONVERTERS[name as FormatName](x) : x),
    });
  }
  formatsRegistered = true;
}

function toConvict(node: SchemaNode): Plain {
  const out: Plain = {};
  for (const [key, child] of Object.entries(node)) {
    out[key] = isLeaf(child) ? { ...child, nullable: child.format === 'ei_roi' } : toConvict(child);
  }
  return out;
}

function runConvict(schema: SchemaNode, values: Plain, env: NodeJS.ProcessEnv): convict.Config<Plain> {
  registerFormats();
  const conf = convict<Plain>(toConvict(schema) as convict.Schema<Plain>, { env, args: [] });
  conf.load(values);
  return conf;
}

/** convict's own strict check, after ours: anything it still finds is reported too. */
function convictCheck(conf: convict.Config<Plain>, path: string, issues: ConfigIssue[]): void {
  try {
    conf.validate({ allowed: 'strict' });
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    for (const line of text.split('\n')) issues.push({ path, message: redactUrl(line) });
  }
}

function loadMain(rest: Plain, env: NodeJS.ProcessEnv, opts: LoadConfigOptions, issues: ConfigIssue[]): Plain {
  const schema = mainSchema({ nodeId: defaultNodeId(opts.hostname ?? osHostname()) });
  const before = issues.length;
  const conf = runConvict(schema, checkStructure(schema, rest, '', issues), env);
  if (opts.overrides?.data_dir !== undefined) conf.set('data_dir', opts.overrides.data_dir);
  if (opts.overrides?.model_dir !== undefined) conf.set('model_dir', opts.overrides.model_dir);
  const values = conf.getProperties();
  checkLeaves(schema, values, '', env, issues);
  if (issues.length === before) convictCheck(conf, 'config', issues);
  return values;
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
  if (!CAMERA_NAME_PATTERN.test(name)) {
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
    const before = issues.length;
    const conf = runConvict(schema, checkStructure(schema, raw, path, issues), {});
    const values = conf.getProperties();
    checkLeaves(schema, values, `${path}.`, {}, issues);
    if (values.url !== '' && values.url_file !== '') {
      issues.push({ path: `${path}.url_file`, message: 'set either url or url_file, not both' });
    } else if (values.enabled === true && values.url === '' && values.url_file === '') {
      issues.push({ path: `${path}.url`, message: 'is required (or url_file) while the camera is enabled' });
    }
    if (issues.length === before) convictCheck(conf, path, issues);
    out.set(name, values);
  }
  return out;
}

// ---------------------------------------------------------------- cross checks and secrets

function crossCheck(main: Plain, issues: ConfigIssue[]): void {
  const window = getPath(main, 'classifier.vote.window');
  const minHits = getPath(main, 'classifier.vote.min_hits');
  if (typeof window === 'number' && typeof minHits === 'number' && minHits > window) {
    issues.push({ path: 'classifier.vote.min_hits', message: `must not exceed classifier.vote.window (${window})`, value: String(minHits) });
  }
  if (getPath(main, 'mqtt.password') !== '' && getPath(main, 'mqtt.password_file') !== '') {
    issues.push({ path: 'mqtt.password_file', message: 'set either mqtt.password or mqtt.password_file, not both' });
  }
  const cert = getPath(main, 'mqtt.tls.cert');
  const key = getPath(main, 'mqtt.tls.key');
  if ((cert === '') !== (key === '')) {
    issues.push({ path: cert === '' ? 'mqtt.tls.cert' : 'mqtt.tls.key', message: 'mqtt.tls.cert and mqtt.tls.key go together' });
  }
}

function readSecretFile(file: string, path: string, issues: ConfigIssue[]): string | null {
  try {
    // One trailing newline is what `echo secret > file` leaves; it is not part of the secret.
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    issues.push({ path, message: `cannot read the file (${code})`, value: file });
    return null;
  }
}

function checkReadable(file: unknown, path: string, issues: ConfigIssue[]): void {
  if (typeof file !== 'string' || file === '') return;
  try {
    accessSync(file, constants.R_OK);
  } catch (err) {
    issues.push({ path, message: `cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, value: file });
  }
}

function resolveSecretFiles(main: Plain, cameras: Map<string, Plain>, issues: ConfigIssue[], secrets: Set<string>): void {
  const mqtt = main.mqtt as Plain;
  if (typeof mqtt.password_file === 'string' && mqtt.password_file !== '' && mqtt.password === '') {
    const password = readSecretFile(mqtt.password_file, 'mqtt.password_file', issues);
    if (password !== null) {
      mqtt.password = password;
      secrets.add(password);
    }
  }
  for (const key of ['ca', 'cert', 'key']) checkReadable(getPath(main, `mqtt.tls.${key}`), `mqtt.tls.${key}`, issues);
  for (const [name, camera] of cameras) {
    if (typeof camera.url_file !== 'string' || camera.url_file === '' || camera.url !== '') continue;
    const url = readSecretFile(camera.url_file, `cameras.${name}.url_file`, issues);
    if (url === null) continue;
    camera.url = url.trim();
    for (const s of urlSecrets(url)) secrets.add(s);
    if (camera.url === '') issues.push({ path: `cameras.${name}.url_file`, message: 'the file is empty', value: camera.url_file });
  }
}

/** Every secret string we know of, from the raw file, the environment and the result. */
function collectSecrets(raw: Plain, main: Plain, cameras: Map<string, Plain>, env: NodeJS.ProcessEnv): Set<string> {
  const secrets = new Set<string>();
  const add = (v: unknown): void => {
    if (typeof v === 'string' && v !== '') secrets.add(v);
    else if (typeof v === 'number') secrets.add(String(v));
  };
  add(getPath(raw, 'mqtt.password'));
  add(getPath(main, 'mqtt.password'));
  add(env[`${ENV_PREFIX}MQTT_PASSWORD`]);
  const urls = [getPath(raw, 'mqtt.url'), getPath(main, 'mqtt.url'), ...[...cameras.values()].map((c) => c.url)];
  const rawCameras = raw.cameras;
  if (isPlain(rawCameras)) for (const cam of Object.values(rawCameras)) urls.push(getPath(cam as Plain, 'url'));
  for (const [name, value] of Object.entries(env)) if (name.startsWith(`${ENV_PREFIX}CAMERAS`)) urls.push(value);
  for (const url of urls) if (typeof url === 'string') for (const s of urlSecrets(url)) secrets.add(s);
  return secrets;
}

function scrubIssue(issue: ConfigIssue, secrets: Set<string>): ConfigIssue {
  const out: ConfigIssue = { path: scrubSecrets(issue.path, secrets), message: scrubSecrets(issue.message, secrets) };
  if (issue.value !== undefined) out.value = scrubSecrets(issue.value, secrets);
  return out;
}

// ---------------------------------------------------------------- result

/** The `*_file` keys are resolved into their secret and not part of AppConfig. */
function without(values: Plain, key: string): Plain {
  return Object.fromEntries(Object.entries(values).filter(([k]) => k !== key));
}

function buildConfig(main: Plain, cameras: Map<string, Plain>): AppConfig {
  const mqtt = without(main.mqtt as Plain, 'password_file');
  if (mqtt.client_id === '') mqtt.client_id = `edge-imprint-${String(main.node_id)}`;
  const cameraEntries = [...cameras].map(([name, camera]) => [name, without(camera, 'url_file')] as const);
  return { ...main, mqtt, cameras: Object.fromEntries(cameraEntries) } as unknown as AppConfig;
}
