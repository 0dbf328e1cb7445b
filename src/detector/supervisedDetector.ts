import { fork as nodeFork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { DetectorConfig } from '../config/types.js';
import { AppError, errorMessage } from '../errors.js';
import { verifyModel } from '../models/install.js';
import { modelPath, type ModelFile } from '../models/manifest.js';
import { backendInfo, backendSpec, chooseBackend, choiceLine } from './backendChoice.js';
import { findCorals } from './coralProbe.js';
import { forkDetectorChild } from './childProcess.js';
import type { BackendKind, BackendSpec, FromChild, RunningBackend, ToChild } from './protocol.js';
import { CrashWindow, detectorUp, GIVE_UP, type DetectorChange, type DetectorState, type GiveUpPolicy } from './state.js';
import type { Detector, DetectorInfo, DetectorStats } from './types.js';
import type { InputSize } from '../media/image.js';
import { backoffDelay } from '../process/backoff.js';
import { endChild, hasExited } from '../process/kill.js';
import { JobQueue } from './jobQueue.js';

export interface SupervisedDetectorOptions {
  config: DetectorConfig;
  modelDir: string;
  manifest: ModelFile[];
  logger: Logger;
  /** Every change of state, with the backend it concerns (the agent puts it on its bus). */
  onChange?: (change: DetectorChange) => void;
  fork?: typeof nodeFork;
  /** Edge TPU failures (crashes, hangs) in a row before falling back to the CPU. */
  tpuFailuresBeforeFallback?: number;
  /** How long the CPU fallback lasts before the Edge TPU is tried again. */
  tpuRetryMs?: number;
  /** When a crashing CPU child is given up on, and how often it is retried then (GIVE_UP). */
  giveUp?: Partial<GiveUpPolicy>;
  backoff?: { initialMs: number; maxMs: number };
  maxQueue?: number;
  corals?: () => { usb: number; pci: number };
  onInference?: (ms: number) => void;
  now?: () => number;
}

const READY_TIMEOUT_MS = 60_000;
/** Most crops in one ONNX Runtime run: a frame's zones, typically 1 to 4. */
const MAX_BATCH = 8;
const RESTART_BUDGET_MS = 20_000;
const KILL_GRACE_MS = 2000;

/**
 * Inference in a supervised child: a crash or hang costs a restart, never the agent; Edge TPU
 * failures fall back to the CPU (the TPU is tried again later); a CPU crash loop is `failed`.
 */
export class SupervisedDetector implements Detector {
  private child: ChildProcess | null = null;
  private current: DetectorState = 'starting';
  private failedReason = '';
  private kind: BackendKind = 'cpu';
  /** What the ready child runs (a CPU child may run TFLite in place of ONNX Runtime); null while none is ready. */
  private running: RunningBackend | null = null;
  private fallbackLogged = '';
  private pumpScheduled = false;
  private preferred: BackendKind = 'cpu';
  private sha: Record<BackendKind, string> = { cpu: '', edgetpu: '' };
  private size: InputSize = { width: 224, height: 224 };
  private readonly jobs: JobQueue;
  private inFlightTimer: NodeJS.Timeout | null = null;
  private readyTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private retryTpuTimer: NodeJS.Timeout | null = null;
  private retryFailedTimer: NodeJS.Timeout | null = null;
  /** Failures in a row: the backoff's exponent, and the Edge TPU's road to the CPU. */
  private failures = 0;
  private readonly crashes: CrashWindow;
  private readonly policy: GiveUpPolicy;
  /** Retrying after `failed`: one crash before a successful inference fails again. */
  private retrying = false;
  private restarts = 0;
  private inferenceMs = 0;
  private stopping = false;
  private readyWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private backendReason = '';
  private stateReason = '';

  constructor(private readonly opts: SupervisedDetectorOptions) {
    this.policy = { ...GIVE_UP, ...opts.giveUp };
    this.crashes = new CrashWindow(this.policy.windowMs);
    this.jobs = new JobQueue(opts.maxQueue ?? 64);
  }

  get inputSize(): InputSize {
    return this.size;
  }

  get state(): DetectorState {
    return this.current;
  }

  /** The backend chosen now (running, or being started). */
  info(): DetectorInfo {
    return backendInfo(this.spec(this.kind), this.running ?? undefined);
  }

  stats(): DetectorStats {
    return { inference_ms: Math.round(this.inferenceMs * 100) / 100, restarts: this.restarts };
  }

  /** Why this backend was chosen, and why the state is what it is (the dashboard's status page). */
  reasons(): { backend: string; state: string } {
    return { backend: this.backendReason, state: this.stateReason };
  }

  /** sha256 of the model whose embeddings this detector produces (the CPU twin's for both). */
  modelId(): string {
    return this.sha.cpu;
  }

  async start(): Promise<void> {
    this.stopping = false;
    const { config, modelDir, manifest } = this.opts;
    this.sha.cpu = await verifyModel(modelPath(modelDir, config.model.cpu), manifest);
    const edgetpuPath = modelPath(modelDir, config.model.edgetpu);
    const edgetpuModelPresent = config.type !== 'cpu' && existsSync(edgetpuPath);
    if (edgetpuModelPresent) this.sha.edgetpu = await verifyModel(edgetpuPath, manifest);
    const corals = (this.opts.corals ?? findCorals)();
    const choice = chooseBackend(config, { corals, edgetpuModelPresent });
    this.preferred = choice.kind;
    this.backendReason = choice.reason;
    this.opts.logger.info({ detector: choice.kind, reason: choice.reason }, choiceLine(choice, config));
    this.setState('starting', 'the detector is starting');
    this.spawn(choice.kind);
    await this.waitReady();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of [this.restartTimer, this.retryTpuTimer, this.retryFailedTimer, this.inFlightTimer, this.readyTimer]) {
      if (timer) clearTimeout(timer);
    }
    const err = new AppError('detector_unavailable', 'detector is stopping');
    this.jobs.failAll(err);
    this.readyWaiters.splice(0).forEach((w) => w.reject(err));
    await this.killChild();
  }

  embed(rgb: Uint8Array): Promise<Float32Array> {
    if (this.stopping) return Promise.reject(new AppError('detector_unavailable', 'detector is stopped'));
    if (this.current === 'failed') return Promise.reject(this.failedError());
    // Enough for the Edge TPU to fail over to the CPU (a few inference timeouts, plus child restarts).
    const deadlineMs = this.opts.config.inference_timeout_ms * (this.fallbackAfter() + 2) + RESTART_BUDGET_MS;
    const result = this.jobs.add(rgb, deadlineMs);
    this.pumpSoon();
    return result;
  }

  /** For a batching backend the send waits for the end of this event-loop turn: a frame's zones go in one run. */
  private pumpSoon(): void {
    if (this.running !== 'onnx') return this.pump();
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** The one place the state changes: logs it, settles start(), tells onChange. */
  private setState(next: DetectorState, reason: string): void {
    if (next === this.current) return;
    this.current = next;
    this.stateReason = reason;
    const info = this.info();
    const level = next === 'failed' ? 'error' : 'info';
    this.opts.logger[level]({ state: next, detector: info.type }, `${next}: ${reason}`);
    if (detectorUp(next)) this.readyWaiters.splice(0).forEach((w) => w.resolve());
    if (next === 'failed') this.readyWaiters.splice(0).forEach((w) => w.reject(this.failedError()));
    this.opts.onChange?.({ state: next, type: info.type, device: info.device, model: info.model, reason });
  }

  private failedError(): AppError {
    const retryS = Math.round(this.policy.retryMs / 1000);
    return new AppError('detector_unavailable', `the detector failed (${this.failedReason}); it is retried every ${retryS} s`);
  }

  private fallbackAfter(): number {
    return this.opts.tpuFailuresBeforeFallback ?? 3;
  }

  private spec(kind: BackendKind): BackendSpec {
    return backendSpec(kind, this.opts.config, this.opts.modelDir, this.sha);
  }

  private waitReady(): Promise<void> {
    if (detectorUp(this.current)) return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Runs a supervision step nobody awaits; a failure in it is logged, never unhandled. */
  private background(step: Promise<void>, what: string): void {
    step.catch((err: unknown) => this.opts.logger.error({ err: errorMessage(err) }, `${what} failed`));
  }

  private spawn(kind: BackendKind): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (kind !== this.kind) this.running = null;
    this.kind = kind;
    const child: ChildProcess = forkDetectorChild(
      this.spec(kind),
      {
        message: (m) => this.onMessage(child, m),
        exit: (code, signal, stderr) => this.onExit(child, code, signal, stderr),
        error: (err) => this.opts.logger.error({ err }, 'detector child error'),
      },
      this.opts.fork,
    );
    this.child = child;
    this.readyTimer = setTimeout(() => {
      this.opts.logger.error(`detector (${kind}) did not become ready in ${READY_TIMEOUT_MS / 1000} s; killing it`);
      child.kill('SIGKILL');
    }, READY_TIMEOUT_MS);
  }

  private onMessage(child: ChildProcess, m: FromChild): void {
    if (child !== this.child) return;
    switch (m.type) {
      case 'ready':
        return this.onReady(m.inputSize, m.backend, m.fallback);
      case 'unavailable':
        return this.onUnavailable(m.message);
      case 'result':
        return this.finish(m.id, null, [m.embedding], m.inferenceMs);
      case 'results':
        return this.finish(m.id, null, m.embeddings, m.inferenceMs);
      case 'failed':
        return this.finish(m.id, new AppError('detector_unavailable', `inference failed: ${m.message}`));
    }
  }

  private onReady(inputSize: InputSize, running: RunningBackend, fallback: string | undefined): void {
    if (this.readyTimer) clearTimeout(this.readyTimer);
    this.size = inputSize;
    if (fallback && fallback !== this.fallbackLogged) {
      this.fallbackLogged = fallback;
      this.opts.logger.warn({ backend: running }, `ONNX Runtime did not start (${fallback}); the CPU runs on TFLite instead`);
    }
    this.running = running;
    if (this.kind === this.preferred) this.setState('ready', `the ${this.kind} child is ready`);
    else this.setState('fallback', 'the CPU runs in place of the Edge TPU');
    this.pump();
  }

  private onUnavailable(message: string): void {
    if (this.kind === 'edgetpu') {
      this.opts.logger.warn(`Edge TPU unavailable: ${message}. Is the Coral plugged in and libedgetpu installed?`);
      this.background(this.fallBackToCpu(message), 'falling back to the CPU');
      return;
    }
    // A model the CPU interpreter refuses will not load on the next try either.
    this.giveUp(`the CPU detector cannot start: ${message}`);
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null, stderr: string): void {
    if (child !== this.child) return;
    this.child = null;
    if (this.readyTimer) clearTimeout(this.readyTimer);
    if (this.stopping) return;
    this.restarts++;
    this.failures++;
    const how = signal ?? `exit code ${code}`;
    this.opts.logger.error({ code, signal, stderr: stderr.slice(-500) }, `detector child (${this.kind}) died (${how})`);
    this.requeueInFlight();
    if (this.kind === 'edgetpu') return this.afterTpuCrash(how);
    // The CPU is the last resort: a loop of its crashes is given up on, not restarted forever.
    const inWindow = this.crashes.record((this.opts.now ?? Date.now)());
    if (this.retrying) return this.giveUp(`the retry crashed too (${how})`);
    if (inWindow >= this.policy.crashes) {
      const minutes = Math.round(this.policy.windowMs / 60_000);
      return this.giveUp(`${inWindow} crashes in ${minutes} min without a successful inference, the last ${how}`);
    }
    this.restartAfterBackoff(`the cpu child died (${how})`);
  }

  private afterTpuCrash(how: string): void {
    if (this.failures >= this.fallbackAfter()) {
      this.setState('restarting', `the Edge TPU failed ${this.failures} times in a row, the last ${how}`);
      this.background(this.fallBackToCpu(`${this.failures} failures in a row`), 'falling back to the CPU');
      return;
    }
    this.restartAfterBackoff(`the edgetpu child died (${how})`);
  }

  private restartAfterBackoff(reason: string): void {
    this.setState('restarting', reason);
    const { initialMs, maxMs } = this.opts.backoff ?? { initialMs: 250, maxMs: 30_000 };
    const delay = backoffDelay(initialMs, maxMs, this.failures);
    this.restartTimer = setTimeout(() => this.spawn(this.kind), delay);
  }

  /** `failed`: no child, every waiting job refused, and one retry after `policy.retryMs`. */
  private giveUp(reason: string): void {
    this.failedReason = reason;
    for (const timer of [this.restartTimer, this.retryTpuTimer, this.retryFailedTimer]) {
      if (timer) clearTimeout(timer);
    }
    this.setState('failed', `${reason}; retrying in ${Math.round(this.policy.retryMs / 1000)} s`);
    this.jobs.failAll(this.failedError());
    this.background(this.killChild(), 'stopping the failed detector child');
    this.retryFailedTimer = setTimeout(() => this.retryAfterFailure(), this.policy.retryMs);
  }

  private retryAfterFailure(): void {
    if (this.stopping) return;
    this.retrying = true;
    this.failures = 0;
    this.setState('restarting', `retrying the ${this.kind} detector after the failure`);
    this.spawn(this.kind);
    if (this.kind !== this.preferred) this.scheduleTpuRetry();
  }

  private async fallBackToCpu(reason: string): Promise<void> {
    const retryMs = this.opts.tpuRetryMs ?? 10 * 60_000;
    this.opts.logger.warn(
      `falling back to the CPU (${reason}); the Edge TPU will be tried again in ${Math.round(retryMs / 1000)} s`,
    );
    await this.killChild();
    if (this.stopping) return;
    this.failures = 0;
    this.spawn('cpu');
    this.scheduleTpuRetry();
  }

  private scheduleTpuRetry(): void {
    if (this.retryTpuTimer) clearTimeout(this.retryTpuTimer);
    const retryMs = this.opts.tpuRetryMs ?? 10 * 60_000;
    this.retryTpuTimer = setTimeout(() => this.background(this.retryTpu(), 'retrying the Edge TPU'), retryMs);
  }

  private async retryTpu(): Promise<void> {
    if (this.stopping || this.kind === 'edgetpu') return;
    // Only from a running fallback: a CPU child being restarted, or a failed one, waits its turn.
    if (this.current !== 'fallback') return this.scheduleTpuRetry();
    this.opts.logger.info('trying the Edge TPU again');
    this.setState('restarting', 'trying the Edge TPU again');
    await this.killChild();
    if (this.stopping) return;
    this.failures = 0;
    this.spawn('edgetpu');
  }

  private requeueInFlight(): void {
    if (this.inFlightTimer) clearTimeout(this.inFlightTimer);
    this.jobs.requeue(this.kind === 'edgetpu');
  }

  private pump(): void {
    if (!detectorUp(this.current) || !this.child) return;
    const sent = this.jobs.take(this.running === 'onnx' ? MAX_BATCH : 1);
    if (!sent) return;
    const child = this.child;
    this.inFlightTimer = setTimeout(() => {
      this.opts.logger.error(
        `inference took longer than ${this.opts.config.inference_timeout_ms} ms; killing the ${this.kind} detector`,
      );
      child.kill('SIGKILL');
    }, this.opts.config.inference_timeout_ms);
    const message: ToChild =
      sent.rgbs.length === 1 ? { type: 'embed', id: sent.id, rgb: sent.rgbs[0]! } : { type: 'embedBatch', id: sent.id, rgbs: sent.rgbs };
    child.send(message);
  }

  /** The child's answer to the send in flight; `ms` is the whole run's, shared by its crops. */
  private finish(id: number, err: Error | null, embeddings?: Float32Array[], ms?: number): void {
    const count = this.jobs.finish(id, err, embeddings);
    if (count === 0) return;
    if (this.inFlightTimer) clearTimeout(this.inFlightTimer);
    if (embeddings && ms !== undefined && !err) {
      this.failures = 0;
      this.crashes.clear();
      this.retrying = false;
      const each = ms / count;
      this.inferenceMs = this.inferenceMs === 0 ? each : this.inferenceMs * 0.9 + each * 0.1;
      for (let i = 0; i < count; i++) this.opts.onInference?.(each);
    }
    this.pump();
  }

  private async killChild(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (this.readyTimer) clearTimeout(this.readyTimer);
    if (!this.stopping) this.requeueInFlight();
    if (!child || hasExited(child)) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // The child leaves when its IPC channel closes; a hung one gets SIGKILL.
    await endChild(child, exited, KILL_GRACE_MS, () => {
      if (child.connected) child.disconnect();
    });
  }
}

export type { BackendSpec };
