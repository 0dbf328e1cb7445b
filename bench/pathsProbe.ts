/**
 * Diagnosis for the paths bench, offline and per frame (no RTSP, no agent process, no vote):
 * the same clips rendered frame by frame, classes enrolled from a drawn box at their first
 * stand (or, EDGE_IMPRINT_PROBE_PATH=photo, from one photo of each on another background; =cutout, from each cut out, its background transparent), then every frame of the evaluation classified as the agent does (the unit's whole
 * frame against its empty scene, regions cut out against its empty view). Prints, per
 * appearance, the frames labelled right and the object's own score per frame; per never-
 * enrolled object and empty stretch, the frames labelled a class. For choosing mechanisms on
 * the tuning sets (EDGE_IMPRINT_PATHS_SET=tuning, the default here; =small, small household
 * objects the held-out clips do not cast, for the photo path); the bench's figures stay those of
 * the real agent (EDGE_IMPRINT_PATHS_SET=held-out here gives its clips offline).
 * Run: `node --import tsx bench/pathsProbe.ts` (after `npm run bench -- --only=paths` fetched the packages).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { CACHE_DIR } from './embeddings.js';
import { decodeRaster, objectCrops } from '../src/media/crops.js';
import { boxShot } from '../src/pipeline/regionCrops.js';
import { proposeRegions } from '../src/recognition/regions.js';
import { NONE, UNKNOWN } from '../src/recognition/types.js';
import { startImprinting } from '../test/helpers/imprinting.js';
import { FPS } from './fieldPlan.js';
import { ClipRenderer } from './fieldRender.js';
import { DEFAULT_PAUSE_S, boxFractions, planPathsClip } from './pathsPlan.js';
import { cutOutOf, loadPathsSource, loadSmallTuningSource, loadTuningSource, photoBackgroundOf, photoOf } from './pathsSource.js';
import { tempDir } from './setup.js';

const INPUT = { width: 224, height: 224 };
/** classifier.off_delay_s's default: a class stays ON this long after its last frame. */
const OFF_DELAY_S = 10;
const CLIPS = Number(process.env.EDGE_IMPRINT_PATHS_CLIPS ?? 2);
/** How the classes are enrolled: `box` (a drawn box at the object's first stand), `photo` (one photo of it on another background) or `cutout` (the object alone, background removed). */
const PATH = process.env.EDGE_IMPRINT_PROBE_PATH ?? 'box';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The clip as the agent receives it: frames of the bench's H.264 video (rendered by `npm run bench -- --only=paths`), as JPEG. */
function videoFrames(plan: object & { id: string }): ((n: number) => Promise<Buffer>) | null {
  const hash = createHash('sha256').update(JSON.stringify(plan)).digest('hex').slice(0, 12);
  const video = join(CACHE_DIR, 'paths-video', hash, `${plan.id}.mp4`);
  if (!existsSync(video)) return null;
  const out = mkdtempSync(join(tmpdir(), 'probe-'));
  const r = spawnSync('ffmpeg', ['-v', 'error', '-i', video, '-q:v', '3', join(out, 'f%05d.jpg')]);
  if (r.status !== 0) throw new Error(`ffmpeg: ${String(r.stderr)}`);
  return async (n) => readFileSync(join(out, `f${String(n + 1).padStart(5, '0')}.jpg`));
}

async function unitOf(jpeg: Buffer): Promise<Uint8Array> {
  return new Uint8Array(await sharp(jpeg).resize(224, 224, { fit: 'fill' }).removeAlpha().raw().toBuffer());
}

async function main(): Promise<void> {
  const set = process.env.EDGE_IMPRINT_PATHS_SET ?? 'tuning';
  const source = await (set === 'held-out' ? loadPathsSource : set === 'small' ? loadSmallTuningSource : loadTuningSource)(() => undefined);
  const clips = Array.from({ length: CLIPS }, (_, i) => planPathsClip(5000 + 101 * i, source.scenes[i % source.scenes.length]!, source.objects, source.occluders, `p${i}`, DEFAULT_PAUSE_S));
  const totals = { right: 0, appearances: 0, strangerFrames: 0, emptyFrames: 0 };
  let photographed = 0;
  for (const clip of clips) {
    const dir = tempDir();
    const core = await startImprinting({ dataDir: dir.path });
    try {
      const imp = core.imprinter;
      const unit = { camera: 'probe', zone: null };
      const rendered = new ClipRenderer(clip.plan);
      await rendered.load();
      const fromVideo = process.env.EDGE_IMPRINT_PROBE_VIDEO ? videoFrames(clip.plan) : null;
      if (process.env.EDGE_IMPRINT_PROBE_VIDEO && !fromVideo) throw new Error('no video for this clip: run the paths bench once');
      const renderer = { frame: fromVideo ?? ((n: number) => rendered.frame(n)) };
      // The unit learns its empty scene as the agent does (first look after 10 s of quiet).
      let quietJpeg = await renderer.frame(10 * FPS);
      for (let k = 0; k < 24; k++) {
        const r = await imp.classifyPixels(await unitOf(await renderer.frame(2 * FPS + k)), unit);
        imp.observe(unit, r, []);
        await sleep(500);
      }
      for (const e of clip.enrolled) {
        if (PATH === 'photo' || PATH === 'cutout') {
          const picture = PATH === 'photo' ? await photoOf(e.stamp, photoBackgroundOf(source, photographed++).path) : await cutOutOf(e.stamp);
          const r = await imp.enrollImages(e.label, [picture], { source: 'mqtt' });
          console.log(`enrolled ${e.label} from a photo: ${(r.warning ?? []).map((w) => w.code).join(', ')}`);
          continue;
        }
        const stand = clip.stands.find((s) => s.label === e.label)!;
        const jpeg = await renderer.frame(stand.frame);
        const shot = await boxShot(jpeg, boxFractions(stand.box), null, INPUT, [await decodeRaster(quietJpeg)]);
        const r = await imp.enrollPixels(e.label, [{ rgb: shot, unitRgb: await unitOf(jpeg) }], { source: 'camera:probe/box', unit, sceneRgb: await unitOf(quietJpeg) });
        console.log(`enrolled ${e.label}: ${(r.warning ?? []).map((w) => w.code).join(', ')}`);
      }
      const spans = clip.truth.frame;
      let f = clip.plan.evalStart * FPS;
      let lines: string[] = [];
      // The agent's rule for the empty view (CameraManager.keepQuiet), not the truth: it follows a
      // frame with no region unless a class is ON, or absorbs a change after 25 `none` / 200 `unknown` frames.
      let changedFrames = 0;
      let lastClass = -Infinity;
      for (; f < clip.plan.frames; f++) {
        const span = spans.find((s) => f >= s.startFrame && f <= s.endFrame);
        const jpeg = await renderer.frame(f);
        const crop = await unitOf(jpeg);
        const quiet = await unitOf(quietJpeg);
        const boxes = proposeRegions(crop, quiet);
        const frame = await decodeRaster(jpeg);
        const empty = await decodeRaster(quietJpeg);
        const r = await imp.classifyPixels(crop, unit, async () => objectCrops(frame, empty, boxes, INPUT));
        imp.observe(unit, r, []);
        const isClass = r.label !== NONE && r.label !== UNKNOWN;
        // The highest score any enrolled class reached in this frame, named or not: how near a never-enrolled object or an empty view came.
        const top = Math.max(-1, ...clip.enrolled.map((e) => r.scores[e.label] ?? -1));
        if (isClass) lastClass = f;
        const active = f - lastClass <= OFF_DELAY_S * FPS;
        if (isClass || active) changedFrames = 0;
        else {
          changedFrames = boxes.length > 0 ? changedFrames + 1 : 0;
          if (boxes.length === 0 || changedFrames >= (r.label === NONE ? 25 : 200)) {
            quietJpeg = jpeg;
            changedFrames = 0;
          }
        }
        if (!span) {
          if (isClass) {
            totals.emptyFrames += 1;
            lines.push(`    empty f${f}: ${r.label} ${r.score.toFixed(3)} (${r.reason})`);
          }
          if (process.env.EDGE_IMPRINT_PROBE_TOP) console.log(`    top empty f${f} ${top.toFixed(3)}`);
          continue;
        }
        const own = span.label;
        const mark = r.label === own ? '+' : isClass ? `!${r.label}` : '-';
        if (!own && isClass) totals.strangerFrames += 1;
        lines.push(`    ${own ?? 'stranger'}#${span.index} f${f} ${mark} own ${own ? (r.scores[own] ?? NaN).toFixed(3) : ''} best ${r.label} ${r.score.toFixed(3)} ${r.reason} props ${boxes.length} top ${top.toFixed(3)}`);
        if (f === span.endFrame) {
          const right = lines.filter((l) => l.includes(' + ')).length;
          if (own) {
            totals.appearances += 1;
            totals.right += right >= 2 ? 1 : 0;
          }
          console.log(`  ${own ?? 'stranger'} #${span.index}: ${right} frames right`);
          for (const l of lines) console.log(l);
          lines = [];
        }
      }
    } finally {
      await core.stop();
      dir.cleanup();
    }
  }
  console.log(`appearances with ≥ 2 right frames ${totals.right}/${totals.appearances}; frames of never-enrolled labelled a class ${totals.strangerFrames}; empty frames labelled a class ${totals.emptyFrames}`);
}

await main();
