import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FPS, HEIGHT, IN_VIEW_SHARE, WIDTH, lightAt, objectsAt, planClip, truth, type StampPool } from '../../bench/fieldPlan.js';

// Plans need no pixels: stamp names and their aspect ratios are enough.
const POOL: StampPool[] = [
  { category: 'mammals', files: ['cat.png', 'dog.png', 'fox.png'] },
  { category: 'vehicles', files: ['car.png', 'bus.png'] },
  { category: 'coins', files: ['penny.png'] }, // not a field category: never picked
  { category: 'birds', files: ['owl.png', 'crow.png'] },
];
const SCENE = { name: 'yard', path: '/nowhere/yard.jpg', licence: 'test' };
const plan = (seed: number): ReturnType<typeof planClip> => planClip(seed, SCENE, POOL, (f) => (f.includes('bus') ? 3 : 1.2));

describe('field clip plans', () => {
  it('are the same for the same seed and differ for another', () => {
    assert.deepEqual(plan(7), plan(7));
    assert.notDeepEqual(plan(7).objects, plan(8).objects);
  });

  it('enroll 3 objects from 3 shots each and keep 3 others never enrolled', () => {
    const p = plan(11);
    assert.equal(p.objects.filter((o) => o.label !== null).length, 3);
    assert.equal(p.objects.filter((o) => o.label === null).length, 3);
    assert.ok(p.objects.every((o) => !o.stamp.includes('penny')));
    for (const o of p.objects.filter((x) => x.label)) assert.equal(p.shots.filter((s) => s.label === o.label).length, 3);
    // Every shot frame shows its object standing in the zone.
    for (const s of p.shots) {
      const seen = objectsAt(p, s.frame / FPS);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.object.label, s.label);
    }
    // Background shots are frames of the empty scene, in the warm-up.
    for (const f of p.backgroundFrames) {
      assert.equal(objectsAt(p, f / FPS).length, 0);
      assert.ok(f >= p.warmUpStart * FPS && f < p.evalStart * FPS);
    }
  });

  it('walks every object in from outside the frame, pauses in the zone, and out again', () => {
    const p = plan(12);
    const spans = p.spans.filter((s) => s.kind === 'appearance');
    assert.equal(spans.length, 18, '6 objects x 3 appearances');
    for (const s of spans) {
      const o = p.objects.find((x) => x.id === s.object)!;
      const at = (t: number): number => objectsAt(p, t).find((x) => x.object.id === o.id)!.cx;
      const outside = (cx: number): boolean => cx + o.w / 2 <= 0 || cx - o.w / 2 >= WIDTH;
      assert.ok(outside(at(s.start)) && outside(at(s.end)), 'enters and leaves outside the frame');
      const rest = at((s.keyframes[1]!.t + s.keyframes[2]!.t) / 2);
      assert.ok(rest - o.w / 2 >= p.zone.x - 1 && rest + o.w / 2 <= p.zone.x + p.zone.w + 1, 'pauses inside the zone');
      assert.ok(s.start >= p.evalStart);
    }
    // Appearances never overlap: one object in view at a time.
    const sorted = [...spans].sort((a, b) => a.start - b.start);
    sorted.slice(1).forEach((s, i) => assert.ok(s.start > sorted[i]!.end));
  });

  it('gives ground truth spans with the object in view, in order of appearance per object', () => {
    const p = plan(13);
    const t = truth(p);
    assert.equal(t.length, 18);
    for (const s of t) {
      assert.ok(s.firstFrame >= s.startFrame && s.lastFrame <= s.endFrame && s.firstFrame <= s.lastFrame);
      assert.equal(s.enrolled, s.label !== null);
    }
    for (const o of p.objects) assert.deepEqual(t.filter((s) => s.object === o.id).map((s) => s.index), [0, 1, 2]);
    assert.ok(IN_VIEW_SHARE > 0 && IN_VIEW_SHARE < 1);
    assert.ok(p.zone.x >= 0 && p.zone.y >= 0 && p.zone.x + p.zone.w <= WIDTH && p.zone.y + p.zone.h <= HEIGHT);
  });

  it('goes through a day of light: brighter at midday, darker and warmer at dusk, dips under clouds', () => {
    const p = plan(14);
    const green = (t: number): number => lightAt(p, t)[1];
    const mid = p.duration / 2;
    const cloud = p.clouds[0]!;
    assert.ok(green(mid) > green(p.duration) && green(mid) > green(0));
    const [r, , b] = lightAt(p, p.duration);
    assert.ok(r > b, 'warm light when the sun is low');
    const under = lightAt(p, cloud.at + cloud.length / 2)[1];
    const before = lightAt(p, cloud.at - 1)[1];
    assert.ok(under < before, `${under} < ${before}`);
  });
});
