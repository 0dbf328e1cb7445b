/**
 * Derives the generic mean embedding that centring subtracts (src/recognition/centring.ts) and
 * that ships as models/<model>.mean.json.
 *
 * The photo set (installed by scripts/fetch-dataset.sh, never committed), chosen to be diverse
 * and to share nothing with what the benchmarks measure:
 *   - every Tux Paint photo stamp OUTSIDE the accuracy benchmark's class folders (clothes,
 *     household, sports, seasonal, town, symbols ...; cartoon and alphabet folders left out),
 *     laid on white like the accuracy benchmark's stamps;
 *   - 8 seeded crops (40-100 % of the photo's width, 4:3) of each scene photo of the same
 *     packages that is NOT a field-benchmark scene (bench/fieldPlan.ts MEAN_PHOTOS).
 * The mean of each part is taken, then the two are averaged, so neither part dominates.
 *
 * The residual mean (what "something appeared" looks like in residual space, see
 * src/recognition/decision.ts): 4 of those crops per photo as empty scenes, each with 4 seeded
 * stamps of the same stamp set composited in (10-28 % of the area, under a seeded light gain,
 * JPEG 75 like the field clips); the mean of normalise(embedding(scene + object) -
 * embedding(scene)) over the 384 composites.
 *
 *   node --import tsx bench/embeddingMean.ts --write   # (re)writes the constant
 *   node --import tsx bench/embeddingMean.ts           # checks the shipped one against a fresh derivation
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { meanOf, parseEmbeddingMean, serialiseEmbeddingMean, type EmbeddingMean } from '../src/recognition/centring.js';
import { l2Normalize, seededRandom } from '../src/recognition/vector.js';
import { BareEmbedder, CACHE_DIR, CLASS_FOLDERS, DATASET_DIR, embedFiles } from './embeddings.js';
import { MEAN_PHOTOS } from './fieldPlan.js';
import { MODEL_DIR, ROOT } from './setup.js';

/** The shipped constant was derived on TFLite: its reproducibility check stays on the same runtime. */
const MEAN_BACKEND = 'tflite';

const MODEL_FILE = 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite';
export const MEAN_FILE = join(ROOT, 'models', MODEL_FILE.replace(/\.tflite$/, '.mean.json'));
const CROPS_PER_PHOTO = 8;

/** Stamps of every folder the accuracy benchmark does not use as a class (no cartoons, no alphabets). */
export function meanStamps(dir = DATASET_DIR): string[] {
  const used = new Set(Object.values(CLASS_FOLDERS).flat());
  const out: string[] = [];
  const walk = (folder: string): void => {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) {
        if (name !== 'cartoon' && name !== 'alphabets') walk(path);
      } else if (name.toLowerCase().endsWith('.png') && !used.has(relative(dir, folder))) {
        out.push(path);
      }
    }
  };
  walk(dir);
  return out;
}

async function cropInputs(): Promise<Uint8Array[]> {
  const random = seededRandom(31337);
  const inputs: Uint8Array[] = [];
  for (const photo of MEAN_PHOTOS) {
    const meta = await sharp(photo).metadata();
    const pw = meta.width ?? 0;
    const ph = meta.height ?? 0;
    for (let k = 0; k < CROPS_PER_PHOTO; k++) {
      const width = Math.round(Math.min(pw, (ph * 4) / 3) * (0.4 + 0.6 * random()));
      const height = Math.round((width * 3) / 4);
      const left = Math.floor(random() * (pw - width));
      const top = Math.floor(random() * (ph - height));
      const { data } = await sharp(photo).extract({ left, top, width, height }).resize(224, 224, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      inputs.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  }
  return inputs;
}

const RESIDUAL_CROPS = 4;
const OBJECTS_PER_CROP = 4;

async function rgbOf(img: Sharp): Promise<Uint8Array> {
  const jpeg = await img.jpeg({ quality: 75 }).toBuffer();
  const { data } = await sharp(jpeg).resize(224, 224, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Scene crops and the same crops with one object each: [scene, with object 1..4] per crop. */
async function residualInputs(stamps: string[]): Promise<Uint8Array[][]> {
  const random = seededRandom(2718);
  const groups: Uint8Array[][] = [];
  for (const photo of MEAN_PHOTOS) {
    const meta = await sharp(photo).metadata();
    const pw = meta.width ?? 0;
    const ph = meta.height ?? 0;
    for (let k = 0; k < RESIDUAL_CROPS; k++) {
      const width = Math.round(Math.min(pw, (ph * 4) / 3) * (0.5 + 0.5 * random()));
      const height = Math.round((width * 3) / 4);
      const left = Math.floor(random() * (pw - width));
      const top = Math.floor(random() * (ph - height));
      const gain = 0.7 + 0.4 * random();
      const scene = await sharp(photo).extract({ left, top, width, height }).resize(320, 240, { fit: 'fill' }).removeAlpha().png().toBuffer();
      const group = [await rgbOf(sharp(scene).linear(gain, 0))];
      for (let o = 0; o < OBJECTS_PER_CROP; o++) {
        const stamp = stamps[Math.floor(random() * stamps.length)]!;
        const trimmed = sharp(await sharp(stamp).ensureAlpha().trim().png().toBuffer());
        const m = await trimmed.metadata();
        const aspect = (m.width ?? 1) / (m.height ?? 1);
        const area = (0.1 + 0.18 * random()) * 320 * 240;
        const h = Math.max(8, Math.min(216, Math.round(Math.sqrt(area / aspect))));
        const w = Math.max(8, Math.min(288, Math.round(h * aspect)));
        const object = await trimmed.resize(w, h, { fit: 'fill' }).png().toBuffer();
        const at = { left: Math.floor(random() * (320 - w)), top: Math.floor(random() * (240 - h)) };
        const composite = await sharp(scene).composite([{ input: object, ...at }]).png().toBuffer();
        group.push(await rgbOf(sharp(composite).linear(gain, 0)));
      }
      groups.push(group);
    }
  }
  return groups;
}

async function cachedEmbeddings(name: string, sha: string, modelPath: string, make: () => Promise<Uint8Array[]>): Promise<Float32Array[]> {
  const path = join(CACHE_DIR, `${name}-${sha.slice(0, 16)}.f32`);
  if (existsSync(path)) {
    const bytes = readFileSync(path);
    const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    return Array.from({ length: all.length / 1024 }, (_, i) => all.subarray(i * 1024, (i + 1) * 1024));
  }
  const embedder = await BareEmbedder.create(modelPath, MEAN_BACKEND);
  const out: Float32Array[] = [];
  for (const rgb of await make()) out.push(await embedder.embed(rgb));
  const all = new Float32Array(out.length * 1024);
  out.forEach((c, i) => all.set(c, i * 1024));
  mkdirSync(CACHE_DIR, { recursive: true });
  writeFileSync(path, Buffer.from(all.buffer));
  return out;
}

/** Embeds the photo set (stamps through the accuracy benchmark's cache) and averages it. */
export async function deriveEmbeddingMean(modelPath = join(MODEL_DIR, MODEL_FILE)): Promise<EmbeddingMean & { parts: { stamps: number; crops: number } }> {
  const sha = createHash('sha256').update(readFileSync(modelPath)).digest('hex');
  const stamps = meanStamps();
  const { embeddings } = await embedFiles(stamps, modelPath, 'stamp', MEAN_BACKEND);
  const crops = await cachedEmbeddings('mean-crops', sha, modelPath, cropInputs);
  const group = OBJECTS_PER_CROP + 1;
  const flat = await cachedEmbeddings('mean-residuals', sha, modelPath, async () => (await residualInputs(stamps)).flat());
  const residuals: Float32Array[] = [];
  for (let g = 0; g + group <= flat.length; g += group) {
    for (let o = 1; o < group; o++) residuals.push(l2Normalize(Float32Array.from(flat[g + o]!, (v, i) => v - flat[g]![i]!)));
  }
  const stampMean = meanOf(stamps.map((s) => embeddings.get(s)!));
  const cropMean = meanOf(crops);
  return {
    model: sha,
    count: stamps.length + crops.length,
    mean: meanOf([stampMean, cropMean]),
    residualMean: meanOf(residuals),
    residualCount: residuals.length,
    parts: { stamps: stamps.length, crops: crops.length },
  };
}

/** The shipped constant, or null when the file is missing. */
export function loadShippedMean(): EmbeddingMean | null {
  if (!existsSync(MEAN_FILE)) return null;
  return parseEmbeddingMean(JSON.parse(readFileSync(MEAN_FILE, 'utf8')));
}

/** Largest difference between the shipped constant and a fresh derivation (reproducibility check). */
export async function checkShippedMean(print: (line: string) => void): Promise<EmbeddingMean | null> {
  const shipped = loadShippedMean();
  if (!shipped) {
    print(`  ${relative(ROOT, MEAN_FILE)} missing: run node --import tsx bench/embeddingMean.ts --write`);
    return null;
  }
  const fresh = await deriveEmbeddingMean();
  let diff = 0;
  fresh.mean.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - shipped.mean[i]!))));
  fresh.residualMean.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - (shipped.residualMean[i] ?? NaN)))));
  const norm = Math.sqrt(shipped.mean.reduce((s, v) => s + v * v, 0));
  print(`  generic means: ${relative(ROOT, MEAN_FILE)} from ${fresh.parts.stamps} stamps + ${fresh.parts.crops} photo crops, residual mean from ${fresh.residualCount} composites; |mean| ${norm.toFixed(3)}; largest difference to a fresh derivation ${diff.toExponential(1)} ${diff < 1e-4 && fresh.model === shipped.model ? '[reproduced]' : '[DIFFERS]'}`);
  return shipped;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '') && process.argv[1].includes('embeddingMean')) {
  if (process.argv.includes('--write')) {
    const m = await deriveEmbeddingMean();
    writeFileSync(MEAN_FILE, `${JSON.stringify(serialiseEmbeddingMean(m))}\n`);
    console.log(`wrote ${relative(ROOT, MEAN_FILE)}: ${m.parts.stamps} stamps + ${m.parts.crops} crops, ${m.residualCount} composites`);
  } else {
    await checkShippedMean((l) => console.log(l));
  }
}
