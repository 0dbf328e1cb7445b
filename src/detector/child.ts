/**
 * The inference child process. It owns the native interpreter (and the Coral
 * delegate), so a native crash or a hung device takes down only this process; the
 * agent's SupervisedDetector restarts it or falls back to the CPU.
 */
import { TfliteBackend, type Backend } from './backend.js';
import { coralDelegate } from './coralDelegate.js';
import { probeLibrary } from './coralProbe.js';
import { OnnxBackend } from './onnxBackend.js';
import type { BackendSpec, FromChild, RunningBackend, ToChild } from './protocol.js';

function send(message: FromChild): void {
  process.send?.(message);
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

interface Started {
  backend: Backend;
  running: RunningBackend;
  fallback?: string;
}

async function createCpuBackend(spec: BackendSpec): Promise<Started> {
  if (spec.runtime !== 'onnx') return { backend: new TfliteBackend(spec, undefined), running: 'tflite' };
  try {
    return { backend: await OnnxBackend.create(spec), running: 'onnx' };
  } catch (err) {
    // The TFLite reference runs the same model, slower: better than no detector.
    return { backend: new TfliteBackend(spec, undefined), running: 'tflite', fallback: errorText(err) };
  }
}

async function createBackend(spec: BackendSpec): Promise<Started | null> {
  if (spec.kind === 'cpu') return createCpuBackend(spec);
  const delegate = coralDelegate(spec.device, spec.library);
  // Loaded here first: TFLite would dereference the null delegate of a library that
  // cannot load and take this process down without a word.
  const probe = probeLibrary(delegate.path);
  if (!probe.ok) {
    send({ type: 'unavailable', message: probe.reason });
    return null;
  }
  return { backend: new TfliteBackend(spec, delegate), running: 'coral' };
}

let backend: Backend | null = null;

async function init(spec: BackendSpec): Promise<void> {
  try {
    const started = await createBackend(spec);
    if (!started) return;
    backend = started.backend;
    const ready: FromChild = { type: 'ready', inputSize: backend.inputSize, backend: started.running };
    send(started.fallback ? { ...ready, fallback: started.fallback } : ready);
  } catch (err) {
    send({ type: 'unavailable', message: errorText(err) });
  }
}

async function embed(id: number, rgb: Uint8Array): Promise<void> {
  if (!backend) {
    send({ type: 'failed', id, message: 'detector is not initialised' });
    return;
  }
  try {
    const started = performance.now();
    const embedding = await backend.embed(rgb);
    send({ type: 'result', id, embedding, inferenceMs: performance.now() - started });
  } catch (err) {
    send({ type: 'failed', id, message: errorText(err) });
  }
}

async function embedBatch(id: number, rgbs: Uint8Array[]): Promise<void> {
  if (!backend) {
    send({ type: 'failed', id, message: 'detector is not initialised' });
    return;
  }
  try {
    const started = performance.now();
    const embeddings = backend.embedBatch ? await backend.embedBatch(rgbs) : [];
    if (!backend.embedBatch) for (const rgb of rgbs) embeddings.push(await backend.embed(rgb));
    send({ type: 'results', id, embeddings, inferenceMs: performance.now() - started });
  } catch (err) {
    send({ type: 'failed', id, message: errorText(err) });
  }
}

function run(message: ToChild): Promise<void> {
  if (message.type === 'init') return init(message.spec);
  if (message.type === 'embed') return embed(message.id, message.rgb);
  return embedBatch(message.id, message.rgbs);
}

/** Messages are handled one after the other, also when a backend answers asynchronously. */
let work: Promise<void> = Promise.resolve();

function handle(message: ToChild): void {
  // run() answers its own errors; the catch only keeps one unexpected throw from stopping the chain.
  work = work.then(() => run(message)).catch((err: unknown) => {
    process.stderr.write(`detector child: ${errorText(err)}\n`);
  });
}

process.on('message', (message: ToChild) => handle(message));
// The parent going away (even by kill -9) closes the IPC channel: leave with it.
process.on('disconnect', () => process.exit(0));
// Ctrl-C and systemd signal the whole process group; the agent decides when this child
// stops (by disconnecting), so that shutdown is orderly and not mistaken for a crash.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
