/**
 * Region proposals (issue 16): classes enrolled from ONE photo of an object on another
 * background, recognised when the object stands small in a 1280×720 camera view, before (the
 * unit's whole frame only) and after (plus regions that differ from the unit's empty view).
 *
 * Per scene photo (bench/fieldPlan.ts SCENES): 3 stamp objects enrolled (each from the stamp
 * laid on another photo, MEAN_PHOTOS, filling most of it), 3 never enrolled; the empty view
 * is the user's background class (the unit's scene). Each object appears at 3 seeded places,
 * 22-34 % of the frame's width, under a seeded light gain (0.85-1.15) with sensor noise, as a
 * JPEG; 5 empty frames under the same light changes. One frame per appearance (no vote):
 * recall = appearances labelled with their own class; strangers / empty = frames labelled a
 * class. Run: `node --import tsx bench/regions.ts` (needs scripts/fetch-dataset.sh).
 */
import sharp from 'sharp';
import { squareCrops } from '../src/media/crops.js';
import { overlap, proposeRegions, type Box } from '../src/recognition/regions.js';
import { NONE, UNKNOWN, type Classification } from '../src/recognition/types.js';
import { seededRandom } from '../src/recognition/vector.js';
import { startImprinting } from '../test/helpers/imprinting.js';
import { listDataset } from './embeddings.js';
import { FIELD_CATEGORIES, MEAN_PHOTOS, SCENES } from './fieldPlan.js';
import { tempDir } from './setup.js';

const W = 1280;
const H = 720;
const INPUT = { width: 224, height: 224 };
const UNIT = { camera: 'bench', zone: null };

interface Frame {
  unit: Uint8Array;
  snapshot: Buffer;
}

/** The camera's view of `scene` (with an object at `at`), light `gain`, noise, JPEG: the unit's crop and the snapshot. */
async function render(scene: Buffer, gain: number, object?: { png: Buffer; at: Box }): Promise<Frame> {
  const layers = object ? [{ input: object.png, left: Math.round(object.at.x * W), top: Math.round(object.at.y * H) }] : [];
  const lit = await sharp(scene).composite(layers).linear(gain, 0).removeAlpha().raw().toBuffer();
  const noisy = await sharp(lit, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 75 }).toBuffer();
  const unit = new Uint8Array(await sharp(noisy).resize(INPUT.width, INPUT.height, { fit: 'fill' }).removeAlpha().raw().toBuffer());
  const snapshot = await sharp(noisy).resize(640).jpeg({ quality: 80 }).toBuffer();
  return { unit, snapshot };
}

interface Tally {
  recall: number;
  appearances: number;
  placed: number;
  strangers: number;
  strangerFrames: number;
  empty: number;
  emptyFrames: number;
  ms: number;
  frames: number;
}

const tally = (): Tally => ({ recall: 0, appearances: 0, placed: 0, strangers: 0, strangerFrames: 0, empty: 0, emptyFrames: 0, ms: 0, frames: 0 });

async function main(): Promise<void> {
  const pool = listDataset().filter((c) => FIELD_CATEGORIES.includes(c.label)).flatMap((c) => c.files.map((f) => ({ f, c: c.label })));
  const before = tally();
  const after = tally();
  for (const [s, scenePhoto] of SCENES.entries()) {
    const random = seededRandom(1000 + s);
    const dir = tempDir();
    const core = await startImprinting({ dataDir: dir.path });
    try {
      const imp = core.imprinter;
      const scene = await sharp(scenePhoto.path).resize(W, H, { fit: 'cover' }).removeAlpha().toBuffer();
      const objects = [...pool].sort(() => random() - 0.5).slice(0, 6).map((o, i) => ({ ...o, label: i < 3 ? `${o.c}_${i}` : null }));
      const quiet = (await render(scene, 1)).unit;
      await imp.enrollImages('empty_view', [await sharp(scene).jpeg().toBuffer()], { source: 'file:scene', background: true });
      for (const [i, o] of objects.entries()) {
        if (!o.label) continue;
        const other = await sharp(MEAN_PHOTOS[(s + i) % MEAN_PHOTOS.length]!).resize(640, 480, { fit: 'cover' }).toBuffer();
        const stamp = await sharp(o.f).trim().resize(480, 400, { fit: 'inside' }).png().toBuffer();
        const photo = await sharp(other).composite([{ input: stamp, gravity: 'centre' }]).jpeg({ quality: 90 }).toBuffer();
        await imp.enrollImages(o.label, [photo], { source: 'file:photo' });
      }
      const decide = async (frame: Frame, t: Tally): Promise<Classification> => {
        const started = performance.now();
        const regions = t === after ? async () => squareCrops(frame.snapshot, proposeRegions(frame.unit, quiet), INPUT) : undefined;
        const r = await imp.classifyPixels(frame.unit, UNIT, regions);
        t.ms += performance.now() - started;
        t.frames += 1;
        return r;
      };
      for (let k = 0; k < 5; k++) {
        const frame = await render(scene, 0.85 + 0.3 * random());
        for (const t of [before, after]) {
          const r = await decide(frame, t);
          t.emptyFrames += 1;
          if (r.label !== NONE && r.label !== UNKNOWN) t.empty += 1;
        }
      }
      for (const o of objects) {
        for (let k = 0; k < 3; k++) {
          const width = Math.round(W * (0.22 + 0.12 * random()));
          const png = await sharp(o.f).trim().resize(width, Math.round(H * 0.6), { fit: 'inside' }).png().toBuffer();
          const meta = await sharp(png).metadata();
          const [w, h] = [meta.width ?? width, meta.height ?? width];
          const at = { x: random() * (1 - w / W), y: random() * (1 - h / H), width: w / W, height: h / H };
          const frame = await render(scene, 0.85 + 0.3 * random(), { png, at });
          for (const t of [before, after]) {
            const r = await decide(frame, t);
            const isClass = r.label !== NONE && r.label !== UNKNOWN;
            if (o.label && t === after && r.label !== o.label && process.env.EDGE_IMPRINT_BENCH_DEBUG) {
              const boxes = proposeRegions(frame.unit, quiet);
              console.log(`  miss ${o.label} at ${JSON.stringify(at)}: got ${r.label}, own score ${r.scores[o.label]?.toFixed(3)}, proposals ${boxes.length}, best overlap ${Math.max(0, ...boxes.map((bx) => overlap(bx, at))).toFixed(2)}`);
            }
            if (o.label) {
              t.appearances += 1;
              if (r.label === o.label) t.recall += 1;
              if (r.label === o.label && r.box && overlap(r.box, at) > 0.25) t.placed += 1;
            } else {
              t.strangerFrames += 1;
              if (isClass) t.strangers += 1;
            }
          }
        }
      }
      console.log(`${scenePhoto.name}: recall before ${before.recall}/${before.appearances}, after ${after.recall}/${after.appearances}; strangers as a class before ${before.strangers}, after ${after.strangers}`);
    } finally {
      await core.stop();
      dir.cleanup();
    }
  }
  const pct = (a: number, b: number): string => `${a}/${b} = ${((100 * a) / Math.max(1, b)).toFixed(1)} %`;
  for (const [name, t] of [['before (whole unit only)', before], ['after (+ regions)', after]] as const) {
    console.log(`${name}: recall ${pct(t.recall, t.appearances)} (box on the object ${t.placed}); never-enrolled frames labelled a class ${pct(t.strangers, t.strangerFrames)}; empty frames labelled a class ${pct(t.empty, t.emptyFrames)}; ${(t.ms / t.frames).toFixed(1)} ms per frame`);
  }
}

await main();
