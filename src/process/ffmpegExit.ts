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

/** ffmpeg's trailers and hints: true, but never the cause ("Did you mean file:htp://..."). */
const NOT_THE_CAUSE = [/^Did you mean /, /^Error opening input file /, /^Conversion failed!?$/, /^Exiting normally/, /deprecated pixel format used/];

/** Causes ffmpeg words for ffmpeg people, said for a user too. */
const PLAIN_WORDS: Array<[RegExp, string]> = [[/: Protocol not found$/, 'unsupported URL scheme']];

/** The line of ffmpeg's stderr (oldest first) that says why it failed, or null. Pure. */
export function ffmpegCause(stderr: readonly string[]): string | null {
  const line = [...stderr].reverse().find((l) => l.trim() !== '' && !NOT_THE_CAUSE.some((re) => re.test(l.trim())))?.trim();
  if (line === undefined) return null;
  const plain = PLAIN_WORDS.find(([re]) => re.test(line))?.[1];
  return plain ? `${line} (${plain})` : line;
}
