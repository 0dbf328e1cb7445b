/**
 * One camera's live view: an ffmpeg (MPEG-1 in MPEG-TS) that runs while someone watches,
 * fanned out to the viewers' WebSockets.
 *
 * State machine (changed in setState only):
 *   idle ──first viewer──► starting ──first bytes──► streaming
 *   starting / streaming ──ffmpeg exits or stalls, viewers left──► restarting ──backoff──► starting
 *   starting / streaming ──`linger` after the last viewer left──► stopping ──► idle
 *   restarting ──last viewer left──► idle
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import type { CameraConfig } from '../../config/types.js';
import { scrubSecrets, urlSecrets } from '../../config/redact.js';
import { errorMessage } from '../../errors.js';
import { liveInput, liveOutputOptions, liveUrl } from './liveArgs.js';
import type { MuxerHandle, MuxerSpec, StartMuxer } from './muxerProcess.js';
import { firstKeyframePacket, TsAligner } from './tsPackets.js';
import { watchFfmpegExit } from '../../process/ffmpegExit.js';

export type LiveState = 'idle' | 'starting' | 'streaming' | 'restarting' | 'stopping';

/** What the status page shows per camera (JSON keys snake_case). */
export interface LiveStreamStatus {
  state: LiveState;
  viewers: number;
  /** ffmpeg restarts after a failure (not the starts for new viewers). */
  restarts: number;
  /** Viewers dropped for not keeping up. */
  dropped_viewers: number;
  /** Why ffmpeg last failed, credentials scrubbed; null before any failure. */
  last_error: string | null;
}

export interface LiveOptions {
  /** ffmpeg keeps running this long after the last viewer left (a page reload reuses it). */
  lingerMs: number;
  /** A viewer with more than this queued (ws.bufferedAmount) is dropped. */
  maxViewerBufferBytes: number;
  /** Cap of the current-GOP cache that lets a new viewer start with a picture at once. */
  maxGopCacheBytes: number;
  restartInitialMs: number;
  restartMaxMs: number;
  /** A run that streamed this long resets the backoff. */
  stableMs: number;
  /** Between SIGTERM and SIGKILL. */
  killGraceMs: number;
  stderrLines: number;
}

export const DEFAULT_LIVE_OPTIONS: LiveOptions = {
  lingerMs: 10_000,
  maxViewerBufferBytes: 2 * 1024 * 1024,
  maxGopCacheBytes: 2 * 1024 * 1024,
  restartInitialMs: 500,
  restartMaxMs: 3_000,
  stableMs: 10_000,
  killGraceMs: 2_000,
  stderrLines: 20,
};

export interface LiveStreamDeps {
  name: string;
  camera: CameraConfig;
  logger: Logger;
  startMuxer: StartMuxer;
  /** e.g. `setpriv --pdeathsig KILL --` (see CameraSourceDeps.launchPrefix). */
  launchPrefix: readonly string[];
  ffmpegPath: string;
  options: LiveOptions;
  clock: () => number;
}

interface Viewer {
  ws: WebSocket;
  /** Has been sent a keyframe of the current run: can be sent anything that follows. */
  synced: boolean;
}

interface Run {
  child: ChildProcess;
  startedAt: number;
  lastDataAt: number;
  firstDataAt: number;
  failed: boolean;
  exited: Promise<void>;
  aligner: TsAligner;
  stderr: string[];
}

export class LiveStream {
  private state: LiveState = 'idle';
  private readonly viewers = new Set<Viewer>();
  private readonly log: Logger;
  private readonly secrets: string[];
  private run: Run | null = null;
  /** Packets from the latest keyframe on, for viewers who join a running stream. */
  private gop: Buffer[] = [];
  private gopBytes = 0;
  private closed = false;
  private killing: Promise<void> = Promise.resolve();
  private lingerTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private failuresInRow = 0;
  private restarts = 0;
  private dropped = 0;
  private lastError: string | null = null;

  constructor(private readonly deps: LiveStreamDeps) {
    this.log = deps.logger.child({ camera: deps.name });
    this.secrets = urlSecrets(liveUrl(deps.camera));
  }

  status(): LiveStreamStatus {
    return {
      state: this.state,
      viewers: this.viewers.size,
      restarts: this.restarts,
      dropped_viewers: this.dropped,
      last_error: this.lastError,
    };
  }

  /** Process id of the running ffmpeg, for tests and benchmarks. */
  pid(): number | null {
    return this.run?.child.pid ?? null;
  }

  /** Synchronous SIGKILL, for a process that is exiting anyway. */
  killNow(): void {
    const child = this.run?.child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  /** A new viewer's WebSocket, already open. */
  add(ws: WebSocket): void {
    if (this.closed) {
      ws.close(1001, 'stopping');
      return;
    }
    const viewer: Viewer = { ws, synced: false };
    this.viewers.add(viewer);
    ws.on('error', (err) => this.log.debug({ err: errorMessage(err) }, 'live viewer socket error'));
    ws.once('close', () => this.remove(viewer));
    this.clearLinger();
    this.log.info({ viewers: this.viewers.size }, 'live viewer joined');
    if (this.state === 'idle') this.launch();
    else if (this.state === 'streaming' && this.gop.length > 0) this.sendCache(viewer);
  }

  /** Closes every viewer and stops ffmpeg (awaited: none survives). */
  async close(): Promise<void> {
    this.closed = true;
    this.clearTimers();
    const sockets = [...this.viewers].map((v) => v.ws);
    await closeSockets(sockets);
    await this.shutdown();
    await this.killing;
  }

  private remove(viewer: Viewer): void {
    if (!this.viewers.delete(viewer)) return;
    this.log.info({ viewers: this.viewers.size }, 'live viewer left');
    if (this.viewers.size > 0 || this.closed) return;
    if (this.state === 'restarting') {
      // No ffmpeg runs (a failed one may still be dying: close() waits for it).
      this.clearTimers();
      this.setState('idle');
      return;
    }
    if (this.state === 'starting' || this.state === 'streaming') {
      this.lingerTimer = setTimeout(() => void this.shutdown(), this.deps.options.lingerMs);
    }
  }

  private setState(next: LiveState): void {
    if (this.state === next) return;
    this.log.debug({ from: this.state, to: next }, 'live view state');
    this.state = next;
  }

  private launch(): void {
    this.restartTimer = null;
    this.setState('starting');
    const spec = this.spec();
    this.log.debug({ cmd: scrubSecrets([...spec.command, '-i', spec.url].join(' '), this.secrets) }, 'starting the live ffmpeg');
    let handle: MuxerHandle;
    try {
      handle = this.deps.startMuxer(spec);
    } catch (err) {
      // e.g. a line break in input_args: retried like any failure, so the view is not lost.
      this.lastError = scrubSecrets(`cannot start ffmpeg: ${errorMessage(err)}`, this.secrets);
      this.scheduleRestart(this.failed([]));
      return;
    }
    this.run = this.watch(handle);
    for (const viewer of this.viewers) viewer.synced = false;
  }

  /** Listens to a new run's output and exit, and arms its stall watchdog. */
  private watch(handle: MuxerHandle): Run {
    const { child } = handle;
    const run: Run = {
      child,
      startedAt: this.deps.clock(),
      lastDataAt: 0,
      firstDataAt: 0,
      failed: false,
      exited: watchFfmpegExit(child, (why) => this.fail(run, why)),
      aligner: new TsAligner(),
      stderr: [],
    };
    handle.events.on('mpeg1data', (chunk: Buffer) => this.onData(run, chunk));
    handle.events.on('ffmpegStderr', (chunk: Buffer) => this.onStderr(run, chunk));
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = setInterval(() => this.checkStall(run), Math.max(50, Math.min(1000, this.stallMs() / 10)));
    return run;
  }

  private spec(): MuxerSpec {
    const { camera, launchPrefix, ffmpegPath } = this.deps;
    const input = liveInput(camera);
    return {
      command: [...launchPrefix, ffmpegPath, ...input.args],
      url: input.url,
      outputOptions: liveOutputOptions(camera.live),
    };
  }

  private stallMs(): number {
    return this.deps.camera.stall_timeout * 1000;
  }

  private onData(run: Run, chunk: Buffer): void {
    if (run !== this.run || run.failed) return;
    const now = this.deps.clock();
    run.lastDataAt = now;
    const packets = run.aligner.push(chunk);
    if (packets.length === 0) return;
    if (run.firstDataAt === 0) run.firstDataAt = now;
    else if (now - run.firstDataAt >= this.deps.options.stableMs) this.failuresInRow = 0;
    if (this.state === 'starting') {
      this.setState('streaming');
      this.log.info('live view streaming');
    }
    this.broadcast(packets);
  }

  private broadcast(packets: Buffer): void {
    const key = firstKeyframePacket(packets);
    this.cache(packets, key);
    for (const viewer of this.viewers) {
      if (viewer.synced) this.send(viewer, packets);
      else if (key >= 0) {
        viewer.synced = true;
        this.send(viewer, packets.subarray(key));
      }
    }
  }

  private cache(packets: Buffer, key: number): void {
    if (key >= 0) {
      this.gop = [packets.subarray(key)];
      this.gopBytes = packets.length - key;
    } else if (this.gop.length > 0) {
      this.gop.push(packets);
      this.gopBytes += packets.length;
    }
    // A GOP too long to cache: a new viewer waits for the next keyframe instead.
    if (this.gopBytes > this.deps.options.maxGopCacheBytes) this.clearCache();
  }

  private clearCache(): void {
    this.gop = [];
    this.gopBytes = 0;
  }

  private sendCache(viewer: Viewer): void {
    viewer.synced = true;
    this.send(viewer, Buffer.concat(this.gop, this.gopBytes));
  }

  /** Sends, or drops a viewer that lets too much pile up: its backlog is never the agent's memory. */
  private send(viewer: Viewer, data: Buffer): void {
    const { ws } = viewer;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > this.deps.options.maxViewerBufferBytes) {
      this.dropped += 1;
      this.log.warn({ buffered: ws.bufferedAmount }, 'live viewer does not keep up: dropped');
      ws.terminate();
      return;
    }
    ws.send(data, { binary: true });
  }

  private onStderr(run: Run, chunk: Buffer): void {
    for (const line of chunk.toString('utf8').split(/\r?\n|\r/)) {
      if (line.trim() === '') continue;
      // Scrubbed on the way in, so nothing can log the raw line later.
      run.stderr.push(scrubSecrets(line, this.secrets));
      if (run.stderr.length > this.deps.options.stderrLines) run.stderr.shift();
    }
  }

  private checkStall(run: Run): void {
    if (run !== this.run || run.failed) return;
    const lastSign = Math.max(run.lastDataAt, run.startedAt);
    if (this.deps.clock() - lastSign > this.stallMs()) {
      this.fail(run, `no data for ${this.deps.camera.stall_timeout} s`);
    }
  }

  /** A run ended or hung. With viewers it is restarted after a backoff; without, it is over. */
  private fail(run: Run, reason: string): void {
    if (run.failed) return;
    run.failed = true;
    // A run stopped on purpose is no longer this.run.
    if (run !== this.run) return;
    this.lastError = scrubSecrets(reason, this.secrets);
    if (this.closed || this.viewers.size === 0) {
      void this.shutdown();
      return;
    }
    const delay = this.failed(run.stderr);
    const stopped = this.stopRun();
    this.track(stopped);
    void stopped.then(() => this.scheduleRestart(delay));
  }

  /** Counts and logs a failure (lastError set), enters restarting; returns the backoff. */
  private failed(stderr: string[]): number {
    this.failuresInRow += 1;
    const { restartInitialMs, restartMaxMs } = this.deps.options;
    const delay = Math.min(restartMaxMs, restartInitialMs * 2 ** Math.max(0, this.failuresInRow - 1));
    // A camera that stays down fails every few seconds: warn on the first failure and
    // about once a minute after, with ffmpeg's last lines each time.
    const level = this.failuresInRow % 15 === 1 ? 'warn' : 'debug';
    this.log[level]({ reason: this.lastError, retry_ms: delay, failures: this.failuresInRow, stderr }, 'live ffmpeg failed; restarting');
    this.setState('restarting');
    return delay;
  }

  private scheduleRestart(delay: number): void {
    if (this.closed || this.state !== 'restarting') return;
    if (this.viewers.size === 0) this.setState('idle');
    else this.restartTimer = setTimeout(() => this.relaunch(), delay);
  }

  private relaunch(): void {
    this.restartTimer = null;
    if (this.closed || this.state !== 'restarting' || this.viewers.size === 0) return;
    this.restarts += 1;
    this.launch();
  }

  /** Stops ffmpeg because nobody watches (or the agent stops); a viewer who came meanwhile restarts it. */
  private async shutdown(): Promise<void> {
    this.clearTimers();
    if (!this.run) {
      this.setState('idle');
      return;
    }
    this.setState('stopping');
    const stopped = this.stopRun();
    this.track(stopped);
    await stopped;
    if (this.state !== 'stopping') return;
    if (!this.closed && this.viewers.size > 0) this.launch();
    else this.setState('idle');
  }

  /** close() waits for every kill still under way. */
  private track(kill: Promise<void>): void {
    this.killing = Promise.all([this.killing, kill]).then(() => undefined);
  }

  private async stopRun(): Promise<void> {
    const run = this.run;
    this.run = null;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    this.clearCache();
    if (run) await killRun(run, this.deps.options.killGraceMs);
  }

  private clearLinger(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
  }

  private clearTimers(): void {
    this.clearLinger();
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }
}

/** SIGTERM, then SIGKILL after the grace period: an ffmpeg blocked on a dead camera can ignore SIGTERM. */
async function killRun(run: Run, graceMs: number): Promise<void> {
  const { child } = run;
  if (child.pid === undefined) return;
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, graceMs);
    await run.exited;
    clearTimeout(timer);
    return;
  }
  await run.exited;
}

/** A close frame to each (1001: going away), then the sockets still open after a moment are cut. */
async function closeSockets(sockets: WebSocket[]): Promise<void> {
  const closed = sockets.map((ws) => new Promise<void>((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve();
    else ws.once('close', () => resolve());
  }));
  for (const ws of sockets) ws.close(1001, 'stopping');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(closed), new Promise<void>((resolve) => (timer = setTimeout(resolve, 500)))]);
  clearTimeout(timer);
  for (const ws of sockets) if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
}
