import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KEPT, PER_CLASS, fieldMechanisms } from '../../bench/field.js';
import type { EmbeddedClip } from '../../bench/fieldData.js';
import { FPS, objectsAt, planClip, truth, type ClipPlan, type StampPool } from '../../bench/fieldPlan.js';
import { AUGMENTATIONS } from '../../src/recognition/augment.js';
import { simulate, type Mechanism } from '../../bench/fieldSim.js';
import { l2Normalize, seededRandom } from '../../src/recognition/vector.js';

const DIM = 64;
const POOL: StampPool[] = [{ category: 'mammals', files: ['a.png', 'b.png', 'c.png', 'd.png', 'e.png', 'f.png'] }];
const SCENE = { name: 'yard', path: '/nowhere/yard.jpg', licence: 'test' };

/**
 * Synthetic embeddings of a planned clip: the scene is axis 0; an object in view adds its own
 * direction (`looks`), plus a little noise per frame. No pixels, no model: this checks the
 * simulation and its scoring, not the embedding.
 */
function synthetic(plan: ClipPlan, looks: (objectIndex: number) => Record<number, number>): EmbeddedClip {
  const random = seededRandom(plan.seed);
  const inView = new Map<number, string>();
  for (const s of truth(plan)) for (let f = s.firstFrame; f <= s.lastFrame; f++) inView.set(f, s.object);
  for (const shot of plan.shots) inView.set(shot.frame, objectsAt(plan, shot.frame / FPS)[0]!.object.id);
  const frame = (object: string | undefined): Float32Array => {
    const v = Float32Array.from({ length: DIM }, () => (random() - 0.5) * 0.02);
    v[0]! += 1;
    if (object) for (const [axis, w] of Object.entries(looks(Number(object.slice(1))))) v[Number(axis)]! += w;
    return l2Normalize(v);
  };
  const frames = Array.from({ length: plan.frames }, (_, n) => frame(inView.get(n)));
  const scene = frame(undefined);
  return {
    plan,
    frames,
    augmented: plan.shots.map((s) => AUGMENTATIONS.map(() => frames[s.frame]!)),
    augmentedScene: plan.shots.map(() => AUGMENTATIONS.map(() => scene)),
  };
}

const zoneMechanism = (name: string): Mechanism => ({ ...fieldMechanisms(null).find((m) => m.name === name)!, residualMean: null } as Mechanism);

describe('field simulation and scoring', () => {
  const plan = planClip(21, SCENE, POOL, () => 1);

  it('reports every enrolled appearance once, with its label, and nothing else', () => {
    // Objects o0-o2 are enrolled, o3-o5 never are; each looks like its own axis.
    const clip = synthetic(plan, (i) => ({ [i + 1]: 0.6 }));
    const o = simulate(clip, zoneMechanism(KEPT));
    assert.equal(o.enrolled, 9);
    assert.equal(o.recalled, 9);
    assert.equal(o.wrongLabel, 0);
    assert.equal(o.emptyStarts, 0);
    assert.equal(o.strangerFirst, 3);
    assert.equal(o.strangerFirstStarts, 0);
    assert.equal(o.strangerLaterStarts, 0);
  });

  it('counts a never-enrolled look-alike, and one reject stops its later appearances without losing the class', () => {
    // o3 looks much like o0 (cosine 0.7 of their residuals), the others are distinct.
    const looks = (i: number): Record<number, number> => (i === 3 ? { 1: 0.42, 4: 0.43 } : { [i + 1]: 0.6 });
    const clip = synthetic(plan, looks);
    const plain = simulate(clip, zoneMechanism(PER_CLASS));
    assert.equal(plain.strangerFirstStarts, 1, 'the look-alike starts an event the first time');
    assert.equal(plain.strangerLaterStarts, 2, 'and every time after');
    const corrected = simulate(clip, zoneMechanism(KEPT));
    assert.equal(corrected.corrections, 1);
    assert.equal(corrected.rejectedLater, 2);
    assert.equal(corrected.rejectedLaterStarts, 0, 'rejected once, never again');
    assert.equal(corrected.recalled, 9, 'the enrolled object it resembles is still reported');
  });
});
