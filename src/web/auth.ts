/**
 * Who may use the dashboard, its API and the live view. Browser writes also carry the session's
 * CSRF token in a header, which a cross-site page can neither read nor send without a preflight.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * open: loopback and no password, so only this machine reaches it (Host must be loopback: DNS
 * rebinding); refused: beyond loopback with no password or token (nobody but a trusted proxy).
 */
export type AuthMode = 'open' | 'login' | 'refused';

export type Access =
  | { ok: true; via: 'open' | 'session' | 'token' | 'proxy'; csrf: string | null }
  | { ok: false; status: 401 | 403 | 503; reason: string };

export interface AuthConfig {
  host: string;
  auth: { password: string; token: string; metrics: boolean; trusted_proxies: string[]; session_hours: number };
}

export interface AuthGateOptions {
  config: AuthConfig;
  clock?: () => number;
  /** Failed logins per client address within the window before it must wait. */
  maxFailuresPerClient?: number;
  /** Failed logins from everyone within the window before every login waits. */
  maxFailuresTotal?: number;
  failureWindowMs?: number;
  maxSessions?: number;
}

interface Session {
  id: string;
  csrf: string;
  expires: number;
}

export const SESSION_COOKIE = 'edge_imprint_session';
/** The header a browser's write request carries its CSRF token in. */
export const CSRF_HEADER = 'x-edge-imprint-csrf';
/** Headers a reverse proxy adds: their presence on loopback means someone else is being served. */
const PROXY_HEADERS = ['x-forwarded-for', 'x-forwarded-host', 'x-real-ip', 'forwarded', 'x-ingress-path'];

/** The mode for a configuration. Pure. */
export function authMode(config: AuthConfig): AuthMode {
  const hasSecret = config.auth.password !== '' || tokensOf(config.auth.token).length > 0;
  if (hasSecret) return 'login';
  return isLoopbackAddress(config.host) ? 'open' : 'refused';
}

/** 127.0.0.0/8, ::1, localhost: reachable from this machine only. Pure. */
export function isLoopbackAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true;
  if (h.startsWith('::ffff:')) return isLoopbackAddress(h.slice('::ffff:'.length));
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The host name of a Host header value (`[::1]:8089` → `::1`). Pure. */
export function hostName(hostHeader: string): string {
  const v = hostHeader.trim().toLowerCase();
  if (v.startsWith('[')) return v.slice(1, v.indexOf(']') > 0 ? v.indexOf(']') : undefined);
  return v.replace(/:\d+$/, '');
}

function tokensOf(value: string): string[] {
  return value.split(/\s+/).filter((t) => t !== '');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Constant-time equality of two strings (through their digests, so lengths leak nothing). */
function same(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v) ?? '';
}

export class AuthGate {
  readonly mode: AuthMode;
  private readonly sessions = new Map<string, Session>();
  private readonly failures = new Map<string, number[]>();
  private failuresTotal: number[] = [];
  /** The CSRF token of writes that have no session (open mode, trusted proxies). */
  private readonly processCsrf = randomBytes(24).toString('base64url');
  private readonly passwordDigest: Buffer | null;
  private readonly tokens: string[];
  private readonly clock: () => number;

  constructor(private readonly opts: AuthGateOptions) {
    this.mode = authMode(opts.config);
    this.clock = opts.clock ?? Date.now;
    const { password, token } = opts.config.auth;
    this.passwordDigest = password === '' ? null : digest(password);
    this.tokens = tokensOf(token);
  }

  /** Whether the login form can be used at all (a password is set). */
  get passwordSet(): boolean {
    return this.passwordDigest !== null;
  }

  /** May this request read (pages, API reads, the live view)? */
  check(req: IncomingMessage): Access {
    if (this.fromTrustedProxy(req)) return { ok: true, via: 'proxy', csrf: this.processCsrf };
    if (this.mode === 'open') {
      const host = hostName(header(req, 'host'));
      if (!isLoopbackAddress(host)) {
        return { ok: false, status: 403, reason: `the dashboard answers loopback names only while http.auth has no password (Host "${host}"); set http.auth.password to reach it through a proxy` };
      }
      // A proxy on this machine would open the password-less dashboard to whoever reaches it.
      if (PROXY_HEADERS.some((name) => header(req, name) !== '')) {
        return { ok: false, status: 403, reason: 'this request came through a proxy and the dashboard has no password: set http.auth.password' };
      }
      return { ok: true, via: 'open', csrf: this.processCsrf };
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(header(req, 'authorization'))?.[1];
    if (bearer !== undefined && this.tokens.some((t) => same(t, bearer))) return { ok: true, via: 'token', csrf: null };
    if (this.mode === 'refused') return { ok: false, status: 503, reason: 'no password is set (http.auth.password)' };
    const session = this.session(req);
    if (session) return { ok: true, via: 'session', csrf: session.csrf };
    return { ok: false, status: 401, reason: bearer === undefined ? 'login required' : 'unknown token' };
  }

  /** May this request change something? check(), plus the CSRF defences for browsers. */
  checkWrite(req: IncomingMessage): Access {
    const access = this.check(req);
    if (!access.ok || access.via === 'token') return access;
    if (!this.sameOriginRequest(req)) return { ok: false, status: 403, reason: 'cross-site request refused (Origin does not match)' };
    const sent = header(req, CSRF_HEADER);
    if (access.csrf === null || sent === '' || !same(sent, access.csrf)) {
      return { ok: false, status: 403, reason: `missing or wrong ${CSRF_HEADER} header (reload the page)` };
    }
    return access;
  }

  /** A WebSocket (the live view): check(), and an Origin of this site (browsers always send one). */
  checkUpgrade(req: IncomingMessage): Access {
    const access = this.check(req);
    if (!access.ok || access.via === 'token') return access;
    return this.sameOriginRequest(req) ? access : { ok: false, status: 403, reason: 'cross-site WebSocket refused' };
  }

  /** /metrics: open unless http.auth.metrics asks for the login (and a login exists). */
  metricsAllowed(req: IncomingMessage): boolean {
    if (!this.opts.config.auth.metrics || this.mode === 'open') return true;
    return this.check(req).ok;
  }

  /**
   * A login attempt. Too many failures from one client (or from everyone) within the window
   * make it wait: `retryAfterS` says how long. The password is compared in constant time.
   */
  login(req: IncomingMessage, password: string): { ok: true; sessionId: string; csrf: string; maxAgeS: number } | { ok: false; retryAfterS?: number } {
    const client = this.clientAddress(req);
    const wait = this.waitFor(client);
    if (wait > 0) return { ok: false, retryAfterS: Math.ceil(wait / 1000) };
    if (this.passwordDigest === null || !timingSafeEqual(digest(password), this.passwordDigest)) {
      this.recordFailure(client);
      return { ok: false };
    }
    this.failures.delete(client);
    return { ok: true, ...this.newSession() };
  }

  logout(req: IncomingMessage): void {
    const id = this.cookie(req);
    if (id) this.sessions.delete(id);
  }

  /** The client's address: the socket's, or the forwarded one when a trusted proxy sent it. */
  clientAddress(req: IncomingMessage): string {
    const peer = req.socket.remoteAddress ?? '';
    if (!this.isTrusted(peer)) return peer;
    const forwarded = header(req, 'x-forwarded-for').split(',').map((s) => s.trim()).filter((s) => s !== '');
    return forwarded[forwarded.length - 1] ?? peer;
  }

  private newSession(): { sessionId: string; csrf: string; maxAgeS: number } {
    const maxAgeS = Math.round(this.opts.config.auth.session_hours * 3600);
    const session: Session = { id: randomBytes(32).toString('base64url'), csrf: randomBytes(24).toString('base64url'), expires: this.clock() + maxAgeS * 1000 };
    this.sessions.set(session.id, session);
    const max = this.opts.maxSessions ?? 256;
    for (const id of this.sessions.keys()) {
      if (this.sessions.size <= max) break;
      this.sessions.delete(id); // the oldest first: a Map keeps insertion order
    }
    return { sessionId: session.id, csrf: session.csrf, maxAgeS };
  }

  private session(req: IncomingMessage): Session | null {
    const id = this.cookie(req);
    const session = id ? this.sessions.get(id) : undefined;
    if (!session) return null;
    if (session.expires <= this.clock()) {
      this.sessions.delete(session.id);
      return null;
    }
    return session;
  }

  private cookie(req: IncomingMessage): string | null {
    for (const part of header(req, 'cookie').split(';')) {
      const [name, ...value] = part.trim().split('=');
      if (name === SESSION_COOKIE) return value.join('=');
    }
    return null;
  }

  private fromTrustedProxy(req: IncomingMessage): boolean {
    return this.isTrusted(req.socket.remoteAddress ?? '');
  }

  private isTrusted(address: string): boolean {
    const plain = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
    return this.opts.config.auth.trusted_proxies.includes(plain);
  }

  /**
   * The Origin (or, without one, the Referer) names this site: the Host the browser used,
   * or the one a proxy forwarded. A request with neither comes from no web page.
   */
  sameOriginRequest(req: IncomingMessage): boolean {
    const source = header(req, 'origin') || header(req, 'referer');
    if (source === '') return true;
    let host: string;
    try {
      host = new URL(source).host.toLowerCase();
    } catch {
      return false;
    }
    const allowed = [header(req, 'host'), header(req, 'x-forwarded-host').split(',')[0] ?? ''].map((h) => h.trim().toLowerCase());
    return allowed.some((h) => h !== '' && h === host);
  }

  private waitFor(client: string): number {
    const now = this.clock();
    const window = this.opts.failureWindowMs ?? 60_000;
    const recent = (this.failures.get(client) ?? []).filter((t) => now - t < window);
    this.failuresTotal = this.failuresTotal.filter((t) => now - t < window);
    const perClient = this.opts.maxFailuresPerClient ?? 5;
    const total = this.opts.maxFailuresTotal ?? 30;
    const waits = [recent.length >= perClient ? (recent[0] ?? now) + window - now : 0];
    if (this.failuresTotal.length >= total) waits.push((this.failuresTotal[0] ?? now) + window - now);
    return Math.max(...waits);
  }

  private recordFailure(client: string): void {
    const now = this.clock();
    const window = this.opts.failureWindowMs ?? 60_000;
    const list = (this.failures.get(client) ?? []).filter((t) => now - t < window);
    list.push(now);
    this.failures.set(client, list);
    this.failuresTotal.push(now);
    // Bounded: a flood of addresses must not grow the map without end.
    if (this.failures.size > 10_000) {
      for (const [key, times] of this.failures) if (times.every((t) => now - t >= window)) this.failures.delete(key);
    }
  }
}

/** The session cookie: HttpOnly, SameSite=Strict, Secure behind HTTPS, scoped to the dashboard's path. */
export function sessionCookie(value: string, opts: { path: string; maxAgeS: number; secure: boolean }): string {
  const parts = [`${SESSION_COOKIE}=${value}`, `Path=${opts.path}`, `Max-Age=${opts.maxAgeS}`, 'HttpOnly', 'SameSite=Strict'];
  if (opts.secure) parts.push('Secure');
  return parts.join('; ');
}
