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
 * Embeddings come from the real CPU model on the product's default CPU backend (ONNX Runtime;
 * EDGE_IMPRINT_BENCH_BACKEND=tflite for the reference) and are cached in `.bench/` keyed by
 * the backend, the model's sha256 and each file's path, size and mtime.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { TfliteBackend, type Backend } from '../src/detector/backend.js';
import { OnnxBackend } from '../src/detector/onnxBackend.js';
import type { BackendSpec } from '../src/detector/protocol.js';
import { prepareImage } from '../src/media/image.js';
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

/** The CPU runtime the bench embeds with. */
export type EmbedBackend = 'onnx' | 'tflite';

/**
 * EDGE_IMPRINT_BENCH_BACKEND, else ONNX Runtime: what the product runs on a CPU by default
 * (detector.backend auto without a Coral). `tflite` re-runs the figures on the reference.
 */
export function benchBackend(env: NodeJS.ProcessEnv = process.env): EmbedBackend {
  const value = env.EDGE_IMPRINT_BENCH_BACKEND ?? 'onnx';
  if (value !== 'onnx' && value !== 'tflite') throw new Error(`EDGE_IMPRINT_BENCH_BACKEND=${value}: expected onnx or tflite`);
  return value;
}

/**
 * How cache files name the embeddings' origin: the model's sha256, and the backend when it is
 * not TFLite (caches made before ONNX Runtime keep their names, and the two never mix).
 */
export function embeddingTag(modelSha256: string, backend: EmbedBackend): string {
  return backend === 'tflite' ? modelSha256.slice(0, 16) : `${backend}-${modelSha256.slice(0, 16)}`;
}

/**
 * A bare interpreter of the embedding model, outside the supervised child: the product's own
 * backends (src/detector), RGB in, L2-normalised dequantised embedding out.
 */
export class BareEmbedder {
  private constructor(
    readonly sha256: string,
    readonly backend: EmbedBackend,
    private readonly engine: Backend,
  ) {}

  static async create(modelPath: string, backend = benchBackend(), threads = 2): Promise<BareEmbedder> {
    const sha256 = createHash('sha256').update(readFileSync(modelPath)).digest('hex');
    const spec: BackendSpec = { kind: 'cpu', modelPath, modelSha256: sha256, threads, device: '', library: '' };
    // The ONNX twin comes from the product's converter and its cache beside the .tflite.
    const engine = backend === 'onnx' ? await OnnxBackend.create(spec) : new TfliteBackend(spec, undefined);
    return new BareEmbedder(sha256, backend, engine);
  }

  get tag(): string {
    return embeddingTag(this.sha256, this.backend);
  }

  async embed(rgb: Uint8Array): Promise<Float32Array> {
    return this.engine.embed(rgb);
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
 * Embeds every file, reusing `.bench/embeddings-<pipeline>-<tag>.json` (embeddingTag) for files already seen.
 * Returns the embeddings in the order of `paths` and how many were computed now.
 */
export async function embedFiles(
  paths: string[],
  modelPath: string,
  pipeline: Pipeline = 'stamp',
  backend = benchBackend(),
): Promise<{ embeddings: Map<string, Float32Array>; computed: number; ms: number }> {
  const started = performance.now();
  let embedder: BareEmbedder | undefined;
  const sha = createHash('sha256').update(readFileSync(modelPath)).digest('hex');
  const cachePath = join(CACHE_DIR, `embeddings-${pipeline}-${embeddingTag(sha, backend)}.json`);
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
    embedder ??= await BareEmbedder.create(modelPath, backend);
    const e = await embedder.embed(await toInput(path, pipeline));
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
