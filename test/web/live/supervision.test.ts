import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SpawnFn } from '../../../src/process/supervisedProcess.js';
import { ROOT, waitFor } from '../../helpers/env.js';
import { alive } from '../../helpers/processes.js';
import { cmdline, liveCamera, startLive, watch } from './helpers.js';

/** A TCP server that accepts and never answers: an RTSP camera that hangs. */
async function silentServer(): Promise<{ url: string; close(): void }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => void sockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `rtsp://127.0.0.1:${port}/cam`,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

void test('agent SIGKILLed while its live ffmpeg waits on a silent camera: the kernel ends ffmpeg too', async () => {
  const silent = await silentServer();
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'web', 'live', 'crashWorker.ts'), silent.url], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const line = await waitFor(() => /FFMPEG (\d+)/.exec(out) ?? undefined, 20_000, 'the worker to report its live ffmpeg');
    const ffmpeg = Number(line[1]);
    // setpriv execs ffmpeg: one process, ffmpeg's pid in the end.
    const ffmpegLine = /^ffmpeg .*-i rtsp:\/\/127\.0\.0\.1:\d+\/cam -f mpegts -codec:v mpeg1video/;
    await waitFor(() => ffmpegLine.test(cmdline(ffmpeg)), 5000, `ffmpeg running under pid ${ffmpeg}`);
    child.kill('SIGKILL');
    await exited;
    await waitFor(() => !alive(ffmpeg), 3000, 'the live ffmpeg gone with the agent');
  } finally {
    child.kill('SIGKILL');
    silent.close();
  }
});

void test('a live ffmpeg that stalls and ignores SIGTERM is SIGKILLed and restarted while the viewer stays', async () => {
  const pids: number[] = [];
  // A stand-in that never writes and ignores SIGTERM, like an ffmpeg stuck on a dead camera.
  const hung: SpawnFn = (_cmd, _args, o) => {
    const child = spawn('/bin/sh', ['-c', 'trap "" TERM; while :; do sleep 0.1; done'], o);
    if (child.pid) pids.push(child.pid);
    return child;
  };
  const h = await startLive(
    { door: liveCamera('rtsp://127.0.0.1:9/cam', { stall_timeout: 1 }) },
    { spawn: hung, options: { killGraceMs: 500, restartInitialMs: 100 } },
  );
  try {
    const v = await watch(h.port, 'door');
    await waitFor(() => pids.length >= 2, 10_000, 'a restart after the stall');
    assert.equal(alive(pids[0] ?? 0), false, 'the hung process was SIGKILLed');
    const status = h.live.status().door;
    assert.equal(status?.last_error, 'no data for 1 s');
    assert.ok((status?.restarts ?? 0) >= 1);
    assert.equal(v.ws.readyState, v.ws.OPEN);
    await h.stop();
    for (const pid of pids) assert.equal(alive(pid), false, 'stop() leaves none behind');
  } finally {
    await h.stop();
  }
});
