import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/recognition/vector.js';
import { FPS, HEIGHT, WIDTH, objectsAt } from '../../bench/fieldPlan.js';
import { boxFractions, planPathsClip, visibleShare, type HeldOutStamp } from '../../bench/pathsPlan.js';
import { colourRichness, PHOTO_RICHNESS } from '../../bench/pathsSource.js';

// Plans need no pixels: stamp names, folders and aspect ratios are enough.
const stamp = (folder: string, name: string, aspect = 1): HeldOutStamp => ({ file: `/stamps/${folder}/${name}.png`, folder, aspect });
const POOL = [stamp('clothes/hats', 'fedora', 1.4), stamp('clothes/hats', 'tophat'), stamp('sports', 'ball'), stamp('household', 'kettle', 1.2), stamp('medical', 'syringe', 3), stamp('seasonal/easter', 'bunny', 0.7)];
const OCCLUDERS = [stamp('household', 'bin', 0.6)];
const SCENE = { name: 'jetty', path: '/nowhere/jetty.jpg', licence: 'test' };
const plan = (seed: number): ReturnType<typeof planPathsClip> => planPathsClip(seed, SCENE, POOL, OCCLUDERS, 'p0');

describe('enrollment-paths clip plans', () => {
  it('are the same for the same seed and differ for another', () => {
    assert.deepEqual(plan(5000), plan(5000));
    assert.notDeepEqual(plan(5000).plan.spans, plan(5001).plan.spans);
  });

  it('enroll 2 objects of different folders, each standing 3 times in the zone', () => {
    for (const seed of [1, 2, 3, 4]) {
      const c = plan(seed);
      assert.equal(c.enrolled.length, 2);
      assert.notEqual(c.enrolled[0]!.label, c.enrolled[1]!.label);
      for (const e of c.enrolled) assert.equal(c.stands.filter((s) => s.label === e.label).length, 3);
      for (const s of c.stands) {
        const b = s.box;
        assert.ok(b.x >= c.zone.x - 0.5 && b.x + b.w <= c.zone.x + c.zone.w + 0.5 && b.y + b.h <= c.zone.y + c.zone.h + 0.5, `stand ${JSON.stringify(b)} outside the zone`);
        // Only the object (and the foreground cut-out) is in the picture at a stand.
        assert.deepEqual(objectsAt(c.plan, s.frame / FPS).map((o) => o.object.label).sort(), [null, s.label]);
      }
    }
  });

  it('shows each enrolled object 3 times at three sizes between 15 and 50 % of the height, and 2 never-enrolled ones', () => {
    const c = plan(9);
    for (const e of c.enrolled) {
      const heights = c.plan.objects.filter((o) => o.label === e.label && /a\d$/.test(o.id)).map((o) => o.h / HEIGHT);
      assert.equal(heights.length, 3);
      // Wide stamps are capped at 60 % of the width, so only the upper bound always holds.
      assert.ok(heights.every((h) => h <= 0.5 + 1e-9), String(heights));
      assert.equal(new Set(heights.map((h) => (h < 0.25 ? 0 : h < 0.38 ? 1 : 2))).size > 1, true);
      assert.equal(c.truth.frame.filter((t) => t.label === e.label).length, 3);
    }
    assert.equal(c.truth.frame.filter((t) => !t.enrolled).length, 2);
  });

  it('walks start and most end outside the frame, so objects enter and leave partly hidden by its edge', () => {
    const walks = [1, 2, 3].flatMap((s) => plan(s).plan.spans.filter((x) => x.kind === 'appearance'));
    for (const w of walks) {
      const o = [1, 2, 3].map((s) => plan(s).plan.objects.find((x) => x.id === w.object)).find(Boolean)!;
      assert.ok(Math.abs(w.keyframes[0]!.cx - WIDTH / 2) > WIDTH / 2, `walk of ${w.object} starts inside`);
      assert.ok(o);
    }
    const out = walks.filter((w) => Math.abs(w.keyframes.at(-1)!.cx - WIDTH / 2) > WIDTH / 2);
    assert.equal(out.length, walks.length);
  });

  it('counts an object in a place only while a quarter of it is visible there, the foreground hiding it', () => {
    const place = { x: 0, y: 0, w: 100, h: 100 };
    const none = { x: 500, y: 500, w: 1, h: 1 };
    assert.equal(visibleShare({ x: 10, y: 10, w: 20, h: 20 }, place, none), 1);
    assert.equal(visibleShare({ x: 90, y: 10, w: 20, h: 20 }, place, none), 0.5);
    assert.equal(visibleShare({ x: 200, y: 10, w: 20, h: 20 }, place, none), 0);
    assert.equal(visibleShare({ x: 10, y: 10, w: 20, h: 20 }, place, { x: 0, y: 0, w: 20, h: 100 }), 0.5);
    // An appearance hidden behind the foreground in the zone is shorter there than in the frame.
    const c = plan(5000);
    const frames = (spans: typeof c.truth.frame): number => spans.reduce((n, s) => n + s.lastFrame - s.firstFrame + 1, 0);
    assert.ok(frames(c.truth.zone) < frames(c.truth.frame));
  });

  it('turns a stand box into fractions of the frame, grown by a margin and cut at its edges', () => {
    assert.deepEqual(boxFractions({ x: 64, y: 48, w: 64, h: 48 }, 0), { x: 0.1, y: 0.1, width: 0.1, height: 0.1 });
    const edge = boxFractions({ x: WIDTH - 10, y: HEIGHT - 10, w: 100, h: 100 });
    assert.ok(edge.x + edge.width <= 1 && edge.y + edge.height <= 1);
  });

  it('tells photo stamps from drawings by their colours', () => {
    const flat = new Uint8Array(400 * 4).map((_, i) => (i % 4 === 3 ? 255 : i % 8 < 4 ? 0 : 250));
    const random = seededRandom(3);
    const noisy = new Uint8Array(400 * 4).map((_, i) => (i % 4 === 3 ? 255 : Math.floor(256 * random())));
    assert.ok(colourRichness(flat) < PHOTO_RICHNESS);
    assert.ok(colourRichness(noisy) >= PHOTO_RICHNESS);
    assert.equal(colourRichness(new Uint8Array(16)), 0);
  });
});
