/**
 * One camera's live view: an ffmpeg (MPEG-1 in MPEG-TS) that runs while someone watches,
 * fanned out to the viewers' WebSockets (liveViewers.ts).
 *
 * The ffmpeg is started by the agent's one supervisor (process/supervisedProcess.ts) with
 * its whole command line, not by node-rtsp-stream's Mpeg1Muxer: the muxer spawns
 * `ffmpeg -i <url> …` itself, so neither the input options (transport, input_args,
 * hwaccel_args) nor the setpriv prefix that ends ffmpeg with the agent can go before -i.
 * What follows -i is the muxer's recipe (liveArgs.ts).
 *
 * State machine (changed in setState only):
 *   idle ──first viewer──► starting ──first bytes──► streaming
 *   starting / streaming ──ffmpeg exits or stalls, viewers left──► restarting ──backoff──► starting
 *   starting / streaming ──`linger` after the last viewer left──► stopping ──► idle
 *   restarting ──last viewer left──► idle
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { urlSecrets } from '../../config/redact.js';
import type { CameraConfig } from '../../config/types.js';
import { errorMessage } from '../../errors.js';
import { DEFAULT_SUPERVISION, SupervisedProcess, type RunHandle, type SpawnFn } from '../../process/supervisedProcess.js';
import { liveArgs, liveUrl } from './liveArgs.js';
import { closeSockets, LiveViewers, type FanOutOptions, type Viewer } from './liveViewers.js';
import { TsAligner } from './tsPackets.js';

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

export interface LiveOptions extends FanOutOptions {
  /** ffmpeg keeps running this long after the last viewer left (a page reload reuses it). */
  lingerMs: number;
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
  spawn: SpawnFn;
  /** e.g. parentDeathPrefix() (process/parentDeath.ts): ffmpeg dies with the agent. */
  launchPrefix: readonly string[];
  ffmpegPath: string;
  options: LiveOptions;
  clock: () => number;
}

export class LiveStream {
  private state: LiveState = 'idle';
  private readonly log: Logger;
  private readonly viewers: LiveViewers;
  private readonly process: SupervisedProcess;
  private aligner = new TsAligner();
  private closed = false;
  /** close() waits for every stop still under way. */
  private stopping: Promise<void> = Promise.resolve();
  private lingerTimer: NodeJS.Timeout | null = null;
  private lastError: string | null = null;

  constructor(private readonly deps: LiveStreamDeps) {
    const { camera, options } = deps;
    this.log = deps.logger.child({ camera: deps.name });
    this.viewers = new LiveViewers(options, this.log);
    this.process = new SupervisedProcess({
      label: 'live ffmpeg',
      logger: this.log,
      spawn: deps.spawn,
      launchPrefix: deps.launchPrefix,
      stallMs: camera.stall_timeout * 1000,
      stallReason: `no data for ${camera.stall_timeout} s`,
      secrets: urlSecrets(liveUrl(camera)),
      // No restart-loop slow-down: someone is watching, and the view lasts only while they do.
      options: { ...DEFAULT_SUPERVISION, ...supervision(options), loopMaxRestarts: Number.POSITIVE_INFINITY },
      clock: deps.clock,
      hooks: {
        plan: () => ({ command: deps.ffmpegPath, args: liveArgs(camera), stdio: ['ignore', 'pipe', 'pipe'] }),
        starting: () => this.onStarting(),
        attach: (child, run) => this.attach(child, run),
        failed: (reason) => this.onFailed(reason),
      },
    });
  }

  status(): LiveStreamStatus {
    return {
      state: this.state,
      viewers: this.viewers.size(),
      restarts: this.process.restarts(),
      dropped_viewers: this.viewers.dropped(),
      last_error: this.lastError,
    };
  }

  /** Process id of the running ffmpeg, for tests and benchmarks. */
  pid(): number | null {
    return this.process.pid();
  }

  /** Synchronous SIGKILL, for a process that is exiting anyway. */
  killNow(): void {
    this.process.killNow();
  }

  /** A new viewer's WebSocket, already open. */
  add(ws: WebSocket): void {
    if (this.closed) {
      ws.close(1001, 'stopping');
      return;
    }
    const viewer = this.viewers.add(ws);
    ws.on('error', (err) => this.log.debug({ err: errorMessage(err) }, 'live viewer socket error'));
    ws.once('close', () => this.remove(viewer));
    this.clearLinger();
    this.log.info({ viewers: this.viewers.size() }, 'live viewer joined');
    if (this.state === 'idle') this.process.start();
    else if (this.state === 'streaming') this.viewers.catchUp(viewer);
  }

  /** Closes every viewer and stops ffmpeg (awaited: none survives). */
  async close(): Promise<void> {
    this.closed = true;
    this.clearLinger();
    await closeSockets(this.viewers.sockets());
    await this.shutdown();
    await this.stopping;
  }

  private remove(viewer: Viewer): void {
    if (!this.viewers.delete(viewer)) return;
    this.log.info({ viewers: this.viewers.size() }, 'live viewer left');
    if (this.viewers.size() > 0 || this.closed) return;
    if (this.state === 'restarting') {
      // No ffmpeg runs (a failed one may still be dying: close() waits for it).
      this.track(this.process.stop());
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

  private onStarting(): void {
    this.setState('starting');
    this.aligner = new TsAligner();
    this.viewers.resync();
  }

  private attach(child: ChildProcess, run: RunHandle): void {
    child.stdout?.on('data', (chunk: Buffer) => this.onData(run, chunk));
  }

  private onData(run: RunHandle, chunk: Buffer): void {
    if (!run.output()) return;
    const packets = this.aligner.push(chunk);
    if (packets.length === 0) return;
    if (this.state === 'starting') {
      this.setState('streaming');
      this.log.info('live view streaming');
    }
    this.viewers.broadcast(packets);
  }

  /** A run ended or hung: restarted while viewers remain (false: it is over). */
  private onFailed(reason: string): boolean {
    this.lastError = reason;
    if (this.closed || this.viewers.size() === 0) {
      void this.shutdown();
      return false;
    }
    this.setState('restarting');
    this.viewers.clearCache();
    return true;
  }

  /** Stops ffmpeg because nobody watches (or the agent stops); a viewer who came meanwhile restarts it. */
  private async shutdown(): Promise<void> {
    this.clearLinger();
    this.viewers.clearCache();
    if (!this.process.hasChild()) {
      this.track(this.process.stop());
      this.setState('idle');
      return;
    }
    this.setState('stopping');
    const stopped = this.process.stop();
    this.track(stopped);
    await stopped;
    if (this.state !== 'stopping') return;
    if (!this.closed && this.viewers.size() > 0) this.process.start();
    else this.setState('idle');
  }

  private track(stop: Promise<void>): void {
    this.stopping = Promise.all([this.stopping, stop]).then(() => undefined);
  }

  private clearLinger(): void {
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    this.lingerTimer = null;
  }
}

function supervision(options: LiveOptions): Pick<LiveOptions, 'restartInitialMs' | 'restartMaxMs' | 'stableMs' | 'killGraceMs' | 'stderrLines'> {
  const { restartInitialMs, restartMaxMs, stableMs, killGraceMs, stderrLines } = options;
  return { restartInitialMs, restartMaxMs, stableMs, killGraceMs, stderrLines };
}
