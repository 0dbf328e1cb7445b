/**
 * Region proposals on a fixed camera: where a unit's frame differs from the same unit while
 * it was empty. The unit's whole-frame embedding barely moves when a small object walks into
 * a wide view (a cat in a quarter of a 720p scene), so photo and box classes, which show the
 * object alone, cannot match it; the changed part of the frame, cropped, can. Pure: RGB in,
 * boxes (fractions of the unit's crop) out.
 */

/**
 * Whether a shot shows the object itself rather than a camera's whole view: photos (files,
 * MQTT images, peers' `file:`), and objects cut out of a camera's frame (isCutSource). Live
 * frames of a unit (`camera:<name>`, `camera:<name>/<zone>`) and confirmed events do not.
 */
export function isObjectSource(source: string): boolean {
  if (source.startsWith('camera:')) return isCutSource(source);
  return !source.startsWith('event:');
}

/**
 * Whether a shot is an object cut out of a camera's frame against its empty view
 * (recognition/foreground.ts): a drawn box (`camera:<name>/box`), a picture of the camera's
 * view (`…/snapshot`), the object found in live frames (`…/object`). Regions are matched with
 * these cut out the same way, and with photos as they are (a photo keeps its background).
 */
export function isCutSource(source: string): boolean {
  return source.startsWith('camera:') && /\/(box|snapshot|object)$/.test(source);
}

/** A box as fractions (0..1) of the image it was found in. */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * A region cut from a camera frame at the model's input size; `box` in fractions of the frame.
 * `rgb` is the object cut out (grey round it) when the unit had an empty view, `plain` the
 * same square as the camera saw it.
 */
export interface PixelRegion {
  box: Box;
  rgb: Uint8Array;
  plain?: Uint8Array;
}

/** Cuts a frame's regions only when asked: most frames never need them. */
export type RegionSource = () => Promise<PixelRegion[]>;

export interface ProposalOptions {
  /** The image is cut into grid × grid cells, compared by their mean grey level. */
  grid: number;
  /** A cell changed when its mean absolute grey difference reaches this (0..255)... */
  cellDelta: number;
  /** ...and this many times the median cell's (a global light change moves every cell). */
  overMedian: number;
  /** At most this many boxes, the strongest changes first. */
  maxBoxes: number;
  /** A change smaller than this many cells is noise. */
  minCells: number;
  /** A change over this fraction of the cells is the whole unit's business, not a region's. */
  maxFraction: number;
  /** Each side of a box grows by this fraction of its size (context, loose edges). */
  pad: number;
}

export const DEFAULT_PROPOSALS: ProposalOptions = { grid: 16, cellDelta: 10, overMedian: 3, maxBoxes: 2, minCells: 2, maxFraction: 0.6, pad: 0.15 };

interface Component {
  cells: number[];
  strength: number;
}

/** Up to maxBoxes boxes where `rgb` differs from `empty` (both width × height × 3), strongest first, and the two joined when one cell at most lies between them. */
export function proposeRegions(rgb: Uint8Array, empty: Uint8Array, size: { width: number; height: number } = { width: 224, height: 224 }, opts: ProposalOptions = DEFAULT_PROPOSALS): Box[] {
  return compareWithEmpty(rgb, empty, size, opts).boxes;
}

/**
 * A frame against its unit's empty view: the regions that differ (proposeRegions), and the
 * cells (row-major grid × grid, 1 = steady) where the frame is the empty view still: well under
 * the bar, and no neighbour of a changed cell. `steady` is null when the view changed as a
 * whole (three times the median cell over `cellDelta`): then no part of it can be trusted as empty.
 */
export interface EmptyComparison {
  boxes: Box[];
  steady: Uint8Array | null;
  /** The median cell's difference and the bar a changed cell reached (0..255; diagnostics). */
  median: number;
  bar: number;
}

export function compareWithEmpty(rgb: Uint8Array, empty: Uint8Array, size: { width: number; height: number } = { width: 224, height: 224 }, opts: ProposalOptions = DEFAULT_PROPOSALS): EmptyComparison {
  const expected = size.width * size.height * 3;
  if (rgb.length !== expected || empty.length !== expected) throw new Error(`frames must hold ${expected} bytes, got ${rgb.length} and ${empty.length}`);
  const diff = cellDifferences(rgb, empty, size, opts.grid);
  const median = [...diff].sort((a, b) => a - b)[diff.length >> 1] ?? 0;
  const bar = Math.max(opts.cellDelta, median * opts.overMedian);
  const changed = diff.map((d) => (d >= bar ? 1 : 0));
  const parts = components(changed, diff, opts.grid)
    .filter((c) => c.cells.length >= opts.minCells && c.cells.length <= opts.maxFraction * diff.length)
    .sort((a, b) => b.strength - a.strength)
    .slice(0, opts.maxBoxes)
    .map((c) => bounds(c.cells, opts.grid));
  const boxes = [...parts, ...joinedParts(parts, opts.grid)].map((b) => padded(b, opts.pad));
  return { boxes, steady: median * opts.overMedian > opts.cellDelta ? null : steadyCells(diff, changed, bar, opts.grid), median, bar };
}

/**
 * Cells the empty view may follow: under half the bar (a faint object's cell is not taken for
 * the place), and no changed cell among their neighbours (an object's edges spill over).
 */
function steadyCells(diff: Float32Array, changed: Float32Array, bar: number, grid: number): Uint8Array {
  // The changed cells grown by one cell each way, marked once (this runs on every inferred frame).
  const near = new Uint8Array(diff.length);
  for (let cell = 0; cell < diff.length; cell++) {
    if (!changed[cell]) continue;
    const [cx, cy] = [cell % grid, Math.floor(cell / grid)];
    for (let y = Math.max(0, cy - 1); y <= Math.min(grid - 1, cy + 1); y++) near.fill(1, y * grid + Math.max(0, cx - 1), y * grid + Math.min(grid - 1, cx + 1) + 1);
  }
  return Uint8Array.from(diff, (d, cell) => (d < bar / 2 && !near[cell] ? 1 : 0));
}

/**
 * `empty` with the pixels of its steady cells taken from `rgb` (both width × height × 3): the
 * empty view keeps up with the light where nothing stands, while the place behind an object
 * stays as it was before the object came. The cells are those of the unit at `place`
 * (fractions of the image: the unit's crop itself by default, or its part of a whole frame);
 * pixels outside it stay as they were.
 */
export function followSteady(empty: Uint8Array, rgb: Uint8Array, steady: Uint8Array, size: { width: number; height: number } = { width: 224, height: 224 }, place: Box = { x: 0, y: 0, width: 1, height: 1 }, grid = DEFAULT_PROPOSALS.grid): Uint8Array {
  if (empty.length !== rgb.length) throw new Error(`views differ in size: ${empty.length} and ${rgb.length} bytes`);
  const out = Uint8Array.from(empty);
  const cellOf = (at: number, from: number, span: number, pixels: number): number => Math.floor((((at + 0.5) / pixels - from) / span) * grid);
  for (let y = 0; y < size.height; y++) {
    const cy = cellOf(y, place.y, place.height, size.height);
    if (cy < 0 || cy >= grid) continue;
    for (let x = 0; x < size.width; x++) {
      const cx = cellOf(x, place.x, place.width, size.width);
      if (cx < 0 || cx >= grid || !steady[cy * grid + cx]) continue;
      const i = (y * size.width + x) * 3;
      out[i] = rgb[i]!;
      out[i + 1] = rgb[i + 1]!;
      out[i + 2] = rgb[i + 2]!;
    }
  }
  return out;
}

/**
 * How much two views differ as a whole: the median cell's mean grey difference (0..255) once
 * the light is evened out (one gain: the sun moved, a cloud passed). A picture of a camera's
 * own view with an object in it stays low (most cells are the same place); another place, or
 * the same place from elsewhere, is high.
 */
export function viewDifference(rgb: Uint8Array, empty: Uint8Array, size: { width: number; height: number } = { width: 224, height: 224 }, grid = DEFAULT_PROPOSALS.grid): number {
  const a = cellGreys(rgb, size, grid);
  const b = cellGreys(empty, size, grid);
  const gain = medianRatio(a, b);
  const diff = a.map((v, i) => Math.abs(v - gain * b[i]!));
  return [...diff].sort((x, y) => x - y)[diff.length >> 1] ?? 0;
}

/** Mean grey level per cell, row-major grid × grid. */
function cellGreys(rgb: Uint8Array, size: { width: number; height: number }, grid: number): Float32Array {
  const sums = new Float32Array(grid * grid);
  const counts = new Uint32Array(grid * grid);
  for (let y = 0; y < size.height; y++) {
    const row = Math.min(grid - 1, Math.floor((y * grid) / size.height)) * grid;
    for (let x = 0; x < size.width; x++) {
      const i = (y * size.width + x) * 3;
      const cell = row + Math.min(grid - 1, Math.floor((x * grid) / size.width));
      sums[cell]! += (77 * rgb[i]! + 150 * rgb[i + 1]! + 29 * rgb[i + 2]!) >> 8;
      counts[cell]! += 1;
    }
  }
  return sums.map((s, i) => s / Math.max(1, counts[i]!));
}

/**
 * Mean absolute grey difference per cell, row-major grid × grid. Its walk over cells is
 * cellGreys' (and foreground.ts's cellMeans'), written out in each: this runs on every
 * inferred frame, and one shared walk taking a per-pixel callback measured 1.0 → 1.6 ms a
 * 224 × 224 frame (values gathered into an array first: 4.2 ms).
 */
function cellDifferences(a: Uint8Array, b: Uint8Array, size: { width: number; height: number }, grid: number): Float32Array {
  const sums = new Float32Array(grid * grid);
  const counts = new Uint32Array(grid * grid);
  // Light is multiplicative: after a cloud or at dusk bright cells move more than dark ones,
  // and a changed sky would outnumber the median rule. Even it out with one gain first.
  const gain = greyGain(a, b, size, grid);
  for (let y = 0; y < size.height; y++) {
    const row = Math.min(grid - 1, Math.floor((y * grid) / size.height)) * grid;
    for (let x = 0; x < size.width; x++) {
      const i = (y * size.width + x) * 3;
      // Integer luma (BT.601), as the motion gate reads frames.
      const ga = (77 * a[i]! + 150 * a[i + 1]! + 29 * a[i + 2]!) >> 8;
      const gb = (77 * b[i]! + 150 * b[i + 1]! + 29 * b[i + 2]!) >> 8;
      const cell = row + Math.min(grid - 1, Math.floor((x * grid) / size.width));
      sums[cell]! += Math.abs(ga - gain * gb);
      counts[cell]! += 1;
    }
  }
  return sums.map((s, i) => s / Math.max(1, counts[i]!));
}

/** The light's change from b to a: the median cell's grey ratio (an object covering some cells does not move it). */
function greyGain(a: Uint8Array, b: Uint8Array, size: { width: number; height: number }, grid: number): number {
  return medianRatio(cellGreys(a, size, grid), cellGreys(b, size, grid));
}

/** Median of a[i] / b[i] over the cells bright enough in b to say (1 when none is). */
export function medianRatio(a: Float32Array, b: Float32Array): number {
  const ratios: number[] = [];
  for (let i = 0; i < a.length; i++) if (b[i]! >= 8) ratios.push(a[i]! / b[i]!);
  return ratios.length === 0 ? 1 : ratios.sort((x, y) => x - y)[ratios.length >> 1]!;
}

/** Changed cells joined with their 8 neighbours; strength: the summed difference. */
function components(changed: number[] | Float32Array, diff: Float32Array, grid: number): Component[] {
  const seen = new Uint8Array(changed.length);
  const out: Component[] = [];
  for (let start = 0; start < changed.length; start++) {
    if (!changed[start] || seen[start]) continue;
    const cells: number[] = [];
    const stack = [start];
    seen[start] = 1;
    while (stack.length > 0) {
      const cell = stack.pop()!;
      cells.push(cell);
      for (const n of neighbours(cell, grid)) {
        if (changed[n] && !seen[n]) {
          seen[n] = 1;
          stack.push(n);
        }
      }
    }
    out.push({ cells, strength: cells.reduce((s, c) => s + diff[c]!, 0) });
  }
  return out;
}

function neighbours(cell: number, grid: number): number[] {
  const cx = cell % grid;
  const cy = Math.floor(cell / grid);
  const out: number[] = [];
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      const x = cx + dx;
      const y = cy + dy;
      if ((dx !== 0 || dy !== 0) && x >= 0 && y >= 0 && x < grid && y < grid) out.push(y * grid + x);
    }
  }
  return out;
}

function bounds(cells: number[], grid: number): Box {
  const xs = cells.map((c) => c % grid);
  const ys = cells.map((c) => Math.floor(c / grid));
  const x0 = Math.min(...xs);
  const y0 = Math.min(...ys);
  return { x: x0 / grid, y: y0 / grid, width: (Math.max(...xs) - x0 + 1) / grid, height: (Math.max(...ys) - y0 + 1) / grid };
}

/**
 * The two strongest parts joined, when at most one cell lies between them: a thin object (a
 * stethoscope's tube, a cable) crossing a cell whose mean hardly moves breaks into parts that
 * each look like no class; the whole is matched beside them. Empty otherwise.
 */
function joinedParts(parts: readonly Box[], grid: number): Box[] {
  const [a, b] = parts;
  if (!a || !b) return [];
  const gap = (a0: number, a1: number, b0: number, b1: number): number => Math.max(b0 - a1, a0 - b1, 0) * grid;
  if (gap(a.x, a.x + a.width, b.x, b.x + b.width) > 1.01 || gap(a.y, a.y + a.height, b.y, b.y + b.height) > 1.01) return [];
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return [{ x, y, width: Math.max(a.x + a.width, b.x + b.width) - x, height: Math.max(a.y + a.height, b.y + b.height) - y }];
}

function padded(b: Box, pad: number): Box {
  return clampBox({ x: b.x - b.width * pad, y: b.y - b.height * pad, width: b.width * (1 + 2 * pad), height: b.height * (1 + 2 * pad) });
}

function clampBox(b: Box): Box {
  const x = Math.max(0, b.x);
  const y = Math.max(0, b.y);
  return { x, y, width: Math.min(1, b.x + b.width) - x, height: Math.min(1, b.y + b.height) - y };
}

/**
 * `box` (fractions of an image of `aspect` = width / height) grown to a square in pixels, as
 * the model sees 224 × 224 and photos of objects are mostly framed round them; kept inside
 * the image (shifted, then cut, when it reaches out).
 */
export function squareBox(box: Box, aspect: number): Box {
  const w = box.width * aspect;
  const side = Math.max(w, box.height);
  const width = Math.min(1, side / aspect);
  const height = Math.min(1, side);
  const x = Math.min(1 - width, Math.max(0, box.x + box.width / 2 - width / 2));
  const y = Math.min(1 - height, Math.max(0, box.y + box.height / 2 - height / 2));
  return { x, y, width, height };
}

/** A box of a unit (fractions of its crop) as fractions of the whole frame, the unit at `unit` (fractions). */
export function boxInFrame(box: Box, unit: Box): Box {
  return { x: unit.x + box.x * unit.width, y: unit.y + box.y * unit.height, width: box.width * unit.width, height: box.height * unit.height };
}

/** Intersection over union of two boxes (same frame). */
export function overlap(a: Box, b: Box): number {
  const w = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const h = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}
