/**
 * `/health` and `/metrics` on plain node:http, and every other path (the dashboard, its API,
 * WebSocket upgrades such as the live view) handed to the routes given. Loopback by default:
 * the endpoints say nothing secret, but nothing on the LAN needs them unless the user opens them.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import { redactUrl, scrubSecrets } from '../config/redact.js';
import { valueWithin } from '../process/timeout.js';

/** `true`/`false`, or with a short detail (e.g. "reconnecting", "cpu fallback"). */
export type HealthResult = boolean | { up: boolean; detail?: string };

/** Named checks, e.g. `{ detector: () => detector.alive(), mqtt: () => client.connected }`. */
export type HealthChecks = Record<string, () => HealthResult | Promise<HealthResult>>;

/**
 * Claims an HTTP Upgrade request (a WebSocket path such as the live view's) by answering it
 * and returning true; false leaves it to the next handler (none left: 404).
 */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;

/** Answers a request (`path` without the base path and query) and returns true, or false: not its path. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;

export interface MetricsSource {
  readonly contentType: string;
  text(): Promise<string>;
}

export interface HttpServerDeps {
  config: { enabled?: boolean; host: string; port: number; base_path?: string };
  logger: Logger;
  metrics: MetricsSource;
  checks: HealthChecks;
  /** A check that does not answer within this time counts as down. Default 2000 ms. */
  checkTimeoutMs?: number;
  /** Strings never to serve (e.g. `configSecrets(config)`); URL credentials are always hidden. */
  secrets?: readonly string[];
  /** Every path but /health and /metrics, in order (the dashboard). */
  routes?: readonly RouteHandler[];
  upgrades?: readonly UpgradeHandler[];
  /** Whether a request may read /metrics (http.auth.metrics); default: everyone. */
  metricsAllowed?: (req: IncomingMessage) => boolean;
}

interface CheckReport {
  up: boolean;
  detail?: string;
}

export class HttpServer {
  private server: Server | null = null;
  private boundPort = 0;

  constructor(private readonly deps: HttpServerDeps) {}

  /** The port actually bound (useful with port 0), 0 when not listening. */
  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    if (this.server || this.deps.config.enabled === false) return;
    const { host, port } = this.deps.config;
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.deps.logger.error({ err }, 'http request failed');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    // Short timeouts: a scraper or health probe never needs long, and a slow client must
    // not keep sockets open.
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(new AppError('config', `http: cannot listen on ${host}:${port} (${err.code ?? err.message}); change http.port or http.host`));
      });
      server.listen(port, host, () => resolve());
    });
    server.on('error', (err) => this.deps.logger.error({ err }, 'http server error'));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    const what = this.deps.routes?.length ? 'the dashboard, /health and /metrics' : '/health and /metrics';
    this.deps.logger.info({ host, port: this.boundPort }, `${what} on http://${host}:${this.boundPort}${this.deps.config.base_path ?? ''}/`);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    this.boundPort = 0;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    // The handlers see the path without the base path, as the routes do.
    req.url = withoutBasePath(req.url ?? '/', this.deps.config.base_path ?? '');
    for (const handler of this.deps.upgrades ?? []) if (handler(req, socket, head)) return;
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', () => socket.destroy());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const basePath = this.deps.config.base_path ?? '';
    if (basePath !== '' && (req.url ?? '').split('?')[0] === basePath) {
      // The dashboard's links are relative: its address must end with a slash.
      res.writeHead(308, { Location: `${basePath}/`, 'Content-Length': 0 });
      return void res.end();
    }
    const path = withoutBasePath(req.url ?? '/', basePath).split('?')[0] ?? '/';
    if (path !== '/health' && path !== '/metrics') {
      for (const route of this.deps.routes ?? []) if (await route(req, res, path)) return;
      return send(res, 404, 'text/plain; charset=utf-8', 'not found: try /health or /metrics\n');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    if (path === '/metrics') {
      if (this.deps.metricsAllowed && !this.deps.metricsAllowed(req)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="edge-imprint"');
        return send(res, 401, 'text/plain; charset=utf-8', 'login required: send a token (http.auth.token) as Authorization: Bearer\n');
      }
      return send(res, 200, this.deps.metrics.contentType, await this.deps.metrics.text(), req.method);
    }
    const { code, body } = await this.health();
    const json = scrubSecrets(JSON.stringify(body), this.deps.secrets ?? []);
    return send(res, code, 'application/json', `${json}\n`, req.method);
  }

  /** 200 when every check is up; 503 naming those that are down. */
  async health(): Promise<{ code: number; body: { status: 'ok' | 'down'; down: string[]; checks: Record<string, CheckReport> } }> {
    const names = Object.keys(this.deps.checks);
    const reports = await Promise.all(names.map((name) => this.runCheck(name)));
    const checks = Object.fromEntries(names.map((name, i) => [name, reports[i] ?? { up: false }]));
    const down = names.filter((name) => !checks[name]?.up);
    return { code: down.length === 0 ? 200 : 503, body: { status: down.length === 0 ? 'ok' : 'down', down, checks } };
  }

  private async runCheck(name: string): Promise<CheckReport> {
    const check = this.deps.checks[name];
    if (!check) return { up: false };
    const timeoutMs = this.deps.checkTimeoutMs ?? 2000;
    try {
      return await valueWithin(Promise.resolve().then(check).then(toReport), timeoutMs, () => ({ up: false, detail: 'check timed out' }));
    } catch (err) {
      // The error text is not shown: it may quote a URL or a path the user did not mean to publish.
      this.deps.logger.warn({ err, check: name }, 'health check failed');
      return { up: false, detail: 'check failed' };
    }
  }
}

/** `/edge-imprint/api/x` → `/api/x` with base path `/edge-imprint`; other paths unchanged. Pure. */
export function withoutBasePath(url: string, basePath: string): string {
  if (basePath === '' || !url.startsWith(basePath)) return url;
  const rest = url.slice(basePath.length);
  if (rest === '') return '/';
  return rest.startsWith('/') || rest.startsWith('?') ? (rest.startsWith('?') ? `/${rest}` : rest) : url;
}

function toReport(result: HealthResult): CheckReport {
  if (typeof result === 'boolean') return { up: result };
  const report: CheckReport = { up: result.up === true };
  if (typeof result.detail === 'string' && result.detail !== '') report.detail = redactUrl(result.detail).slice(0, 200);
  return report;
}

function send(res: ServerResponse, code: number, contentType: string, body: string, method = 'GET'): void {
  res.writeHead(code, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(method === 'HEAD' ? undefined : body);
}
