import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { join } from 'node:path';
import { STORE_FILE } from '../../src/storage/classStore.js';
import { dot } from '../../src/recognition/vector.js';
import { image, MODEL_DIR, tempDir, waitFor } from '../helpers/env.js';
import { startImprinting } from '../helpers/imprinting.js';
import { runCli } from '../helpers/cli.js';

const read = (name: string): Buffer => readFileSync(image(name));

describe('embeddings are tied to their model', () => {
  it('shots from another model are re-embedded from their thumbnails at start', async () => {
    const dir = tempDir();
    try {
      let core = await startImprinting({ dataDir: dir.path });
      await core.imprinter.enrollImages('cat', [read('cat_train_0.jpg')], { source: 'test' });
      await core.imprinter.enrollImages('dog', [read('dog_train_0.jpg')], { source: 'test' });
      const original = core.core.store.shots().map((s) => s.embedding);
      await core.stop();
      // Pretend the shots came from another model: wrong model id and a scrambled embedding.
      const db = new BetterSqlite3(join(dir.path, STORE_FILE));
      db.prepare("UPDATE shots SET model = 'sha-of-an-older-model', embedding = zeroblob(4096)").run();
      db.close();
      core = await startImprinting({ dataDir: dir.path });
      try {
        const shots = core.core.store.shots();
        assert.ok(shots.every((s) => s.model === core.core.detector.modelId()));
        // The thumbnail is the model input, JPEG-compressed: close to the original, not identical.
        shots.forEach((s, i) => assert.ok(dot(s.embedding, original[i]!) > 0.97, `shot ${i}: ${dot(s.embedding, original[i]!)}`));
        const cat = await core.imprinter.classifyImage(read('cat_test_0.jpg'));
        assert.equal(cat.label, 'cat');
        const dog = await core.imprinter.classifyImage(read('dog_test_0.jpg'));
        assert.ok(dog.scores.dog! > dog.scores.cat!, JSON.stringify(dog));
      } finally {
        await core.stop();
      }
    } finally {
      dir.cleanup();
    }
  });
});

describe('a class changed through the CLI reaches a running agent', () => {
  it('within a few seconds', async () => {
    const dir = tempDir();
    const core = await startImprinting({ dataDir: dir.path });
    try {
      const changes: string[][] = [];
      core.bus.on('classesChanged', (e) => void changes.push(e.labels));
      const r = runCli(['enroll', 'cat', image('cat_train_0.jpg'), '--data-dir', dir.path, '--model-dir', MODEL_DIR]);
      assert.equal(r.code, 0, r.stderr);
      await waitFor(() => changes.some((labels) => labels.includes('cat')), 5000, 'the agent to see the new class');
      assert.equal((await core.imprinter.classifyImage(read('cat_test_0.jpg'))).label, 'cat');
    } finally {
      await core.stop();
      dir.cleanup();
    }
  });
});
