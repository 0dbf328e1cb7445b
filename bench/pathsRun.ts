/**
 * One enrollment path through the real agent: `edge-imprint run` as its own process (fresh
 * data_dir), real mosquitto, one GStreamer RTSP server per clip feeding two cameras — `c<i>`
 * without zones and `z<i>` with the clip's zone `spot` — and optionally a camera `hall` on the
 * people video. The classes are enrolled the way the path says, over MQTT and the dashboard,
 * at the clip's stands; start events are read from `<base>/events` like any subscriber would.
 */
import { writeFileSync } from 'node:fs';
import { AgentProbe } from '../test/helpers/agentProbe.js';
import { startAgentProcess } from '../test/helpers/agentProcess.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { startRtspServer, type RtspServer } from '../test/helpers/rtspServer.js';
import { FPS, HEIGHT, WIDTH, type TruthSpan } from './fieldPlan.js';
import { scoreStarts, sumOutcomes, type ClipOutcome, type Start } from './fieldSim.js';
import { boxFractions, type PathsClip } from './pathsPlan.js';
import { tempDir } from './setup.js';

const BASE = 'edge-imprint';
export const PATHS = ['photo', 'cutout', 'snapshots', 'box', 'zone', 'live'] as const;
export type PathName = (typeof PATHS)[number];
/** Paths that enroll from pictures sent over MQTT, not from the cameras. */
const PICTURE_PATHS: ReadonlySet<PathName> = new Set(['photo', 'cutout']);

export interface PathRun {
  path: PathName;
  clips: Array<{ clip: PathsClip; video: string }>;
  /** Paths `photo` and `cutout`: per label, the picture enrolled (its object on another background; its object cut out, PNG with transparency). */
  photos: Map<string, Buffer>;
  /** Further photo classes enrolled before the clips (label -> JPEG). */
  extraPhotos: Map<string, Buffer>;
  /** The people video and how long to watch it, seconds; null for none. */
  people: { video: string; seconds: number } | null;
  /** Write the agent's log here, at debug level (every unit's decision and its regions). */
  logFile?: string;
}

export interface PathResult {
  frame: ClipOutcome;
  zone: ClipOutcome;
  /** Start events on the people camera (null when it was not watched). */
  peopleStarts: number | null;
  peopleLabels: string[];
  /** Every start event of the clip cameras, in clip frames (for EDGE_IMPRINT_PATHS_TRACE). */
  starts: Array<{ camera: string; frame: number; label: string }>;
  /** Each clip camera's published attributes (label, score, box; at most one a second), in clip frames (for EDGE_IMPRINT_PATHS_TRACE). */
  attributes: Array<{ camera: string; frame: number; label: string; score: number; box?: unknown }>;
  /** Enrollment answers that were errors, and the warnings of those that were not. */
  notes: string[];
  seconds: number;
  /** When each camera's first frame reached the agent (epoch ms): clip frame 0. */
  t0: Record<string, number>;
}

interface EventStart {
  camera: string;
  label: string;
  at: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cameras(run: PathRun, urls: string[], peopleUrl: string | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  run.clips.forEach(({ clip }, i) => {
    const z = clip.zone;
    out[`c${i}`] = { url: urls[i], fps: FPS };
    out[`z${i}`] = { url: urls[i], fps: FPS, zones: { spot: { roi: { x: z.x / WIDTH, y: z.y / HEIGHT, width: z.w / WIDTH, height: z.h / HEIGHT } } } };
  });
  if (peopleUrl) out.hall = { url: peopleUrl, fps: FPS };
  return out;
}

export async function runPath(run: PathRun): Promise<PathResult> {
  const started = performance.now();
  const broker = await startMosquitto({ persistence: false });
  const dir = tempDir();
  const servers: RtspServer[] = [];
  let probe: AgentProbe | undefined;
  try {
    for (const { video } of run.clips) servers.push(await startRtspServer({ file: video }));
    const people = run.people ? await startRtspServer({ file: run.people.video }) : null;
    if (people) servers.push(people);
    probe = await AgentProbe.connect(broker.url, BASE);
    const agent = await startAgentProcess({
      dir: dir.path,
      config: {
        mqtt: { url: broker.url, discovery: { enabled: false } },
        detector: { type: 'cpu' },
        cameras: cameras(run, servers.map((s) => s.url), people?.url ?? null),
        ...(run.logFile ? { log: { level: 'debug', format: 'json' } } : {}),
      },
    });
    try {
      const notes = await enrollPhotos(probe, new Map([...run.extraPhotos, ...(PICTURE_PATHS.has(run.path) ? run.photos : [])]));
      const t0 = await firstFrames(probe, run);
      notes.push(...(await enrollFromCameras(probe, run, t0, agent.httpPort)));
      const ends = run.clips.map(({ clip }, i) => Math.max(t0.get(`c${i}`)!, t0.get(`z${i}`)!) + clip.plan.duration * 1000);
      if (run.people) ends.push(t0.get('hall')! + run.people.seconds * 1000);
      await sleep(Math.max(...ends) + 2000 - Date.now());
      return { ...score(run, t0, startsOf(probe)), attributes: attributesOf(probe, t0), notes, seconds: (performance.now() - started) / 1000, t0: Object.fromEntries(t0) };
    } finally {
      await agent.stop();
      if (run.logFile) writeFileSync(run.logFile, agent.log());
    }
  } finally {
    await probe?.close();
    for (const s of servers) await s.stop();
    await broker.cleanup();
    dir.cleanup();
  }
}

/** When each camera's first frame reached the agent: its status turning `online`. */
async function firstFrames(probe: AgentProbe, run: PathRun): Promise<Map<string, number>> {
  const names = run.clips.flatMap((_, i) => [`c${i}`, `z${i}`]);
  if (run.people) names.push('hall');
  const t0 = new Map<string, number>();
  for (const name of names) t0.set(name, (await probe.next(`${name}/status`, (t) => t === 'online', { timeoutMs: 60_000 })).at);
  return t0;
}

function noteOf(label: string, answer: { status: string; error?: string; data?: unknown }): string[] {
  if (answer.status !== 'ok') return [`${label}: ${answer.error ?? 'error'}`];
  const warning = (answer.data as { warning?: Array<{ code: string }> } | undefined)?.warning;
  return warning?.length ? [`${label}: warning ${warning.map((w) => w.code).join(', ')}`] : [];
}

/** `class/enroll/<label>` with the photo's bytes, answered on `response/class/enroll`. */
async function enrollPhotos(probe: AgentProbe, photos: Map<string, Buffer>): Promise<string[]> {
  const notes: string[] = [];
  for (const [label, jpeg] of photos) {
    const since = Date.now();
    await probe.publish(`request/class/enroll/${label}`, jpeg);
    const m = await probe.next('response/class/enroll', (t) => t.includes(`"${label}"`), { since, timeoutMs: 30_000 });
    notes.push(...noteOf(label, JSON.parse(m.text) as { status: string }));
  }
  return notes;
}

const atStand = (t0: number, frame: number): number => t0 + (frame / FPS) * 1000;

/** Paths b–e, at each clip's stands: the first stand of each object, or all three for snapshots. */
async function enrollFromCameras(probe: AgentProbe, run: PathRun, t0: Map<string, number>, httpPort: number): Promise<string[]> {
  if (PICTURE_PATHS.has(run.path)) return [];
  const jobs: Array<{ at: number; go: () => Promise<string[]> }> = [];
  run.clips.forEach(({ clip }, i) => {
    for (const { label } of clip.enrolled) {
      const stands = clip.stands.filter((s) => s.label === label);
      const first = stands[0]!;
      if (run.path === 'snapshots') {
        const shots: Buffer[] = [];
        stands.forEach((s, k) =>
          jobs.push({
            at: atStand(t0.get(`c${i}`)!, s.frame),
            go: async () => {
              shots.push(await snapshot(httpPort, `c${i}`));
              if (k < stands.length - 1) return [];
              return noteOf(label, await probe.request('class/enroll', { label, images: shots.map((b) => b.toString('base64')) }, 30_000));
            },
          }),
        );
        continue;
      }
      const body: Record<string, unknown> =
        run.path === 'box' ? { label, camera: `c${i}`, box: boxFractions(first.box) } : run.path === 'zone' ? { label, camera: `z${i}`, zone: 'spot' } : { label, camera: `c${i}`, frames: 3 };
      // Live frames come 500 ms apart: start them early enough to end inside the stand.
      const lead = run.path === 'live' ? 750 : 0;
      jobs.push({ at: atStand(t0.get(run.path === 'zone' ? `z${i}` : `c${i}`)!, first.frame) - lead, go: async () => noteOf(label, await probe.request('class/enroll', body, 30_000)) });
    }
  });
  const notes: string[] = [];
  await Promise.all(
    jobs.map(async (j) => {
      await sleep(j.at - Date.now());
      notes.push(...(await j.go()));
    }),
  );
  return notes;
}

/** The dashboard's picture of the camera now (`GET /api/cameras/<name>.jpg`). */
async function snapshot(port: number, camera: string): Promise<Buffer> {
  const res = await fetch(`http://127.0.0.1:${port}/api/cameras/${camera}.jpg`);
  if (!res.ok) throw new Error(`snapshot of ${camera}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

function startsOf(probe: AgentProbe): EventStart[] {
  return probe.seen
    .filter((m) => m.topic === `${BASE}/events`)
    .map((m) => JSON.parse(m.text) as { type: string; camera: string; label: string; start_time: string })
    .filter((e) => e.type === 'start')
    .map((e) => ({ camera: e.camera, label: e.label, at: Date.parse(e.start_time) }));
}

function attributesOf(probe: AgentProbe, t0: Map<string, number>): PathResult['attributes'] {
  return probe.seen.flatMap((m) => {
    const camera = /^[^/]+\/([cz]\d+)\/(?:spot\/)?attributes$/.exec(m.topic)?.[1];
    if (!camera || !t0.has(camera) || m.text === '') return [];
    const a = JSON.parse(m.text) as { label: string; score: number; box?: unknown };
    return [{ camera, frame: Math.round(((m.at - t0.get(camera)!) / 1000) * FPS), label: a.label, score: a.score, ...(a.box ? { box: a.box } : {}) }];
  });
}

/** Starts of the evaluation part of a clip on one camera, in clip frames. */
function clipStarts(all: EventStart[], camera: string, t0: number, clip: PathsClip): Start[] {
  return all
    .filter((e) => e.camera === camera)
    .map((e) => ({ frame: Math.round(((e.at - t0) / 1000) * FPS), label: e.label }))
    .filter((s) => s.frame >= clip.plan.evalStart * FPS && s.frame < clip.plan.frames);
}

function score(run: PathRun, t0: Map<string, number>, all: EventStart[]): Omit<PathResult, 'notes' | 'seconds' | 'attributes' | 't0'> {
  const place = (prefix: 'c' | 'z', truthOf: (c: PathsClip) => TruthSpan[]): ClipOutcome =>
    sumOutcomes(run.clips.map(({ clip }, i) => scoreStarts(truthOf(clip), clipStarts(all, `${prefix}${i}`, t0.get(`${prefix}${i}`)!, clip), new Map(), 0)));
  const starts = run.clips.flatMap(({ clip }, i) => [`c${i}`, `z${i}`].flatMap((cam) => clipStarts(all, cam, t0.get(cam)!, { ...clip, plan: { ...clip.plan, evalStart: 0 } }).map((s) => ({ camera: cam, ...s }))));
  const hall = run.people ? all.filter((e) => e.camera === 'hall' && e.at - t0.get('hall')! <= run.people!.seconds * 1000) : null;
  return {
    frame: place('c', (c) => c.truth.frame),
    zone: place('z', (c) => c.truth.zone),
    peopleStarts: hall ? hall.length : null,
    peopleLabels: [...new Set(hall?.map((e) => e.label) ?? [])],
    starts,
  };
}
