/**
 * Enrollment-time augmentation of a shot (issue 9, item 4): more looks of the same object from
 * the one frame a user gave, on the model-input RGB image (width x height x 3, row-major).
 *
 * In a zone the decision works on residuals against the empty scene (decision.ts), so an
 * augmented shot must be taken against the SAME augmentation of the zone's empty scene:
 * residual(embed(augment(shot)), embed(augment(scene))). Against the plain scene, a flipped or
 * cropped frame would be all scene change. The field benchmark measured that this helps when
 * objects are small in the crop (+6 of 90 appearances on whole-frame clips) and changes
 * nothing when they are large. Pure: no I/O.
 */

export const AUGMENTATIONS = ['flip', 'crop-tl', 'crop-br', 'dark', 'bright', 'flip-crop'] as const;
export type Augmentation = (typeof AUGMENTATIONS)[number];

/** Share of each side kept by the crops (then scaled back to the full size). */
const CROP = 0.9;

export function augment(rgb: Uint8Array, width: number, height: number, kind: Augmentation): Uint8Array {
  if (rgb.length !== width * height * 3) throw new Error(`image has ${rgb.length} bytes, expected ${width}x${height}x3`);
  switch (kind) {
    case 'flip':
      return flip(rgb, width, height);
    case 'crop-tl':
      return crop(rgb, width, height, 0, 0);
    case 'crop-br':
      return crop(rgb, width, height, 1 - CROP, 1 - CROP);
    case 'flip-crop':
      return flip(crop(rgb, width, height, 1 - CROP, 1 - CROP), width, height);
    case 'dark':
      return Uint8Array.from(rgb, (v) => Math.round(v * 0.75));
    case 'bright':
      return Uint8Array.from(rgb, (v) => Math.min(255, Math.round(v * 1.25)));
  }
}

function flip(rgb: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (y * width + (width - 1 - x)) * 3;
      const to = (y * width + x) * 3;
      out[to] = rgb[from]!;
      out[to + 1] = rgb[from + 1]!;
      out[to + 2] = rgb[from + 2]!;
    }
  }
  return out;
}

/** The CROP x CROP window starting at (left, top) (fractions), scaled back up bilinearly. */
function crop(rgb: Uint8Array, width: number, height: number, left: number, top: number): Uint8Array {
  const out = new Uint8Array(rgb.length);
  const x0 = left * width;
  const y0 = top * height;
  const sx = (CROP * width - 1) / Math.max(1, width - 1);
  const sy = (CROP * height - 1) / Math.max(1, height - 1);
  for (let y = 0; y < height; y++) {
    const fy = y0 + y * sy;
    const ya = Math.floor(fy);
    const yb = Math.min(height - 1, ya + 1);
    const wy = fy - ya;
    for (let x = 0; x < width; x++) {
      const fx = x0 + x * sx;
      const xa = Math.floor(fx);
      const xb = Math.min(width - 1, xa + 1);
      const wx = fx - xa;
      for (let c = 0; c < 3; c++) {
        const at = (yy: number, xx: number): number => rgb[(yy * width + xx) * 3 + c]!;
        const top = at(ya, xa) * (1 - wx) + at(ya, xb) * wx;
        const bottom = at(yb, xa) * (1 - wx) + at(yb, xb) * wx;
        out[(y * width + x) * 3 + c] = Math.round(top * (1 - wy) + bottom * wy);
      }
    }
  }
  return out;
}
