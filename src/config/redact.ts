/**
 * Hiding secrets in text that users will see (error lists, logs, /health). Pure functions.
 */
import type { AppConfig } from './types.js';

// Greedy up to the last `@` before the path, so an unescaped `@` in a password is still hidden.
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^/\s]*@/gi;
/** Secrets some cameras take in the query string (`?user=a&password=b`). */
const QUERY_SECRET = /((?:password|passwd|pwd|pass|token|auth)=)[^&\s]+/gi;

/** `rtsp://admin:pw@cam/stream` → `rtsp://***@cam/stream`; text without credentials is unchanged. */
export function redactUrl(text: string): string {
  return text.replace(URL_USERINFO, '$1***:***@').replace(QUERY_SECRET, '$1***');
}

/**
 * The passwords inside a URL's userinfo, raw and percent-decoded. A user name is not a
 * secret (hiding every "admin" would garble messages); userinfo without `:` may be a token
 * and counts as one.
 */
export function urlSecrets(url: string): string[] {
  const found: string[] = [];
  for (const match of url.matchAll(/[a-z][a-z0-9+.-]*:\/\/([^/\s]*)@/gi)) {
    const userinfo = match[1] ?? '';
    const colon = userinfo.indexOf(':');
    const secret = colon < 0 ? userinfo : userinfo.slice(colon + 1);
    if (secret === '') continue;
    found.push(secret);
    try {
      found.push(decodeURIComponent(secret));
    } catch {
      // a malformed escape: the raw form is already listed
    }
  }
  return found;
}

/**
 * Replaces every occurrence of each secret by `***`. Very short secrets are skipped: hiding
 * every `a` in a message would make it unreadable and protects nothing.
 */
export function scrubSecrets(text: string, secrets: Iterable<string>): string {
  let out = redactUrl(text);
  const sorted = [...new Set(secrets)].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
  for (const secret of sorted) out = out.split(secret).join('***');
  return out;
}

/** Every secret a loaded configuration holds: the MQTT and dashboard passwords, tokens, URL credentials. */
export function configSecrets(config: AppConfig): string[] {
  const out = config.mqtt.password === '' ? [] : [config.mqtt.password];
  const { auth } = config.http;
  out.push(auth.password, auth.token, ...auth.token.split(/\s+/));
  out.push(...urlSecrets(config.mqtt.url));
  for (const camera of Object.values(config.cameras)) out.push(...urlSecrets(camera.url), ...urlSecrets(camera.live.url));
  return out.filter((s) => s !== '');
}
