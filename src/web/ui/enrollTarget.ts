/**
 * What the Live page's Enroll learns from: the box drawn, a zone (the ones under the box
 * first), or the whole camera; and the class/enroll request for it (docs/mqtt.md). Pure.
 */
import type { Box, CameraView } from '../apiTypes.js';

export interface EnrollTarget {
  /** The select's value: `box`, `camera` or `zone:<name>`. */
  value: string;
  text: string;
}

type Size = { width: number; height: number } | null;

/** A region as fractions of the frame (pixels are divided by the stream's size), or null when the size is not known yet. */
export function fractions(roi: Box, size: Size): Box | null {
  if (roi.x <= 1 && roi.y <= 1 && roi.width <= 1 && roi.height <= 1) return roi;
  if (!size) return null;
  return { x: roi.x / size.width, y: roi.y / size.height, width: roi.width / size.width, height: roi.height / size.height };
}

/** The share of the box's area inside `zone` (0: apart). */
function overlap(box: Box, zone: Box): number {
  const w = Math.min(box.x + box.width, zone.x + zone.width) - Math.max(box.x, zone.x);
  const h = Math.min(box.y + box.height, zone.y + zone.height) - Math.max(box.y, zone.y);
  return w <= 0 || h <= 0 ? 0 : (w * h) / (box.width * box.height);
}

/** The zones the box lies in, most of the box first. */
export function zonesUnder(camera: CameraView, box: Box, size: Size): string[] {
  return camera.zones
    .map((z) => ({ name: z.name, share: overlap(box, fractions(z.roi, size) ?? { x: 0, y: 0, width: 0, height: 0 }) }))
    .filter((z) => z.share > 0)
    .sort((a, b) => b.share - a.share)
    .map((z) => z.name);
}

/**
 * The choices, the default first. With a box: the box, the zones it lies in, the whole camera.
 * Without: each zone, then the whole camera (a class learned from the whole frame of a camera
 * with zones is not recognised in its zones, so a zone comes first).
 */
export function enrollTargets(camera: CameraView, box: Box | null, size: Size): EnrollTarget[] {
  const zone = (name: string, why = ''): EnrollTarget => ({ value: `zone:${name}`, text: `zone ${name}${why}` });
  const whole: EnrollTarget = { value: 'camera', text: 'whole camera' };
  if (box) return [{ value: 'box', text: 'the box' }, ...zonesUnder(camera, box, size).map((z) => zone(z, ' (under the box)')), whole];
  return [...camera.zones.map((z) => zone(z.name)), whole];
}

/** The class/enroll request for a target of this camera. */
export function enrollRequest(label: string, camera: string, target: string, box: Box | null): Record<string, unknown> {
  if (target === 'box' && box) return { label, camera, box };
  if (target.startsWith('zone:')) return { label, camera, zone: target.slice('zone:'.length) };
  return { label, camera };
}
