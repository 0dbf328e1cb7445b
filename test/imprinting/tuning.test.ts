import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { Recognizer } from '../../src/imprinting/recognizer.js';
import { recognizerOptions } from '../../src/core.js';
import { loadEmbeddingMean } from '../../src/models/embeddingMean.js';
import { ImprintingService } from '../../src/imprinting/service.js';
import { STORE_FILE } from '../../src/storage/classStore.js';
import { BackgroundTuner } from '../../src/imprinting/tuner.js';
import { EventBus } from '../../src/eventBus.js';
import type { FineTuneResult } from '../../src/recognition/fineTune.js';
import { image, tempDir, testLogger } from '../helpers/env.js';
import { startImprinting, type StartedImprinting } from '../helpers/imprinting.js';

const read = (name: string): Buffer => readFileSync(image(name));

/** `promise`, or a failure if it has not settled after `ms` (a tune that hangs fails the test). */
async function settled<T>(promise: Promise<T>, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the tune did not settle in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The last fine-tuning `bus` announced (null: none yet). */
function watchTuning(bus: EventBus): () => FineTuneResult | null {
  let last: FineTuneResult | null = null;
  bus.on('fineTuned', (result) => {
    last = result;
  });
  return () => last;
}

async function enrollPets(imprinter: ImprintingService): Promise<void> {
  await imprinter.enrollImages('cat', [read('cat_train_0.jpg'), read('cat_720p.jpg')], { source: 'test' });
  await imprinter.enrollImages('dog', [read('dog_train_0.jpg'), read('pets.jpg')], { source: 'test' });
}

describe('fine-tuning in the background on the stored shots', () => {
  const dir = tempDir();
  let core: StartedImprinting;
  let tuning: () => FineTuneResult | null;
  before(async () => {
    core = await startImprinting({
      dataDir: dir.path,
      config: (c) => ({ ...c, detector: { ...c.detector, type: 'cpu' }, classifier: { ...c.classifier, fine_tune: true } }),
    });
    tuning = watchTuning(core.bus);
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
    assert.equal(tuning(), result);
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

describe('fine-tuning whose worker dies mid-tune', () => {
  const dir = tempDir();
  const logger = testLogger();
  const tuner = new BackgroundTuner(logger, { entry: new URL('./poisonedTuneWorker.ts', import.meta.url) });
  let core: StartedImprinting;
  let service: ImprintingService;
  const bus = new EventBus(logger);
  const tuning = watchTuning(bus);
  before(async () => {
    // The real detector and store; the service under test tunes through the poisoned worker.
    core = await startImprinting({ dataDir: dir.path });
    const recognizer = new Recognizer(recognizerOptions(core.config), core.core.scenes);
    recognizer.setMean(loadEmbeddingMean(core.core.detector.modelId()));
    service = new ImprintingService({
      detector: core.detector,
      modelId: () => core.core.detector.modelId(),
      store: core.core.store,
      events: core.core.events,
      recognizer,
      scenes: core.core.scenes,
      limits: core.config.limits,
      logger,
      tuner,
      bus,
      tuneDelayMs: 60_000,
    });
    await service.start();
    await enrollPets(service);
  });
  after(async () => {
    await service.stop();
    await tuner.stop();
    await core.stop();
    dir.cleanup();
  });

  it('tunes for real while no class is poisoned', async () => {
    const result = await settled(service.tune());
    assert.ok(result, 'a tuning result');
    assert.equal(tuning(), result);
  });

  for (const [label, how] of [
    ['poison-exit', 'exits'],
    ['poison-throw', 'throws'],
  ] as const) {
    it(`a worker that ${how} mid-tune: the tune settles with null, classifying goes on, a fresh worker tunes next`, async () => {
      const before = tuning();
      await service.enrollImages(label, [read('bird.jpg')], { source: 'test' });
      assert.equal(await settled(service.tune()), null);
      assert.equal(tuning(), before, 'the last good tuning stays');
      assert.equal((await service.classifyImage(read('cat_test_0.jpg'))).label, 'cat');
      service.remove(label);
      assert.ok(await settled(service.tune()), 'the next tune ran in a fresh worker');
    });
  }
});

describe('fine-tuning over a shot the store cannot read', () => {
  const dir = tempDir();
  let core: StartedImprinting;
  before(async () => {
    core = await startImprinting({
      dataDir: dir.path,
      config: (c) => ({ ...c, detector: { ...c.detector, type: 'cpu' }, classifier: { ...c.classifier, fine_tune: true } }),
    });
    await enrollPets(core.imprinter);
  });
  after(async () => {
    await core.stop();
    dir.cleanup();
  });

  it('tune() settles with null instead of rejecting, and classifying goes on', async () => {
    assert.ok(await settled(core.imprinter.tune()), 'tunes before the damage');
    // Another writer (a damaged disk, a foreign tool) leaves a blob that is no embedding.
    const db = new Database(join(dir.path, STORE_FILE));
    try {
      db.prepare("UPDATE shots SET embedding = x'010203' WHERE id = (SELECT max(id) FROM shots)").run();
    } finally {
      db.close();
    }
    assert.equal(await settled(core.imprinter.tune()), null);
    assert.equal((await core.imprinter.classifyImage(read('dog_test_0.jpg'))).label, 'dog');
  });
});
