import { fork as nodeFork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { DetectorConfig } from '../config/types.js';
import { AppError } from '../errors.js';
import type { EventBus } from '../eventBus.js';
import { verifyModel } from '../models/install.js';
import type { ModelFile } from '../models/manifest.js';
import { backendSpec, chooseBackend, modelPath } from './backendChoice.js';
import { findCorals } from './coralProbe.js';
import type { BackendKind, BackendSpec, FromChild, ToChild } from './protocol.js';
import type { Detector, DetectorInfo, DetectorStats, InputSize } from './types.js';

export interface SupervisedDetectorOptions {
  config: DetectorConfig;
  modelDir: string;
  manifest: ModelFile[];
  logger: Logger;
  bus?: EventBus;
  fork?: typeof nodeFork;
  /** Edge TPU failures (crashes, hangs) in a row before falling back to the CPU. */
  tpuFailuresBeforeFallback?: number;
  /** How long the CPU fallback lasts before the Edge TPU is tried again. */
  tpuRetryMs?: number;
  backoff?: { initialMs: number; maxMs: number };
  maxQueue?: number;
  corals?: () => { usb: number; pci: number };
  onInference?: (ms: number) => void;
}

interface Job {
  rgb: Uint8Array;
  attempts: number;
  resolve: (embedding: Float32Array) => void;
  reject: (err: Error) => void;
  deadline: NodeJS.Timeout;
}

const READY_TIMEOUT_MS = 60_000;
const RESTART_BUDGET_MS = 20_000;

/** The child entry next to this file: child.ts under tsx, child.js when built. */
function childEntry(): string {
  const self = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./child${extname(self)}`, import.meta.url));
}

/**
 * Runs inference in a supervised child process. A crash or a hang costs a restart with
 * backoff, never the agent; repeated Edge TPU failures fall back to the CPU, and the
 * Edge TPU is tried again later.
 */
export class SupervisedDetector implements Detector {
  private child: ChildProcess | null = null;
  private ready = false;
  private kind: BackendKind = 'cpu';
  private preferred: BackendKind = 'cpu';
  private sha: Record<BackendKind, string> = { cpu: '', edgetpu: '' };
  private current: DetectorInfo | null = null;
  private size: InputSize = { width: 224, height: 224 };
  private queue: Job[] = [];
  private inFlight: Job | null = null;
  private inFlightTimer: NodeJS.Timeout | null = null;
  private readyTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private retryTpuTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private restarts = 0;
  private inferenceMs = 0;
  private stopping = false;
  private readyWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];

  constructor(private readonly opts: SupervisedDetectorOptions) {}

  get inputSize(): InputSize {
    return this.size;
  }

  info(): DetectorInfo {
    return this.current ?? { type: this.kind, device: '', model: '', model_sha256: this.sha[this.kind] };
  }

  stats(): DetectorStats {
    return { inference_ms: Math.round(this.inferenceMs * 100) / 100, restarts: this.restarts };
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
    this.opts.logger.info(
      { detector: choice.kind, reason: choice.reason },
      choice.kind === 'edgetpu'
        ? `using the Edge TPU (${config.device || 'first Coral'}) because ${choice.reason}`
        : `using the CPU (${config.threads} threads) because ${choice.reason}`,
    );
    this.spawn(choice.kind);
    await this.waitReady();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of [this.restartTimer, this.retryTpuTimer, this.inFlightTimer, this.readyTimer]) {
      if (timer) clearTimeout(timer);
    }
    const err = new AppError('detector_unavailable', 'detector is stopping');
    this.failAll(err);
    this.readyWaiters.splice(0).forEach((w) => w.reject(err));
    await this.killChild();
  }

  embed(rgb: Uint8Array): Promise<Float32Array> {
    if (this.stopping) return Promise.reject(new AppError('detector_unavailable', 'detector is stopped'));
    if (this.queue.length >= (this.opts.maxQueue ?? 64)) {
      return Promise.reject(new AppError('busy', 'detector queue is full'));
    }
    return new Promise((resolve, reject) => {
      // A job waits a bounded time in all: enough for the Edge TPU to fail over to the CPU
      // (a few inference timeouts, plus child restarts), never forever.
      const deadline = setTimeout(() => {
        this.queue = this.queue.filter((j) => j !== job);
        reject(new AppError('detector_unavailable', 'no inference result in time: the detector is restarting'));
      }, this.opts.config.inference_timeout_ms * (this.fallbackAfter() + 2) + RESTART_BUDGET_MS);
      const job: Job = { rgb, attempts: 0, resolve, reject, deadline };
      this.queue.push(job);
      this.pump();
    });
  }

  private fallbackAfter(): number {
    return this.opts.tpuFailuresBeforeFallback ?? 3;
  }

  private waitReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  private spawn(kind: BackendKind): void {
    this.kind = kind;
    this.ready = false;
    const spec = backendSpec(kind, this.opts.config, this.opts.modelDir, this.sha);
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--test') && !a.startsWith('--inspect'));
    const child = (this.opts.fork ?? nodeFork)(childEntry(), [], {
      serialization: 'advanced',
      execArgv,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    this.child = child;
    const stderr: string[] = [];
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr.push(chunk.toString());
      if (stderr.length > 20) stderr.shift();
    });
    child.on('message', (m: FromChild) => this.onMessage(child, m));
    child.on('exit', (code, signal) => this.onExit(child, code, signal, stderr.join('').trim()));
    child.on('error', (err) => this.opts.logger.error({ err }, 'detector child error'));
    this.readyTimer = setTimeout(() => {
      this.opts.logger.error(`detector (${kind}) did not become ready in ${READY_TIMEOUT_MS / 1000} s; killing it`);
      child.kill('SIGKILL');
    }, READY_TIMEOUT_MS);
    const init: ToChild = { type: 'init', spec };
    child.send(init);
  }

  private onMessage(child: ChildProcess, m: FromChild): void {
    if (child !== this.child) return;
    switch (m.type) {
      case 'ready':
        return this.onReady(m.info, m.inputSize);
      case 'unavailable':
        return this.onUnavailable(m.message);
      case 'result':
        return this.finish(m.id, null, m.embedding, m.inferenceMs);
      case 'failed':
        return this.finish(m.id, new AppError('detector_unavailable', `inference failed: ${m.message}`));
    }
  }

  private onReady(info: DetectorInfo, inputSize: InputSize): void {
    if (this.readyTimer) clearTimeout(this.readyTimer);
    this.ready = true;
    this.size = inputSize;
    const changed = this.current?.type !== info.type;
    this.current = info;
    if (changed) {
      const reason = info.type === this.preferred ? 'started' : 'fallback';
      this.opts.bus?.emit('detectorChanged', { type: info.type, device: info.device, model: info.model, reason });
    }
    this.readyWaiters.splice(0).forEach((w) => w.resolve());
    this.pump();
  }

  private onUnavailable(message: string): void {
    if (this.kind === 'edgetpu') {
      this.opts.logger.warn(`Edge TPU unavailable: ${message}. Is the Coral plugged in and libedgetpu installed?`);
      void this.fallBackToCpu(message);
      return;
    }
    this.opts.logger.error(`CPU detector cannot start: ${message}`);
    const err = new AppError('detector_unavailable', `detector cannot start: ${message}`);
    this.readyWaiters.splice(0).forEach((w) => w.reject(err));
    this.failAll(err);
    this.child?.kill('SIGKILL');
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null, stderr: string): void {
    if (child !== this.child) return;
    this.child = null;
    this.ready = false;
    if (this.readyTimer) clearTimeout(this.readyTimer);
    if (this.stopping) return;
    this.restarts++;
    this.failures++;
    this.opts.logger.error(
      { code, signal, stderr: stderr.slice(-500) },
      `detector child (${this.kind}) died (${signal ?? `exit code ${code}`}); restarting`,
    );
    this.requeueInFlight();
    if (this.kind === 'edgetpu' && this.failures >= this.fallbackAfter()) {
      void this.fallBackToCpu(`${this.failures} failures in a row`);
      return;
    }
    const { initialMs, maxMs } = this.opts.backoff ?? { initialMs: 250, maxMs: 30_000 };
    const delay = Math.min(initialMs * 2 ** (this.failures - 1), maxMs);
    this.restartTimer = setTimeout(() => this.spawn(this.kind), delay);
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
    this.retryTpuTimer = setTimeout(() => void this.retryTpu(), retryMs);
  }

  private async retryTpu(): Promise<void> {
    if (this.stopping || this.kind === 'edgetpu') return;
    this.opts.logger.info('trying the Edge TPU again');
    await this.killChild();
    if (!this.stopping) this.spawn('edgetpu');
  }

  private requeueInFlight(): void {
    if (this.inFlightTimer) clearTimeout(this.inFlightTimer);
    const job = this.inFlight;
    this.inFlight = null;
    if (!job) return;
    // Edge TPU losses are retried until the CPU fallback takes over; on the CPU one more
    // try, since an input that kills the CPU interpreter twice will do so again.
    if (this.kind === 'edgetpu' || job.attempts < 2) this.queue.unshift(job);
    else this.settle(job, new AppError('detector_unavailable', 'the detector crashed twice on this input'));
  }

  private nextId = 1;
  private inFlightId = 0;

  private pump(): void {
    if (!this.ready || !this.child || this.inFlight) return;
    const job = this.queue.shift();
    if (!job) return;
    job.attempts++;
    this.inFlight = job;
    this.inFlightId = this.nextId++;
    const child = this.child;
    this.inFlightTimer = setTimeout(() => {
      this.opts.logger.error(
        `inference took longer than ${this.opts.config.inference_timeout_ms} ms; killing the ${this.kind} detector`,
      );
      child.kill('SIGKILL');
    }, this.opts.config.inference_timeout_ms);
    const message: ToChild = { type: 'embed', id: this.inFlightId, rgb: job.rgb };
    child.send(message);
  }

  private finish(id: number, err: Error | null, embedding?: Float32Array, ms?: number): void {
    if (id !== this.inFlightId || !this.inFlight) return;
    if (this.inFlightTimer) clearTimeout(this.inFlightTimer);
    const job = this.inFlight;
    this.inFlight = null;
    if (embedding && ms !== undefined) {
      this.failures = 0;
      this.inferenceMs = this.inferenceMs === 0 ? ms : this.inferenceMs * 0.9 + ms * 0.1;
      this.opts.onInference?.(ms);
    }
    this.settle(job, err, embedding);
    this.pump();
  }

  private settle(job: Job, err: Error | null, embedding?: Float32Array): void {
    clearTimeout(job.deadline);
    if (err || !embedding) job.reject(err ?? new AppError('detector_unavailable', 'no embedding'));
    else job.resolve(embedding);
  }

  private failAll(err: Error): void {
    if (this.inFlight) this.settle(this.inFlight, err);
    this.inFlight = null;
    this.queue.splice(0).forEach((job) => this.settle(job, err));
  }

  private async killChild(): Promise<void> {
    const child = this.child;
    this.child = null;
    this.ready = false;
    if (!this.stopping) this.requeueInFlight();
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // The child leaves when its IPC channel closes; a hung one gets SIGKILL.
    if (child.connected) child.disconnect();
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}

export type { BackendSpec };
