/**
 * Live view benchmark (issue 10): CPU of one viewer watching a 720p 10 fps camera, ffmpeg's
 * and the agent's sides printed apart, and the live-view processes left when nobody watches.
 * The camera is GStreamer's RTSP server on loopback; the viewer is a real WebSocket client
 * in this process, so the agent's side also counts the viewer's receiving (an upper bound).
 */
import { tempDir as testTempDir, waitFor } from '../test/helpers/env.js';
import { buildTestClip, startRtspServer } from '../test/helpers/rtspServer.js';
import { liveCamera, liveFfmpegs, startLive, watch } from '../test/web/live/helpers.js';
import { cpuMs } from './camera.js';
import type { Report } from './report.js';
import { benchLogger } from './setup.js';

const WARMUP_MS = 3000;
const MEASURE_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ownCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

export async function runLiveBench(report: Report): Promise<void> {
  const dir = testTempDir('edge-imprint-bench-live-');
  // 720p at 10 fps with a 1 s GOP and grain, so P-frames cost what a real camera's do.
  const clip = buildTestClip(dir.path, 'hd', { secondsEach: 1, repeat: 8, width: 1280, height: 720, fps: 10, gop: 10, noise: 12, preset: 'ultrafast' });
  const server = await startRtspServer({ file: clip });
  const h = await startLive({ door: liveCamera(server.url) }, { logger: benchLogger() });
  try {
    const idleBefore = liveFfmpegs().length;
    const viewer = await watch(h.port, 'door');
    await waitFor(() => viewer.bytes() > 0, 20_000, 'live video');
    await sleep(WARMUP_MS);
    const pid = h.live.pid('door');
    const [f0, a0, b0, t0] = [cpuMs(pid), ownCpuMs(), viewer.bytes(), performance.now()];
    await sleep(MEASURE_MS);
    const [ffmpeg, agent, bytes, wall] = [cpuMs(pid) - f0, ownCpuMs() - a0, viewer.bytes() - b0, performance.now() - t0];
    const share = (ffmpeg + agent) / wall;
    report.line(`  viewer received ${((bytes * 8) / wall).toFixed(0)} kbit/s`);
    report.add({
      section: 'live',
      figure: `CPU of one live view, 720p10 RTSP camera → MPEG-1 (≤ 1280x720, 10 fps) → one WebSocket viewer: (ffmpeg + agent process) ÷ wall, ms over ${MEASURE_MS / 1000} s`,
      value: `(${ffmpeg.toFixed(0)} + ${agent.toFixed(0)}) ÷ ${wall.toFixed(0)} = ${(share * 100).toFixed(1)} % of one core`,
      target: '≤ 35 %',
      ok: share <= 0.35,
    });
    viewer.ws.close();
    const leftAt = Date.now();
    await waitFor(() => liveFfmpegs().length === 0, 20_000, 'the live ffmpeg to stop').catch(() => undefined);
    const gone = (Date.now() - leftAt) / 1000;
    const after = liveFfmpegs().length;
    report.add({
      section: 'live',
      figure: 'live-view processes with no viewer: before the first viewer; after the last left (seconds until gone, linger 10 s)',
      value: `${idleBefore}; ${after} (${gone.toFixed(1)} s)`,
      target: '0; 0 within 15 s',
      ok: idleBefore === 0 && after === 0 && gone <= 15,
    });
  } finally {
    await h.stop();
    await server.stop();
    dir.cleanup();
  }
}
