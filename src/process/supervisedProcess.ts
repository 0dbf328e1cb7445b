/**
 * One supervised child process (every ffmpeg of the agent: the cameras' and the live
 * views'). It restarts with backoff while wanted, is killed when it stops giving output,
 * and ends with SIGTERM then SIGKILL. What the output means stays with its user.
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import type { Logger } from 'pino';
import { scrubSecrets } from '../config/redact.js';
import { errorMessage } from '../errors.js';
import { Backoff } from './backoff.js';
import { watchFfmpegExit } from './ffmpegExit.js';
import { endChild, killNow } from './kill.js';
import { StderrRing } from './stderrRing.js';

export type SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export type ProcessStatus = 'online' | 'offline';

export interface SupervisionOptions {
  restartInitialMs: number;
  restartMaxMs: number;
  /**
   * Restart-loop guard: when the child came up and then died this many times within
   * `loopWindowMs` (a flapping stream, where each output resets the backoff), restarts wait
   * `loopDelayMs` and its stderr is logged once. An unreachable camera never produces
   * output and is paced by the backoff alone, so its return is noticed quickly.
   */
  loopMaxRestarts: number;
  loopWindowMs: number;
  loopDelayMs: number;
  /** Between SIGTERM and SIGKILL. */
  killGraceMs: number;
  stderrLines: number;
  /** A run that has given output this long resets the backoff (0: its first output does). */
  stableMs: number;
}

export const DEFAULT_SUPERVISION: SupervisionOptions = {
  restartInitialMs: 500,
  restartMaxMs: 3_000,
  loopMaxRestarts: 5,
  loopWindowMs: 60_000,
  loopDelayMs: 10_000,
  killGraceMs: 2_000,
  stderrLines: 20,
  stableMs: 0,
};

export interface LaunchPlan {
  command: string;
  args: readonly string[];
  stdio: SpawnOptions['stdio'];
}

/** The user's view of one started child. */
export interface RunHandle {
  /** A sign of life for the watchdog; false when this run is over and its output must be ignored. */
  output(): boolean;
}

export interface SupervisedProcessHooks {
  /** The command of each start (the config may name files that change between starts). */
  plan(): LaunchPlan;
  /** Wires a new child's outputs. */
  attach(child: ChildProcess, run: RunHandle): void;
  /** Each start attempt, the first and every restart. */
  starting?(): void;
  stderrLine?(line: string): void;
  /** Called on changes only: online at the first output, offline after the stall time without any. */
  status?(status: ProcessStatus): void;
  /** A run failed (reason scrubbed). Returning false: no restart, the user stops the supervisor. */
  failed?(reason: string): boolean;
}

export interface SupervisedProcessDeps {
  /** How log messages name the child: `ffmpeg`, `live ffmpeg`. */
  label: string;
  logger: Logger;
  spawn: SpawnFn;
  /** e.g. parentDeathPrefix(): put before the command. */
  launchPrefix: readonly string[];
  stallMs: number;
  /** The failure reason of a stall, e.g. `no frame for 5 s`. */
  stallReason: string;
  /** Hidden in the stderr lines and the reasons kept and logged. */
  secrets: readonly string[];
  options: SupervisionOptions;
  clock: () => number;
  hooks: SupervisedProcessHooks;
}

interface Run {
  child: ChildProcess;
  startedAt: number;
  lastOutputAt: number;
  firstOutputAt: number | null;
  outputs: number;
  failed: boolean;
  exited: Promise<void>;
  ended: Promise<void> | null;
}

export class SupervisedProcess {
  private readonly log: Logger;
  private readonly opts: SupervisionOptions;
  private readonly backoff: Backoff;
  private readonly stderr: StderrRing;
  /** Every child not yet exited, a dying one included: killNow() must reach them all. */
  private readonly children = new Set<ChildProcess>();
  private wanted = false;
  private run: Run | null = null;
  private status: ProcessStatus | null = null;
  private startedAt = 0;
  private lastOutputAt = 0;
  private restartCount = 0;
  private flapTimes: number[] = [];
  private loopWarned = false;
  private lastErrorText: string | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: SupervisedProcessDeps) {
    this.log = deps.logger;
    this.opts = deps.options;
    this.backoff = new Backoff({ initialMs: this.opts.restartInitialMs, maxMs: this.opts.restartMaxMs });
    this.stderr = new StderrRing(this.opts.stderrLines, deps.secrets);
  }

  start(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.startedAt = this.deps.clock();
    // Fine-grained so offline is reported close to the stall time, not up to a second later.
    const period = Math.max(50, Math.min(250, this.deps.stallMs / 10));
    this.watchdog = setInterval(() => this.checkStall(), period);
    this.launch();
  }

  /** Stops restarting and ends the child (awaited: none survives). */
  async stop(): Promise<void> {
    this.wanted = false;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.watchdog = null;
    this.restartTimer = null;
    const run = this.run;
    this.run = null;
    if (run) await this.end(run);
  }

  /** Synchronous SIGKILL of every child, for a process that is exiting anyway. */
  killNow(): void {
    for (const child of this.children) killNow(child);
  }

  pid(): number | null {
    return this.run?.child.pid ?? null;
  }

  hasChild(): boolean {
    return this.run !== null;
  }

  /** Restarts after failures (not the starts asked for by start()). */
  restarts(): number {
    return this.restartCount;
  }

  /** Why the child last failed, with its last stderr line, credentials hidden; null before any failure. */
  lastError(): string | null {
    return this.lastErrorText;
  }

  private launch(): void {
    this.restartTimer = null;
    const { label, launchPrefix } = this.deps;
    const plan = this.deps.hooks.plan();
    this.log.debug({ cmd: this.scrub([plan.command, ...plan.args].join(' ')) }, `starting ${label}`);
    this.stderr.clear();
    this.deps.hooks.starting?.();
    const [command = plan.command, ...args] = [...launchPrefix, plan.command, ...plan.args];
    let child: ChildProcess;
    try {
      child = this.deps.spawn(command, args, { stdio: plan.stdio });
    } catch (err) {
      // e.g. a NUL byte in input_args: retried like any failure, so the camera is not lost.
      this.failed(null, `cannot start ${label}: ${errorMessage(err)}`);
      return;
    }
    this.watch(child);
  }

  private watch(child: ChildProcess): void {
    const run: Run = {
      child,
      startedAt: this.deps.clock(),
      lastOutputAt: 0,
      firstOutputAt: null,
      outputs: 0,
      failed: false,
      exited: watchFfmpegExit(child, (why) => this.fail(run, why)),
      ended: null,
    };
    this.run = run;
    this.children.add(child);
    void run.exited.then(() => this.children.delete(child));
    child.stderr?.on('data', (chunk: Buffer) => {
      for (const line of this.stderr.push(chunk)) this.deps.hooks.stderrLine?.(line);
    });
    this.deps.hooks.attach(child, { output: () => this.output(run) });
  }

  private output(run: Run): boolean {
    if (run !== this.run || run.failed || !this.wanted) return false;
    const now = this.deps.clock();
    this.lastOutputAt = now;
    run.lastOutputAt = now;
    run.outputs += 1;
    run.firstOutputAt ??= now;
    if (now - run.firstOutputAt >= this.opts.stableMs) this.backoff.reset();
    this.setStatus('online');
    return true;
  }

  private setStatus(status: ProcessStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.deps.hooks.status?.(status);
  }

  /** Offline after the stall time without output; a live child that went quiet is killed. */
  private checkStall(): void {
    const now = this.deps.clock();
    if (now - Math.max(this.lastOutputAt, this.startedAt) > this.deps.stallMs) this.setStatus('offline');
    const run = this.run;
    if (run && !run.failed && now - Math.max(run.lastOutputAt, run.startedAt) > this.deps.stallMs) {
      this.fail(run, this.deps.stallReason);
    }
  }

  private fail(run: Run, reason: string): void {
    if (run.failed) return;
    run.failed = true;
    // A run ended on purpose is no longer this.run.
    if (this.wanted && run === this.run) this.failed(run, reason);
  }

  /** A start or a run failed: kept, counted, logged, and restarted after the backoff. */
  private failed(run: Run | null, why: string): void {
    const reason = this.scrub(why);
    const last = this.stderr.last();
    this.lastErrorText = last ? `${reason}: ${last}` : reason;
    if (this.deps.hooks.failed?.(reason) === false || !this.wanted) return;
    const now = this.deps.clock();
    if (run && run.outputs > 0) this.flapTimes.push(now);
    const delay = this.nextDelay(now);
    this.logFailure(reason, delay);
    if (!run) {
      this.restartTimer = setTimeout(() => this.relaunch(), delay);
      return;
    }
    void this.end(run).then(() => this.scheduleRestart(run, delay));
  }

  private scheduleRestart(run: Run, delay: number): void {
    if (!this.wanted || run !== this.run) return;
    this.run = null;
    this.restartTimer = setTimeout(() => this.relaunch(), delay);
  }

  private relaunch(): void {
    this.restartTimer = null;
    if (!this.wanted) return;
    this.restartCount += 1;
    this.launch();
  }

  private looping(): boolean {
    return this.flapTimes.length >= this.opts.loopMaxRestarts;
  }

  private nextDelay(now: number): number {
    this.flapTimes = this.flapTimes.filter((t) => now - t < this.opts.loopWindowMs);
    const backoff = this.backoff.next();
    if (this.looping()) return Math.max(backoff, this.opts.loopDelayMs);
    this.loopWarned = false;
    return backoff;
  }

  private logFailure(reason: string, delay: number): void {
    const { label } = this.deps;
    const failures = this.backoff.count();
    const stderr = this.stderr.all();
    if (this.looping() && this.loopWarned) {
      this.log.debug({ reason, retry_ms: delay }, `${label} failed again`);
    } else if (this.looping()) {
      this.loopWarned = true;
      const times = `${this.flapTimes.length} times in ${this.opts.loopWindowMs / 1000} s`;
      this.log.warn({ reason, retry_ms: delay, failures: this.flapTimes.length, stderr }, `${label} keeps failing after start (${times}); slowing down`);
    } else {
      // A camera that stays down fails every few seconds: warn on the first failure and
      // about once a minute after, with the child's last lines each time.
      const level = failures % 15 === 1 ? 'warn' : 'debug';
      this.log[level]({ reason, retry_ms: delay, failures, stderr }, `${label} failed; restarting`);
    }
  }

  /** Once per run, however many callers wait for it. */
  private end(run: Run): Promise<void> {
    run.ended ??= endChild(run.child, run.exited, this.opts.killGraceMs);
    return run.ended;
  }

  private scrub(text: string): string {
    return scrubSecrets(text, this.deps.secrets);
  }
}
