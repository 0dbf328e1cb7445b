import { fork as nodeFork, type ChildProcess } from 'node:child_process';
import { childExecArgv, siblingEntry } from '../process/childEntry.js';
import { StderrRing } from '../process/stderrRing.js';
import type { BackendSpec, FromChild, ToChild } from './protocol.js';

export interface ChildHandlers {
  message: (m: FromChild) => void;
  /** stderr: the child's last lines (a native crash's only words). */
  exit: (code: number | null, signal: NodeJS.Signals | null, stderr: string) => void;
  error: (err: Error) => void;
}

/** Forks the inference child (IPC with advanced serialisation, for typed arrays) and sends it its spec. */
export function forkDetectorChild(spec: BackendSpec, handlers: ChildHandlers, fork: typeof nodeFork = nodeFork): ChildProcess {
  const child = fork(siblingEntry(import.meta.url, 'child'), [], { serialization: 'advanced', execArgv: childExecArgv(), stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  const stderr = new StderrRing(20, []);
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.on('message', (m: FromChild) => handlers.message(m));
  child.on('exit', (code, signal) => handlers.exit(code, signal, stderr.all().join('\n').trim()));
  child.on('error', (err) => handlers.error(err));
  const init: ToChild = { type: 'init', spec };
  child.send(init);
  return child;
}
