import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT, tempDir, waitFor } from '../helpers/env.js';
import { buildTestClip } from '../helpers/rtspServer.js';

const dir = tempDir('edge-imprint-crash-');
let clip = '';
before(() => {
  clip = buildTestClip(dir.path, 'clip', { secondsEach: 1 });
});
after(() => dir.cleanup());

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts the worker, returns its ffmpeg pid and a promise of its exit. */
async function worker(mode: string, silentUrl?: string) {
  const script = join(ROOT, 'test', 'camera', 'crashWorker.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, clip, mode, ...(silentUrl ? [silentUrl] : [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const line = await waitFor(() => /FFMPEG (\d+)/.exec(out) ?? undefined, 20_000, 'the worker to report its ffmpeg');
  return { child, ffmpeg: Number(line[1]), exited };
}

for (const mode of ['exit', 'throw']) {
  const how = mode === 'exit' ? 'process.exit()' : 'an uncaught exception';
  void test(`agent ends by ${how} without stop(): even an ffmpeg that never writes dies with it`, async () => {
    // A silent server: ffmpeg waits for an answer and never writes, so only the exit hook can end it.
    const sockets: Socket[] = [];
    const silent = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    try {
      const w = await worker(mode, `rtsp://127.0.0.1:${port}/cam`);
      assert.ok(w.ffmpeg > 0);
      assert.notEqual(await w.exited, 0);
      await waitFor(() => !alive(w.ffmpeg), 2000, 'ffmpeg gone');
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
}

void test('agent process SIGKILLed: its ffmpeg exits on the broken pipe', async () => {
  const w = await worker('hang');
  w.child.kill('SIGKILL');
  await w.exited;
  await waitFor(() => !alive(w.ffmpeg), 3000, 'ffmpeg gone after its reader vanished');
});

void test('agent process SIGKILLed while its ffmpeg waits on a silent source: the kernel ends ffmpeg too', async () => {
  // No frame is ever written, so no broken pipe: only the parent-death signal (setpriv) helps.
  const sockets: Socket[] = [];
  const silent = createServer((s) => void sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as AddressInfo).port;
  try {
    const w = await worker('hang', `rtsp://127.0.0.1:${port}/cam`);
    w.child.kill('SIGKILL');
    await w.exited;
    await waitFor(() => !alive(w.ffmpeg), 3000, 'ffmpeg gone with the agent');
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
  }
});
