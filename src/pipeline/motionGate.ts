import type { InputSize } from '../media/image.js';

export interface MotionGateOptions {
  /** Fraction (0..1) of grid cells whose brightness must change for a frame to count as motion. */
  threshold: number;
  /** Infer at least this often even in a still scene (seconds). */
  maxSkipS: number;
  /** Grey change (0..255) of one cell that counts as a change rather than sensor noise. */
  cellDelta?: number;
  /** The frame is reduced to grid×grid cells of mean grey. */
  grid?: number;
}

/**
 * Skips inference on frames that barely differ from the last inferred one. Frames are
 * reduced to a small grid of mean grey levels, which averages away noise and compression
 * artefacts; the fraction of cells that changed is compared with the threshold. Counting
 * changed cells (not the mean difference) lets a small object in a large scene count.
 */
export class MotionGate {
  private readonly grid: number;
  private readonly cellDelta: number;
  private reference: Float32Array | null = null;
  private referenceAt = 0;

  constructor(
    private readonly size: InputSize,
    private readonly options: MotionGateOptions,
  ) {
    this.grid = options.grid ?? 32;
    this.cellDelta = options.cellDelta ?? 12;
  }

  /** Whether `rgb` should be inferred. When true it becomes the new reference. */
  shouldInfer(rgb: Uint8Array, now: number): boolean {
    const grey = this.downscale(rgb);
    const ref = this.reference;
    const due = ref === null || now - this.referenceAt >= this.options.maxSkipS * 1000;
    if (!due && changedFraction(ref, grey, this.cellDelta) < this.options.threshold) return false;
    this.reference = grey;
    this.referenceAt = now;
    return true;
  }

  /** The fraction of changed cells vs the reference (for tests and tuning). */
  difference(rgb: Uint8Array): number {
    if (!this.reference) return 1;
    return changedFraction(this.reference, this.downscale(rgb), this.cellDelta);
  }

  reset(): void {
    this.reference = null;
  }

  private downscale(rgb: Uint8Array): Float32Array {
    const { width, height } = this.size;
    const g = this.grid;
    const sums = new Float32Array(g * g);
    const counts = new Uint32Array(g * g);
    // Every second pixel of every second row is plenty for cell means and 4x cheaper.
    for (let y = 0; y < height; y += 2) {
      const cy = Math.floor((y * g) / height);
      for (let x = 0; x < width; x += 2) {
        const i = (y * width + x) * 3;
        const cell = cy * g + Math.floor((x * g) / width);
        // Integer luma approximation (BT.601 weights).
        sums[cell]! += (77 * rgb[i]! + 150 * rgb[i + 1]! + 29 * rgb[i + 2]!) >> 8;
        counts[cell]! += 1;
      }
    }
    for (let c = 0; c < sums.length; c++) sums[c] = sums[c]! / Math.max(1, counts[c]!);
    return sums;
  }
}

function changedFraction(a: Float32Array, b: Float32Array, delta: number): number {
  let changed = 0;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > delta) changed += 1;
  return changed / a.length;
}
