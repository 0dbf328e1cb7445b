/**
 * The enrollment-paths bench's clips, planned (no pixels): a fixed camera on a place photo,
 * a foreground cut-out standing in it, objects (held-out Tux Paint stamps) that first stand
 * still for the camera-based enrollments, then walk across the view at several sizes, pause,
 * leave by a frame edge, sometimes behind the foreground. Everything from one seed. The plan
 * is a field ClipPlan, so bench/fieldRender.ts renders it; the truth here is per place: the
 * whole frame (a camera without zones) and the zone.
 */
import { seededRandom, shuffled } from '../src/recognition/vector.js';
import { FPS, HEIGHT, WIDTH, objectsAt, type Box, type ClipPlan, type FieldObject, type ScenePhoto, type Span, type TruthSpan } from './fieldPlan.js';

const ENROLLED = 2;
const STRANGERS = 2;
const STANDS = 3;
const APPEARANCES = 3;
const STAND_S = 4;
/** The empty scene first: the agent learns it after 10 s of quiet (DEFAULT_SCENE_OPTIONS.firstLookAfterS), before any stand. */
const EMPTY_START_S = 20;
/** Object heights, shares of the frame: one appearance in each band. */
const SIZE_BANDS: Array<[number, number]> = [
  [0.15, 0.25],
  [0.25, 0.38],
  [0.38, 0.5],
];
const STAND_HEIGHT = 0.32;
/**
 * Empty scene between walks, seconds: longer than the agent's default off delay
 * (classifier.off_delay_s, 10 s), so each walk is an event of its own. With shorter gaps an
 * object back within 10 s continues the event it left (the class stays ON), and no start
 * event can mark the appearance.
 */
const GAP_S: [number, number] = [11, 13];
/** An object counts as in view of a place when at least this share of it is visible there. */
export const VISIBLE_SHARE = 0.25;

export interface HeldOutStamp {
  file: string;
  /** Its folder under the stamps root, e.g. `clothes/hats`. */
  folder: string;
  /** Width / height of the trimmed stamp. */
  aspect: number;
}

export interface Stand {
  label: string;
  /** Middle frame of the stand. */
  frame: number;
  /** The object's box in pixels. */
  box: Box;
}

export interface PathsClip {
  plan: ClipPlan;
  /** The zone of the zoned camera, pixels. */
  zone: Box;
  occluder: Box;
  /** Label -> the stamp it was enrolled from (for the photo path). */
  enrolled: Array<{ label: string; stamp: string }>;
  stands: Stand[];
  truth: { frame: TruthSpan[]; zone: TruthSpan[] };
}

const uniform = (random: () => number, lo: number, hi: number): number => lo + (hi - lo) * random();

/** Pixel size of a stamp `h` of the frame height tall, never wider than 60 % of the frame. */
export function sizeFor(heightShare: number, aspect: number): { w: number; h: number } {
  let h = heightShare * HEIGHT;
  let w = h * aspect;
  if (w > 0.6 * WIDTH) {
    h *= (0.6 * WIDTH) / w;
    w = 0.6 * WIDTH;
  }
  return { w: Math.max(8, Math.round(w)), h: Math.max(8, Math.round(h)) };
}

/** Area of the intersection of two boxes. */
export function overlap(a: Box, b: Box): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w <= 0 || h <= 0 ? 0 : w * h;
}

/** Share of `box` visible in `place`: inside it and not behind the occluder. */
export function visibleShare(box: Box, place: Box, occluder: Box): number {
  const inside = overlap(box, place);
  if (inside === 0) return 0;
  const clipped: Box = { x: Math.max(box.x, place.x), y: Math.max(box.y, place.y), w: 0, h: 0 };
  clipped.w = Math.min(box.x + box.w, place.x + place.w) - clipped.x;
  clipped.h = Math.min(box.y + box.h, place.y + place.h) - clipped.y;
  return (inside - overlap(clipped, occluder)) / (box.w * box.h);
}

function object(id: string, stamp: HeldOutStamp, label: string | null, size: { w: number; h: number }): FieldObject {
  return { id, stamp: stamp.file, category: stamp.folder, label, areaFraction: 0, ...size };
}

/** A walk: in from one edge, a pause in the zone, out by either edge (leaving the frame). */
function walk(id: string, t: number, size: { w: number; h: number }, zone: Box, random: () => number, index: number, pauseS: [number, number]): Span {
  const fromLeft = random() < 0.5;
  const outLeft = -size.w / 2 - 4;
  const outRight = WIDTH + size.w / 2 + 4;
  const bottom = uniform(random, Math.max(size.h, 0.62 * HEIGHT), HEIGHT);
  const pause = uniform(random, zone.x + 0.2 * zone.w, zone.x + 0.8 * zone.w);
  const start = fromLeft ? outLeft : outRight;
  const end = random() < 0.75 ? (fromLeft ? outRight : outLeft) : start;
  const speed = uniform(random, 140, 220); // px per second
  const t1 = t + Math.abs(pause - start) / speed;
  const t2 = t1 + uniform(random, pauseS[0], pauseS[1]);
  const t3 = t2 + Math.abs(end - pause) / speed;
  const keyframes = [
    { t, cx: start, bottom },
    { t: t1, cx: pause, bottom },
    { t: t2, cx: pause, bottom },
    { t: t3, cx: end, bottom },
  ];
  return { kind: 'appearance', object: id, start: t, end: t3, flip: !fromLeft, keyframes, index };
}

interface Cast {
  enrolled: HeldOutStamp[];
  strangers: HeldOutStamp[];
  occluder: HeldOutStamp;
}

function pickCast(pool: HeldOutStamp[], occluders: HeldOutStamp[], random: () => number): Cast {
  // Different folders, so two objects of one clip are not two hats.
  const byFolder = new Map<string, HeldOutStamp[]>();
  for (const s of shuffled(pool, random)) byFolder.set(s.folder, [...(byFolder.get(s.folder) ?? []), s]);
  const firsts = shuffled([...byFolder.values()].map((list) => list[0]!), random);
  if (firsts.length < ENROLLED + STRANGERS) throw new Error(`held-out stamps: ${firsts.length} folders, need ${ENROLLED + STRANGERS}`);
  return { enrolled: firsts.slice(0, ENROLLED), strangers: firsts.slice(ENROLLED, ENROLLED + STRANGERS), occluder: shuffled(occluders, random)[0]! };
}

const boxOf = (cx: number, bottom: number, size: { w: number; h: number }): Box => ({ x: cx - size.w / 2, y: bottom - size.h, w: size.w, h: size.h });

/** How long a walk pauses over the zone, seconds (the field clips pause 3–8 s). */
export const DEFAULT_PAUSE_S: [number, number] = [1.5, 3];

/** Plans one clip. `prefix` keeps labels of different clips apart (`p0_hats`). */
export function planPathsClip(seed: number, scene: ScenePhoto, pool: HeldOutStamp[], occluders: HeldOutStamp[], prefix: string, pauseS = DEFAULT_PAUSE_S): PathsClip {
  const random = seededRandom(seed);
  const cast = pickCast(pool, occluders, random);
  const zw = Math.round(WIDTH * uniform(random, 0.4, 0.55));
  const zh = Math.round(HEIGHT * uniform(random, 0.5, 0.6));
  const zone: Box = { x: Math.round(uniform(random, 0.1, 0.9) * (WIDTH - zw)), y: HEIGHT - zh - Math.round(uniform(random, 0, 0.05) * HEIGHT), w: zw, h: zh };
  const occSize = sizeFor(uniform(random, 0.35, 0.5), cast.occluder.aspect);
  const occCx = uniform(random, occSize.w / 2, WIDTH - occSize.w / 2);
  const occluder = boxOf(occCx, HEIGHT, occSize);
  const objects: FieldObject[] = [];
  const spans: Span[] = [];
  const stands: Stand[] = [];
  const enrolled = cast.enrolled.map((s) => ({ label: `${prefix}_${s.folder.split('/').pop()!.replace(/[^a-z0-9]/g, '_')}`, stamp: s.file }));
  let t = EMPTY_START_S;
  cast.enrolled.forEach((stamp, i) => {
    const fit = sizeFor(STAND_HEIGHT, stamp.aspect);
    const shrink = Math.min(1, (0.9 * zone.w) / fit.w);
    const size = { w: Math.round(fit.w * shrink), h: Math.round(fit.h * shrink) };
    const id = `e${i}`;
    objects.push(object(id, stamp, enrolled[i]!.label, size));
    for (let k = 0; k < STANDS; k++) {
      const cx = uniform(random, zone.x + size.w / 2, zone.x + zone.w - size.w / 2);
      const bottom = uniform(random, Math.max(zone.y + size.h, zone.y + 0.7 * zone.h), zone.y + zone.h);
      spans.push({ kind: 'enroll', object: id, start: t, end: t + STAND_S, flip: random() < 0.5, keyframes: [{ t, cx, bottom }, { t: t + STAND_S, cx, bottom }], index: k });
      stands.push({ label: enrolled[i]!.label, frame: Math.round((t + STAND_S / 2) * FPS), box: boxOf(cx, bottom, size) });
      t += STAND_S + 1;
    }
  });
  const evalStart = t + GAP_S[0] - 2;
  const who = [...cast.enrolled.flatMap((s, i) => Array.from({ length: APPEARANCES }, (_, k) => ({ stamp: s, label: enrolled[i]!.label, base: `e${i}`, k }))), ...cast.strangers.map((s, i) => ({ stamp: s, label: null, base: `s${i}`, k: 0 }))];
  t = evalStart + uniform(random, 2, 4);
  const bands = new Map(who.map((w) => [w.base, shuffled(SIZE_BANDS, random)]));
  for (const w of shuffled(who, random)) {
    const band = bands.get(w.base)![w.k % SIZE_BANDS.length]!;
    const size = sizeFor(uniform(random, band[0], band[1]), w.stamp.aspect);
    const id = `${w.base}a${w.k}`;
    objects.push(object(id, w.stamp, w.label, size));
    const span = walk(id, t, size, zone, random, w.k, pauseS);
    spans.push(span);
    t = span.end + uniform(random, GAP_S[0], GAP_S[1]);
  }
  // Drawn last, so it stands in front of whatever walks behind it.
  objects.push(object('fg', cast.occluder, null, occSize));
  const duration = Math.ceil(t);
  spans.push({ kind: 'enroll', object: 'fg', start: 0, end: duration + 1, flip: false, keyframes: [{ t: 0, cx: occCx, bottom: HEIGHT }, { t: duration + 1, cx: occCx, bottom: HEIGHT }], index: 0 });
  const view = { left: uniform(random, 0, 0.25), top: uniform(random, 0, 0.25), width: 0.75, height: 0.75 };
  const plan: ClipPlan = { id: `${prefix}-${scene.name}-${seed}`, seed, scene, view, zone, objects, spans, shots: stands.map((s) => ({ label: s.label, frame: s.frame })), backgroundFrames: [], warmUpStart: 0, evalStart, duration, frames: duration * FPS, clouds: [] };
  const frame: Box = { x: 0, y: 0, w: WIDTH, h: HEIGHT };
  return { plan, zone, occluder, enrolled, stands, truth: { frame: truthIn(plan, frame, occluder), zone: truthIn(plan, zone, occluder) } };
}

/** Per walk, the frames with the object visible in `place` (VISIBLE_SHARE); walks never seen there are left out. */
export function truthIn(plan: ClipPlan, place: Box, occluder: Box): TruthSpan[] {
  const out: TruthSpan[] = [];
  for (const span of plan.spans.filter((s) => s.kind === 'appearance')) {
    const o = plan.objects.find((x) => x.id === span.object)!;
    let first = -1;
    let last = -1;
    for (let f = Math.ceil(span.start * FPS); f <= Math.floor(span.end * FPS); f++) {
      const at = objectsAt(plan, f / FPS).find((x) => x.object.id === o.id);
      if (at && visibleShare(boxOf(at.cx, at.bottom, o), place, occluder) >= VISIBLE_SHARE) {
        if (first < 0) first = f;
        last = f;
      }
    }
    const base = o.id.replace(/a\d+$/, '');
    if (first >= 0) out.push({ object: base, label: o.label, enrolled: o.label !== null, index: span.index, firstFrame: first, lastFrame: last, startFrame: Math.ceil(span.start * FPS), endFrame: Math.floor(span.end * FPS) });
  }
  return out;
}

/** A box in pixels as the fractions `class/enroll` takes, grown by `margin` of its size on each side and cut at the frame. */
export function boxFractions(box: Box, margin = 0.1): { x: number; y: number; width: number; height: number } {
  const x0 = Math.max(0, box.x - margin * box.w);
  const y0 = Math.max(0, box.y - margin * box.h);
  const x1 = Math.min(WIDTH, box.x + box.w * (1 + margin));
  const y1 = Math.min(HEIGHT, box.y + box.h * (1 + margin));
  const r = (v: number): number => Math.round(v * 1000) / 1000;
  return { x: r(x0 / WIDTH), y: r(y0 / HEIGHT), width: r((x1 - x0) / WIDTH), height: r((y1 - y0) / HEIGHT) };
}
