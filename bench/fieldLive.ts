/**
 * The field clips through the real product (issue 9, item 6): each clip is streamed by
 * GStreamer's RTSP server into the agent's camera pipeline (one ffmpeg per camera, the zone
 * cropped by ffmpeg), decided by the product's Recognizer (its learned scene, per-class
 * thresholds, negatives), smoothed by the ClassSmoother; classes are enrolled from the zone
 * with `class/enroll` at the clip's enrollment moments, and wrong starts are rejected with
 * `event/reject` (as a user would, at most three per clip) — the same code paths as MQTT.
 * Scored like the offline simulation (bench/fieldSim.ts), so the two can be compared.
 *
 *   EDGE_IMPRINT_FIELD_LIVE=n     clips to stream, from the held-out set (default 4; 0 skips)
 *   EDGE_IMPRINT_FIELD_LIVE_BATCH=k  clips streamed at once (default 2: on 2 cores more would
 *                                starve the detector and measure the machine, not the method)
 *   EDGE_IMPRINT_FIELD_TRACE=file every decision as a JSON line (camera, clip frame, label, reason, score)
 *
 * Clips play in real time (about 9 minutes), all cameras at once.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { CameraManager } from '../src/pipeline/cameraManager.js';
import type { ScheduledResult } from '../src/pipeline/scheduler.js';
import { Commands } from '../src/commands/commands.js';
import { CommandRunner } from '../src/commands/runner.js';
import { loadConfig } from '../src/config/load.js';
import type { AppConfig, CameraConfig } from '../src/config/types.js';
import { Core } from '../src/core.js';
import { EventBus } from '../src/eventBus.js';
import { cameraConfig } from '../test/camera/fixtures.js';
import { startRtspServer, type RtspServer } from '../test/helpers/rtspServer.js';
import { ensureDataset } from './accuracy.js';
import { clipSet, fieldPlans } from './fieldData.js';
import { FPS, truth, type ClipPlan } from './fieldPlan.js';
import { ClipRenderer, writeClipVideo } from './fieldRender.js';
import { attribute, scoreStarts, sumOutcomes, type ClipOutcome, type Start } from './fieldSim.js';
import type { Report } from './report.js';
import { benchLogger, MODEL_DIR, ROOT, tempDir } from './setup.js';

const CLIPS = Number(process.env.EDGE_IMPRINT_FIELD_LIVE ?? 4);
const BATCH = Math.max(1, Number(process.env.EDGE_IMPRINT_FIELD_LIVE_BATCH ?? 2));
const VIDEO_DIR = join(ROOT, '.bench', 'field-video');
const MAX_CORRECTIONS = 3;
const TRACE = process.env.EDGE_IMPRINT_FIELD_TRACE;

function trace(clip: LiveClip, r: ScheduledResult): void {
  const u = r.units[0];
  if (!TRACE || !u || u.reused) return;
  const frame = Math.round(((r.frame.at - (clip.t0 ?? r.frame.at)) / 1000) * FPS);
  const line = { camera: clip.camera, frame, skipped_before: r.frame.seq, label: u.result.label, reason: u.result.reason, score: Number(u.result.score.toFixed(3)) };
  appendFileSync(TRACE, `${JSON.stringify(line)}\n`);
}

interface LiveClip {
  plan: ClipPlan;
  camera: string;
  server: RtspServer;
  /** Wall-clock ms of the clip's first frame at the agent. */
  t0: number | null;
  starts: Array<Start & { id: string }>;
  rejected: Map<string, number>;
  corrections: number;
}

/** `c3 fox`: labels of different clips never meet (each zone also lists only its own). */
const labelOf = (clip: LiveClip, label: string): string => `${clip.camera} ${label}`;

async function videoOf(plan: ClipPlan): Promise<string> {
  const video = join(VIDEO_DIR, `${plan.id}.mp4`);
  if (existsSync(video)) return video;
  const renderer = new ClipRenderer(plan);
  await renderer.load();
  return (await writeClipVideo(renderer, VIDEO_DIR)).video;
}

function cameraOf(plan: ClipPlan, url: string, camera: string): CameraConfig {
  const labels = [...new Set(plan.shots.map((s) => `${camera} ${s.label}`))];
  const roi = { x: plan.zone.x, y: plan.zone.y, width: plan.zone.w, height: plan.zone.h };
  return cameraConfig({ url, fps: FPS, stall_timeout: 30, zones: { field: { roi, classes: labels } } });
}

export async function runFieldLiveBench(report: Report): Promise<void> {
  if (CLIPS <= 0) return report.line('  field-live: skipped (EDGE_IMPRINT_FIELD_LIVE=0)');
  ensureDataset((line) => report.line(line));
  const plans = (await fieldPlans(2)).filter((p) => clipSet(p) === 1).slice(0, CLIPS);
  const all: LiveClip[] = [];
  const outcomes: ClipOutcome[] = [];
  for (let b = 0; b < plans.length; b += BATCH) {
    const clips: LiveClip[] = [];
    for (const [i, plan] of plans.slice(b, b + BATCH).entries()) {
      const server = await startRtspServer({ file: await videoOf(plan) });
      clips.push({ plan, camera: `c${b + i}`, server, t0: null, starts: [], rejected: new Map(), corrections: 0 });
    }
    const dir = tempDir();
    try {
      outcomes.push(...(await runClips(clips, join(dir.path, 'data'))));
      all.push(...clips);
    } finally {
      for (const c of clips) await c.server.stop();
      dir.cleanup();
    }
  }
  printOutcomes(report, all, outcomes);
}

async function runClips(clips: LiveClip[], dataDir: string): Promise<ClipOutcome[]> {
  const loaded = loadConfig({ env: {}, overrides: { data_dir: dataDir, model_dir: MODEL_DIR } });
  const cameras = Object.fromEntries(clips.map((c) => [c.camera, cameraOf(c.plan, c.server.url, c.camera)]));
  const config: AppConfig = { ...loaded, detector: { ...loaded.detector, type: 'cpu' }, cameras };
  const bus = new EventBus(benchLogger());
  // Each clip opens with its enrollment: in the field a zone has learned its scene long before.
  const core = new Core({ config, logger: benchLogger(), bus, sceneOptions: { firstLookAfterS: 0 } });
  await core.start();
  const manager = new CameraManager({
    config,
    bus,
    logger: benchLogger(),
    classify: (rgb, unit) => core.service.classifyPixels(rgb, unit),
    observe: (unit, result, active) => core.service.observe(unit, result, active),
    inputSize: core.detector.inputSize,
    onResult: (r) => {
      const clip = clips.find((c) => c.camera === r.camera);
      if (clip && clip.t0 === null) clip.t0 = r.frame.at;
      if (clip && TRACE) trace(clip, r);
    },
  });
  const commands = new Commands({ imprinter: core.service, limits: config.limits, cameras: manager, classes: core.service, corrections: core.corrections });
  const runner = new CommandRunner({ capacity: 64 });
  const timers: NodeJS.Timeout[] = [];
  bus.on('detectionEvent', (e) => onEvent(clips, runner, commands, e));
  await manager.start();
  try {
    await waitForStart(clips);
    for (const clip of clips) scheduleEnrollment(clip, runner, commands, timers);
    const longest = Math.max(...clips.map((c) => c.plan.duration));
    await new Promise((r) => setTimeout(r, (longest + 2) * 1000));
  } finally {
    timers.forEach(clearTimeout);
    await runner.stop();
    await manager.stop();
    await core.stop();
  }
  return clips.map((c) => scoreStarts(truth(c.plan), c.starts, c.rejected, c.corrections));
}

async function waitForStart(clips: LiveClip[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (clips.some((c) => c.t0 === null) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

/** At each enrollment shot's moment (the middle of a 3 s still), one frame from the zone. */
function scheduleEnrollment(clip: LiveClip, runner: CommandRunner, commands: Commands, timers: NodeJS.Timeout[]): void {
  for (const shot of clip.plan.shots) {
    const due = (clip.t0 ?? Date.now()) + (shot.frame / FPS) * 1000 - Date.now();
    timers.push(
      setTimeout(() => {
        const payload = { label: labelOf(clip, shot.label), camera: clip.camera, zone: 'field', frames: 1 };
        void runner.run(() => commands.job('class/enroll', payload)).then((o) => {
          if (!o.ok) benchLogger().warn({ err: o.error }, 'field-live enrollment failed');
        });
      }, Math.max(0, due)),
    );
  }
}

/** Records start events in clip frames; a wrong one is rejected, as a user would (at most three per clip). */
function onEvent(clips: LiveClip[], runner: CommandRunner, commands: Commands, e: { type: string; id: string; camera: string; label: string; start_time: Date }): void {
  const clip = clips.find((c) => c.camera === e.camera);
  if (!clip || e.type !== 'start' || clip.t0 === null) return;
  const frame = Math.round(((e.start_time.getTime() - clip.t0) / 1000) * FPS);
  // The evaluation part only; past the clip's end the server starts it over: not part of it.
  if (frame < clip.plan.evalStart * FPS || frame >= clip.plan.frames) return;
  const label = e.label.slice(clip.camera.length + 1);
  clip.starts.push({ frame, label, id: e.id });
  const spans = truth(clip.plan);
  const where = attribute(spans, frame);
  const wrong = where.kind === 'empty' || !where.span.enrolled || where.span.label !== label;
  if (!wrong || clip.corrections >= MAX_CORRECTIONS) return;
  clip.corrections++;
  if (where.kind === 'span' && !clip.rejected.has(where.span.object)) clip.rejected.set(where.span.object, where.span.index);
  // The event is kept asynchronously (EventRecorder): give it a moment to be stored.
  setTimeout(() => void runner.run(() => commands.job('event/reject', { id: e.id, empty: where.kind === 'empty' })), 1000);
}

function printOutcomes(report: Report, clips: LiveClip[], outcomes: ClipOutcome[]): void {
  const t = sumOutcomes(outcomes);
  const pct = (a: number, b: number): string => `${a}/${b} = ${b === 0 ? '-' : ((100 * a) / b).toFixed(1)} %`;
  report.line(`  clips: ${clips.map((c) => c.plan.id).join(', ')} (held-out set, streamed over RTSP in real time, ${BATCH} at once)`);
  report.add({ section: 'field-live', figure: 'enrolled appearances reported with the right label', value: pct(t.recalled, t.enrolled), target: '≥ 85 %', ok: t.recalled >= 0.85 * t.enrolled });
  report.add({ section: 'field-live', figure: 'false starts on the empty scene (light changes included)', value: String(t.emptyStarts), target: '0', ok: t.emptyStarts === 0 });
  report.add({ section: 'field-live', figure: 'wrong labels', value: String(t.wrongLabel), target: '0', ok: t.wrongLabel === 0 });
  report.add({ section: 'field-live', figure: 'never-enrolled objects starting an event the first time', value: pct(t.strangerFirstStarts, t.strangerFirst), target: '≤ 1 in 3', ok: 3 * t.strangerFirstStarts <= t.strangerFirst });
  report.add({ section: 'field-live', figure: 'their later appearances after one reject', value: pct(t.rejectedLaterStarts, t.rejectedLater), target: '0', ok: t.rejectedLaterStarts === 0 });
  report.line(`  corrections made: ${t.corrections}; never-enrolled later appearances (rejected or not): ${pct(t.strangerLaterStarts, t.strangerLater)}`);
}
