import type { ChildProcess } from 'node:child_process';

/**
 * Watches an ffmpeg child for its end. The promise resolves once the process has exited, or
 * at once if it never started. `onEnd` is told why, once: after ffmpeg's pipes are drained
 * ('close'), so that a caller's ring buffer of stderr holds ffmpeg's last words, or when it
 * could not be started ('error', which a 'close' then follows).
 */
export function watchFfmpegExit(child: ChildProcess, onEnd: (why: string) => void): Promise<void> {
  let told = false;
  const tell = (why: string): void => {
    if (told) return;
    told = true;
    onEnd(why);
  };
  return new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      tell(`ffmpeg exited (${signal ?? `code ${code}`})`);
    });
    child.once('error', (err) => {
      // Spawn failures (ENOENT, EACCES) emit 'error' and no 'exit'. Only the message is
      // given: the error object carries the arguments, URL included.
      if (child.pid === undefined) resolve();
      tell(`ffmpeg failed: ${err.message}`);
    });
  });
}
