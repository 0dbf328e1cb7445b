/**
 * U²-Net-p (Qin et al. 2020, Apache-2.0; 4.6 MB), a salient-object model: for an enrolled
 * photo, how much each pixel belongs to the thing photographed. Colour counts on the photo's
 * border (photoObject.ts) take a busy or graded background for the object; this model was
 * trained to tell the two apart on real photos. It runs in a process of its own
 * (salientChild.ts), forked when a photo is enrolled and stopped after a minute idle: ONNX
 * Runtime and the model's activations at 320×320 would otherwise stay in the agent's memory
 * (about 100 MB) for a use a few times a year. Without the file (`edge-imprint models`
 * fetches it; it is optional) the agent keeps the border search.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import sharp from 'sharp';
import type { Raster } from '../recognition/foreground.js';
import { childExecArgv, siblingEntry } from '../process/childEntry.js';

/** The model's input side, pixels. */
export const SALIENT_SIDE = 320;
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
const IDLE_MS = 60_000;

export interface SalientRequest {
  id: number;
  modelPath: string;
  /** SALIENT_SIDE² RGB pixels. */
  rgb: Uint8Array;
}

/** The map (SALIENT_SIDE², 0..255), or why not; `fatal`: the model does not load. */
export type SalientReply = { id: number; map: Uint8Array } | { id: number; error: string; fatal: boolean };

export interface SalientModelDeps {
  /** The .onnx file; absent: saliency() answers null. */
  modelPath: string;
  logger: Logger;
}

interface Pending {
  child: ChildProcess;
  resolve: (map: Uint8Array) => void;
  reject: (err: Error) => void;
}

export class SalientModel {
  private child: ChildProcess | null = null;
  private idle: NodeJS.Timeout | null = null;
  private present = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly deps: SalientModelDeps) {}

  start(): Promise<void> {
    this.present = existsSync(this.deps.modelPath);
    if (!this.present) this.deps.logger.warn({ file: this.deps.modelPath }, 'salient-object model not installed: photos are searched for their object by colour (run `edge-imprint models` to fetch it)');
    return Promise.resolve();
  }

  /** Per pixel of `photo`, 0..1: how much it belongs to the photographed object; null without the model. */
  async saliency(photo: Raster): Promise<Float32Array | null> {
    if (!this.present) return null;
    const rgb = await resizedRgb(photo, SALIENT_SIDE, SALIENT_SIDE);
    const map = await this.ask(rgb);
    const back = await sharp(map, { raw: { width: SALIENT_SIDE, height: SALIENT_SIDE, channels: 1 } }).resize(photo.width, photo.height, { fit: 'fill' }).extractChannel(0).raw().toBuffer();
    return Float32Array.from(back, (v) => v / 255);
  }

  stop(): Promise<void> {
    this.end();
    return Promise.resolve();
  }

  private ask(rgb: Uint8Array): Promise<Uint8Array> {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    const child = this.child ?? this.spawn();
    const id = this.nextId++;
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(id, { child, resolve, reject });
      const req: SalientRequest = { id, modelPath: this.deps.modelPath, rgb };
      child.send(req);
    });
  }

  private spawn(): ChildProcess {
    const child = fork(siblingEntry(import.meta.url, 'salientChild'), [], { serialization: 'advanced', execArgv: childExecArgv(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (reply: SalientReply) => this.settle(reply));
    child.on('exit', () => this.gone(child));
    child.on('error', (err) => this.deps.logger.warn({ err }, 'salient-object process failed'));
    this.child = child;
    return child;
  }

  private settle(reply: SalientReply): void {
    const p = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    if ('map' in reply) p?.resolve(reply.map);
    else {
      // A file that does not load is given up, so the next photos go to the border search.
      if (reply.fatal && this.present) {
        this.present = false;
        this.deps.logger.warn({ error: reply.error }, 'salient-object model failed to load: photos are searched for their object by colour');
      }
      p?.reject(new Error(reply.error));
    }
    if (this.pending.size === 0) this.release();
  }

  /** Stops the process after a minute without photos, giving its memory back. */
  private release(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => this.end(), IDLE_MS);
    this.idle.unref();
  }

  private end(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null) child.kill('SIGTERM');
  }

  private gone(child: ChildProcess): void {
    if (this.child === child) this.child = null;
    for (const [id, p] of this.pending) {
      if (p.child !== child) continue;
      this.pending.delete(id);
      p.reject(new Error('the salient-object process exited'));
    }
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
