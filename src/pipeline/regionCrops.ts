/** The regions of a camera unit's frame, cut from the frame's snapshot (more pixels than the unit's 224 × 224 crop). */
import { isFractional } from '../config/formats.js';
import type { Roi } from '../config/types.js';
import type { RawFrame } from '../camera/cameraSource.js';
import { fieldError } from '../errors.js';
import { decodeRaster, imageSize, inputToPng, objectCrops, rasterToInput } from '../media/crops.js';
import type { InputSize } from '../media/image.js';
import { toPixels } from '../media/snapshots.js';
import { objectView, type Raster } from '../recognition/foreground.js';
import { boxInFrame, DEFAULT_PROPOSALS, followSteady, proposeRegions, viewDifference, type Box, type PixelRegion } from '../recognition/regions.js';

/**
 * `boxes` (fractions of the unit's crop) cut from the frame's snapshot at the model's input
 * size: the object in each, against the unit's `empty` snapshot when it has one, else the box
 * as a square; each with its box in fractions of the whole frame. None without a snapshot, or
 * for a pixel zone before the stream's size is known.
 */
export async function cutRegions(frame: RawFrame, boxes: readonly Box[], roi: Roi | null, source: { width: number; height: number } | null, size: InputSize, empty: () => Promise<Raster | null>): Promise<PixelRegion[]> {
  const place = unitPlace(roi, source);
  if (!place || boxes.length === 0) return [];
  const jpeg = await frame.snapshot();
  if (!jpeg) return [];
  return objectCrops(await decodeRaster(jpeg), await empty(), boxes.map((b) => boxInFrame(b, place)), size);
}

/**
 * A box drawn on a camera's snapshot (pixels of the stream, or fractions) as a shot at the
 * model's input: the object in it cut out against the first of `empties` (the unit's empty
 * views) it stands out from, as region crops are, else the box as a square.
 */
export async function boxShot(jpeg: Buffer, box: Roi, source: { width: number; height: number } | null, size: InputSize, empties: readonly Raster[]): Promise<Uint8Array> {
  const place = unitPlace(box, source);
  if (!place) throw fieldError('not_found', 'box', "is in pixels of the camera's stream, whose size is not known yet; retry in a moment, or give the box as fractions of the frame");
  const inside = { x: Math.max(0, place.x), y: Math.max(0, place.y), width: Math.min(1, place.x + place.width) - Math.max(0, place.x), height: Math.min(1, place.y + place.height) - Math.max(0, place.y) };
  const frame = await decodeRaster(jpeg);
  if (inside.width * frame.width < 2 || inside.height * frame.height < 2) throw fieldError('bad_request', 'box', `lies outside the ${source ? `${source.width}x${source.height} ` : ''}frame or is too small`);
  for (const empty of empties) {
    const view = empty.width === frame.width && empty.height === frame.height ? objectView(frame, empty, inside) : null;
    if (view) return rasterToInput(view.square, size);
  }
  const [square] = await objectCrops(frame, null, [inside], size);
  return square!.rgb;
}

/**
 * The object in a unit's frame (`crop`, its snapshot in `frame`): its strongest region that
 * differs from the unit's empty scene (`quiet`, `empty`), cut out as region crops are; null
 * when nothing differs or the unit has no empty view yet.
 */
export async function unitObject(frame: RawFrame, crop: Uint8Array, quiet: Uint8Array, roi: Roi | null, source: { width: number; height: number } | null, size: InputSize, empty: EmptyView): Promise<Uint8Array | null> {
  const scene = await empty.raster();
  const [strongest] = proposeRegions(crop, quiet, size);
  if (!scene || !strongest) return null;
  const [found] = await cutRegions(frame, [strongest], roi, source, size, () => Promise.resolve(scene));
  return found?.rgb ?? null;
}

/** Where a unit (its roi: pixels or fractions; null the whole frame) lies, as fractions of the frame. */
export function unitPlace(roi: Roi | null, source: { width: number; height: number } | null): Box | null {
  if (!roi) return { x: 0, y: 0, width: 1, height: 1 };
  if (isFractional(roi)) return roi;
  return source ? toPixels(roi, { width: 1, height: 1 }, source) : null;
}

/** An empty view: a frame's snapshot decoded when first needed, or a view already followed. */
type View = { raster: () => Promise<Raster | null> };

function lazyView(jpeg: Promise<Buffer | null>): View {
  let raster: Promise<Raster | null> | undefined;
  return { raster: () => (raster ??= jpeg.then((j) => (j ? decodeRaster(j) : null)).catch(() => null)) };
}

/** Follow the light in a unit's full-resolution empty view at most this often (it decodes a frame). */
export const FOLLOW_EVERY_MS = 2000;

/**
 * A unit's empty view as the snapshot of a frame that showed it empty, decoded once when first
 * needed (most frames never cut regions). `previous` is the view before the last time a still
 * change was taken into the scene: an object that sat still long enough is part of `current`
 * but still stands out against `previous` (a box drawn round it then).
 */
export class EmptyView {
  private current: View | null = null;
  private previous: View | null = null;
  private followedAt = -Infinity;

  /** The frame just decided empty; `absorbed`: a still change is the scene from now on. */
  update(frame: RawFrame, absorbed: boolean): void {
    if (absorbed && this.current) this.previous = this.current;
    this.current = lazyView(frame.snapshot().catch(() => null));
  }

  /**
   * The frame shows the empty view in its steady cells (regions.ts compareWithEmpty; the unit
   * lies at `place`, fractions of the frame): take those pixels from it, so that light changing
   * while objects come and go (or a class stays ON) does not leave the view behind.
   */
  follow(frame: RawFrame, steady: Uint8Array, place: Box, now: number): void {
    const base = this.current;
    // The newest snapshot of a faster camera is not this frame: the object may have moved into a steady cell.
    if (!base || !frame.pairedSnapshot || now - this.followedAt < FOLLOW_EVERY_MS) return;
    this.followedAt = now;
    const followed = Promise.all([base.raster(), frame.snapshot().then((j) => (j ? decodeRaster(j) : null))])
      .then(([empty, seen]) => (empty && seen && seen.width === empty.width && seen.height === empty.height ? { ...empty, data: followSteady(empty.data, seen.data, steady, empty, place) } : empty))
      .catch(() => base.raster());
    this.current = { raster: () => followed };
  }

  raster(): Promise<Raster | null> {
    return this.current ? this.current.raster() : Promise.resolve(null);
  }

  /** The views to try for an object standing still, newest first. */
  async rasters(): Promise<Raster[]> {
    const all = await Promise.all([this.raster(), this.previous ? this.previous.raster() : Promise.resolve(null)]);
    return all.filter((r): r is Raster => r !== null);
  }
}

/** The object found in a picture of a camera's view: which camera, where (fractions), the cut-out as a PNG at the model's input. */
export interface SnapshotObject {
  camera: string;
  box: Box;
  png: Buffer;
}

/** The most pixels a camera's still can have (4K) before a picture is not read as one. */
const MAX_STILL_PIXELS = 3840 * 2160;

/** Proposals for a picture of a camera's view where the usual ones find nothing: a lower cell bar. */
const FAINT_PROPOSALS = { ...DEFAULT_PROPOSALS, cellDelta: 7 };

/** A photo whose median cell differs from a camera's empty view by less than this (0..255) is a view of that camera. */
export const SAME_VIEW = 10;

/**
 * When `image` is a picture of one of these cameras' own views (a Home Assistant
 * `camera.snapshot`, the dashboard's picture), the object in it: the strongest region that
 * differs from that camera's empty view, cut out as region crops are. Null when it is no
 * camera's view, or the view shows nothing new.
 */
export async function objectInSnapshot(image: Buffer, views: ReadonlyArray<{ camera: string; empty: EmptyView }>, size: InputSize): Promise<SnapshotObject | null> {
  const meta = await imageSize(image);
  // Read the header first: a camera still is at most 4K, so a larger picture (or a bomb) is never decoded here.
  if (!meta || meta.width * meta.height > MAX_STILL_PIXELS) return null;
  const aspect = meta.width / meta.height;
  for (const { camera, empty } of views) {
    // The newest empty view first, then the one before a still object was taken into the scene.
    for (const scene of await empty.rasters()) {
      if (Math.abs(aspect - scene.width / scene.height) > 0.02) continue;
      const same = await decodeRaster(image, scene);
      const [a, b] = await Promise.all([rasterToInput(same, size), rasterToInput(scene, size)]);
      if (viewDifference(a, b, size) > SAME_VIEW) continue;
      // A picture sent to enroll shows something: when no change reaches the usual bar (a thin
      // object in the place's colours), the faintest one that stands out is it.
      for (const opts of [DEFAULT_PROPOSALS, FAINT_PROPOSALS]) {
        for (const box of proposeRegions(a, b, size, opts)) {
          const view = objectView(same, scene, box);
          if (view) return { camera, box: view.box, png: await inputToPng(await rasterToInput(view.square, size), size) };
        }
      }
    }
  }
  return null;
}
