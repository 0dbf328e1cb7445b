import { fork as nodeFork, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StderrRing } from '../process/stderrRing.js';
import type { BackendSpec, FromChild, ToChild } from './protocol.js';

/** The child entry next to this file: child.ts under tsx, child.js when built. */
function childEntry(): string {
  const self = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./child${extname(self)}`, import.meta.url));
}

export interface ChildHandlers {
  message: (m: FromChild) => void;
  /** stderr: the child's last lines (a native crash's only words). */
  exit: (code: number | null, signal: NodeJS.Signals | null, stderr: string) => void;
  error: (err: Error) => void;
}

/** Forks the inference child (IPC with advanced serialisation, for typed arrays) and sends it its spec. */
export function forkDetectorChild(spec: BackendSpec, handlers: ChildHandlers, fork: typeof nodeFork = nodeFork): ChildProcess {
  // The test runner's and the inspector's flags would make the child a test file or a debug target.
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--test') && !a.startsWith('--inspect'));
  const child = fork(childEntry(), [], { serialization: 'advanced', execArgv, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  const stderr = new StderrRing(20, []);
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.on('message', (m: FromChild) => handlers.message(m));
  child.on('exit', (code, signal) => handlers.exit(code, signal, stderr.all().join('\n').trim()));
  child.on('error', (err) => handlers.error(err));
  const init: ToChild = { type: 'init', spec };
  child.send(init);
  return child;
}
