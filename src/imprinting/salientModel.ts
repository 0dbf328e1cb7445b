/**
 * U²-Net-p (Qin et al. 2020, Apache-2.0; 4.6 MB), a salient-object model: for an enrolled
 * photo, how much each pixel belongs to the thing photographed. Colour counts on the photo's
 * border (photoObject.ts) take a busy or graded background for the object; this model was
 * trained to tell the two apart on real photos. Used only when a photo is enrolled, so the
 * session is made on first use and let go after a minute idle (its activations at 320×320
 * hold tens of MB). Without the file (`edge-imprint models` fetches it; it is optional) the
 * agent keeps the border search.
 */
import { existsSync } from 'node:fs';
import type { InferenceSession } from 'onnxruntime-node';
import type { Logger } from 'pino';
import sharp from 'sharp';
import type { Raster } from '../recognition/foreground.js';

/** The model's input side, pixels. */
export const SALIENT_SIDE = 320;
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
const IDLE_MS = 60_000;

export interface SalientModelDeps {
  /** The .onnx file; absent: saliency() answers null. */
  modelPath: string;
  logger: Logger;
}

export class SalientModel {
  private session: Promise<InferenceSession> | null = null;
  private idle: NodeJS.Timeout | null = null;
  private present = false;

  constructor(private readonly deps: SalientModelDeps) {}

  start(): Promise<void> {
    this.present = existsSync(this.deps.modelPath);
    if (!this.present) this.deps.logger.warn({ file: this.deps.modelPath }, 'salient-object model not installed: photos are searched for their object by colour (run `edge-imprint models` to fetch it)');
    return Promise.resolve();
  }

  /** Per pixel of `photo`, 0..1: how much it belongs to the photographed object; null without the model. */
  async saliency(photo: Raster): Promise<Float32Array | null> {
    if (!this.present) return null;
    const session = await this.open();
    const input = salientInput(await resizedRgb(photo, SALIENT_SIDE, SALIENT_SIDE));
    const ort = await import('onnxruntime-node');
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', input, [1, 3, SALIENT_SIDE, SALIENT_SIDE]) });
    const map = salientMap(out[session.outputNames[0]!]!.data as Float32Array);
    this.release();
    const back = await sharp(map, { raw: { width: SALIENT_SIDE, height: SALIENT_SIDE, channels: 1 } }).resize(photo.width, photo.height, { fit: 'fill' }).extractChannel(0).raw().toBuffer();
    return Float32Array.from(back, (v) => v / 255);
  }

  async stop(): Promise<void> {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    await this.close();
  }

  private open(): Promise<InferenceSession> {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    this.session ??= import('onnxruntime-node').then((ort) =>
      ort.InferenceSession.create(this.deps.modelPath, { intraOpNumThreads: 1, enableCpuMemArena: false }),
    );
    // A file that does not load is forgotten, so the next photo falls back to the border search.
    this.session.catch((err: unknown) => {
      this.present = false;
      this.session = null;
      this.deps.logger.warn({ err }, 'salient-object model failed to load: photos are searched for their object by colour');
    });
    return this.session;
  }

  /** Lets the session go after a minute without photos (a closet box has little memory to keep it). */
  private release(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => void this.close(), IDLE_MS);
    this.idle.unref();
  }

  private async close(): Promise<void> {
    const session = this.session;
    this.session = null;
    if (session) await session.then((s) => s.release()).catch(() => undefined);
  }
}

async function resizedRgb(photo: Raster, width: number, height: number): Promise<Uint8Array> {
  const rgb = await sharp(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } }).resize(width, height, { fit: 'fill' }).raw().toBuffer();
  return new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.byteLength);
}

/** The model's input, planar: pixels over the picture's brightest value, then ImageNet's mean and spread (as U²-Net was trained). Pure. */
export function salientInput(rgb: Uint8Array): Float32Array {
  const n = rgb.length / 3;
  let max = 1;
  for (const v of rgb) max = Math.max(max, v);
  const input = new Float32Array(rgb.length);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) input[c * n + i] = (rgb[i * 3 + c]! / max - MEAN[c]!) / STD[c]!;
  }
  return input;
}

/**
 * The model's first output (a probability per pixel) as 0..255. Not stretched to its range
 * as some tools do: on a picture with nothing in it (a plain wall, a defocused view) the
 * model answers near 0 everywhere, and stretching would make an object of its noise. Pure.
 */
export function salientMap(pred: Float32Array): Uint8Array {
  return Uint8Array.from(pred, (v) => Math.round(255 * Math.min(1, Math.max(0, v))));
}
