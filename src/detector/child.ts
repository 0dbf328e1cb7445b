/**
 * The inference child process. It owns the native interpreter (and the Coral
 * delegate), so a native crash or a hung device takes down only this process; the
 * agent's SupervisedDetector restarts it or falls back to the CPU.
 */
import { TfliteBackend, type Backend } from './backend.js';
import { coralDelegate } from './coralDelegate.js';
import { probeLibrary } from './coralProbe.js';
import type { BackendSpec, FromChild, ToChild } from './protocol.js';

function send(message: FromChild): void {
  process.send?.(message);
}

function createBackend(spec: BackendSpec): Backend | null {
  if (spec.kind === 'cpu') return new TfliteBackend(spec, undefined);
  const delegate = coralDelegate(spec.device, spec.library);
  // Loaded here first: TFLite would dereference the null delegate of a library that
  // cannot load and take this process down without a word.
  const probe = probeLibrary(delegate.path);
  if (!probe.ok) {
    send({ type: 'unavailable', message: probe.reason });
    return null;
  }
  return new TfliteBackend(spec, delegate);
}

let backend: Backend | null = null;

function handle(message: ToChild): void {
  if (message.type === 'init') {
    try {
      backend = createBackend(message.spec);
      if (backend) send({ type: 'ready', inputSize: backend.inputSize });
    } catch (err) {
      send({ type: 'unavailable', message: err instanceof Error ? err.message : String(err) });
    }
    return;
  }
  if (!backend) {
    send({ type: 'failed', id: message.id, message: 'detector is not initialised' });
    return;
  }
  try {
    const started = performance.now();
    const embedding = backend.embed(message.rgb);
    send({ type: 'result', id: message.id, embedding, inferenceMs: performance.now() - started });
  } catch (err) {
    send({ type: 'failed', id: message.id, message: err instanceof Error ? err.message : String(err) });
  }
}

process.on('message', (message: ToChild) => handle(message));
// The parent going away (even by kill -9) closes the IPC channel: leave with it.
process.on('disconnect', () => process.exit(0));
// Ctrl-C and systemd signal the whole process group; the agent decides when this child
// stops (by disconnecting), so that shutdown is orderly and not mistaken for a crash.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
