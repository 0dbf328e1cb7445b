/**
 * Renders a planned field clip (bench/fieldPlan.ts) into frames: the scene view, the objects
 * alpha-blended where the plan puts them, the day's light as per-channel gains, sensor noise
 * (stronger in the dark), then JPEG at quality 75 as a camera's stream would be. Deterministic:
 * the noise of frame n is seeded by the clip's seed and n.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { seededRandom } from '../src/recognition/vector.js';
import { FPS, HEIGHT, WIDTH, lightAt, objectsAt, truth, type Box, type ClipPlan } from './fieldPlan.js';

const INPUT = 224;
const JPEG_QUALITY = 75;

interface Rgba {
  data: Uint8Array;
  w: number;
  h: number;
}

/** A stamp with its transparent border trimmed, as RGBA. */
export async function loadStamp(path: string): Promise<Rgba> {
  const trimmed = await sharp(path).ensureAlpha().trim().png().toBuffer();
  const { data, info } = await sharp(trimmed).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), w: info.width, h: info.height };
}

export class ClipRenderer {
  private base = new Uint8Array(0);
  private readonly sprites = new Map<string, Rgba>();

  constructor(readonly plan: ClipPlan) {}

  async load(): Promise<void> {
    const meta = await sharp(this.plan.scene.path).metadata();
    const pw = meta.width ?? 0;
    const ph = meta.height ?? 0;
    const v = this.plan.view;
    // The view keeps the frame's 4:3 shape whatever the photo's shape.
    const width = Math.round(v.width * Math.min(pw, (ph * WIDTH) / HEIGHT));
    const height = Math.round((width * HEIGHT) / WIDTH);
    const left = Math.round(v.left * (pw - width));
    const top = Math.round(v.top * (ph - height));
    const { data } = await sharp(this.plan.scene.path)
      .rotate()
      .extract({ left, top, width, height })
      .resize(WIDTH, HEIGHT, { fit: 'fill' })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    this.base = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    for (const o of this.plan.objects) {
      const stamp = await loadStamp(o.stamp);
      for (const flip of [false, true]) {
        let img = sharp(Buffer.from(stamp.data), { raw: { width: stamp.w, height: stamp.h, channels: 4 } }).resize(o.w, o.h, { fit: 'fill' });
        if (flip) img = img.flop();
        const { data: px } = await img.raw().toBuffer({ resolveWithObject: true });
        this.sprites.set(`${o.id}:${flip}`, { data: new Uint8Array(px.buffer, px.byteOffset, px.byteLength), w: o.w, h: o.h });
      }
    }
  }

  /** Frame n as JPEG. */
  async frame(n: number): Promise<Buffer> {
    const t = n / FPS;
    const rgb = Float32Array.from(this.base);
    for (const at of objectsAt(this.plan, t)) {
      const sprite = this.sprites.get(`${at.object.id}:${at.flip}`)!;
      blend(rgb, sprite, Math.round(at.cx - sprite.w / 2), Math.round(at.bottom - sprite.h));
    }
    const gains = lightAt(this.plan, t);
    const out = Buffer.alloc(rgb.length);
    const random = seededRandom(this.plan.seed * 100003 + n);
    const sigma = 2.5 / Math.sqrt(Math.max(0.3, gains[1]));
    // Fresh noise every frame from a seeded offset into one table: drawing 900k normals per frame would double the render time.
    const noise = noiseTable();
    let k = Math.floor(random() * noise.length);
    for (let i = 0; i < rgb.length; i += 3) {
      for (let c = 0; c < 3; c++) {
        out[i + c] = clamp(rgb[i + c]! * gains[c]! + sigma * noise[k]!);
        k = k + 1 === noise.length ? 0 : k + 1;
      }
    }
    return sharp(out, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } }).jpeg({ quality: JPEG_QUALITY }).toBuffer();
  }
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

let table: Float32Array | undefined;
function noiseTable(): Float32Array {
  if (table) return table;
  const random = seededRandom(4242);
  table = new Float32Array(1_000_003);
  for (let i = 0; i < table.length; i++) table[i] = gaussian(random);
  return table;
}

function gaussian(random: () => number): number {
  const u = Math.max(1e-12, random());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

function blend(rgb: Float32Array, sprite: Rgba, left: number, top: number): void {
  for (let y = 0; y < sprite.h; y++) {
    const fy = top + y;
    if (fy < 0 || fy >= HEIGHT) continue;
    for (let x = 0; x < sprite.w; x++) {
      const fx = left + x;
      if (fx < 0 || fx >= WIDTH) continue;
      const s = (y * sprite.w + x) * 4;
      const a = sprite.data[s + 3]! / 255;
      if (a === 0) continue;
      const d = (fy * WIDTH + fx) * 3;
      for (let c = 0; c < 3; c++) rgb[d + c] = rgb[d + c]! * (1 - a) + sprite.data[s + c]! * a;
    }
  }
}

/** The zone of a frame JPEG as model input: cropped, then stretched to 224x224 like the camera pipeline. */
export async function zoneInput(jpeg: Buffer, zone: Box): Promise<Uint8Array> {
  const { data } = await sharp(jpeg)
    .extract({ left: zone.x, top: zone.y, width: zone.w, height: zone.h })
    .resize(INPUT, INPUT, { fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Writes the clip for the real camera pipeline: H.264 at WIDTH x HEIGHT and FPS (ffmpeg, from the
 * same JPEG frames) and `<id>.json` with the plan and the ground truth.
 */
export async function writeClipVideo(renderer: ClipRenderer, dir: string): Promise<{ video: string; truthFile: string }> {
  mkdirSync(dir, { recursive: true });
  const plan = renderer.plan;
  const video = join(dir, `${plan.id}.mp4`);
  const ff = spawn('ffmpeg', ['-v', 'error', '-y', '-f', 'image2pipe', '-c:v', 'mjpeg', '-framerate', String(FPS), '-i', '-', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-preset', 'veryfast', '-crf', '23', '-r', String(FPS), video], {
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  const done = new Promise<void>((resolve, reject) => {
    ff.on('error', reject);
    ff.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`))));
  });
  for (let n = 0; n < plan.frames; n++) {
    const jpeg = await renderer.frame(n);
    if (!ff.stdin.write(jpeg)) await new Promise((r) => ff.stdin.once('drain', r));
  }
  ff.stdin.end();
  await done;
  const truthFile = join(dir, `${plan.id}.json`);
  writeFileSync(truthFile, JSON.stringify(clipDescription(plan), null, 1));
  return { video, truthFile };
}

/** The ground-truth JSON that goes with a clip's video: times in seconds, the zone in pixels. */
export function clipDescription(plan: ClipPlan): object {
  const sec = (f: number): number => Math.round((f / FPS) * 100) / 100;
  return {
    id: plan.id,
    scene: { name: plan.scene.name, file: plan.scene.path, licence: plan.scene.licence },
    width: WIDTH,
    height: HEIGHT,
    fps: FPS,
    duration_s: plan.duration,
    zone: plan.zone,
    enroll: plan.shots.map((s) => ({ label: s.label, at_s: sec(s.frame), box: 'zone' })),
    background: plan.backgroundFrames.map((f) => ({ at_s: sec(f) })),
    evaluation_start_s: plan.evalStart,
    objects: plan.objects.map((o) => ({ id: o.id, stamp: o.stamp, category: o.category, label: o.label, enrolled: o.label !== null })),
    in_view: truth(plan).map((s) => ({ object: s.object, label: s.label, enrolled: s.enrolled, appearance: s.index, start_s: sec(s.firstFrame), end_s: sec(s.lastFrame + 1) })),
  };
}
