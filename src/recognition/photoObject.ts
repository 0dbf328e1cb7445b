/**
 * The object in a photo, cut out the way a camera's objects are (foreground.ts): its pixels on a
 * plain grey square. A camera has an empty view to tell the object from the place; a photo has
 * not, so the photo's own border stands in for it: people frame the thing they photograph, and
 * the colours along the edges are the place around it (the sofa, the lawn, the table). Pixels
 * whose colour is rare on the border are the object's; the largest such blob, near the middle,
 * is kept. Without this a photo class compares a whole photo — mostly background — with a
 * camera's cut-out of a small walking object, and scores far below its threshold. Pure.
 */
import { boxBlur, paint, type ObjectView, type Raster } from './foreground.js';

export interface PhotoObjectOptions {
  /** The border band that shows the place, as a share of the shorter side. */
  border: number;
  /** Levels per channel of the colour histogram (16: 4,096 colours). */
  levels: number;
  /** A colour is the place's when at least this share of the border's pixels fall near it (its bin and the 26 around). */
  placeShare: number;
  /** Radius of the box blur over the mask, pixels: closes the object's holes, drops specks. */
  blur: number;
  /** The blob must cover this share of the photo at least, and its box at most `maxSide` of each side. */
  minShare: number;
  maxSide: number;
  fill: number;
  pad: number;
}

export const DEFAULT_PHOTO_OBJECT: PhotoObjectOptions = { border: 0.06, levels: 16, placeShare: 0.002, blur: 2, minShare: 0.02, maxSide: 0.97, fill: 128, pad: 0.1 };

/**
 * The object found in `photo`, or null when none stands out from the border (a photo filled
 * edge to edge by its object, or one whose object shares the place's colours).
 */
export function photoObject(photo: Raster, opts: PhotoObjectOptions = DEFAULT_PHOTO_OBJECT): ObjectView | null {
  const { width: w, height: h } = photo;
  const band = Math.max(2, Math.round(opts.border * Math.min(w, h)));
  if (w <= 2 * band + 4 || h <= 2 * band + 4) return null;
  const place = placeColours(photo, band, opts);
  const rare = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) rare[i] = place[binOf(photo.data, i * 3, opts.levels)]! ? 0 : 1;
  const blurred = boxBlur(rare, w, h, opts.blur);
  const mask = new Uint8Array(w * h);
  for (let i = 0; i < mask.length; i++) mask[i] = blurred[i]! >= 0.5 ? 1 : 0;
  const blob = largestBlob(mask, w, h);
  if (blob) fillHoles(blob.mask, w, h);
  if (!blob || blob.count < opts.minShare * w * h) return null;
  return viewOf(photo, blob.mask, blob, opts);
}

/**
 * The object of a photo whose background was removed before it was sent (a phone's "lift
 * subject", a sticker, an image editor's cut-out): its opaque pixels, every part of them, on
 * the grey square. Null when the picture has (almost) no transparent pixels or too few opaque
 * ones: then it is an ordinary photo. The object is exactly what its sender cut out, so this
 * is the surest way to enroll from a photo; the border search above can only guess.
 */
export function cutOutObject(photo: Raster, alpha: Uint8Array, opts: PhotoObjectOptions = DEFAULT_PHOTO_OBJECT): ObjectView | null {
  const { width: w, height: h } = photo;
  const mask = new Uint8Array(w * h);
  const bounds = { x0: w, y0: h, x1: 0, y1: 0 };
  let opaque = 0;
  for (let i = 0; i < w * h; i++) {
    if (alpha[i]! < 128) continue;
    mask[i] = 1;
    opaque++;
    const x = i % w;
    const y = (i - x) / w;
    bounds.x0 = Math.min(bounds.x0, x);
    bounds.y0 = Math.min(bounds.y0, y);
    bounds.x1 = Math.max(bounds.x1, x + 1);
    bounds.y1 = Math.max(bounds.y1, y + 1);
  }
  if (opaque < opts.minShare * w * h || opaque > (1 - CUT_OUT_SHARE) * w * h) return null;
  // The sender's cut-out may be trimmed to the object, edge to edge: its mask still tells the object.
  return viewOf(photo, mask, bounds, { ...opts, maxSide: Infinity });
}

/** A picture is a cut-out when at least this share of it is transparent (a border of a few transparent pixels is not). */
export const CUT_OUT_SHARE = 0.05;

/** The object (mask, bounds with x1, y1 exclusive) on the grey square, with its margin; null when it fills the photo. */
function viewOf(photo: Raster, mask: Uint8Array, b: { x0: number; y0: number; x1: number; y1: number }, opts: PhotoObjectOptions): ObjectView | null {
  const { width: w, height: h } = photo;
  const bw = b.x1 - b.x0;
  const bh = b.y1 - b.y0;
  if (bw > opts.maxSide * w && bh > opts.maxSide * h) return null;
  const side = Math.ceil(Math.max(bw, bh) * (1 + 2 * opts.pad));
  const left = Math.round((b.x0 + b.x1) / 2 - side / 2);
  const top = Math.round((b.y0 + b.y1) / 2 - side / 2);
  const whole = { x0: 0, y0: 0, x1: w, y1: h };
  const padPx = (side - Math.max(bw, bh)) / 2;
  const bx0 = Math.max(0, b.x0 - padPx);
  const by0 = Math.max(0, b.y0 - padPx);
  const bx1 = Math.min(w, b.x1 + padPx);
  const by1 = Math.min(h, b.y1 + padPx);
  return {
    box: { x: bx0 / w, y: by0 / h, width: (bx1 - bx0) / w, height: (by1 - by0) / h },
    square: paint(photo, mask, whole, { left, top, side }, opts.fill),
    plain: paint(photo, null, whole, { left, top, side }, opts.fill),
  };
}

function binOf(data: Uint8Array, i: number, levels: number): number {
  const q = 256 / levels;
  return (Math.floor(data[i]! / q) * levels + Math.floor(data[i + 1]! / q)) * levels + Math.floor(data[i + 2]! / q);
}

/**
 * Per colour bin: whether the place shows it — near it (its bin and the 26 around) lie at least
 * placeShare of the pixels of two of the border's four sides. Two, because the object itself
 * often touches one edge (it stands on the bottom of the picture) and must not count as place.
 */
function placeColours(photo: Raster, band: number, opts: PhotoObjectOptions): Uint8Array {
  const { width: w, height: h } = photo;
  const L = opts.levels;
  const sides = [0, 1, 2, 3].map(() => ({ counts: new Float32Array(L * L * L), n: 0 }));
  const add = (side: number, x: number, y: number): void => {
    sides[side]!.counts[binOf(photo.data, (y * w + x) * 3, L)]! += 1;
    sides[side]!.n++;
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (y < band) add(0, x, y);
      if (y >= h - band) add(1, x, y);
      if (x < band) add(2, x, y);
      if (x >= w - band) add(3, x, y);
    }
  }
  const place = new Uint8Array(L * L * L);
  for (let r = 0; r < L; r++) {
    for (let g = 0; g < L; g++) {
      for (let b = 0; b < L; b++) {
        let votes = 0;
        for (const side of sides) {
          let near = 0;
          for (let dr = -1; dr <= 1; dr++) for (let dg = -1; dg <= 1; dg++) for (let db = -1; db <= 1; db++) near += countAt(side.counts, L, r + dr, g + dg, b + db);
          if (near >= opts.placeShare * side.n) votes++;
        }
        place[(r * L + g) * L + b] = votes >= 2 ? 1 : 0;
      }
    }
  }
  return place;
}

function countAt(counts: Float32Array, L: number, r: number, g: number, b: number): number {
  return r < 0 || g < 0 || b < 0 || r >= L || g >= L || b >= L ? 0 : counts[(r * L + g) * L + b]!;
}

/** The largest 4-connected blob of the mask: its own mask, bounds (x1, y1 exclusive) and size. */
function largestBlob(mask: Uint8Array, w: number, h: number): { mask: Uint8Array; x0: number; y0: number; x1: number; y1: number; count: number } | null {
  const label = new Int32Array(w * h);
  let best = { id: 0, count: 0 };
  const stack: number[] = [];
  let next = 0;
  for (let start = 0; start < w * h; start++) {
    if (!mask[start] || label[start]) continue;
    next++;
    let count = 0;
    stack.push(start);
    label[start] = next;
    while (stack.length > 0) {
      const i = stack.pop()!;
      count++;
      const x = i % w;
      for (const j of [x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1, i - w, i + w]) {
        if (j < 0 || j >= w * h || !mask[j] || label[j]) continue;
        label[j] = next;
        stack.push(j);
      }
    }
    if (count > best.count) best = { id: next, count };
  }
  if (best.count === 0) return null;
  const own = new Uint8Array(w * h);
  let x0 = w;
  let y0 = h;
  let x1 = 0;
  let y1 = 0;
  for (let i = 0; i < w * h; i++) {
    if (label[i] !== best.id) continue;
    own[i] = 1;
    const x = i % w;
    const y = (i - x) / w;
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x + 1);
    y1 = Math.max(y1, y + 1);
  }
  return { mask: own, x0, y0, x1, y1, count: best.count };
}

/** Sets the pixels the blob encloses (not reachable from the photo's edge around it): an object's own place-coloured patches. */
function fillHoles(mask: Uint8Array, w: number, h: number): void {
  const outside = new Uint8Array(w * h);
  const stack: number[] = [];
  const seed = (i: number): void => {
    if (mask[i] || outside[i]) return;
    outside[i] = 1;
    stack.push(i);
  };
  for (let x = 0; x < w; x++) {
    seed(x);
    seed((h - 1) * w + x);
  }
  for (let y = 0; y < h; y++) {
    seed(y * w);
    seed(y * w + w - 1);
  }
  while (stack.length > 0) {
    const i = stack.pop()!;
    const x = i % w;
    if (x > 0) seed(i - 1);
    if (x < w - 1) seed(i + 1);
    if (i >= w) seed(i - w);
    if (i < w * (h - 1)) seed(i + w);
  }
  for (let i = 0; i < w * h; i++) if (!outside[i]) mask[i] = 1;
}

/**
 * Pixels a salient-object model (imprinting/salientModel.ts) gives at least this: 0.9, not
 * 0.5, because at 0.5 clouds beside a clothespin and yarn behind a pen joined the object; on
 * the photo-path tuning set (bench/pathsProbe.ts, EDGE_IMPRINT_PATHS_SET=small) 27/36 walks
 * at 0.5, 31/36 at 0.9.
 */
export const SALIENT_LEVEL = 0.9;

/**
 * Where nothing large enough reaches SALIENT_LEVEL, the level tried next. Thin objects (open
 * scissors, a syringe, a stethoscope's tubing) get a map that is sure only in patches; at 0.5
 * they are whole, and the clouds that join a solid object at 0.5 cannot, since it was found
 * at 0.9 and never gets here.
 */
export const SALIENT_FALLBACK = 0.5;

/**
 * The object of a photo by a salient-object map (0..1 per pixel of `photo`): its largest
 * blob at SALIENT_LEVEL (else SALIENT_FALLBACK), holes filled, on the grey square. Null when
 * none is large enough at either or it fills the photo. Pure.
 */
export function salientObject(photo: Raster, saliency: Float32Array, opts: PhotoObjectOptions = DEFAULT_PHOTO_OBJECT, levels = [SALIENT_LEVEL, SALIENT_FALLBACK]): ObjectView | null {
  for (const level of levels) {
    const found = salientAt(photo, saliency, level, opts);
    if (found) return found;
  }
  return null;
}

function salientAt(photo: Raster, saliency: Float32Array, level: number, opts: PhotoObjectOptions): ObjectView | null {
  const { width: w, height: h } = photo;
  const mask = Uint8Array.from(saliency, (v) => (v >= level ? 1 : 0));
  const blob = largestBlob(mask, w, h);
  if (!blob || blob.count < opts.minShare * w * h) return null;
  fillHoles(blob.mask, w, h);
  return viewOf(photo, blob.mask, blob, opts);
}
