import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import pino from 'pino';
import sharp from 'sharp';
import { CameraSource, type CameraStatus, type RawFrame, type SpawnFn } from '../../src/camera/cameraSource.js';
import type { CameraConfig } from '../../src/config/types.js';
import { freePort, image, tempDir, testLogger, waitFor } from '../helpers/env.js';
import { buildTestClip, startRtspServer, type RtspServer } from '../helpers/rtspServer.js';
import { cameraConfig, INPUT_SIZE } from './fixtures.js';

const dir = tempDir('edge-imprint-camsrc-');
let clip = '';
const cleanups: (() => Promise<void>)[] = [];

before(() => {
  clip = buildTestClip(dir.path, 'clip', { repeat: 4, secondsEach: 2 });
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  dir.cleanup();
});

function alive(pid: number | null | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** ffmpeg processes whose parent is this test process. */
function childFfmpegs(): number[] {
  const out = spawnSync('pgrep', ['-P', String(process.pid), 'ffmpeg'], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter(Boolean).map(Number);
}

interface Harness {
  source: CameraSource;
  frames: RawFrame[];
  statuses: { status: CameraStatus; at: number }[];
  pids: number[];
}

function makeSource(config: CameraConfig, opts: { spawn?: SpawnFn; logger?: pino.Logger; supervision?: object } = {}): Harness {
  const frames: RawFrame[] = [];
  const statuses: { status: CameraStatus; at: number }[] = [];
  const pids: number[] = [];
  const realSpawn = opts.spawn ?? (spawn as SpawnFn);
  const source = new CameraSource({
    name: 'cam',
    config,
    inputSize: INPUT_SIZE,
    logger: opts.logger ?? testLogger(),
    spawn: (cmd, args, o) => {
      const child: ChildProcess = realSpawn(cmd, args, o);
      if (child.pid) pids.push(child.pid);
      return child;
    },
    supervision: { restartInitialMs: 200, restartMaxMs: 1000, killGraceMs: 1000, ...opts.supervision },
    sink: {
      frame: (f) => frames.push(f),
      status: (status) => statuses.push({ status, at: Date.now() }),
    },
  });
  cleanups.push(() => source.stop());
  return { source, frames, statuses, pids };
}

async function server(port?: number): Promise<RtspServer> {
  const s = await startRtspServer({ file: clip, port });
  cleanups.push(() => s.stop());
  return s;
}

void test('RTSP over TCP: exact frames at the configured rate, and a 640 px snapshot JPEG', async () => {
  const rtsp = await server();
  const h = makeSource(cameraConfig({ url: rtsp.url, fps: 5 }));
  await h.source.start();
  await waitFor(() => h.frames.length >= 10, 10_000, '10 frames');
  const t0 = h.frames.at(-1)!.at;
  const n0 = h.frames.length;
  await new Promise((r) => setTimeout(r, 2000));
  const rate = ((h.frames.length - n0) * 1000) / (h.frames.at(-1)!.at - t0);
  assert.ok(rate > 3.5 && rate < 6.5, `rate ${rate.toFixed(2)} fps`);
  for (const f of h.frames) assert.equal(f.rgb.length, INPUT_SIZE.width * INPUT_SIZE.height * 3);
  const snapshot = await waitFor(() => h.source.latestSnapshot() ?? undefined, 5000, 'a snapshot');
  const meta = await sharp(snapshot).metadata();
  assert.equal(meta.format, 'jpeg');
  assert.equal(meta.width, 640);
  assert.deepEqual(h.statuses.map((s) => s.status), ['online']);
  // Snapshots run at the detection rate: each frame's JPEG shows that very frame, also
  // across the cuts between photos in the clip.
  let compared = 0;
  const pairs = await Promise.all(h.frames.slice(-12).map(async (f) => ({ f, jpeg: await f.snapshot() })));
  for (const { f, jpeg } of pairs) {
    if (!jpeg) continue;
    const small = await sharp(jpeg).resize(INPUT_SIZE.width, INPUT_SIZE.height, { fit: 'fill' }).raw().toBuffer();
    let diff = 0;
    for (let i = 0; i < small.length; i++) diff += Math.abs(small[i]! - f.rgb[i]!);
    assert.ok(diff / small.length < 10, `frame ${f.seq}: snapshot differs by ${(diff / small.length).toFixed(1)}`);
    compared += 1;
  }
  assert.ok(compared >= 10, `compared ${compared}`);
  await h.source.stop();
  assert.equal(alive(h.pids[0]), false);
});

void test('server killed: offline within the stall timeout; back on the same port: frames within 5 s', async () => {
  const port = await freePort();
  let rtsp = await server(port);
  const h = makeSource(cameraConfig({ url: rtsp.url, fps: 5, stall_timeout: 3 }));
  await h.source.start();
  await waitFor(() => h.frames.length >= 3, 10_000, 'first frames');
  const lastFrameBefore = () => h.frames.at(-1)!.at;
  await rtsp.kill();
  const killedAt = Date.now();
  const offline = await waitFor(() => h.statuses.find((s) => s.status === 'offline'), 6000, 'offline');
  const offlineAfterLastFrame = offline.at - lastFrameBefore();
  // The watchdog looks every 250 ms: offline between 3.0 and ~3.3 s after the last frame.
  assert.ok(offlineAfterLastFrame >= 3000 && offlineAfterLastFrame <= 3000 + 400, `offline ${offlineAfterLastFrame} ms after the last frame`);
  assert.ok(offline.at - killedAt <= 3400, `offline ${offline.at - killedAt} ms after the kill`);
  console.log(`# offline ${offline.at - killedAt} ms after the server was killed (stall_timeout 3 s)`);
  await new Promise((r) => setTimeout(r, 500));
  const framesWhileDown = h.frames.length;
  rtsp = await server(port);
  const backAt = Date.now();
  await waitFor(() => h.frames.length > framesWhileDown, 5000, 'frames after the server returned');
  const recovery = Date.now() - backAt;
  await waitFor(() => h.statuses.at(-1)?.status === 'online', 1000, 'online again');
  assert.deepEqual(h.statuses.map((s) => s.status), ['online', 'offline', 'online']);
  assert.ok(h.source.stats().reconnects >= 1);
  console.log(`# recovery: offline ${offlineAfterLastFrame} ms after the last frame; frames ${recovery} ms after the server returned`);
  await h.source.stop();
  for (const pid of h.pids) assert.equal(alive(pid), false, `ffmpeg ${pid} survived stop()`);
});

void test('UDP transport: frames flow; a vanished server is detected by the stall watchdog', async () => {
  const rtsp = await server();
  const h = makeSource(cameraConfig({ url: rtsp.url, transport: 'udp', fps: 5, stall_timeout: 3 }));
  await h.source.start();
  await waitFor(() => h.frames.length >= 5, 10_000, 'frames over UDP');
  const proc = spawnSync('ps', ['-o', 'args=', '-p', String(h.source.pid())], { encoding: 'utf8' }).stdout;
  assert.match(proc, /-rtsp_transport udp/);
  await rtsp.kill();
  await waitFor(() => h.statuses.find((s) => s.status === 'offline'), 5000, 'offline');
  // The UDP reader was killed and replaced, not left behind.
  await waitFor(() => !alive(h.pids[0]), 5000, 'the first ffmpeg gone');
  await h.source.stop();
  for (const pid of h.pids) assert.equal(alive(pid), false);
});

void test('ffmpeg ignoring SIGTERM is SIGKILLed after the grace period and restarted', async () => {
  // A stand-in that hangs without output and ignores SIGTERM, like a UDP reader whose source vanished.
  const hung: SpawnFn = (_cmd, _args, o) => spawn('/bin/sh', ['-c', 'trap "" TERM; while :; do sleep 0.1; done'], o);
  const h = makeSource(cameraConfig({ url: 'rtsp://127.0.0.1:9/none', stall_timeout: 1 }), {
    spawn: hung,
    supervision: { killGraceMs: 500, restartInitialMs: 100 },
  });
  await h.source.start();
  await waitFor(() => h.pids.length >= 2, 5000, 'a restart after the stall');
  assert.equal(alive(h.pids[0]), false, 'the hung process was killed');
  assert.ok(h.source.stats().reconnects >= 1);
  await h.source.stop();
  for (const pid of h.pids) assert.equal(alive(pid), false);
});

void test('failures: ffmpeg stderr is logged with credentials scrubbed; unreachable cameras are retried with backoff', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
  const port = await freePort();
  const h = makeSource(cameraConfig({ url: `rtsp://admin:hunter2@127.0.0.1:${port}/cam`, stall_timeout: 5 }), {
    logger,
    supervision: { restartInitialMs: 100, restartMaxMs: 400 },
  });
  await h.source.start();
  await new Promise((r) => setTimeout(r, 2000));
  await h.source.stop();
  // 100, 200, 400, 400 ... ms apart (plus ffmpeg's own start-up): a handful, not dozens.
  assert.ok(h.pids.length >= 3 && h.pids.length <= 8, `attempts: ${h.pids.length}`);
  const log = lines.join('');
  assert.equal(log.includes('hunter2'), false, 'the password never reaches the log');
  assert.match(log, /rtsp:\/\/\*\*\*:\*\*\*@127\.0\.0\.1/);
  assert.match(log, /Connection refused/);
  for (const pid of h.pids) assert.equal(alive(pid), false);
  // The last failure is kept for the dashboard's status page, scrubbed too.
  const lastError = h.source.stats().last_error ?? '';
  assert.match(lastError, /Connection refused/);
  assert.equal(lastError.includes('hunter2'), false);
});

void test('restart-loop guard: an ffmpeg that dies right after its first frame is slowed down', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
  const frameBytes = INPUT_SIZE.width * INPUT_SIZE.height * 3;
  // A stand-in that delivers one frame and crashes, over and over.
  const flapping: SpawnFn = (_cmd, _args, o) => spawn('/bin/sh', ['-c', `head -c ${frameBytes} /dev/zero; exit 1`], o);
  const h = makeSource(cameraConfig({ url: 'rtsp://127.0.0.1:9/none', snapshot: { enabled: false, quality: 80, width: 640 } }), {
    spawn: flapping,
    logger,
    supervision: { restartInitialMs: 50, restartMaxMs: 100, loopMaxRestarts: 3, loopDelayMs: 60_000 },
  });
  await h.source.start();
  await new Promise((r) => setTimeout(r, 2000));
  await h.source.stop();
  // Without the guard ~30 attempts fit in 2 s; with it: the first run + 2 restarts, then a long wait.
  assert.equal(h.pids.length, 3, `attempts: ${h.pids.length}`);
  assert.equal(h.frames.length, 3);
  assert.match(lines.join(''), /keeps failing after start/);
});

void test('stop() during backoff and while starting leaves no ffmpeg behind', async () => {
  const rtsp = await server();
  const h = makeSource(cameraConfig({ url: rtsp.url }));
  await h.source.start();
  await h.source.stop();
  const h2 = makeSource(cameraConfig({ url: `rtsp://127.0.0.1:${await freePort()}/x` }), { supervision: { restartInitialMs: 1500 } });
  await h2.source.start();
  await new Promise((r) => setTimeout(r, 400));
  await h2.source.stop();
  await new Promise((r) => setTimeout(r, 400));
  for (const pid of [...h.pids, ...h2.pids]) assert.equal(alive(pid), false);
  assert.equal(h2.pids.length, 1, 'no restart after stop()');
  assert.deepEqual(childFfmpegs(), [], 'no ffmpeg child of this process is left');
});

void test('HTTP MJPEG camera (multipart/x-mixed-replace): frames flow', async () => {
  const jpegs = await Promise.all(
    ['dog_test_0.jpg', 'cat_test_0.jpg'].map((f) => sharp(image(f)).resize(640, 480, { fit: 'fill' }).jpeg().toBuffer()),
  );
  const clients = new Set<ServerResponse>();
  const http = createHttpServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=frame' });
    clients.add(res);
    res.on('close', () => clients.delete(res));
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  let n = 0;
  const pump = setInterval(() => {
    const jpeg = jpegs[n++ % 2]!;
    for (const res of clients) {
      res.write(`--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`);
      res.write(jpeg);
      res.write('\r\n');
    }
  }, 100);
  try {
    const port = (http.address() as AddressInfo).port;
    const h = makeSource(cameraConfig({ url: `http://127.0.0.1:${port}/video.mjpg`, fps: 5, stall_timeout: 5 }));
    await h.source.start();
    await waitFor(() => h.frames.length >= 5, 10_000, 'frames from the MJPEG stream');
    assert.ok(await h.frames.at(-1)!.snapshot());
    await h.source.stop();
  } finally {
    clearInterval(pump);
    for (const res of clients) res.destroy();
    http.close();
  }
});

/** Mean R, G, B of one crop. */
function meanColour(crop: Uint8Array): [number, number, number] {
  const sum = [0, 0, 0];
  for (let i = 0; i < crop.length; i += 3) for (let c = 0; c < 3; c++) sum[c] = (sum[c] ?? 0) + (crop[i + c] ?? 0);
  const n = crop.length / 3;
  return [Math.round((sum[0] ?? 0) / n), Math.round((sum[1] ?? 0) / n), Math.round((sum[2] ?? 0) / n)];
}

test('zones: one ffmpeg cuts each zone out of the same frame (real decode), and names the stream size for pixel zones', async () => {
  // A 640x480 scene: red left half, blue right half, a green square bottom-right.
  const file = `${dir.path}/halves.mp4`;
  const made = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'color=c=red:s=320x480:r=10:d=4',
    '-f', 'lavfi', '-i', 'color=c=blue:s=320x480:r=10:d=4',
    '-f', 'lavfi', '-i', 'color=c=lime:s=160x160:r=10:d=4',
    '-filter_complex', '[0:v][1:v]hstack=inputs=2[bg];[bg][2:v]overlay=x=460:y=300,format=yuv420p[out]',
    '-map', '[out]', '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '0', file,
  ], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const sizes: Array<{ width: number; height: number }> = [];
  const zones = {
    left: { roi: { x: 0, y: 0, width: 0.4, height: 1 }, classes: [] },
    right: { roi: { x: 340, y: 0, width: 280, height: 200 }, classes: [] },
    square: { roi: { x: 480, y: 320, width: 120, height: 120 }, classes: [] },
  };
  const frames: RawFrame[] = [];
  const source = new CameraSource({
    name: 'cam',
    config: cameraConfig({ url: file, fps: 2, zones }),
    inputSize: INPUT_SIZE,
    logger: testLogger(),
    spawn: spawn as SpawnFn,
    sink: { frame: (f) => frames.push(f), status: () => undefined, sourceSize: (s) => sizes.push(s) },
  });
  await source.start();
  try {
    const frame = await waitFor(() => frames[1], 15_000, 'two frames');
    assert.equal(frame.crops.length, 3);
    for (const crop of frame.crops) assert.equal(crop.length, INPUT_SIZE.width * INPUT_SIZE.height * 3);
    const [left, right, square] = frame.crops.map(meanColour);
    assert.ok(left![0] > 200 && left![2] < 60, `left is red ${left}`);
    assert.ok(right![2] > 200 && right![0] < 60, `right is blue ${right}`);
    assert.ok(square![1] > 200 && square![0] < 60 && square![2] < 60, `square is green ${square}`);
    assert.deepEqual(sizes, [{ width: 640, height: 480 }]);
  } finally {
    await source.stop();
  }
});
