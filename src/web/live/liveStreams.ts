/**
 * The live view of every camera on the agent's own HTTP server: `GET /live/<camera>` with
 * an Upgrade to WebSocket receives MPEG-1 video in MPEG-TS, as jsmpeg plays it. One path
 * per camera on one port; the camera's live ffmpeg runs only while someone watches.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { CameraConfig } from '../../config/types.js';
import { errorMessage } from '../../errors.js';
import { killOnExit } from '../../process/kill.js';
import { parentDeathPrefix } from '../../process/parentDeath.js';
import type { SpawnFn } from '../../process/supervisedProcess.js';
import { liveUrl } from './liveArgs.js';
import { DEFAULT_LIVE_OPTIONS, LiveStream, type LiveOptions, type LiveStreamStatus } from './liveStream.js';

/** The path prefix of the live view: `/live/<camera>`. */
export const LIVE_PATH_PREFIX = '/live/';

/** Whether a request may watch (the dashboard's login plugs in here). May be async. */
export type Authorize = (req: IncomingMessage) => boolean | Promise<boolean>;

export interface LiveStreamsDeps {
  cameras: Record<string, CameraConfig>;
  logger: Logger;
  /** Default: everyone may watch (the HTTP server binds to loopback by default). */
  authorize?: Authorize;
  /** Default: node's child_process.spawn. */
  spawn?: SpawnFn;
  ffmpegPath?: string;
  /** Default: `setpriv --pdeathsig KILL --` where setpriv exists, as for the cameras. */
  launchPrefix?: readonly string[];
  options?: Partial<LiveOptions>;
  clock?: () => number;
}

export class LiveStreams {
  private readonly streams = new Map<string, LiveStream>();
  private wss: WebSocketServer | null = null;
  private releaseExitKill: (() => void) | null = null;

  constructor(private readonly deps: LiveStreamsDeps) {}

  async start(): Promise<void> {
    if (this.wss) return;
    const { deps } = this;
    const options = { ...DEFAULT_LIVE_OPTIONS, ...deps.options };
    for (const [name, camera] of Object.entries(deps.cameras)) {
      // A camera without any URL (allowed while disabled) has nothing to show.
      if (liveUrl(camera) === '') continue;
      const stream = new LiveStream({
        name,
        camera,
        logger: deps.logger,
        spawn: deps.spawn ?? (nodeSpawn as SpawnFn),
        launchPrefix: deps.launchPrefix ?? parentDeathPrefix(),
        ffmpegPath: deps.ffmpegPath ?? 'ffmpeg',
        options,
        clock: deps.clock ?? Date.now,
      });
      this.streams.set(name, stream);
    }
    // Viewers send nothing but control frames; MPEG is not worth compressing.
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4096, clientTracking: false });
    // If the process exits without stop() (a crash), no live ffmpeg may outlive it.
    this.releaseExitKill = killOnExit(() => {
      for (const stream of this.streams.values()) stream.killNow();
    });
  }

  /** Closes every viewer and stops every live ffmpeg (awaited). */
  async stop(): Promise<void> {
    const wss = this.wss;
    this.wss = null;
    const streams = [...this.streams.values()];
    const results = await Promise.allSettled(streams.map((s) => s.close()));
    for (const r of results) if (r.status === 'rejected') this.deps.logger.error({ err: r.reason }, 'stopping a live view failed');
    this.streams.clear();
    this.releaseExitKill?.();
    this.releaseExitKill = null;
    await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
  }

  /** Cameras that have a live view. */
  names(): string[] {
    return [...this.streams.keys()];
  }

  /** Per camera: state, viewers, restarts, dropped viewers, last error. */
  status(): Record<string, LiveStreamStatus> {
    return Object.fromEntries([...this.streams].map(([name, stream]) => [name, stream.status()]));
  }

  /** Process id of a camera's live ffmpeg, null when none runs (tests and benchmarks). */
  pid(camera: string): number | null {
    return this.streams.get(camera)?.pid() ?? null;
  }

  /**
   * For the HTTP server's 'upgrade' event: claims `/live/...` (answering it, WebSocket or
   * refusal) and returns true; returns false for any other path.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const name = liveCameraOf(req.url ?? '/');
    if (name === null) return false;
    socket.on('error', () => undefined);
    const stream = this.streams.get(name);
    if (!stream) refuse(socket, 404, 'no live view for this camera');
    else if (!this.wss) refuse(socket, 503, 'the live view is not running');
    else void this.admit(req, socket, head, stream);
    return true;
  }

  private async admit(req: IncomingMessage, socket: Duplex, head: Buffer, stream: LiveStream): Promise<void> {
    let allowed = false;
    try {
      allowed = await (this.deps.authorize ?? allowEveryone)(req);
    } catch (err) {
      this.deps.logger.warn({ err: errorMessage(err) }, 'live view: authorization failed');
    }
    const wss = this.wss;
    if (!allowed) return refuse(socket, 401, 'unauthorized');
    if (!wss) return refuse(socket, 503, 'the live view is not running');
    if (socket.destroyed) return;
    wss.handleUpgrade(req, socket, head, (ws) => stream.add(ws));
  }
}

/** `/live/door?x=1` → `door`; null when the path is not under /live/. Names are never decoded. */
export function liveCameraOf(url: string): string | null {
  const path = url.split('?')[0] ?? '';
  if (!path.startsWith(LIVE_PATH_PREFIX)) return null;
  return path.slice(LIVE_PATH_PREFIX.length).replace(/\/$/, '');
}

function allowEveryone(): boolean {
  return true;
}

/** A plain HTTP answer on a socket that asked for an upgrade, then the socket is closed. */
function refuse(socket: Duplex, code: number, reason: string): void {
  const body = `${reason}\n`;
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? ''}\r\n` +
      'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
