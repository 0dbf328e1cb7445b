/**
 * The dashboard: page, login, and a JSON API over the commands MQTT runs, through the same
 * lanes, so a browser can never do more, or jump a queue, than an MQTT client.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { parseJson } from '../../commands/json.js';
import type { Job, Outcome } from '../../commands/lanes.js';
import { buildResponse } from '../../commands/response.js';
import { AppError, errorMessage } from '../../errors.js';
import type { EventBus } from '../../eventBus.js';
import { enrollRequestOf } from '../../mqtt/lastEnrollment.js';
import type { ClassInfo, ShotInfo } from '../../recognition/types.js';
import type { EventInfo } from '../../storage/eventStore.js';
import { AuthGate, isLoopbackAddress, sessionCookie, type Access, type AuthConfig } from '../auth.js';
import type { ApiReads, CameraView, ClassView, CommandAnswer, EventView, StatusView } from '../apiTypes.js';
import { UiAssets } from './assets.js';
import { readBody, sendAsset, sendHtml, sendJpeg, sendJson, sendText, statusOf } from './http.js';
import { LiveUpdates } from './liveUpdates.js';
import { loginPage, refusedPage } from './pages.js';

export interface DashboardDeps {
  config: AuthConfig & { base_path: string };
  logger: Logger;
  bus: EventBus;
  /** The commands and their lanes, as MQTT uses them. */
  commands: { job(command: string, payload: unknown): Job };
  runner: { run(makeJob: () => Job): Promise<Outcome> };
  /** limits.max_payload_bytes: the largest command body (photos come base64 in JSON, as on MQTT). */
  maxBodyBytes: number;
  nodeId: string;
  version: string;
  gallery: { shotList(label: string): ShotInfo[]; thumbnail(id: number): Buffer | null };
  eventSnapshot(id: string): Buffer | null;
  cameraSnapshot(camera: string): Buffer | null;
  cameras(): CameraView[];
  status(): StatusView;
  clock?: () => number;
}

const LOGIN_BODY_LIMIT = 4096;

export class Dashboard {
  readonly gate: AuthGate;
  readonly updates: LiveUpdates;
  private assets: UiAssets | null = null;

  constructor(private readonly deps: DashboardDeps) {
    this.gate = new AuthGate({ config: deps.config, ...(deps.clock ? { clock: deps.clock } : {}) });
    this.updates = new LiveUpdates({ bus: deps.bus, logger: deps.logger });
  }

  async start(): Promise<void> {
    try {
      this.assets = await UiAssets.load();
    } catch (err) {
      // The agent runs on without its page (MQTT, /health): say what is missing.
      this.deps.logger.error({ err: errorMessage(err) }, 'the dashboard\'s files cannot be read (run `npm run build`); the dashboard is off');
    }
    await this.updates.start();
    if (this.gate.mode === 'refused') {
      this.deps.logger.warn(
        `http.host ${this.deps.config.host} is reachable from the network and no dashboard password is set: the dashboard ` +
          'refuses everyone until http.auth.password (or EDGE_IMPRINT_HTTP_AUTH_PASSWORD_FILE) is set; /health still answers',
      );
    }
  }

  async stop(): Promise<void> {
    await this.updates.stop();
  }

  /** The live view's WebSocket (LiveStreams' authorize hook): logged in, and from this site. */
  allowUpgrade(req: IncomingMessage): boolean {
    const access = this.gate.checkUpgrade(req);
    if (!access.ok) this.deps.logger.debug({ reason: access.reason }, 'live view refused');
    return access.ok;
  }

  /** The HTTP server's route for every path but /health and /metrics. */
  route = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> => {
    const assets = this.assets;
    if (!assets) {
      if (path !== '/') return false;
      sendText(res, 503, 'the dashboard\'s files are missing: run `npm run build` (see the log)\n');
      return true;
    }
    if (path.startsWith('/assets/')) return this.asset(req, res, assets, path);
    if (path === '/' || path === '/index.html') return this.page(req, res, assets);
    if (path === '/login') return this.login(req, res, assets);
    if (path === '/logout') return this.logout(req, res);
    if (path.startsWith('/api/')) return this.api(req, res, path);
    return false;
  };

  private asset(req: IncomingMessage, res: ServerResponse, assets: UiAssets, path: string): boolean {
    // Scripts and styles hold nothing secret, and the login page needs the stylesheet.
    const [, , version, name] = path.split('/');
    const file = version === assets.hash && name ? assets.file(name) : undefined;
    if (!file || !isRead(req)) return false;
    sendAsset(req, res, file, 'immutable');
    return true;
  }

  private page(req: IncomingMessage, res: ServerResponse, assets: UiAssets): boolean {
    if (!isRead(req)) return methodNotAllowed(res, 'GET, HEAD');
    const access = this.gate.check(req);
    if (access.ok) {
      sendAsset(req, res, assets.page, 'revalidate');
      return true;
    }
    this.refuse(res, access, assets);
    return true;
  }

  private refuse(res: ServerResponse, access: Extract<Access, { ok: false }>, assets: UiAssets): void {
    const dir = `assets/${assets.hash}`;
    if (access.status === 503) sendHtml(res, 503, refusedPage({ assets: dir }));
    else if (access.status === 401) sendHtml(res, 401, loginPage({ assets: dir, canLogIn: this.gate.passwordSet }));
    else sendText(res, access.status, `${access.reason}\n`);
  }

  /** The login form's post: a session cookie and back to the dashboard, or the form again. */
  private async login(req: IncomingMessage, res: ServerResponse, assets: UiAssets): Promise<boolean> {
    if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
    const dir = `assets/${assets.hash}`;
    if (this.gate.mode !== 'login') return this.refuseLogin(res, assets);
    if (!this.gate.sameOriginRequest(req)) {
      sendText(res, 403, 'cross-site login refused\n');
      return true;
    }
    let password = '';
    try {
      password = new URLSearchParams((await readBody(req, LOGIN_BODY_LIMIT)).toString('utf8')).get('password') ?? '';
    } catch {
      sendText(res, 413, 'login form too large\n');
      return true;
    }
    const result = this.gate.login(req, password);
    const client = this.gate.clientAddress(req);
    if (!result.ok && result.retryAfterS !== undefined) {
      this.deps.logger.warn({ client }, 'dashboard login refused: too many failed attempts');
      const error = `Too many failed attempts: try again in ${result.retryAfterS} s.`;
      sendHtml(res, 429, loginPage({ assets: dir, canLogIn: true, error }), { 'Retry-After': String(result.retryAfterS) });
      return true;
    }
    if (!result.ok) {
      this.deps.logger.warn({ client }, 'dashboard login failed: wrong password');
      sendHtml(res, 401, loginPage({ assets: dir, canLogIn: true, error: 'Wrong password.' }));
      return true;
    }
    this.deps.logger.info({ client }, 'dashboard login');
    const cookie = sessionCookie(result.sessionId, { path: this.cookiePath(req), maxAgeS: result.maxAgeS, secure: isHttps(req) });
    res.writeHead(303, { Location: './', 'Set-Cookie': cookie, 'Cache-Control': 'no-store' });
    res.end();
    return true;
  }

  private refuseLogin(res: ServerResponse, assets: UiAssets): boolean {
    const access = this.gate.mode === 'refused' ? { status: 503 as const } : { status: 404 as const };
    if (access.status === 503) sendHtml(res, 503, refusedPage({ assets: `assets/${assets.hash}` }));
    else sendText(res, 404, 'no login here: the dashboard is open on loopback (set http.auth.password to require one)\n');
    return true;
  }

  private logout(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'POST') return methodNotAllowed(res, 'POST');
    const access = this.gate.checkWrite(req);
    if (!access.ok) return this.apiRefusal(res, access);
    this.gate.logout(req);
    res.writeHead(204, { 'Set-Cookie': sessionCookie('', { path: this.cookiePath(req), maxAgeS: 0, secure: isHttps(req) }), 'Cache-Control': 'no-store' });
    res.end();
    return true;
  }

  private async api(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    const write = req.method === 'POST';
    if (!write && !isRead(req)) return methodNotAllowed(res, 'GET, HEAD, POST');
    const access = write ? this.gate.checkWrite(req) : this.gate.check(req);
    if (!access.ok) return this.apiRefusal(res, access);
    const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
    if (write) {
      if (!path.startsWith('/api/command/')) return false;
      await this.command(req, res, path.slice('/api/command/'.length));
      return true;
    }
    return this.read(req, res, path, query, access);
  }

  private apiRefusal(res: ServerResponse, access: Extract<Access, { ok: false }>): true {
    const headers: Record<string, string> = access.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="edge-imprint"' } : {};
    sendJson(res, access.status, { status: 'error', error: access.reason, code: 'unauthorized' }, headers);
    return true;
  }

  private async read(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams, access: Extract<Access, { ok: true }>): Promise<boolean> {
    const { deps } = this;
    switch (path) {
      case '/api/session':
        return reply(res, 'api/session', {
          mode: access.via === 'open' ? 'open' : 'login',
          session: access.via === 'session',
          csrf: access.csrf,
          version: deps.version,
          node_id: deps.nodeId,
        });
      case '/api/cameras':
        return reply(res, 'api/cameras', deps.cameras());
      case '/api/status':
        return reply(res, 'api/status', deps.status());
      case '/api/stream':
        this.updates.attach(res);
        return true;
      // The lanes hand a command's data back untyped: the server's own type must fit the page's.
      case '/api/classes':
        await this.answer(res, 'class/list', {}, (classes: ClassInfo[]): ClassView[] => classes);
        return true;
      case '/api/events':
        await this.answer(res, 'event/list', eventFilter(query), (events: EventInfo[]): EventView[] => events);
        return true;
      case '/api/shots':
        return this.shots(res, query);
    }
    return this.image(req, res, path);
  }

  private shots(res: ServerResponse, query: URLSearchParams): true {
    const label = query.get('label');
    if (label === null || label === '') {
      sendJson(res, 400, { status: 'error', error: 'label: is required', code: 'bad_request' });
      return true;
    }
    return reply(res, 'api/shots', this.deps.gallery.shotList(label));
  }

  /** `api/shots/<id>.jpg`, `api/events/<id>.jpg`, `api/cameras/<name>.jpg`. */
  private image(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const match = /^\/api\/(shots|events|cameras)\/([^/]+)\.jpg$/.exec(path);
    if (!match) return false;
    const [, kind, raw] = match;
    let key: string;
    try {
      key = decodeURIComponent(raw ?? '');
    } catch {
      return false;
    }
    let jpeg: Buffer | null = null;
    try {
      if (kind === 'shots') jpeg = /^\d+$/.test(key) ? this.deps.gallery.thumbnail(Number(key)) : null;
      else if (kind === 'events') jpeg = this.deps.eventSnapshot(key);
      else jpeg = this.deps.cameraSnapshot(key);
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'not_found')) throw err;
    }
    if (!jpeg) {
      sendText(res, 404, 'no such image\n');
      return true;
    }
    sendJpeg(req, res, jpeg, `"${createHash('sha1').update(jpeg).digest('base64url')}"`);
    return true;
  }

  /** POST api/command/<command>: the JSON body through the command's lane, answered as on MQTT. */
  private async command(req: IncomingMessage, res: ServerResponse, command: string): Promise<void> {
    let payload: unknown;
    try {
      const type = req.headers['content-type'] ?? '';
      if (!/^application\/json\b/i.test(type)) throw new AppError('bad_request', 'content-type: must be application/json');
      payload = parseJson(await readBody(req, this.deps.maxBodyBytes));
    } catch (error) {
      const answer = buildResponse({ ok: false, error }, undefined);
      this.tellEnrollment(command, undefined, answer);
      sendJson(res, statusOf(answer.code), answer);
      return;
    }
    await this.answer(res, command, payload);
  }

  private async answer<From, To>(res: ServerResponse, command: string, payload: unknown, view?: (data: From) => To): Promise<void> {
    const outcome = await this.deps.runner.run(() => this.deps.commands.job(command, payload));
    const shown: Outcome = outcome.ok && view ? { ok: true, data: view(outcome.data as From) } : outcome;
    const answer: CommandAnswer = buildResponse(shown, undefined);
    this.tellEnrollment(command, payload, answer);
    if (!outcome.ok && !(outcome.error instanceof AppError)) this.deps.logger.error({ err: outcome.error, command }, 'dashboard command failed');
    this.deps.logger.debug({ command, status: answer.status, code: answer.code }, 'dashboard command');
    sendJson(res, statusOf(answer.code), answer);
  }

  /** Enrollment answers go on the bus as MQTT's do (the "Last enrollment" sensor). */
  private tellEnrollment(command: string, payload: unknown, answer: CommandAnswer): void {
    if (command !== 'class/enroll') return;
    this.deps.bus.emit('enrollAnswered', { source: 'dashboard', request: enrollRequestOf(payload), response: answer, at: new Date() });
  }

  /** The dashboard's path as the browser sees it: Home Assistant's ingress prefix, or http.base_path. */
  private cookiePath(req: IncomingMessage): string {
    const ingress = req.headers['x-ingress-path'];
    const prefix = typeof ingress === 'string' && /^\/[\w\-./~]*$/.test(ingress) ? ingress : this.deps.config.base_path;
    return `${prefix.replace(/\/+$/, '')}/`;
  }
}

/**
 * The dashboard's address as users reach it: http.public_url, or http://<host>:<port>/ when
 * the agent is bound to one specific address (0.0.0.0 and loopback say nothing about how
 * others reach it). null when unknown. Pure.
 */
export function dashboardUrl(http: { enabled: boolean; host: string; port: number; base_path: string; public_url: string }): string | null {
  if (!http.enabled) return null;
  if (http.public_url !== '') return http.public_url;
  const host = http.host.toLowerCase();
  if (['0.0.0.0', '::', '', '[::]'].includes(host) || isLoopbackAddress(host)) return null;
  const shown = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${shown}:${http.port}${http.base_path}/`;
}

function reply<P extends keyof ApiReads>(res: ServerResponse, _path: P, body: ApiReads[P]): true {
  sendJson(res, 200, body);
  return true;
}

function isRead(req: IncomingMessage): boolean {
  return req.method === 'GET' || req.method === 'HEAD';
}

function isHttps(req: IncomingMessage): boolean {
  const proto = req.headers['x-forwarded-proto'];
  return (typeof proto === 'string' && proto.split(',')[0]?.trim() === 'https') || 'encrypted' in req.socket;
}

function methodNotAllowed(res: ServerResponse, allow: string): true {
  sendText(res, 405, 'method not allowed\n', { Allow: allow });
  return true;
}

/** `?camera=&zone=&label=&limit=` as event/list takes it (empty values left out). */
function eventFilter(query: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ['camera', 'zone', 'label']) {
    const value = query.get(key);
    if (value) out[key] = value;
  }
  const limit = query.get('limit');
  if (limit) out.limit = /^\d+$/.test(limit) ? Number(limit) : limit;
  return out;
}
