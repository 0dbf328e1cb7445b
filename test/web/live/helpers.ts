/** Live view test helpers: a LiveStreams on a real HttpServer, real ws viewers, live ffmpegs from /proc. */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import type { CameraConfig } from '../../../src/config/types.js';
import { HttpServer } from '../../../src/web/httpServer.js';
import { LiveStreams, type LiveStreamsDeps } from '../../../src/web/live/liveStreams.js';
import { cameraConfig } from '../../camera/fixtures.js';
import { testLogger } from '../../helpers/env.js';
import { descendants } from '../../helpers/processes.js';

export interface LiveHarness {
  live: LiveStreams;
  http: HttpServer;
  port: number;
  stop(): Promise<void>;
}

/** A camera whose live view reads `url` (through live.url when `viaLiveUrl`). */
export function liveCamera(url: string, overrides: Partial<CameraConfig> = {}): CameraConfig {
  return cameraConfig({ url, stall_timeout: 5, ...overrides });
}

export async function startLive(
  cameras: Record<string, CameraConfig>,
  extra: Partial<LiveStreamsDeps> & { logger?: Logger } = {},
): Promise<LiveHarness> {
  const logger = extra.logger ?? testLogger();
  const live = new LiveStreams({ cameras, logger, ...extra });
  const http = new HttpServer({
    config: { host: '127.0.0.1', port: 0 },
    logger,
    metrics: { contentType: 'text/plain', text: async () => '' },
    checks: {},
    upgrades: [(req, socket, head) => live.handleUpgrade(req, socket, head)],
  });
  await http.start();
  await live.start();
  return {
    live,
    http,
    port: http.port,
    stop: async () => {
      await live.stop();
      await http.stop();
    },
  };
}

export interface Viewer {
  ws: WebSocket;
  messages: Buffer[];
  /** Arrival time of each message (ms). */
  times: number[];
  bytes(): number;
  data(): Buffer;
  closed: Promise<{ code: number }>;
}

/** Opens a viewer; resolves once the WebSocket is open. */
export async function watch(port: number, camera: string): Promise<Viewer> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/live/${camera}`);
  const messages: Buffer[] = [];
  const times: number[] = [];
  ws.on('message', (data: Buffer) => {
    messages.push(data);
    times.push(Date.now());
  });
  const closed = new Promise<{ code: number }>((resolve) => ws.once('close', (code: number) => resolve({ code })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    messages,
    times,
    bytes: () => messages.reduce((n, m) => n + m.length, 0),
    data: () => Buffer.concat(messages),
    closed,
  };
}

/** The HTTP status a WebSocket request is refused with (rejects if it is accepted). */
export function refusal(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => {
      ws.terminate();
      reject(new Error(`${path} was upgraded`));
    });
    ws.once('error', () => undefined);
  });
}

/** The live ffmpegs (MPEG-1 encoders) below this process. */
export function liveFfmpegs(): number[] {
  return descendants(process.pid).filter((pid) => cmdline(pid).includes('mpeg1video'));
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

const SEQUENCE_HEADER = Buffer.from([0x00, 0x00, 0x01, 0xb3]);

/** Whole 188-byte packets, each starting with the sync byte. */
export function isMpegTs(data: Buffer): boolean {
  if (data.length === 0 || data.length % 188 !== 0) return false;
  for (let i = 0; i < data.length; i += 188) if (data[i] !== 0x47) return false;
  return true;
}

export function hasSequenceHeader(data: Buffer): boolean {
  return data.indexOf(SEQUENCE_HEADER) >= 0;
}
