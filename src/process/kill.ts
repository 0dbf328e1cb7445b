import type { ChildProcess } from 'node:child_process';

/** Whether the child has ended (exit code or signal known). */
export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Asks a child to end (SIGTERM unless `ask` says otherwise), then SIGKILLs it after
 * `graceMs`: an ffmpeg blocked on a vanished UDP source, or a hung native call, can ignore
 * the polite way. Resolves once `exited` has.
 */
export async function endChild(
  child: ChildProcess,
  exited: Promise<void>,
  graceMs: number,
  ask: () => void = () => child.kill('SIGTERM'),
): Promise<void> {
  // Never started ('error' without a pid): nothing to end, and no 'exit' will come.
  if (child.pid === undefined) return;
  if (hasExited(child)) return exited;
  ask();
  const timer = setTimeout(() => {
    if (!hasExited(child)) child.kill('SIGKILL');
  }, graceMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Synchronous SIGKILL, for a process that is exiting anyway. */
export function killNow(child: ChildProcess): void {
  if (child.pid !== undefined && !hasExited(child)) child.kill('SIGKILL');
}

/**
 * Runs `kill` synchronously on process 'exit' until the returned release() is called: an
 * agent ending without stop() (process.exit, an uncaught exception) leaves no child behind.
 */
export function killOnExit(kill: () => void): () => void {
  process.once('exit', kill);
  return () => {
    process.off('exit', kill);
  };
}
