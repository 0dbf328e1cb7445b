import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { watchFfmpegExit } from '../../src/process/ffmpegExit.js';

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
