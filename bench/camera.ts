/**
 * Camera pipeline benchmarks (issue 3): ingest CPU vs plain ffmpeg, what keyframe-only
 * decoding saves, pipeline latency beyond inference, overload behaviour, and RSS.
 * Streams come from GStreamer's RTSP server on loopback, like the tests.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CameraManager } from '../src/pipeline/cameraManager.js';
import { CameraSource, type SpawnFn } from '../src/camera/cameraSource.js';
import { inputArgs } from '../src/camera/ffmpegArgs.js';
import type { ScheduledResult } from '../src/pipeline/scheduler.js';
import { loadConfig } from '../src/config/load.js';
import type { AppConfig, CameraConfig } from '../src/config/types.js';
import { Core } from '../src/core.js';
import { EventBus } from '../src/eventBus.js';
import { cameraConfig } from '../test/camera/fixtures.js';
import { startAgentProcess } from '../test/helpers/agentProcess.js';
import { freePort } from '../test/helpers/env.js';
import { descendants } from '../test/helpers/processes.js';
import { buildTestClip, startRtspServer, type RtspServer } from '../test/helpers/rtspServer.js';
import { median, ms, percentile, type Report } from './report.js';
import { benchLogger, FIXTURE_IMAGES, MODEL_DIR, tempDir } from './setup.js';

const INPUT = { width: 224, height: 224 };
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const WARMUP_MS = 2000;
const MEASURE_MS = 6000;

function camera(url: string, overrides: Partial<CameraConfig> = {}): CameraConfig {
  return cameraConfig({ url, ...overrides });
}

/** utime + stime of a process in ms (0 once it is gone). */
export function cpuMs(pid: number | null | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return 0;
  }
}

function rssMb(pid: number | null | undefined): number {
  if (!pid) return 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

/** Proportional set size: shared library pages split between the processes using them. */
function pssMb(pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(/Pss:\s+(\d+)/.exec(rollup)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

const ownCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU over the steady part of a run: sampled after warm-up and after the measuring window. */
async function measureCpu(sample: () => number): Promise<number> {
  await sleep(WARMUP_MS);
  const before = sample();
  await sleep(MEASURE_MS);
  return sample() - before;
}

/** CPU ms of one CameraSource (its ffmpeg, and this process) over the window. */
async function ingestCpu(config: CameraConfig): Promise<{ cpu: number; ffmpeg: number; agent: number; frames: number }> {
  let frames = 0;
  const source = new CameraSource({
    name: 'bench',
    config,
    inputSize: INPUT,
    logger: benchLogger(),
    spawn: spawn as SpawnFn,
    sink: { frame: () => void (frames += 1), status: () => undefined },
  });
  await source.start();
  await sleep(WARMUP_MS);
  const [f0, a0, n0] = [cpuMs(source.pid()), ownCpuMs(), frames];
  await sleep(MEASURE_MS);
  const [ffmpeg, agent] = [cpuMs(source.pid()) - f0, ownCpuMs() - a0];
  await source.stop();
  return { cpu: ffmpeg + agent, ffmpeg, agent, frames: frames - n0 };
}

async function plainDecodeCpu(url: string): Promise<number> {
  // Same input options as the camera source, so only the output side differs.
  const args = ['-nostdin', '-loglevel', 'error', ...inputArgs(camera(url)), '-f', 'null', '-'];
  const child: ChildProcess = spawn('ffmpeg', args, {
    stdio: 'ignore',
  });
  const exited = new Promise((r) => child.once('exit', r));
  const cpu = await measureCpu(() => cpuMs(child.pid));
  child.kill('SIGTERM');
  await exited;
  return cpu;
}

const preciseClock = (): number => performance.timeOrigin + performance.now();

async function startCore(dataDir: string): Promise<{ core: Core; config: AppConfig }> {
  const loaded = loadConfig({ env: {}, overrides: { data_dir: dataDir, model_dir: MODEL_DIR } });
  const config: AppConfig = { ...loaded, detector: { ...loaded.detector, type: 'cpu' } };
  const core = new Core({ config, logger: benchLogger() });
  await core.start();
  const photo = (f: string) => readFileSync(join(FIXTURE_IMAGES, f));
  await core.service.enrollImages('dog', [photo('dog_train_0.jpg')], { source: 'bench' });
  await core.service.enrollImages('cat', [photo('cat_train_0.jpg')], { source: 'bench' });
  return { core, config };
}

interface PipelineRun {
  latencies: number[];
  beyond: number[];
  inference: number[];
  manager: CameraManager;
}

/** Runs `cams` cameras into the real CPU detector and records per-result timings. */
async function runPipeline(
  { core, config }: { core: Core; config: AppConfig },
  url: string,
  cams: number,
  fps: number,
): Promise<PipelineRun> {
  const run: PipelineRun = { latencies: [], beyond: [], inference: [], manager: null as unknown as CameraManager };
  let measuring = false;
  const onResult = (r: ScheduledResult) => {
    if (!measuring || r.units.every((u) => u.reused)) return;
    const now = preciseClock();
    const inference = r.finishedAt - r.startedAt;
    run.latencies.push(now - r.frame.at);
    run.inference.push(inference);
    run.beyond.push(now - r.frame.at - inference);
  };
  const cameras: Record<string, CameraConfig> = {};
  for (let i = 0; i < cams; i++) cameras[`cam${i}`] = camera(url, { fps });
  const manager = new CameraManager({
    config: { cameras, classifier: config.classifier },
    bus: new EventBus(benchLogger()),
    logger: benchLogger(),
    classify: (rgb) => core.service.classifyPixels(rgb),
    inputSize: core.detector.inputSize,
    onResult,
    clock: preciseClock,
  });
  run.manager = manager;
  await manager.start();
  await sleep(WARMUP_MS);
  measuring = true;
  await sleep(MEASURE_MS);
  measuring = false;
  return run;
}

const mb = (v: number): string => `${v.toFixed(1)} MB`;
const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;

export async function runCameraBench(report: Report): Promise<void> {
  const dir = tempDir();
  const servers: RtspServer[] = [];
  const serve = async (file: string) => {
    const s = await startRtspServer({ file });
    servers.push(s);
    return s.url;
  };
  try {
    // 1080p, 25 fps, 1 s GOP, with grain so P-frames cost what a real camera's do.
    const hd = buildTestClip(dir.path, 'hd', {
      secondsEach: 1,
      repeat: 8,
      width: 1920,
      height: 1080,
      fps: 25,
      gop: 25,
      noise: 12,
      preset: 'ultrafast',
    });
    const sd = buildTestClip(dir.path, 'sd', { secondsEach: 2, repeat: 10, fps: 10 });
    await ingestVersusPlain(report, await serve(hd));
    await keyframesSaving(report, await serve(hd));
    const sdUrl = await serve(sd);
    const data = tempDir();
    const started = await startCore(data.path);
    try {
      await latencyBeyondInference(report, started, sdUrl);
      await overload(report, started, sdUrl);
    } finally {
      await started.core.stop();
      data.cleanup();
    }
    await rss(report, sdUrl);
  } finally {
    for (const s of servers) await s.stop().catch(() => undefined);
    dir.cleanup();
  }
}

/** Alternating rounds, so that machine noise hits both sides alike. */
async function ingestVersusPlain(report: Report, url: string): Promise<void> {
  let ffmpeg = 0;
  let agent = 0;
  let plain = 0;
  for (let round = 0; round < 2; round++) {
    const ingest = await ingestCpu(camera(url, { fps: 5 }));
    ffmpeg += ingest.ffmpeg;
    agent += ingest.agent;
    plain += await plainDecodeCpu(url);
  }
  const ratio = (ffmpeg + agent) / plain;
  report.add({
    section: 'camera',
    figure: `CPU of ingesting one 1080p25 RTSP camera at 5 fps with snapshots (ffmpeg + agent process) ÷ plain ffmpeg decode to null, ms over 2 × ${MEASURE_MS / 1000} s`,
    value: `(${ffmpeg.toFixed(0)} + ${agent.toFixed(0)}) ÷ ${plain.toFixed(0)} = ${ratio.toFixed(3)}`,
    target: '≤ 1.10',
    ok: ratio <= 1.1,
  });
}

async function keyframesSaving(report: Report, url: string): Promise<void> {
  const all = await ingestCpu(camera(url, { fps: 1 }));
  const key = await ingestCpu(camera(url, { fps: 1, decode: 'keyframes' }));
  // frames counts what arrived in the window: keyframe decoding must still deliver 1 fps.
  report.add({
    section: 'camera',
    figure: `CPU saved by decode: keyframes, 1080p25 (1 s GOP) sampled at 1 fps, ms over ${MEASURE_MS / 1000} s (all ÷ keyframes)`,
    value: `${all.cpu.toFixed(0)} → ${key.cpu.toFixed(0)} ms: ${pct(1 - key.cpu / all.cpu)} saved (frames ${all.frames} / ${key.frames})`,
    target: 'reported',
  });
}

async function latencyBeyondInference(report: Report, started: { core: Core; config: AppConfig }, url: string): Promise<void> {
  const run = await runPipeline(started, url, 1, 5);
  await run.manager.stop();
  const p50 = percentile(run.beyond, 50);
  const p95 = percentile(run.beyond, 95);
  report.add({
    section: 'camera',
    figure: `frame arrival → result minus inference, 1 camera at 5 fps, p50 / p95 (n=${run.beyond.length}; inference median ${ms(median(run.inference))})`,
    value: `${ms(p50)} / ${ms(p95)}`,
    target: 'p95 ≤ 10 ms',
    ok: p95 <= 10,
  });
}

async function overload(report: Report, started: { core: Core; config: AppConfig }, url: string): Promise<void> {
  const run = await runPipeline(started, url, 4, 10);
  const stats = run.manager.stats();
  await run.manager.stop();
  const per = Object.entries(stats).map(([name, s]) => `${name} ${s.process_fps}/${s.camera_fps} (skipped ${s.skipped_fps})`);
  const processed = Object.values(stats).reduce((a, s) => a + s.process_fps, 0);
  const skipped = Object.values(stats).reduce((a, s) => a + s.skipped_fps, 0);
  const p95 = percentile(run.latencies, 95);
  const max = Math.max(...run.latencies);
  const inference = median(run.inference);
  // Latest-frame-wins + round robin: a frame waits at most for the other cameras' turns.
  const bound = 5 * percentile(run.inference, 95) + 50;
  report.line(`  per camera processed/arrived fps: ${per.join(', ')}`);
  report.add({
    section: 'camera',
    figure: `overload 4 cameras × 10 fps into the CPU detector: arrival → result p50 / p95 / max (inference median ${ms(inference)}); processed ÷ dropped fps`,
    value: `${ms(percentile(run.latencies, 50))} / ${ms(p95)} / ${ms(max)}; ${processed.toFixed(1)} ÷ ${skipped.toFixed(1)}`,
    target: `bounded (max ≤ ${bound.toFixed(0)} ms), drops counted`,
    ok: max <= bound && skipped > 0,
  });
}

/**
 * RSS of a real agent process (`edge-imprint run`: MQTT, HTTP, 4 cameras at 2 fps), read
 * after it has run a while, so nothing this benchmark process loaded is counted.
 */
async function rss(report: Report, url: string): Promise<void> {
  const dir = tempDir();
  const cameras = Object.fromEntries(['a', 'b', 'c', 'd'].map((n) => [`cam_${n}`, { url, fps: 2 }]));
  const agent = await startAgentProcess({
    dir: dir.path,
    config: { cameras, mqtt: { embedded: { port: await freePort() } }, detector: { type: 'cpu' } },
    // As users run it (npm start): the built JavaScript, not the TypeScript loader.
    built: true,
  });
  try {
    await new Promise((r) => setTimeout(r, 20_000));
    const own = rssMb(agent.pid);
    const children = descendants(agent.pid);
    const ffmpegs = children.filter((pid) => /ffmpeg/.test(cmdline(pid)));
    const detector = children.filter((pid) => /detector\/child/.test(cmdline(pid)));
    const sum = (pids: number[], f: (pid: number) => number) => pids.reduce((a, pid) => a + f(pid), 0);
    report.add({
      section: 'camera',
      figure: `RSS of the agent process (edge-imprint run, 4 cameras at 2 fps, after 20 s); its children beside it`,
      value: `${mb(own)} (detector child ${mb(sum(detector, rssMb))}; ${ffmpegs.length} ffmpeg: RSS ${mb(sum(ffmpegs, rssMb))}, PSS ${mb(sum(ffmpegs, pssMb))})`,
      target: '≤ 150 MB',
      ok: own <= 150,
    });
  } finally {
    await agent.stop();
    dir.cleanup();
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}
