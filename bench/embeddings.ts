/**
 * The accuracy benchmark's image set and its embeddings.
 *
 * Images: the photo stamps of Tux Paint (Debian package `tuxpaint-stamps-default`, GPL-2,
 * installed by `scripts/fetch-dataset.sh`): real photos of single objects cut out on a
 * transparent background, sorted into folders by subject. Cartoon folders and SVG drawings
 * are left out, and so are folders that are mostly drawings or mix unrelated subjects
 * (clothes, hats, Halloween, Christmas, road signs, sign language, letters); related folders
 * are merged into one class so that each class has enough photos (see CLASS_FOLDERS).
 *
 * Embeddings come from the real CPU model through a bare TFLiteNodeModelRunner and are
 * cached in `.bench/` keyed by the model's sha256 and each file's path, size and mtime.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { TFLiteNodeModelRunner } from 'tfjs-tflite-node';
import { dequantizeNormalized } from '../src/detector/backend.js';
import { prepareImage } from '../src/media/image.js';
import { parseTflite, type Quantization } from '../src/models/tfliteInfo.js';
import { ROOT } from './setup.js';

export const DATASET_DIR = process.env.EDGE_IMPRINT_DATASET_DIR ?? '/usr/share/tuxpaint/stamps';
export const CACHE_DIR = join(ROOT, '.bench');
const INPUT = 224;

/** Class label -> stamp folders (relative to DATASET_DIR) whose PNG photos belong to it. */
export const CLASS_FOLDERS: Record<string, string[]> = {
  birds: ['animals/birds'],
  mammals: [
    'animals/mammals',
    'animals/mammals/apes',
    'animals/mammals/aquatic',
    'animals/mammals/bears',
    'animals/mammals/camel',
    'animals/mammals/cats',
    'animals/mammals/deer',
    'animals/mammals/dogs',
    'animals/mammals/equines',
    'animals/mammals/rodents',
    'animals/marsupials',
  ],
  cattle: ['animals/mammals/bovines'],
  fish: ['animals/fish', 'animals/shellfish'],
  small_creatures: ['animals/insects', 'animals/amphibians', 'animals/lizards'],
  fruit: ['food/fruit'],
  vegetables: ['food/vegetables', 'food/nuts', 'food/spices'],
  flowers: ['plants/flowers'],
  trees_plants: ['plants', 'plants/trees', 'plants/mushrooms'],
  coins: ['symbols/money/canadian/coins', 'symbols/money/euro/coins', 'symbols/money/japanese', 'symbols/money/us/coins'],
  tools: ['household/tools'],
  vehicles: [
    'vehicles',
    'vehicles/auto',
    'vehicles/construction',
    'vehicles/cycle',
    'vehicles/emergency',
    'vehicles/flight',
    'vehicles/flight/planes',
    'vehicles/masstransit',
    'vehicles/race',
    'vehicles/ship',
    'military/vehicles',
  ],
  space: ['space', 'space/planets', 'space/moon'],
  instruments: ['hobbies/music/brass', 'hobbies/music/percussion', 'hobbies/music/string', 'hobbies/music/wind'],
};

export interface LabelledFiles {
  label: string;
  files: string[];
}

/** The dataset's classes with their PNG files, sorted, so episodes are reproducible. */
export function listDataset(dir = DATASET_DIR): LabelledFiles[] {
  if (!existsSync(dir)) {
    throw new Error(`dataset not found at ${dir}: run scripts/fetch-dataset.sh (or set EDGE_IMPRINT_DATASET_DIR)`);
  }
  return Object.entries(CLASS_FOLDERS).map(([label, folders]) => ({
    label,
    files: folders
      .flatMap((f) => {
        const folder = join(dir, f);
        if (!existsSync(folder)) return [];
        return readdirSync(folder)
          .filter((n) => n.toLowerCase().endsWith('.png'))
          .map((n) => join(folder, n));
      })
      .sort(),
  }));
}

/** Decodes any image to 224x224 RGB. Transparent stamps are laid on white, like a photo on a plain background. */
export async function imageToInput(path: string): Promise<Uint8Array> {
  const { data } = await sharp(path)
    .rotate()
    .flatten({ background: '#ffffff' })
    .resize(INPUT, INPUT, { fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** How a file becomes model input: `stamp` (above) for the dataset, `product` = the agent's own prepareImage. */
export type Pipeline = 'stamp' | 'product';

async function toInput(path: string, pipeline: Pipeline): Promise<Uint8Array> {
  if (pipeline === 'stamp') return imageToInput(path);
  const { rgb } = await prepareImage(readFileSync(path), { width: INPUT, height: INPUT }, { maxBytes: 64 << 20, maxMegapixels: 100 });
  return rgb;
}

type TensorView = { data(): Uint8Array | Float32Array };

/** A bare interpreter of the embedding model: RGB in, L2-normalised dequantised embedding out. */
export class BareEmbedder {
  readonly sha256: string;
  private readonly input: Uint8Array;
  private readonly output: TensorView;
  private readonly runner: { infer(): void };
  private readonly quant: Quantization;

  constructor(modelPath: string, threads = 2) {
    const bytes = readFileSync(modelPath);
    this.sha256 = createHash('sha256').update(bytes).digest('hex');
    const info = parseTflite(bytes);
    const quant = info.outputs[0]?.quantization;
    if (!quant) throw new Error(`${modelPath}: output tensor has no quantisation parameters`);
    this.quant = quant;
    const model = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const runner = new TFLiteNodeModelRunner(model, { threads });
    this.runner = runner;
    const input = (runner.getInputs() as unknown as TensorView[])[0]?.data();
    const output = (runner.getOutputs() as unknown as TensorView[])[0];
    if (!(input instanceof Uint8Array) || !output) throw new Error(`${modelPath}: not a uint8 image model`);
    this.input = input;
    this.output = output;
  }

  embed(rgb: Uint8Array): Float32Array {
    this.input.set(rgb);
    this.runner.infer();
    return dequantizeNormalized(this.output.data(), this.quant);
  }
}

interface CacheFile {
  model: string;
  entries: Record<string, { key: string; embedding: string }>;
}

function fileKey(path: string): string {
  const s = statSync(path);
  return `${s.size}:${Math.round(s.mtimeMs)}`;
}

/**
 * Embeds every file, reusing `.bench/embeddings-<pipeline>-<model sha>.json` for files already seen.
 * Returns the embeddings in the order of `paths` and how many were computed now.
 */
export async function embedFiles(
  paths: string[],
  modelPath: string,
  pipeline: Pipeline = 'stamp',
): Promise<{ embeddings: Map<string, Float32Array>; computed: number; ms: number }> {
  const started = performance.now();
  let embedder: BareEmbedder | undefined;
  const sha = createHash('sha256').update(readFileSync(modelPath)).digest('hex');
  const cachePath = join(CACHE_DIR, `embeddings-${pipeline}-${sha.slice(0, 16)}.json`);
  const cache: CacheFile = existsSync(cachePath)
    ? (JSON.parse(readFileSync(cachePath, 'utf8')) as CacheFile)
    : { model: sha, entries: {} };
  const embeddings = new Map<string, Float32Array>();
  let computed = 0;
  for (const path of paths) {
    const key = fileKey(path);
    const hit = cache.entries[path];
    if (hit && hit.key === key) {
      const bytes = Buffer.from(hit.embedding, 'base64');
      embeddings.set(path, new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
      continue;
    }
    embedder ??= new BareEmbedder(modelPath);
    const e = embedder.embed(await toInput(path, pipeline));
    embeddings.set(path, e);
    cache.entries[path] = { key, embedding: Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('base64') };
    computed++;
  }
  if (computed > 0) {
    mkdirSync(CACHE_DIR, { recursive: true });
    writeFileSync(cachePath, JSON.stringify(cache));
  }
  return { embeddings, computed, ms: performance.now() - started };
}
