/**
 * The field benchmark's clips, planned (no pixels here): a fixed camera looking at a real scene
 * photo, a zone in it, objects (Tux Paint photo stamps) that walk in from an edge, pause in the
 * zone and leave, a compressed day of light. Everything is drawn from one seed per clip, so a
 * plan, its frames and its ground truth are the same on every machine.
 *
 * Timeline of a clip (FPS frames per second):
 *   enrollment  each enrolled object stands still at 3 places in the zone (one shot each),
 *               the empty scene in between (morning light);
 *   warm-up     the empty scene, 30 s (the scene model learns it; background-class shots);
 *   evaluation  each enrolled object appears 3 times, 3 never-enrolled objects 3 times each,
 *               in a seeded order, with empty gaps, while the light goes through the day.
 */
import { seededRandom, shuffled } from '../src/recognition/vector.js';

export const FPS = 2;
export const WIDTH = 640;
export const HEIGHT = 480;
const ENROLLED = 3;
const STRANGERS = 3;
const SHOTS = 3;
const APPEARANCES = 3;
const WARM_UP_S = 30;

/** Scene photos: the camera's view. Licences from each package's copyright file. */
export interface ScenePhoto {
  name: string;
  path: string;
  licence: string;
}

const LOMIRI = '/usr/share/backgrounds';
const TUX_TEMPLATES = '/usr/share/tuxpaint/templates';
export const SCENES: ScenePhoto[] = [
  { name: 'room', path: `${LOMIRI}/Wine_by_Jakkub_Mede.jpg`, licence: 'CC-BY-4.0, Jakub Mede' },
  { name: 'doorstep', path: `${LOMIRI}/friends_by_Aitzol_Berasategi.jpg`, licence: 'CC-BY-4.0, Aitzol Berasategi' },
  { name: 'meadow', path: `${LOMIRI}/aitzgorri_by_Aitzol_Berasategi.jpg`, licence: 'CC-BY-4.0, Aitzol Berasategi' },
  { name: 'mountain_path', path: `${LOMIRI}/picosdeeuropa_by_Aitzol_Berasategi.jpg`, licence: 'CC-BY-4.0, Aitzol Berasategi' },
  { name: 'forest_stream', path: `${LOMIRI}/life_by_Aitzol_Berasategi.jpg`, licence: 'CC-BY-4.0, Aitzol Berasategi' },
  { name: 'field', path: `${TUX_TEMPLATES}/sheep.jpg`, licence: 'GPL-2+, Bill Kendrick (Tux Paint)' },
  { name: 'lighthouse', path: `${TUX_TEMPLATES}/lighthouse.jpg`, licence: 'GPL-2+, Bill Kendrick (Tux Paint)' },
  { name: 'pebbles', path: `${TUX_TEMPLATES}/rocks.jpg`, licence: 'GPL-2+, Bill Kendrick (Tux Paint)' },
  { name: 'forest_floor', path: `${TUX_TEMPLATES}/mossy_log.jpg`, licence: 'GPL-2+, Bill Kendrick (Tux Paint)' },
  { name: 'cliff', path: `${TUX_TEMPLATES}/cliff.jpg`, licence: 'GPL-2+, Bill Kendrick (Tux Paint)' },
];

/**
 * Photos of the same packages that are NOT field scenes: with the photo stamps of folders the
 * benchmarks do not use as classes, they make the diverse set the generic mean embedding is
 * derived from (scripts/derive-embedding-mean.ts), so the mean never saw a field scene.
 */
export const MEAN_PHOTOS: string[] = [
  ...['Bridge_by_Sander_Klootwijk', 'Dragonfly_by_Bolly', 'Picture_0B_by_freespace', 'Picture_1A_by_freespace', 'analogpattern_by_Peter_Nerlich', 'free_by_Peter_Nerlich', 'greentock_by_Peter_Nerlich', 'seeding_by_Clements_Engelhardt', 'sunset_by_Aitzol_Berasategi', 'umang_by_Abhishek_Mudgal'].map((n) => `${LOMIRI}/${n}.jpg`),
  ...['burnt_bark', 'corn_maze', 'jellyfish', 'mossy_bark', 'mudstone', 'ocean_splash', 'ocean_waves', 'redwoods_above', 'spiders_web', 'sun_behind_clouds', 'sun_behind_leaves', 'trees_above', 'trees_at_dusk', 'wool_mill_machine'].map((n) => `${TUX_TEMPLATES}/${n}.jpg`),
];

/** Stamp classes whose objects plausibly come and go in front of a camera. */
export const FIELD_CATEGORIES = ['mammals', 'birds', 'cattle', 'vehicles', 'tools', 'instruments', 'small_creatures', 'fruit', 'vegetables'];

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface FieldObject {
  id: string;
  stamp: string;
  category: string;
  /** The class label it is enrolled as; null for a never-enrolled object. */
  label: string | null;
  /** Share of the zone's area the object covers when fully inside. */
  areaFraction: number;
  /** Its size in the frame, pixels. */
  w: number;
  h: number;
}

/** The object's box at time t: linear between keyframes, flipped when walking right to left. */
export interface Keyframe {
  t: number;
  cx: number;
  bottom: number;
}

export interface Span {
  kind: 'enroll' | 'appearance';
  object: string;
  start: number;
  end: number;
  flip: boolean;
  keyframes: Keyframe[];
  /** Appearance number of this object in the evaluation (0 = first time it is seen). */
  index: number;
}

export interface ClipPlan {
  id: string;
  seed: number;
  scene: ScenePhoto;
  /** The camera's view of the scene photo, as fractions of the photo (then scaled to WIDTH x HEIGHT). */
  view: { left: number; top: number; width: number; height: number };
  zone: Box;
  objects: FieldObject[];
  spans: Span[];
  /** Enrollment shots: frame numbers where an enrolled object stands still in the zone. */
  shots: Array<{ label: string; frame: number }>;
  /** Frames of the empty scene used as a user's background class. */
  backgroundFrames: number[];
  warmUpStart: number;
  evalStart: number;
  duration: number;
  frames: number;
  /** Passing clouds: the light dips by `depth` for `length` seconds. */
  clouds: Array<{ at: number; length: number; depth: number }>;
}

export interface StampPool {
  category: string;
  files: string[];
}

const uniform = (random: () => number, lo: number, hi: number): number => lo + (hi - lo) * random();

function pickObjects(pool: StampPool[], random: () => number): FieldObject[] {
  const all = pool.filter((p) => FIELD_CATEGORIES.includes(p.category)).flatMap((p) => p.files.map((f) => ({ f, c: p.category })));
  const chosen = shuffled(all, random).slice(0, ENROLLED + STRANGERS);
  return chosen.map(({ f, c }, i) => ({
    id: `o${i}`,
    stamp: f,
    category: c,
    label: i < ENROLLED ? `${c}_${i}` : null,
    areaFraction: uniform(random, 0.1, 0.28),
    w: 0,
    h: 0,
  }));
}

function pickZone(random: () => number): Box {
  const w = Math.round(WIDTH * uniform(random, 0.5, 0.7));
  const h = Math.round(HEIGHT * uniform(random, 0.55, 0.75));
  return { x: Math.round(uniform(random, 0.05, 0.95) * (WIDTH - w)), y: HEIGHT - h - Math.round(uniform(random, 0, 0.1) * HEIGHT), w, h };
}

/** Object size in pixels for a stamp of aspect `aspect` (w/h) covering `fraction` of the zone. */
export function objectSize(zone: Box, fraction: number, aspect: number): { w: number; h: number } {
  let h = Math.sqrt((fraction * zone.w * zone.h) / aspect);
  let w = h * aspect;
  const fit = Math.min(1, (0.8 * zone.h) / h, (0.8 * zone.w) / w);
  h *= fit;
  w *= fit;
  return { w: Math.max(8, Math.round(w)), h: Math.max(8, Math.round(h)) };
}

/** A resting place inside the zone for an object of width w and height h (centre x, bottom y). */
function restingPlace(zone: Box, w: number, h: number, random: () => number): { cx: number; bottom: number } {
  const cx = uniform(random, zone.x + w / 2, zone.x + zone.w - w / 2);
  const lowest = zone.y + zone.h;
  const highest = Math.min(lowest, zone.y + Math.max(h, 0.55 * zone.h));
  return { cx, bottom: uniform(random, highest, lowest) };
}

/** Enters from one side of the frame, pauses in the zone, leaves by either side. */
function appearance(object: string, start: number, size: { w: number; h: number }, zone: Box, random: () => number, index: number): Span {
  const rest = restingPlace(zone, size.w, size.h, random);
  const fromLeft = random() < 0.5;
  const outside = (left: boolean): number => (left ? -size.w / 2 - 4 : WIDTH + size.w / 2 + 4);
  const leaveLeft = random() < 0.5;
  const enter = uniform(random, 2, 4);
  const pause = uniform(random, 3, 8);
  const leave = uniform(random, 2, 4);
  const keyframes: Keyframe[] = [
    { t: start, cx: outside(fromLeft), bottom: rest.bottom },
    { t: start + enter, cx: rest.cx, bottom: rest.bottom },
    { t: start + enter + pause, cx: rest.cx, bottom: rest.bottom },
    { t: start + enter + pause + leave, cx: outside(leaveLeft), bottom: rest.bottom },
  ];
  return { kind: 'appearance', object, start, end: start + enter + pause + leave, flip: !fromLeft, keyframes, index };
}

/**
 * Plans one clip. `aspects` gives each stamp's width/height (after trimming its transparent
 * border), which the plan needs to size objects.
 */
export function planClip(seed: number, scene: ScenePhoto, pool: StampPool[], aspects: (stamp: string) => number): ClipPlan {
  const random = seededRandom(seed);
  const zone = pickZone(random);
  const objects = pickObjects(pool, random).map((o) => ({ ...o, ...objectSize(zone, o.areaFraction, aspects(o.stamp)) }));
  const viewWidth = uniform(random, 0.6, 0.9);
  const view = { left: uniform(random, 0, 1 - viewWidth), top: uniform(random, 0, 1 - viewWidth), width: viewWidth, height: viewWidth };
  const sizeOf = (o: FieldObject): { w: number; h: number } => ({ w: o.w, h: o.h });
  const spans: Span[] = [];
  const shots: ClipPlan['shots'] = [];
  let t = 2;
  for (const o of objects.filter((x) => x.label !== null)) {
    for (let s = 0; s < SHOTS; s++) {
      const size = sizeOf(o);
      const rest = restingPlace(zone, size.w, size.h, random);
      const flip = random() < 0.5;
      spans.push({ kind: 'enroll', object: o.id, start: t, end: t + 3, flip, keyframes: [{ t, ...rest }, { t: t + 3, ...rest }], index: s });
      shots.push({ label: o.label!, frame: Math.round((t + 1.5) * FPS) });
      t += 5;
    }
  }
  const warmUpStart = t;
  const evalStart = t + WARM_UP_S;
  const backgroundFrames = [0.2, 0.5, 0.8].map((f) => Math.round((warmUpStart + f * WARM_UP_S) * FPS));
  const order = shuffled(objects.flatMap((o) => Array.from({ length: APPEARANCES }, () => o.id)), random);
  const seen = new Map<string, number>();
  t = evalStart + uniform(random, 4, 10);
  for (const id of order) {
    const o = objects.find((x) => x.id === id)!;
    const index = seen.get(id) ?? 0;
    seen.set(id, index + 1);
    const span = appearance(id, t, sizeOf(o), zone, random, index);
    spans.push(span);
    t = span.end + uniform(random, 8, 18);
  }
  const duration = Math.ceil(t);
  const clouds = [0.3, 0.7].map((f) => ({ at: evalStart + f * (duration - evalStart) + uniform(random, -20, 20), length: uniform(random, 15, 30), depth: uniform(random, 0.15, 0.3) }));
  return {
    id: `${scene.name}-${seed}`,
    seed,
    scene,
    view,
    zone,
    objects,
    spans,
    shots,
    backgroundFrames,
    warmUpStart,
    evalStart,
    duration,
    frames: duration * FPS,
    clouds,
  };
}

/**
 * The light at time t: a compressed day (morning at the start, brighter at midday, dusk at
 * the end: gain 0.75 -> 1.15 -> 0.55), warmer light when the sun is low, and passing clouds.
 * Returns per-channel gains for R, G, B.
 */
export function lightAt(plan: ClipPlan, t: number): [number, number, number] {
  const day = Math.min(1, Math.max(0, t / plan.duration));
  const sun = Math.sin(Math.PI * (0.2 + 0.75 * day));
  let gain = 0.5 + 0.65 * sun;
  for (const c of plan.clouds) {
    const ramp = 5;
    const into = Math.min(t - c.at, c.at + c.length - t);
    if (into > 0) gain *= 1 - c.depth * Math.min(1, into / ramp);
  }
  const warm = 1 - sun; // 0 at midday
  return [gain * (1 + 0.12 * warm), gain, gain * (1 - 0.18 * warm)];
}

/** Where each object is at time t (only objects in a span at t). */
export function objectsAt(plan: ClipPlan, t: number): Array<{ object: FieldObject; cx: number; bottom: number; flip: boolean }> {
  const out: Array<{ object: FieldObject; cx: number; bottom: number; flip: boolean }> = [];
  for (const span of plan.spans) {
    if (t < span.start || t > span.end) continue;
    const k = span.keyframes;
    let i = 0;
    while (i < k.length - 2 && t > k[i + 1]!.t) i++;
    const a = k[i]!;
    const b = k[i + 1] ?? a;
    const f = b.t === a.t ? 0 : Math.min(1, Math.max(0, (t - a.t) / (b.t - a.t)));
    out.push({ object: plan.objects.find((o) => o.id === span.object)!, cx: a.cx + f * (b.cx - a.cx), bottom: a.bottom + f * (b.bottom - a.bottom), flip: span.flip });
  }
  return out;
}

/** Share of an object's box inside the zone. */
function insideShare(zone: Box, o: FieldObject, cx: number, bottom: number): number {
  const x0 = Math.max(zone.x, cx - o.w / 2);
  const x1 = Math.min(zone.x + zone.w, cx + o.w / 2);
  const y0 = Math.max(zone.y, bottom - o.h);
  const y1 = Math.min(zone.y + zone.h, bottom);
  return x1 <= x0 || y1 <= y0 ? 0 : ((x1 - x0) * (y1 - y0)) / (o.w * o.h);
}

/** An object counts as in view in the zone when at least a quarter of it is inside. */
export const IN_VIEW_SHARE = 0.25;

export interface TruthSpan {
  object: string;
  label: string | null;
  enrolled: boolean;
  /** Evaluation appearance number of this object (0 = first time). */
  index: number;
  /** First and last frame with the object in view in the zone. */
  firstFrame: number;
  lastFrame: number;
  /** First and last frame with the object anywhere in the frame (its whole walk). */
  startFrame: number;
  endFrame: number;
}

/** Ground truth of the evaluation part: per appearance, the frames with the object in view. */
export function truth(plan: ClipPlan): TruthSpan[] {
  const out: TruthSpan[] = [];
  for (const span of plan.spans.filter((s) => s.kind === 'appearance')) {
    const object = plan.objects.find((o) => o.id === span.object)!;
    let first = -1;
    let last = -1;
    for (let f = Math.floor(span.start * FPS); f <= Math.ceil(span.end * FPS); f++) {
      const at = objectsAt(plan, f / FPS).find((x) => x.object.id === object.id);
      if (at && insideShare(plan.zone, object, at.cx, at.bottom) >= IN_VIEW_SHARE) {
        if (first < 0) first = f;
        last = f;
      }
    }
    if (first >= 0) out.push({ object: object.id, label: object.label, enrolled: object.label !== null, index: span.index, firstFrame: first, lastFrame: last, startFrame: Math.ceil(span.start * FPS), endFrame: Math.floor(span.end * FPS) });
  }
  return out;
}
