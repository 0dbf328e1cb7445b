/**
 * The dashboard over HTTP, in process (a real HTTP server, the real commands and lanes over
 * the real model and store): who gets in and how (open on loopback, login, refused beyond
 * loopback, bearer tokens, trusted proxies), the CSRF defences, the login's rate limit and
 * cookie, the base path, and the assets' compression and caching.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Commands } from '../../src/commands/commands.js';
import { CommandRunner } from '../../src/commands/runner.js';
import { AuthGate, type AuthConfig } from '../../src/web/auth.js';
import { Dashboard, dashboardUrl } from '../../src/web/dashboard/dashboard.js';
import { chooseEncoding } from '../../src/web/dashboard/http.js';
import { HttpServer, withoutBasePath } from '../../src/web/httpServer.js';
import { Metrics } from '../../src/web/metrics.js';
import type { StatusView } from '../../src/web/apiTypes.js';
import { freePort, image, tempDir } from '../helpers/env.js';
import { startImprinting, type StartedImprinting } from '../helpers/imprinting.js';
import { readFileSync } from 'node:fs';
import { enrollCounts } from '../helpers/enrollAnswer.js';

const PASSWORD = 'correct-horse-battery';
const TOKEN = 'tok-0123456789abcdef-script';

interface Served {
  base: string;
  port: number;
  logs: string[];
  dashboard: Dashboard;
  stop(): Promise<void>;
}

let core: StartedImprinting;
const dir = tempDir('edge-imprint-dash-http-');

before(async () => {
  core = await startImprinting({ dataDir: dir.path });
});

after(async () => {
  await core?.stop();
  dir.cleanup();
});

function statusStub(): StatusView {
  return {
    version: 'test',
    node_id: 'test',
    started_at: new Date().toISOString(),
    uptime_s: 1,
    rss_mb: 1,
    detector: { type: 'cpu', device: '', model: 'm', state: 'ready', backend_reason: 'test', state_reason: 'test', inference_ms: 1, restarts: 0 },
    mqtt: { connected: false, broker: '' },
    cameras: {},
    classes: core.imprinter.list().length,
  };
}

/** A dashboard on its own HTTP server, with the given bind address and http.auth. */
async function serve(http: { host: string; base_path?: string; auth?: Partial<AuthConfig['auth']> }, clock?: () => number): Promise<Served> {
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _e, cb) => (logs.push(chunk.toString()), cb()) }));
  const auth = { password: '', token: '', metrics: false, trusted_proxies: [], session_hours: 1, ...http.auth };
  const config = { host: http.host, auth, base_path: http.base_path ?? '' };
  const limits = core.config.limits;
  const noCameras = { names: () => [], zones: () => [], latestFrame: async () => null, setEnabled: () => undefined, sceneFrame: () => null };
  const commands = new Commands({ imprinter: core.imprinter, limits, cameras: noCameras, classes: core.imprinter, corrections: core.core.corrections });
  const runner = new CommandRunner({ capacity: limits.queue_size });
  const dashboard = new Dashboard({
    config,
    logger,
    bus: core.bus,
    commands,
    runner,
    maxBodyBytes: limits.max_payload_bytes,
    nodeId: 'test',
    version: 'test',
    gallery: core.core.store,
    eventSnapshot: (id) => core.core.events.snapshot(id),
    cameraSnapshot: () => null,
    cameras: () => [],
    status: statusStub,
    ...(clock ? { clock } : {}),
  });
  await dashboard.start();
  const port = await freePort();
  const server = new HttpServer({
    config: { host: http.host, port, base_path: config.base_path },
    logger,
    metrics: new Metrics({ processMetrics: false }),
    checks: { ok: () => true },
    routes: [dashboard.route],
    metricsAllowed: (req) => dashboard.gate.metricsAllowed(req),
    secrets: [PASSWORD, TOKEN],
  });
  await server.start();
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    logs,
    dashboard,
    stop: async () => {
      await server.stop();
      await dashboard.stop();
      await runner.stop();
    },
  };
}

/** Every page and API path of the dashboard (reads), for the "refused without a login" checks. */
const READ_PATHS = ['/', '/index.html', '/api/session', '/api/cameras', '/api/status', '/api/classes', '/api/events', '/api/shots?label=cat', '/api/shots/1.jpg', '/api/events/x.jpg', '/api/cameras/door.jpg', '/api/stream'];

async function sessionOf(base: string, headers: Record<string, string> = {}): Promise<{ csrf: string; mode: string; session: boolean }> {
  const res = await fetch(`${base}/api/session`, { headers });
  assert.equal(res.status, 200);
  return (await res.json()) as { csrf: string; mode: string; session: boolean };
}

async function post(base: string, command: string, body: unknown, headers: Record<string, string>): Promise<Response> {
  return fetch(`${base}/api/command/${command}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** A raw request, so the Host header can be anything (fetch forbids changing it). */
function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

void describe('dashboard on loopback without a password (open)', () => {
  let s: Served;
  before(async () => (s = await serve({ host: '127.0.0.1' })));
  after(async () => s?.stop());

  void it('serves the page, compressed assets cached for a year, and the page revalidated by its ETag', async () => {
    const page = await fetch(`${s.base}/`, { headers: { 'Accept-Encoding': 'br, gzip' } });
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-encoding'), 'br');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await page.text();
    const assets = /href="(assets\/[0-9a-f]+)\/style.css"/.exec(html)?.[1];
    assert.ok(assets, html);
    for (const name of ['main.js', 'live.js', 'style.css', 'jsmpeg.min.js']) {
      const res: Response = await fetch(`${s.base}/${assets}/${name}`, { headers: { 'Accept-Encoding': 'gzip' } });
      assert.equal(res.status, 200, name);
      assert.equal(res.headers.get('content-encoding'), 'gzip', name);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable', name);
      await res.arrayBuffer();
    }
    const again = await fetch(`${s.base}/`, { headers: { 'If-None-Match': page.headers.get('etag') ?? '' } });
    assert.equal(again.status, 304);
    const stale = await fetch(`${s.base}/assets/000000000000/main.js`);
    assert.equal(stale.status, 404, 'only this version\'s folder is served');
  });

  void it('answers commands only with its CSRF token from this site, and only under loopback Host names', async () => {
    const { csrf, mode } = await sessionOf(s.base);
    assert.equal(mode, 'open');
    const noToken = await post(s.base, 'class/list', {}, {});
    assert.equal(noToken.status, 403);
    const crossSite = await post(s.base, 'class/list', {}, { 'X-Edge-Imprint-CSRF': csrf, Origin: 'http://evil.example' });
    assert.equal(crossSite.status, 403);
    const ok = await post(s.base, 'class/list', {}, { 'X-Edge-Imprint-CSRF': csrf, Origin: s.base });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { status: 'ok', data: core.imprinter.list() });
    const form = await fetch(`${s.base}/api/command/class/list`, { method: 'POST', headers: { 'X-Edge-Imprint-CSRF': csrf, 'Content-Type': 'text/plain' }, body: '{}' });
    assert.equal(form.status, 400, 'only application/json (a cross-site form cannot send it)');
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 reaches the port with its own Host.
    const rebound = await rawGet(s.port, '/api/session', { Host: `evil.example:${s.port}` });
    assert.equal(rebound.status, 403);
    assert.match(rebound.body, /http\.auth\.password/);
    assert.equal((await rawGet(s.port, '/', { Host: `localhost:${s.port}` })).status, 200);
    // A proxy on this machine keeping Host 127.0.0.1 but saying it forwards someone else's request.
    const proxied = await rawGet(s.port, '/api/session', { Host: `127.0.0.1:${s.port}`, 'X-Forwarded-For': '192.168.1.50' });
    assert.equal(proxied.status, 403);
    assert.match(proxied.body, /through a proxy/);
  });

  void it('answers a command as MQTT does, with the HTTP status of its error code', async () => {
    const { csrf } = await sessionOf(s.base);
    const headers = { 'X-Edge-Imprint-CSRF': csrf };
    const enroll = await post(s.base, 'class/enroll', { label: 'cat', images: [readFileSync(image('cat_train_0.jpg')).toString('base64')] }, headers);
    assert.equal(enroll.status, 200);
    assert.deepEqual(enrollCounts(((await enroll.json()) as { data: unknown }).data), { label: 'cat', shots: 1, added: 1 });
    const bad = await post(s.base, 'class/rename', { label: 'cat' }, headers);
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { status: 'error', error: 'to: is required', code: 'bad_request' });
    const missing = await post(s.base, 'shot/remove', { id: 999_999 }, headers);
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { error: string }).error, /^id: no shot 999999/);
    const unknown = await post(s.base, 'no/such', {}, headers);
    assert.equal(unknown.status, 400);
  });
});

void describe('dashboard with a password', () => {
  let s: Served;
  let now = 1_000_000;
  before(async () => (s = await serve({ host: '127.0.0.1', auth: { password: PASSWORD, token: TOKEN, metrics: true } }, () => now)));
  after(async () => s?.stop());

  void it('refuses every page and API without a login, while /health answers', async () => {
    for (const path of READ_PATHS) {
      const res = await fetch(`${s.base}${path}`);
      assert.equal(res.status, 401, path);
      const body = await res.text();
      if (path === '/' || path === '/index.html') assert.match(body, /name="password"/, 'the login form instead');
      else assert.doesNotMatch(body, /<script/);
    }
    const write = await post(s.base, 'class/remove', { label: 'cat' }, {});
    assert.equal(write.status, 401);
    assert.equal((await fetch(`${s.base}/health`)).status, 200);
    assert.equal((await fetch(`${s.base}/metrics`)).status, 401, 'http.auth.metrics: true');
  });

  void it('logs in with the password: an HttpOnly, SameSite=Strict cookie (Secure behind HTTPS); wrong passwords are limited', async () => {
    const form = (password: string, headers: Record<string, string> = {}) =>
      fetch(`${s.base}/login`, { method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ password }) });
    for (let i = 0; i < 5; i++) assert.equal((await form('wrong-password')).status, 401);
    const limited = await form(PASSWORD);
    assert.equal(limited.status, 429, 'even the right password waits once the limit is reached');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    now += 61_000;
    const ok = await form(PASSWORD, { 'X-Forwarded-Proto': 'https' });
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), './');
    const cookie = ok.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^edge_imprint_session=[\w-]{40,}; Path=\/; Max-Age=3600; HttpOnly; SameSite=Strict; Secure$/);
    const jar = cookie.split(';')[0] ?? '';
    const page = await fetch(`${s.base}/`, { headers: { Cookie: jar } });
    assert.equal(page.status, 200);
    const info = await sessionOf(s.base, { Cookie: jar });
    assert.equal(info.session, true);
    const write = await post(s.base, 'class/list', {}, { Cookie: jar, 'X-Edge-Imprint-CSRF': info.csrf, Origin: s.base });
    assert.equal(write.status, 200);
    const noCsrf = await post(s.base, 'class/list', {}, { Cookie: jar, Origin: s.base });
    assert.equal(noCsrf.status, 403, 'a session alone is not enough to change anything');
    const crossSiteLogin = await form(PASSWORD, { Origin: 'http://evil.example' });
    assert.equal(crossSiteLogin.status, 403);
    // Sessions end.
    now += 3_601_000;
    assert.equal((await fetch(`${s.base}/api/status`, { headers: { Cookie: jar } })).status, 401);
  });

  void it('takes a bearer token for scripts, /metrics included; no secret in any answer or log line', async () => {
    const auth = { Authorization: `Bearer ${TOKEN}` };
    assert.equal((await fetch(`${s.base}/api/status`, { headers: auth })).status, 200);
    assert.equal((await post(s.base, 'class/list', {}, auth)).status, 200, 'no CSRF token needed: browsers never send it by themselves');
    assert.equal((await fetch(`${s.base}/metrics`, { headers: auth })).status, 200);
    assert.equal((await fetch(`${s.base}/api/status`, { headers: { Authorization: 'Bearer nope-nope-nope-nope' } })).status, 401);
    const bodies = await Promise.all(['/', '/api/session', '/api/status'].map(async (p) => (await fetch(`${s.base}${p}`, { headers: auth })).text()));
    const seen = [...bodies, ...s.logs].join('\n');
    assert.ok(s.logs.some((l) => l.includes('dashboard login failed')), 'failed logins are logged');
    assert.ok(!seen.includes(PASSWORD) && !seen.includes(TOKEN), 'the password or the token leaked');
  });
});

void describe('dashboard bound beyond loopback', () => {
  void it('without a password refuses everything, saying how to set one, while /health answers', async () => {
    const s = await serve({ host: '0.0.0.0' });
    try {
      const page = await fetch(`${s.base}/`);
      assert.equal(page.status, 503);
      const html = await page.text();
      assert.match(html, /EDGE_IMPRINT_HTTP_AUTH_PASSWORD_FILE/);
      assert.match(html, /http\.host/);
      for (const path of READ_PATHS.slice(1)) assert.equal((await fetch(`${s.base}${path}`)).status, 503, path);
      assert.equal((await fetch(`${s.base}/login`, { method: 'POST', body: 'password=x' })).status, 503);
      assert.equal((await fetch(`${s.base}/health`)).status, 200);
      assert.equal((await fetch(`${s.base}/metrics`)).status, 200, 'http.auth.metrics: false leaves /metrics as it was');
      assert.ok(s.logs.some((l) => l.includes('refuses everyone until http.auth.password')));
    } finally {
      await s.stop();
    }
  });

  void it('lets a trusted proxy in (Home Assistant ingress) and scopes the cookie to its path', async () => {
    const s = await serve({ host: '0.0.0.0', auth: { password: PASSWORD, trusted_proxies: ['127.0.0.1'] } });
    try {
      const page = await fetch(`${s.base}/`, { headers: { 'X-Ingress-Path': '/api/hassio_ingress/abc' } });
      assert.equal(page.status, 200);
      const { csrf, mode } = await sessionOf(s.base);
      assert.equal(mode, 'login');
      const origin = 'http://homeassistant.local:8123';
      // Ingress forwards the browser's Host and Origin (Home Assistant's).
      const ok = await post(s.base, 'class/list', {}, { 'X-Edge-Imprint-CSRF': csrf, Origin: origin, 'X-Forwarded-Host': 'homeassistant.local:8123' });
      assert.equal(ok.status, 200);
      const login = await fetch(`${s.base}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Ingress-Path': '/api/hassio_ingress/abc' },
        body: new URLSearchParams({ password: PASSWORD }),
      });
      assert.match(login.headers.get('set-cookie') ?? '', /; Path=\/api\/hassio_ingress\/abc\/;/);
    } finally {
      await s.stop();
    }
  });
});

void describe('dashboard under a base path', () => {
  void it('serves everything under http.base_path (and /health at the root too); the bare prefix redirects to its slash', async () => {
    const s = await serve({ host: '127.0.0.1', base_path: '/edge-imprint' });
    try {
      const bare = await fetch(`${s.base}/edge-imprint`, { redirect: 'manual' });
      assert.equal(bare.status, 308);
      assert.equal(bare.headers.get('location'), '/edge-imprint/');
      const page = await fetch(`${s.base}/edge-imprint/`);
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /src="assets\/[0-9a-f]+\/main\.js"/, 'relative addresses: they work under any prefix');
      assert.doesNotMatch(html, /(src|href)="\//, 'no address from the root');
      assert.equal((await fetch(`${s.base}/edge-imprint/api/session`)).status, 200);
      assert.equal((await fetch(`${s.base}/health`)).status, 200);
      assert.equal((await fetch(`${s.base}/edge-imprint/health`)).status, 200);
    } finally {
      await s.stop();
    }
  });
});

void describe('pure helpers', () => {
  void it('withoutBasePath, chooseEncoding, dashboardUrl', () => {
    assert.equal(withoutBasePath('/edge-imprint/api/x?y=1', '/edge-imprint'), '/api/x?y=1');
    assert.equal(withoutBasePath('/edge-imprintx/api', '/edge-imprint'), '/edge-imprintx/api');
    assert.equal(withoutBasePath('/edge-imprint', '/edge-imprint'), '/');
    assert.equal(chooseEncoding('gzip, deflate, br'), 'br');
    assert.equal(chooseEncoding('br;q=0, gzip'), 'gzip');
    assert.equal(chooseEncoding(undefined), null);
    const http = { enabled: true, host: '0.0.0.0', port: 8089, base_path: '', public_url: '' };
    assert.equal(dashboardUrl(http), null, '0.0.0.0 says nothing about how others reach it');
    assert.equal(dashboardUrl({ ...http, host: '127.0.0.1' }), null);
    assert.equal(dashboardUrl({ ...http, host: '192.168.1.5', base_path: '/ei' }), 'http://192.168.1.5:8089/ei/');
    assert.equal(dashboardUrl({ ...http, public_url: 'homeassistant://hassio/ingress/edge_imprint' }), 'homeassistant://hassio/ingress/edge_imprint');
    assert.equal(dashboardUrl({ ...http, enabled: false, public_url: 'http://x/' }), null);
  });

  void it('AuthGate modes: open on loopback, login with a secret anywhere, refused beyond loopback without one', () => {
    const auth = { password: '', token: '', metrics: false, trusted_proxies: [], session_hours: 1 };
    assert.equal(new AuthGate({ config: { host: '127.0.0.1', auth } }).mode, 'open');
    assert.equal(new AuthGate({ config: { host: '::1', auth } }).mode, 'open');
    assert.equal(new AuthGate({ config: { host: '0.0.0.0', auth } }).mode, 'refused');
    assert.equal(new AuthGate({ config: { host: '192.168.1.5', auth } }).mode, 'refused');
    assert.equal(new AuthGate({ config: { host: '0.0.0.0', auth: { ...auth, token: TOKEN } } }).mode, 'login');
    assert.equal(new AuthGate({ config: { host: '127.0.0.1', auth: { ...auth, password: PASSWORD } } }).mode, 'login', 'a password set is asked for on loopback too');
  });
});
