/**
 * Secrets in the configuration: `*_file` keys resolved into their secret, and every secret
 * string gathered so that no message (config error, log, /health) can show it.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { cameraUrlProblem } from './formats.js';
import type { ConfigIssue } from './issues.js';
import { scrubSecrets, urlSecrets } from './redact.js';
import { ENV_PREFIX, envName, isSecretFile, leaves, mainSchema } from './schema.js';
import { isPlain, type Plain } from './yamlFile.js';

export function getPath(values: Plain, path: string): unknown {
  let node: unknown = values;
  for (const part of path.split('.')) node = isPlain(node) ? node[part] : undefined;
  return node;
}

/** Keys of the main section holding a secret in clear. */
const SECRET_KEYS = ['mqtt.password', 'http.auth.password', 'http.auth.token'];

function setPath(values: Plain, path: string, value: unknown): void {
  const parts = path.split('.');
  let node: unknown = values;
  for (const part of parts.slice(0, -1)) node = isPlain(node) ? node[part] : undefined;
  if (isPlain(node)) node[parts[parts.length - 1] ?? ''] = value;
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

/** Every secret-file key of the main section with the key it stands for (`mqtt.password_file` → `mqtt.password`). */
export function mainSecretFiles(): Array<{ path: string; target: string }> {
  return leaves(mainSchema({ nodeId: 'x' })).flatMap(([path, spec]) => {
    if (!isSecretFile(spec)) return [];
    const parent = path.slice(0, path.lastIndexOf('.') + 1);
    return [{ path, target: parent + spec.secretFileFor }];
  });
}

/** Reads the main section's `*_file` keys and each camera's url_file into the value they stand for. */
export function resolveSecretFiles(main: Plain, cameras: Map<string, Plain>, issues: ConfigIssue[], secrets: Set<string>): void {
  for (const { path, target } of mainSecretFiles()) {
    const file = getPath(main, path);
    if (typeof file !== 'string' || file === '' || getPath(main, target) !== '') continue;
    const secret = readSecretFile(file, path, issues);
    if (secret === null) continue;
    setPath(main, target, secret);
    secrets.add(secret);
    for (const part of secret.split(/\s+/)) if (part !== '') secrets.add(part);
  }
  for (const key of ['ca', 'cert', 'key']) checkReadable(getPath(main, `mqtt.tls.${key}`), `mqtt.tls.${key}`, issues);
  for (const [name, camera] of cameras) {
    // Both set is reported by the camera checks (src/config/load.ts).
    if (camera.url === '') readUrlFile(camera, `cameras.${name}.url_file`, issues, secrets);
    const live = camera.live;
    if (!isPlain(live)) continue;
    if (live.url !== '' && live.url_file !== '') {
      issues.push({ path: `cameras.${name}.live.url_file`, message: 'set either live.url or live.url_file, not both' });
    } else if (live.url === '') readUrlFile(live, `cameras.${name}.live.url_file`, issues, secrets);
  }
}

/** A section's `url_file` read into its `url`, the URL's credentials added to the secrets. */
function readUrlFile(section: Plain, path: string, issues: ConfigIssue[], secrets: Set<string>): void {
  if (typeof section.url_file !== 'string' || section.url_file === '') return;
  const url = readSecretFile(section.url_file, path, issues);
  if (url === null) return;
  const trimmed = url.trim();
  section.url = trimmed;
  for (const s of urlSecrets(url)) secrets.add(s);
  const problem = trimmed === '' ? 'the file is empty' : cameraUrlProblem(trimmed);
  if (problem) issues.push({ path, message: problem, value: section.url_file });
}

/** Every secret string we know of, from the raw file, the environment and the result. */
export function collectSecrets(raw: Plain, main: Plain, cameras: Map<string, Plain>, env: NodeJS.ProcessEnv): Set<string> {
  const secrets = new Set<string>();
  const add = (v: unknown): void => {
    if (typeof v === 'string' && v !== '') secrets.add(v);
    else if (typeof v === 'number') secrets.add(String(v));
  };
  for (const path of SECRET_KEYS) {
    add(getPath(raw, path));
    add(getPath(main, path));
    add(env[envName(path)]);
  }
  // Several bearer tokens share one key: each is a secret of its own.
  for (const value of [getPath(raw, 'http.auth.token'), getPath(main, 'http.auth.token')]) {
    if (typeof value === 'string') for (const token of value.split(/\s+/)) add(token);
  }
  const urls = [getPath(raw, 'mqtt.url'), getPath(main, 'mqtt.url')];
  for (const camera of cameras.values()) urls.push(camera.url, getPath(camera, 'live.url'));
  const rawCameras = raw.cameras;
  if (isPlain(rawCameras)) for (const cam of Object.values(rawCameras)) urls.push(getPath(cam as Plain, 'url'), getPath(cam as Plain, 'live.url'));
  for (const [name, value] of Object.entries(env)) if (name.startsWith(`${ENV_PREFIX}CAMERAS`)) urls.push(value);
  for (const url of urls) if (typeof url === 'string') for (const s of urlSecrets(url)) secrets.add(s);
  return secrets;
}

export function scrubIssue(issue: ConfigIssue, secrets: Set<string>): ConfigIssue {
  const out: ConfigIssue = { path: scrubSecrets(issue.path, secrets), message: scrubSecrets(issue.message, secrets) };
  if (issue.value !== undefined) out.value = scrubSecrets(issue.value, secrets);
  return out;
}
