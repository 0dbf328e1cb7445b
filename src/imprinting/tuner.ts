import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { FineTuneResult, LabelledShots } from '../recognition/fineTune.js';

/** The fine-tuning worker shipped in recognition/: tuneWorker.ts under tsx, .js when built. */
export function defaultTuneWorker(): URL {
  return new URL(`../recognition/tuneWorker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
}

/**
 * What `new Worker` runs for `entry`: a .js file as it is; a .ts file (tests, benchmarks
 * under tsx) through a small ES module that registers tsx in the worker first, since
 * loader hooks given with --import do not reach worker threads.
 */
function workerUrl(entry: URL): URL {
  if (!entry.pathname.endsWith('.ts')) return entry;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(entry.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(boot)}`);
}

type Pending = { worker: Worker; resolve: (r: FineTuneResult) => void; reject: (e: Error) => void };

export interface BackgroundTunerOptions {
  /** The worker's module; it answers `{id, classes}` with `{id, result}` or `{id, error}`. */
  entry?: URL;
}

/**
 * Runs fine-tuning (seconds for hundreds of classes) in a worker thread, so that the
 * agent keeps classifying with the plain imprinted weights meanwhile. A worker that
 * throws or exits settles its pending tunes with an error and is replaced on the next use.
 */
export class BackgroundTuner {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly logger: Logger,
    private readonly opts: BackgroundTunerOptions = {},
  ) {}

  async start(): Promise<void> {
    // The worker is started on first use: most runs never change a class.
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (!worker) return;
    this.failAll(worker, new Error('tuner stopped'));
    await worker.terminate();
  }

  tune(classes: LabelledShots[]): Promise<FineTuneResult> {
    return new Promise((resolve, reject) => {
      const worker = this.ensureWorker();
      const id = this.nextId++;
      this.pending.set(id, { worker, resolve, reject });
      worker.postMessage({ id, classes });
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(workerUrl(this.opts.entry ?? defaultTuneWorker()));
    worker.unref();
    worker.on('message', (m: { id: number; result?: FineTuneResult; error?: string }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.result) p?.resolve(m.result);
      else p?.reject(new Error(m.error ?? 'fine-tuning failed'));
    });
    worker.on('error', (err) => {
      this.logger.error({ err }, 'fine-tuning worker failed');
      this.forget(worker, err);
    });
    // Also after 'error'; alone when the worker called process.exit() or was terminated.
    worker.on('exit', (code) => this.forget(worker, new Error(`fine-tuning worker exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private forget(worker: Worker, err: Error): void {
    if (this.worker === worker) this.worker = null;
    this.failAll(worker, err);
  }

  /** Rejects the tunes `worker` was running; those of a newer worker keep waiting. */
  private failAll(worker: Worker, err: Error): void {
    for (const [id, p] of this.pending) {
      if (p.worker !== worker) continue;
      this.pending.delete(id);
      p.reject(err);
    }
  }
}
