import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { image, tempDir } from '../helpers/env.js';
import { startImprinting, type StartedImprinting } from '../helpers/imprinting.js';

const read = (name: string): Buffer => readFileSync(image(name));

describe('fine-tuning in the background on the stored shots', () => {
  const dir = tempDir();
  let core: StartedImprinting;
  before(async () => {
    core = await startImprinting({
      dataDir: dir.path,
      config: (c) => ({ ...c, detector: { ...c.detector, type: 'cpu' }, classifier: { ...c.classifier, fine_tune: true } }),
    });
    const enroll = (label: string, photos: string[]) =>
      core.imprinter.enrollImages(label, photos.map(read), { source: 'test' });
    await enroll('cat', ['cat_train_0.jpg', 'cat_720p.jpg']);
    await enroll('dog', ['dog_train_0.jpg', 'pets.jpg']);
    await enroll('hotdog', ['hotdog_train_0.jpg', 'hotdog_train_1.jpg', 'hot_dog.jpg']);
  });
  after(async () => {
    await core.stop();
    dir.cleanup();
  });

  it('runs in a worker, checks itself on held-out shots and reports why it is (not) used', async () => {
    const result = await core.imprinter.tune();
    assert.ok(result, 'a tuning result');
    assert.ok(result.heldOut && result.heldOut.shots >= 3, JSON.stringify(result.heldOut));
    assert.equal(result.used, result.heldOut.fineTunedAccuracy >= result.heldOut.imprintAccuracy);
    assert.match(result.reason, /held-out/);
    assert.equal(core.imprinter.tuning(), result);
    console.log(`fine-tuning: used=${result.used}, held-out ${JSON.stringify(result.heldOut)}`);
  });

  it('still classifies the Coral test photos after tuning', async () => {
    await core.imprinter.tune();
    for (const [photo, label] of [
      ['cat_test_0.jpg', 'cat'],
      ['dog_test_0.jpg', 'dog'],
      ['hotdog_test_0.jpg', 'hotdog'],
    ] as const) {
      assert.equal((await core.imprinter.classifyImage(read(photo))).label, label, photo);
    }
  });

  it('a result computed before a change is not applied', async () => {
    await core.imprinter.enrollImages('bird', [read('bird.jpg')], { source: 'test' });
    const pending = core.imprinter.tune();
    core.imprinter.remove('bird'); // synchronous: lands before the worker can answer
    assert.equal(await pending, null);
  });
});
