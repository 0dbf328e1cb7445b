/**
 * The field benchmark's data: the seeded clips (one or more per scene photo), rendered and
 * embedded offline with the bare CPU model, zone crop by zone crop, like the camera pipeline
 * would (crop, stretch to 224x224). Embeddings are cached in `.bench/field-<tag>/` (embeddingTag: backend and model sha), one
 * binary file per clip named by a hash of its plan, so a changed plan or renderer re-embeds.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BareEmbedder, CACHE_DIR, listDataset } from './embeddings.js';
import { SCENES, planClip, type ClipPlan, type StampPool } from './fieldPlan.js';
import { ClipRenderer, loadStamp, zoneInput } from './fieldRender.js';
import { AUGMENTATIONS, augment } from '../src/recognition/augment.js';
import { FIELD_CATEGORIES, FPS, HEIGHT, WIDTH } from './fieldPlan.js';

/** Bump when the renderer's output changes, so cached embeddings are not reused. */
const RENDER_VERSION = 1;
/**
 * Part of the frame cache's name since its first version, which also held 6 augmentations per
 * shot made with sharp; those rows are no longer read (augmentations now come from
 * src/recognition/augment.ts, cached apart), and new cache files hold the frames only.
 */
const LEGACY_AUGMENTS = ['flip', 'crop-tl', 'crop-br', 'dark', 'bright', 'flip-crop'];
const AUGMENT_VERSION = 2;
const DIM = 1024;

export interface EmbeddedClip {
  plan: ClipPlan;
  /** Zone embedding of every frame, L2-normalised. */
  frames: Float32Array[];
  /** Per enrollment shot (plan.shots order): its augmented versions (AUGMENTATIONS order). */
  augmented: Float32Array[][];
  /**
   * Per enrollment shot: the same augmentations of the empty scene 1 s after the object left
   * (same light), so an augmented shot's residual is taken against an equally augmented scene.
   */
  augmentedScene: Float32Array[][];
}

/** Width / height of every stamp of the field categories, trimmed (cached: trimming 200 PNGs takes a while). */
async function stampAspects(pool: StampPool[]): Promise<Map<string, number>> {
  const path = join(CACHE_DIR, 'stamp-aspects.json');
  const cached = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, number>) : {};
  let added = 0;
  for (const p of pool.filter((x) => FIELD_CATEGORIES.includes(x.category))) {
    for (const f of p.files) {
      if (cached[f] !== undefined) continue;
      const s = await loadStamp(f);
      cached[f] = s.w / s.h;
      added++;
    }
  }
  if (added > 0) {
    mkdirSync(CACHE_DIR, { recursive: true });
    writeFileSync(path, JSON.stringify(cached));
  }
  return new Map(Object.entries(cached));
}

const seedOf = (scene: number, set: number): number => 1000 + 37 * scene + 7919 * set;

/** Which seed set a clip belongs to: 0 is the set the defaults were tuned on, 1 and up are held out. */
export function clipSet(plan: ClipPlan): number {
  return Math.floor((plan.seed - 1000) / 7919);
}

/**
 * The same clip seen by a camera without zones: the "zone" is the whole frame, so the same
 * objects cover a smaller share of what is embedded.
 */
export function wholeFrame(plan: ClipPlan): ClipPlan {
  return { ...plan, id: `${plan.id}-frame`, zone: { x: 0, y: 0, w: WIDTH, h: HEIGHT } };
}

export async function fieldPlans(clipsPerScene: number): Promise<ClipPlan[]> {
  const pool: StampPool[] = listDataset().map((c) => ({ category: c.label, files: c.files }));
  const aspects = await stampAspects(pool);
  const plans: ClipPlan[] = [];
  SCENES.forEach((scene, s) => {
    for (let k = 0; k < clipsPerScene; k++) plans.push(planClip(seedOf(s, k), scene, pool, (f) => aspects.get(f) ?? 1));
  });
  return plans;
}

function cachePath(plan: ClipPlan, tag: string): string {
  const hash = createHash('sha256').update(JSON.stringify({ plan, RENDER_VERSION, AUGMENTS: LEGACY_AUGMENTS })).digest('hex').slice(0, 16);
  return join(CACHE_DIR, `field-${tag}`, `${plan.id}-${hash}.f32`);
}

/** Embeds a clip (or reads it from the cache): every frame's zone, and each shot's augmentations. */
export async function embedClip(plan: ClipPlan, embedder: () => Promise<BareEmbedder>, tag: string): Promise<{ clip: EmbeddedClip; computed: boolean }> {
  const path = cachePath(plan, tag);
  let all: Float32Array;
  let computed = false;
  if (existsSync(path)) {
    const bytes = readFileSync(path);
    all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  } else {
    all = new Float32Array(plan.frames * DIM);
    const renderer = new ClipRenderer(plan);
    await renderer.load();
    const e = await embedder();
    for (let n = 0; n < plan.frames; n++) all.set(await e.embed(await zoneInput(await renderer.frame(n), plan.zone)), n * DIM);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, Buffer.from(all.buffer));
    computed = true;
  }
  const rows = all.length / DIM;
  if (rows !== plan.frames && rows !== plan.frames + plan.shots.length * LEGACY_AUGMENTS.length) {
    throw new Error(`${path}: ${rows} rows, expected ${plan.frames}`);
  }
  const frames = Array.from({ length: plan.frames }, (_, n) => all.subarray(n * DIM, (n + 1) * DIM));
  const { shots, scenes } = await embedAugmentations(plan, embedder, tag);
  return { clip: { plan, frames, augmented: shots, augmentedScene: scenes }, computed };
}

/** The empty frame after each enrollment shot (its span ends 1.5 s after the shot frame; the next starts 2 s later). */
export function sceneFrameAfterShot(shotFrame: number): number {
  return shotFrame + Math.round(2.5 * FPS);
}

/**
 * Each shot's augmentations and the same augmentations of the empty scene after it, made from
 * the 224x224 model input by src/recognition/augment.ts as the product would.
 */
async function embedAugmentations(plan: ClipPlan, embedder: () => Promise<BareEmbedder>, tag: string): Promise<{ shots: Float32Array[][]; scenes: Float32Array[][] }> {
  const path = cachePath(plan, tag).replace(/\.f32$/, `.aug-v${AUGMENT_VERSION}.f32`);
  const per = AUGMENTATIONS.length;
  let all: Float32Array;
  if (existsSync(path)) {
    const bytes = readFileSync(path);
    all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  } else {
    all = new Float32Array(plan.shots.length * 2 * per * DIM);
    const renderer = new ClipRenderer(plan);
    await renderer.load();
    const e = await embedder();
    let row = 0;
    for (const shot of plan.shots) {
      for (const frame of [shot.frame, sceneFrameAfterShot(shot.frame)]) {
        const rgb = await zoneInput(await renderer.frame(frame), plan.zone);
        for (const a of AUGMENTATIONS) all.set(await e.embed(augment(rgb, 224, 224, a)), row++ * DIM);
      }
    }
    writeFileSync(path, Buffer.from(all.buffer));
  }
  const block = (s: number, k: number): Float32Array[] => AUGMENTATIONS.map((_a, i) => all.subarray(((2 * s + k) * per + i) * DIM, ((2 * s + k) * per + i + 1) * DIM));
  return { shots: plan.shots.map((_, s) => block(s, 0)), scenes: plan.shots.map((_, s) => block(s, 1)) };
}
