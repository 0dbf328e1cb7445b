import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, afterEach, before, describe, it } from 'node:test';
import pino from 'pino';
import { alive } from '../../helpers/processes.js';
import { tempDir, waitFor } from '../../helpers/env.js';
import { buildTestClip, startRtspServer, type RtspServer } from '../../helpers/rtspServer.js';
import { hasSequenceHeader, isMpegTs, liveCamera, liveFfmpegs, refusal, startLive, watch, type LiveHarness, type Viewer } from './helpers.js';

const dir = tempDir('edge-imprint-live-');
let clip = '';
let noisy = '';
const cleanups: (() => Promise<void>)[] = [];

before(() => {
  clip = buildTestClip(dir.path, 'clip', { repeat: 8, secondsEach: 2, fps: 10 });
  // Grain makes every frame expensive to send: a viewer that stops reading falls behind fast.
  noisy = buildTestClip(dir.path, 'noisy', { repeat: 8, secondsEach: 2, fps: 10, noise: 30, preset: 'ultrafast' });
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

after(() => dir.cleanup());

async function rtsp(file = clip, port?: number): Promise<RtspServer> {
  const server = await startRtspServer({ file, ...(port ? { port } : {}) });
  cleanups.push(() => server.stop());
  return server;
}

async function live(...args: Parameters<typeof startLive>): Promise<LiveHarness> {
  const h = await startLive(...args);
  cleanups.push(() => h.stop());
  return h;
}

async function viewer(port: number, camera: string): Promise<Viewer> {
  const v = await watch(port, camera);
  cleanups.push(async () => v.ws.terminate());
  return v;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ffprobe's view of an MPEG-TS byte stream: codec and size of its video. */
function probe(data: Buffer): { codec_name: string; width: number; height: number } {
  const out = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', '-'], {
    input: data,
    encoding: 'buffer',
  });
  const parsed = JSON.parse(out.stdout.toString()) as { streams: { codec_name: string; width: number; height: number }[] };
  const stream = parsed.streams[0];
  assert.ok(stream, `ffprobe found no video: ${out.stderr.toString()}`);
  return stream;
}

void describe('live view', () => {
  void it('sends MPEG-TS carrying MPEG-1 video, decodable from the first message; two viewers share one ffmpeg', async () => {
    const server = await rtsp();
    const h = await live({ door: liveCamera(server.url) });
    assert.deepEqual(liveFfmpegs(), [], 'no live ffmpeg before anyone watches');
    assert.equal(h.live.status().door?.state, 'idle');

    const a = await viewer(h.port, 'door');
    await waitFor(() => a.times.length > 0 && Date.now() - (a.times[0] ?? 0) >= 1000, 15_000, 'a second of video');
    const first = a.times[0] ?? 0;
    const firstSecond = Buffer.concat(a.messages.filter((_, i) => (a.times[i] ?? 0) - first <= 1000));
    assert.ok(isMpegTs(a.data()), 'whole 188-byte packets, each starting with 0x47');
    for (const m of a.messages) assert.equal(m.length % 188, 0, 'every message is whole packets');
    assert.ok(hasSequenceHeader(firstSecond), 'an MPEG-1 sequence header within the first second');
    assert.ok(hasSequenceHeader(a.messages[0] ?? Buffer.alloc(0)), 'the first message starts a picture');
    const video = probe(a.data());
    assert.equal(video.codec_name, 'mpeg1video');
    assert.deepEqual([video.width, video.height], [640, 480], 'a 640x480 camera is not upscaled');

    const pid = h.live.pid('door');
    const b = await viewer(h.port, 'door');
    await waitFor(() => b.bytes() > 0, 5000, 'the second viewer to receive');
    // The second viewer starts with the current picture (the cached GOP), not mid-frame.
    assert.ok(hasSequenceHeader(b.messages[0] ?? Buffer.alloc(0)));
    assert.ok(isMpegTs(b.data()));
    assert.deepEqual(liveFfmpegs(), [pid], 'one ffmpeg for both viewers');
    assert.deepEqual(h.live.status().door, { state: 'streaming', viewers: 2, restarts: 0, dropped_viewers: 0, last_error: null });
  });

  void it('stops ffmpeg within 15 s after the last viewer leaves, not at once', async () => {
    const server = await rtsp();
    const h = await live({ door: liveCamera(server.url) });
    const a = await viewer(h.port, 'door');
    const b = await viewer(h.port, 'door');
    await waitFor(() => a.bytes() > 0 && b.bytes() > 0, 15_000, 'video');
    const pid = h.live.pid('door');
    assert.ok(pid && alive(pid));
    a.ws.close();
    await waitFor(() => h.live.status().door?.viewers === 1, 5000, 'one viewer left');
    const leftAt = Date.now();
    b.ws.close();
    await waitFor(() => h.live.status().door?.viewers === 0, 5000, 'no viewer left');
    // A page reload within the linger reuses the running ffmpeg.
    await sleep(1000);
    assert.ok(alive(pid), 'still running one second after the last viewer left');
    await waitFor(() => !alive(pid) && liveFfmpegs().length === 0, 15_000 - (Date.now() - leftAt), 'the live ffmpeg gone');
    // The state follows the process's exit, a moment after it is gone.
    await waitFor(() => h.live.status().door?.state === 'idle', 2000, 'the stream idle');
    await sleep(1000);
    assert.deepEqual(liveFfmpegs(), [], 'none runs without viewers');
  });

  void it('drops a viewer that stops reading while another keeps receiving', async () => {
    const server = await rtsp(noisy);
    const maxViewerBufferBytes = 256 * 1024;
    const h = await live({ door: liveCamera(server.url, { live: { url: '', width: 1280, height: 720, fps: 10, quality: 100 } }) }, { options: { maxViewerBufferBytes } });
    const reader = await viewer(h.port, 'door');
    const stalled = await viewer(h.port, 'door');
    // The stalled viewer's socket stops reading: what is sent piles up in the kernel, then in the agent.
    stalled.ws.pause();
    await waitFor(() => h.live.status().door?.dropped_viewers === 1, 60_000, 'the stalled viewer dropped');
    assert.equal(h.live.status().door?.viewers, 1);
    const before = reader.bytes();
    await waitFor(() => reader.bytes() > before + 100_000, 10_000, 'the other viewer still receiving');
    assert.ok(isMpegTs(reader.data()));
    assert.equal(h.live.status().door?.state, 'streaming');
  });

  void it('the camera killed and restarted: the stream comes back for the viewer', async () => {
    const server = await rtsp();
    const h = await live({ door: liveCamera(server.url, { stall_timeout: 3 }) });
    const v = await viewer(h.port, 'door');
    await waitFor(() => v.bytes() > 0, 15_000, 'video');
    const firstPid = h.live.pid('door');
    await server.kill();
    await waitFor(() => h.live.status().door?.state === 'restarting' || h.live.status().door?.state === 'starting', 10_000, 'the failure noticed');
    await waitFor(() => firstPid !== null && !alive(firstPid), 5000, 'the first ffmpeg gone');
    await sleep(1500);
    const during = v.bytes();
    await rtsp(clip, server.port);
    await waitFor(() => v.bytes() > during + 50_000, 20_000, 'video again after the camera came back');
    const status = h.live.status().door;
    assert.equal(status?.state, 'streaming');
    assert.equal(status?.viewers, 1);
    assert.ok((status?.restarts ?? 0) >= 1, 'counted as a restart');
    assert.match(status?.last_error ?? '', /ffmpeg exited|no data/);
    assert.equal(v.ws.readyState, v.ws.OPEN, 'the viewer stayed connected');
    assert.equal(liveFfmpegs().length, 1);
  });

  void it('never logs or shows the password of the live URL, even when ffmpeg fails', async () => {
    const server = await rtsp();
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
    const consoleOut: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      consoleOut.push(String(chunk));
      return write(chunk, ...rest);
    }) as typeof process.stderr.write;
    try {
      const url = server.url.replace('rtsp://', 'rtsp://admin:hunter2-live@');
      // The detection URL is elsewhere: the live view reads its own.
      const camera = liveCamera('rtsp://127.0.0.1:9/main', { stall_timeout: 3, live: { url, width: 1280, height: 720, fps: 10, quality: 75 } });
      const h = await live({ door: camera }, { logger, options: { restartInitialMs: 100, restartMaxMs: 300 } });
      const v = await viewer(h.port, 'door');
      await waitFor(() => v.bytes() > 0, 15_000, 'video from the live URL');
      await server.kill();
      await waitFor(() => lines.filter((l) => l.includes('live ffmpeg failed')).length >= 3, 20_000, 'failures logged');
      const log = lines.join('');
      assert.match(log, /rtsp:\/\/\*\*\*:\*\*\*@127\.0\.0\.1/, 'ffmpeg lines quoting the URL are in the log, scrubbed');
      assert.equal(log.includes('hunter2-live'), false, 'the password never reaches the log');
      assert.equal(JSON.stringify(h.live.status()).includes('hunter2-live'), false);
      assert.equal(consoleOut.join('').includes('hunter2-live'), false, 'nor the console');
      assert.equal(consoleOut.join('').includes('RTSP stream exited'), false, 'node-rtsp-stream prints nothing');
    } finally {
      process.stderr.write = write;
    }
  });

  void it('refuses an unknown camera, another path and an unauthorized viewer, without starting ffmpeg', async () => {
    const server = await rtsp();
    let allow = false;
    const h = await live({ door: liveCamera(server.url) }, { authorize: () => allow });
    assert.equal(await refusal(h.port, '/live/garage'), 404);
    assert.equal(await refusal(h.port, '/elsewhere'), 404);
    assert.equal(await refusal(h.port, '/live/door'), 401);
    assert.deepEqual(liveFfmpegs(), []);
    assert.equal(h.live.status().door?.viewers, 0);
    allow = true;
    const v = await viewer(h.port, 'door');
    await waitFor(() => v.bytes() > 0, 15_000, 'video once authorized');
    const health = await fetch(`http://127.0.0.1:${h.port}/health`);
    assert.equal(health.status, 200, 'plain requests are served as before');
  });

  void it('stop() closes the viewers and leaves no ffmpeg', async () => {
    const server = await rtsp();
    const h = await live({ door: liveCamera(server.url), yard: liveCamera(server.url) });
    const a = await viewer(h.port, 'door');
    const b = await viewer(h.port, 'yard');
    await waitFor(() => a.bytes() > 0 && b.bytes() > 0, 15_000, 'video on both cameras');
    const pids = [h.live.pid('door'), h.live.pid('yard')];
    assert.equal(liveFfmpegs().length, 2);
    await h.live.stop();
    for (const pid of pids) assert.equal(pid !== null && alive(pid), false);
    assert.deepEqual(liveFfmpegs(), []);
    assert.equal((await a.closed).code, 1001, 'the viewer is told the server is going away');
    await h.http.stop();
  });
});
