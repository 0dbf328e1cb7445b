import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { ffmpegCause, watchFfmpegExit } from '../../src/process/ffmpegExit.js';

/** Watches a child and collects what it was told, once the promise has resolved. */
async function watched(child: ReturnType<typeof spawn>): Promise<string[]> {
  const told: string[] = [];
  await watchFfmpegExit(child, (why) => told.push(why));
  // 'close' follows 'exit' once the pipes are drained.
  await new Promise((r) => setTimeout(r, 100));
  return told;
}

void describe('watchFfmpegExit', () => {
  it('tells the exit code once, after the process ends', async () => {
    assert.deepEqual(await watched(spawn('sh', ['-c', 'echo last words >&2; exit 3'])), ['ffmpeg exited (code 3)']);
  });

  it('tells the signal that ended it', async () => {
    const child = spawn('sleep', ['30']);
    const told = watched(child);
    child.kill('SIGKILL');
    assert.deepEqual(await told, ['ffmpeg exited (SIGKILL)']);
  });

  it('resolves for a process that never started, and tells why without its arguments', async () => {
    const told = await watched(spawn('/nonexistent/ffmpeg', ['-i', 'rtsp://user:secret@cam/stream']));
    assert.equal(told.length, 1);
    assert.match(told[0]!, /^ffmpeg failed: spawn \/nonexistent\/ffmpeg ENOENT$/);
    assert.doesNotMatch(told[0]!, /secret/);
  });
});

void describe('ffmpegCause: the stderr line that says why, from the real ffmpeg', () => {
  const stderrOf = (args: string[]): string[] =>
    spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'warning', ...args, '-f', 'null', '-'], { encoding: 'utf8' }).stderr.split('\n');

  void it('an unknown protocol: the cause, in plain words, not "Did you mean file:"', () => {
    const lines = stderrOf(['-i', 'htp://cam/stream']);
    assert.ok(lines.some((l) => l.startsWith('Did you mean')), lines.join('\n'));
    assert.equal(ffmpegCause(lines), 'htp://cam/stream: Protocol not found (unsupported URL scheme)');
  });

  void it('a missing file: its line; nothing at all: null', () => {
    assert.equal(ffmpegCause(stderrOf(['-i', '/nonexistent/clip.mp4'])), '/nonexistent/clip.mp4: No such file or directory');
    assert.equal(ffmpegCause(['', 'Conversion failed!']), null);
  });
});
