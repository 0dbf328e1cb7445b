/**
 * Enrollment paths × places (issue 16): for each way of enrolling — (a) one photo of the object
 * on another background, (a′) the object's photo with its background removed (a transparent
 * PNG, as a phone's "lift subject" gives), (b) 3 snapshots of the camera, (c) a drawn box, (d) a zone, (e) live
 * whole-frame — a fresh agent process watches held-out clips over RTSP on a camera without
 * zones and on a zone of a camera; recall of enrolled appearances and false starts per cell.
 * Paths (a) and (e) also watch 3 minutes of a real hallway camera with people walking
 * (opencv-doc's vtest.avi, looped), where nothing enrolled appears. Method and figures:
 * docs/field-accuracy.md, "Enrollment paths × places".
 *
 *   EDGE_IMPRINT_PATHS_CLIPS=n   clips per agent (default 2, each on its own scene)
 *   EDGE_IMPRINT_PATHS=a,b       only these paths (photo, cutout, snapshots, box, zone, live)
 *   EDGE_IMPRINT_PATHS_PAUSE=lo-hi  how long walks pause over the zone, seconds (default 1.5-3)
 *   EDGE_IMPRINT_PATHS_TRACE=file  the truth of each clip and every start event, as JSON lines;
 *                                  the agent's debug log of each path beside it (file.<path>.log)
 *   EDGE_IMPRINT_PATHS_SET=tuning  the tuning twin of the clips (field objects and scenes) instead of the held-out ones;
 *                                  =small, the photo path's tuning set (pathsSource.ts, loadSmallTuningSource)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR } from './embeddings.js';
import { ClipRenderer, writeClipVideo } from './fieldRender.js';
import type { ClipOutcome } from './fieldSim.js';
import { DEFAULT_PAUSE_S, planPathsClip, type PathsClip } from './pathsPlan.js';
import { PATHS, runPath, type PathName, type PathResult, type PathRun } from './pathsRun.js';
import { cutOutOf, loadPathsSource, loadSmallTuningSource, loadTuningSource, photoBackgroundOf, photoOf, type PathsSource } from './pathsSource.js';
import type { Report } from './report.js';
import { FIXTURE_IMAGES } from './setup.js';

const CLIPS = Number(process.env.EDGE_IMPRINT_PATHS_CLIPS ?? 2);
const ONLY = process.env.EDGE_IMPRINT_PATHS?.split(',');
const VIDEO_DIR = join(CACHE_DIR, 'paths-video');
const TRACE = process.env.EDGE_IMPRINT_PATHS_TRACE;
const PAUSE = (process.env.EDGE_IMPRINT_PATHS_PAUSE?.split('-').map(Number) as [number, number] | undefined) ?? DEFAULT_PAUSE_S;
const PEOPLE_S = 180;
/** The issue's "Done when" per path (recall in both places); zone and live have none of their own. */
const TARGETS: Partial<Record<PathName, number>> = { photo: 0.8, snapshots: 0.9, box: 0.9 };
/** The seed's own photo classes, enrolled beside path (a)'s while the people video plays. */
const SEED_PHOTOS = { dog: 'dog_train_0.jpg', cat: 'cat_train_0.jpg', hotdog: 'hotdog_train_0.jpg' };

async function videoOf(clip: PathsClip): Promise<string> {
  const hash = createHash('sha256').update(JSON.stringify(clip.plan)).digest('hex').slice(0, 12);
  const dir = join(VIDEO_DIR, hash);
  const video = join(dir, `${clip.plan.id}.mp4`);
  if (existsSync(video)) return video;
  const renderer = new ClipRenderer(clip.plan);
  await renderer.load();
  return (await writeClipVideo(renderer, dir)).video;
}

/** vtest.avi (768x576, ~80 s) looped to `seconds` as H.264 the RTSP server can serve. */
function peopleVideo(source: string, seconds: number): string {
  const out = join(VIDEO_DIR, `people-${seconds}s.mp4`);
  if (existsSync(out)) return out;
  mkdirSync(VIDEO_DIR, { recursive: true });
  const args = ['-v', 'error', '-y', '-stream_loop', '-1', '-i', source, '-t', String(seconds), '-an', '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '0', '-g', '10', '-r', '10', '-pix_fmt', 'yuv420p', out];
  const r = spawnSync('ffmpeg', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg (people video): ${r.stderr}`);
  return out;
}

async function prepare(source: PathsSource, print: (line: string) => void): Promise<Omit<PathRun, 'path' | 'people'> & { people: string; cutouts: Map<string, Buffer> }> {
  const clips = Array.from({ length: CLIPS }, (_, i) => planPathsClip(5000 + 101 * i, source.scenes[i % source.scenes.length]!, source.objects, source.occluders, `p${i}`, PAUSE));
  const withVideo = [];
  for (const clip of clips) withVideo.push({ clip, video: await videoOf(clip) });
  const photos = new Map<string, Buffer>();
  const cutouts = new Map<string, Buffer>();
  const onBackground: string[] = [];
  for (const [n, e] of clips.flatMap((c) => c.enrolled).entries()) {
    const background = photoBackgroundOf(source, n);
    photos.set(e.label, await photoOf(e.stamp, background.path));
    onBackground.push(`${e.label} on ${background.name}`);
  }
  print(`  photos (path a): ${onBackground.join(', ')}`);
  for (const c of clips) for (const e of c.enrolled) cutouts.set(e.label, await cutOutOf(e.stamp));
  const extraPhotos = new Map(Object.entries(SEED_PHOTOS).map(([label, f]) => [label, readFileSync(join(FIXTURE_IMAGES, f))]));
  for (const c of clips) {
    const strangers = c.plan.objects.filter((o) => o.label === null && o.id !== 'fg').map((o) => o.stamp.split('/stamps/')[1]);
    print(`  clip ${c.plan.id}: ${c.plan.duration} s, pauses ${PAUSE.join('-')} s, scene ${c.plan.scene.name}; enrolled ${c.enrolled.map((e) => `${e.label} (${e.stamp.split('/stamps/')[1]})`).join(', ')}; never enrolled ${strangers.join(', ')}`);
  }
  return { clips: withVideo, photos, cutouts, extraPhotos, people: peopleVideo(source.peopleVideo, PEOPLE_S) };
}

const pct = (n: number, d: number): string => (d === 0 ? '-' : `${n}/${d} = ${((100 * n) / d).toFixed(0)} %`);

function cell(o: ClipOutcome): string {
  return `${pct(o.recalled, o.enrolled)}; empty ${o.emptyStarts}; wrong ${o.wrongLabel}; never-enrolled ${o.strangerFirstStarts}/${o.strangerFirst}`;
}

export function pathsTable(rows: Array<{ path: PathName; r: PathResult }>): string[] {
  const lines = [
    '| enrolled from | camera without zones: recall; false starts | zone of a camera: recall; false starts | people video: starts | target (recall) |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const { path, r } of rows) {
    const target = TARGETS[path] ? `≥ ${100 * TARGETS[path]!} % both places` : '-';
    lines.push(`| ${path} | ${cell(r.frame)} | ${cell(r.zone)} | ${r.peopleStarts === null ? '-' : `${r.peopleStarts}${r.peopleLabels.length ? ` (${r.peopleLabels.join(', ')})` : ''}`} | ${target} |`);
  }
  return lines;
}

function addRows(report: Report, path: PathName, r: PathResult, set: string): void {
  const target = TARGETS[path];
  const recallOk = (o: ClipOutcome): boolean => target === undefined || o.recalled >= target * o.enrolled;
  for (const [place, o] of [['camera without zones', r.frame], ['zone', r.zone]] as const) {
    report.add({
      section: 'paths',
      figure: `${path} → ${place} (${set} clips): recall; false starts on empty scenes; wrong labels; never-enrolled starting an event`,
      value: `${pct(o.recalled, o.enrolled)}; ${o.emptyStarts}; ${o.wrongLabel}; ${o.strangerFirstStarts}/${o.strangerFirst}`,
      target: `${target ? `≥ ${100 * target} %` : 'reported'}; 0; 0; ≤ 1/3`,
      ok: recallOk(o) && o.emptyStarts === 0 && o.wrongLabel === 0 && 3 * o.strangerFirstStarts <= o.strangerFirst,
    });
  }
  if (r.peopleStarts !== null) {
    report.add({ section: 'paths', figure: `${path} classes enrolled: start events in ${PEOPLE_S / 60} min of a real hallway camera, people walking`, value: String(r.peopleStarts), target: '0', ok: r.peopleStarts === 0 });
  }
}

export async function runPathsBench(report: Report): Promise<void> {
  const print = (line: string): void => report.line(line);
  const set = process.env.EDGE_IMPRINT_PATHS_SET ?? 'held-out';
  if (!['held-out', 'tuning', 'small'].includes(set)) throw new Error(`EDGE_IMPRINT_PATHS_SET: ${set} is not held-out, tuning or small`);
  print(`  material: ${set === 'held-out' ? 'held-out set' : set === 'tuning' ? 'TUNING set (field objects and scenes): not a reportable figure' : 'SMALL TUNING set (household objects no held-out clip casts, tuning scenes): not a reportable figure'}`);
  const source = await (set === 'tuning' ? loadTuningSource : set === 'small' ? loadSmallTuningSource : loadPathsSource)(print);
  const prepared = await prepare(source, print);
  const rows: Array<{ path: PathName; r: PathResult }> = [];
  for (const path of PATHS.filter((p) => !ONLY || ONLY.includes(p))) {
    const people = path === 'photo' || path === 'live' ? { video: prepared.people, seconds: PEOPLE_S } : null;
    const logFile = TRACE ? `${TRACE}.${path}.log` : undefined;
    const photos = path === 'cutout' ? prepared.cutouts : prepared.photos;
    const r = await runPath({ ...prepared, path, photos, people, extraPhotos: path === 'photo' ? prepared.extraPhotos : new Map(), ...(logFile ? { logFile } : {}) });
    if (TRACE) appendFileSync(TRACE, `${JSON.stringify({ path, t0: r.t0, starts: r.starts, attributes: r.attributes, clips: prepared.clips.map(({ clip }) => ({ id: clip.plan.id, evalStart: clip.plan.evalStart, frames: clip.plan.frames, truth: clip.truth })) })}\n`);
    print(`  ${path}: ${r.seconds.toFixed(0)} s${r.notes.length ? `; enrollment said: ${r.notes.join('; ')}` : ''}`);
    rows.push({ path, r });
  }
  for (const line of pathsTable(rows)) print(`  ${line}`);
  for (const { path, r } of rows) addRows(report, path, r, set === 'held-out' ? 'held-out' : set.toUpperCase());
}
