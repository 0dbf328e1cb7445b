/**
 * The object itself, cut out of a fixed camera's frame: the pixels of a region that differ from
 * the same view while it was empty, on a plain grey square. A crop of a small object is mostly
 * the place it stands in, and that place changes as it walks (grass, then the path, then the
 * bin), so crops of one object at two places compare poorly; with the place greyed out they
 * compare the object. The same cut is used for the shots (a drawn box, a snapshot of the
 * camera) and for what the camera sees later, so both sides look alike. Pure: pixels in, pixels out.
 */
import { medianRatio, type Box } from './regions.js';

/** RGB pixels, row-major, 3 bytes each. */
export interface Raster {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface ForegroundOptions {
  /** A pixel is the object's when a channel differs by this much (0..255) from the empty view, after blurring. */
  threshold: number;
  /** Radius of the box blur over the difference, pixels: joins an object's speckles, drops single noisy pixels. */
  blur: number;
  /** The grey everything else becomes. */
  fill: number;
  /** Margin round the object's tight box, as a fraction of its longer side. */
  pad: number;
  /** The search window: the given box grown by this fraction of its size on each side. */
  grow: number;
  /** Fewer changed pixels than this share of the window: nothing is there. */
  minShare: number;
}

export const DEFAULT_FOREGROUND: ForegroundOptions = { threshold: 18, blur: 2, fill: 128, pad: 0.1, grow: 0.1, minShare: 0.01 };

export interface ObjectView {
  /** The object's box in the frame (fractions), margin included, cut at the frame's edges. */
  box: Box;
  /** A square centred on the object: its pixels where they differ from the empty view, grey elsewhere. */
  square: Raster;
  /** The same square as the camera saw it (grey only beyond the frame's edges). */
  plain: Raster;
}

interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * The object within `box` (fractions of `frame`) where `frame` differs from `empty` (same
 * size), or null when too little does. Light that changed since the empty view was taken is
 * evened out first (one gain per channel for the whole frame).
 */
export function objectView(frame: Raster, empty: Raster, box: Box, opts: ForegroundOptions = DEFAULT_FOREGROUND): ObjectView | null {
  if (frame.width !== empty.width || frame.height !== empty.height) throw new Error(`frames differ in size: ${frame.width}x${frame.height} and ${empty.width}x${empty.height}`);
  const win = windowOf(frame, box, opts.grow);
  const w = win.x1 - win.x0;
  const h = win.y1 - win.y0;
  if (w < 2 || h < 2) return null;
  const mask = changedPixels(frame, empty, win, lightGain(frame, empty), opts);
  const tight = maskBounds(mask, w, h);
  if (!tight || tight.count < opts.minShare * w * h) return null;
  const x0 = win.x0 + tight.x0;
  const y0 = win.y0 + tight.y0;
  const side = Math.ceil(Math.max(tight.x1 - tight.x0, tight.y1 - tight.y0) * (1 + 2 * opts.pad));
  const cx = win.x0 + (tight.x0 + tight.x1) / 2;
  const cy = win.y0 + (tight.y0 + tight.y1) / 2;
  const left = Math.round(cx - side / 2);
  const top = Math.round(cy - side / 2);
  const square = paint(frame, mask, win, { left, top, side }, opts.fill);
  const plain = paint(frame, null, { x0: 0, y0: 0, x1: frame.width, y1: frame.height }, { left, top, side }, opts.fill);
  const padPx = (side - Math.max(tight.x1 - tight.x0, tight.y1 - tight.y0)) / 2;
  const bx0 = Math.max(0, x0 - padPx);
  const by0 = Math.max(0, y0 - padPx);
  const bx1 = Math.min(frame.width, win.x0 + tight.x1 + padPx);
  const by1 = Math.min(frame.height, win.y0 + tight.y1 + padPx);
  return { box: { x: bx0 / frame.width, y: by0 / frame.height, width: (bx1 - bx0) / frame.width, height: (by1 - by0) / frame.height }, square, plain };
}

/** The box grown by `grow` on each side, in whole pixels inside the frame. */
function windowOf(frame: Raster, box: Box, grow: number): Rect {
  const gx = box.width * grow;
  const gy = box.height * grow;
  return {
    x0: Math.max(0, Math.floor((box.x - gx) * frame.width)),
    y0: Math.max(0, Math.floor((box.y - gy) * frame.height)),
    x1: Math.min(frame.width, Math.ceil((box.x + box.width + gx) * frame.width)),
    y1: Math.min(frame.height, Math.ceil((box.y + box.height + gy) * frame.height)),
  };
}

/**
 * Per channel, the light's change from the empty view to the frame (a cloud, warmer light at
 * dusk): the median over a 16 × 16 grid of the cells' mean ratios, so the object itself,
 * covering some cells, does not move it.
 */
export function lightGain(frame: Raster, empty: Raster): [number, number, number] {
  const grid = 16;
  const gains = [0, 1, 2].map((c) => medianRatio(cellMeans(frame, c, grid), cellMeans(empty, c, grid)));
  return gains as [number, number, number];
}

/** Mean of one channel per cell of a grid × grid, every 2nd pixel each way. */
function cellMeans(r: Raster, channel: number, grid: number): Float32Array {
  const sums = new Float32Array(grid * grid);
  const counts = new Uint32Array(grid * grid);
  for (let y = 0; y < r.height; y += 2) {
    const row = Math.min(grid - 1, Math.floor((y * grid) / r.height)) * grid;
    for (let x = 0; x < r.width; x += 2) {
      const cell = row + Math.min(grid - 1, Math.floor((x * grid) / r.width));
      sums[cell]! += r.data[(y * r.width + x) * 3 + channel]!;
      counts[cell]! += 1;
    }
  }
  return sums.map((s, i) => s / Math.max(1, counts[i]!));
}

/** 1 where the window's pixel differs from the (light-corrected) empty view, after a box blur. */
function changedPixels(frame: Raster, empty: Raster, win: Rect, gain: [number, number, number], opts: ForegroundOptions): Uint8Array {
  const w = win.x1 - win.x0;
  const h = win.y1 - win.y0;
  const diff = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = ((win.y0 + y) * frame.width + win.x0 + x) * 3;
      let d = 0;
      for (let c = 0; c < 3; c++) d = Math.max(d, Math.abs(frame.data[i + c]! - gain[c]! * empty.data[i + c]!));
      diff[y * w + x] = d;
    }
  }
  const blurred = boxBlur(diff, w, h, opts.blur);
  const mask = new Uint8Array(w * h);
  for (let i = 0; i < mask.length; i++) mask[i] = blurred[i]! >= opts.threshold ? 1 : 0;
  return mask;
}

/** Separable box blur of radius r (edges averaged over the pixels that exist). */
export function boxBlur(v: Float32Array, w: number, h: number, r: number): Float32Array {
  if (r <= 0) return v;
  const pass = (src: Float32Array, along: 'x' | 'y'): Float32Array => {
    const out = new Float32Array(src.length);
    const [n, lines] = along === 'x' ? [w, h] : [h, w];
    const at = (line: number, k: number): number => (along === 'x' ? line * w + k : k * w + line);
    for (let line = 0; line < lines; line++) {
      let sum = 0;
      let count = 0;
      for (let k = 0; k < Math.min(n, r); k++) {
        sum += src[at(line, k)]!;
        count++;
      }
      for (let k = 0; k < n; k++) {
        if (k + r < n) {
          sum += src[at(line, k + r)]!;
          count++;
        }
        if (k - r - 1 >= 0) {
          sum -= src[at(line, k - r - 1)]!;
          count--;
        }
        out[at(line, k)] = sum / count;
      }
    }
    return out;
  };
  return pass(pass(v, 'x'), 'y');
}

/** Tight bounds of the mask's set pixels (x1, y1 exclusive) and their count; null when none. */
function maskBounds(mask: Uint8Array, w: number, h: number): (Rect & { count: number }) | null {
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  let count = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!mask[y * w + x]) continue;
      count++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return count === 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1, count };
}

/** The square (frame pixels, may reach outside) with the window's pixels (only the masked ones, with a mask), grey elsewhere. */
export function paint(frame: Raster, mask: Uint8Array | null, win: Rect, sq: { left: number; top: number; side: number }, fill: number): Raster {
  const data = new Uint8Array(sq.side * sq.side * 3).fill(fill);
  const w = win.x1 - win.x0;
  for (let y = 0; y < sq.side; y++) {
    const fy = sq.top + y;
    if (fy < win.y0 || fy >= win.y1) continue;
    for (let x = 0; x < sq.side; x++) {
      const fx = sq.left + x;
      if (fx < win.x0 || fx >= win.x1 || (mask && !mask[(fy - win.y0) * w + fx - win.x0])) continue;
      const s = (fy * frame.width + fx) * 3;
      const d = (y * sq.side + x) * 3;
      data[d] = frame.data[s]!;
      data[d + 1] = frame.data[s + 1]!;
      data[d + 2] = frame.data[s + 2]!;
    }
  }
  return { data, width: sq.side, height: sq.side };
}
