import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { FineTuneResult, LabelledShots } from './fineTune.js';

/**
 * The worker's entry: the built .js file; from source (tests, benchmarks under tsx) a
 * small ES module that registers tsx in the worker first, since loader hooks given with
 * --import do not reach worker threads.
 */
function workerEntry(): URL {
  const ext = extname(fileURLToPath(import.meta.url));
  const entry = new URL(`./tuneWorker${ext}`, import.meta.url);
  if (ext !== '.ts') return entry;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(entry.href)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(boot)}`);
}

type Pending = { resolve: (r: FineTuneResult) => void; reject: (e: Error) => void };

/**
 * Runs fine-tuning (seconds for hundreds of classes) in a worker thread, so that the
 * agent keeps classifying with the plain imprinted weights meanwhile.
 */
export class BackgroundTuner {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly logger: Logger) {}

  async start(): Promise<void> {
    // The worker is started on first use: most runs never change a class.
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.failAll(new Error('tuner stopped'));
    if (worker) await worker.terminate();
  }

  tune(classes: LabelledShots[]): Promise<FineTuneResult> {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, classes });
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(workerEntry());
    worker.unref();
    worker.on('message', (m: { id: number; result?: FineTuneResult; error?: string }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.result) p?.resolve(m.result);
      else p?.reject(new Error(m.error ?? 'fine-tuning failed'));
    });
    worker.on('error', (err) => {
      this.logger.error({ err }, 'fine-tuning worker failed');
      this.worker = null;
      this.failAll(err);
    });
    this.worker = worker;
    return worker;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
