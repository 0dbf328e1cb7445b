import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ImprintedClassifier } from '../../src/recognition/classifier.js';
import { proxyCount, sphericalKMeans, withProxies } from '../../src/recognition/proxies.js';
import { dot, l2Normalize, seededRandom } from '../../src/recognition/vector.js';

const DIM = 64;

/** Unit vectors scattered around `centre` (noise of the given size per axis). */
function cluster(centre: Float32Array, n: number, noise: number, random: () => number): Float32Array[] {
  return Array.from({ length: n }, () => l2Normalize(centre.map((v) => v + (random() * 2 - 1) * noise)));
}

function axis(i: number): Float32Array {
  const v = new Float32Array(DIM);
  v[i] = 1;
  return v;
}

describe('spherical k-means proxies', () => {
  it('finds the two looks of a class as two proxies, each near one look', () => {
    const random = seededRandom(5);
    const shots = [...cluster(axis(0), 6, 0.1, random), ...cluster(axis(1), 6, 0.1, random)];
    const proxies = sphericalKMeans(shots, 2);
    assert.equal(proxies.length, 2);
    const near = (a: Float32Array): number => Math.max(...proxies.map((p) => dot(p, a)));
    assert.ok(near(axis(0)) > 0.95, `axis 0: ${near(axis(0))}`);
    assert.ok(near(axis(1)) > 0.95, `axis 1: ${near(axis(1))}`);
    for (const p of proxies) assert.ok(Math.abs(dot(p, p) - 1) < 1e-5, 'unit proxies');
  });

  it('is deterministic and falls back to the mean for k = 1 or a single shot', () => {
    const random = seededRandom(9);
    const shots = cluster(axis(3), 9, 0.3, random);
    assert.deepEqual(sphericalKMeans(shots, 3), sphericalKMeans(shots, 3));
    const [mean] = sphericalKMeans(shots, 1);
    assert.ok(mean && dot(mean, axis(3)) > 0.9);
    assert.deepEqual(sphericalKMeans([axis(2)], 3), [axis(2)]);
    assert.deepEqual(sphericalKMeans([], 3), []);
  });

  it('never makes more proxies than shots, nor more than asked', () => {
    assert.equal(proxyCount(1, { maxProxies: 3, minShotsPerProxy: 4 }), 1);
    assert.equal(proxyCount(7, { maxProxies: 3, minShotsPerProxy: 4 }), 1);
    assert.equal(proxyCount(8, { maxProxies: 3, minShotsPerProxy: 4 }), 2);
    assert.equal(proxyCount(100, { maxProxies: 3, minShotsPerProxy: 4 }), 3);
    const random = seededRandom(2);
    assert.ok(sphericalKMeans(cluster(axis(0), 2, 0.1, random), 5).length <= 2);
  });

  it('withProxies keeps sum and count, and a two-look class beats its mean on an off-mean query', () => {
    const random = seededRandom(11);
    const looks = [...cluster(axis(0), 4, 0.05, random), ...cluster(axis(1), 4, 0.05, random)];
    // Rival at cos 0.78 to axis 0: above the two-look mean (0.71), below its axis-0 proxy (~1).
    const rival = cluster(l2Normalize(Float32Array.from(axis(0).map((v, i) => v + (i === 2 ? 0.8 : 0)))), 4, 0.05, random);
    const input = [
      { label: 'two-looks', background: false, shots: looks },
      { label: 'rival', background: false, shots: rival },
    ];
    const weights = withProxies(input, { maxProxies: 2, minShotsPerProxy: 4 });
    assert.equal(weights[0]!.count, 8);
    assert.equal(weights[0]!.proxies?.length, 2);
    assert.equal(weights[1]!.proxies, undefined, 'four shots make one proxy: the plain imprinted weight');
    let sum = 0;
    for (const s of looks) sum += s[0]!;
    assert.ok(Math.abs(weights[0]!.sum[0]! - sum) < 1e-4);

    const query = axis(0);
    const multi = new ImprintedClassifier({ threshold: 0, margin: 0 });
    multi.setClasses(weights);
    const plain = new ImprintedClassifier({ threshold: 0, margin: 0 });
    plain.setClasses(weights.map(({ proxies: _p, ...w }) => w));
    assert.equal(multi.classify(query).label, 'two-looks');
    assert.equal(plain.classify(query).label, 'rival', 'the mean of two looks sits between them');
  });
});
