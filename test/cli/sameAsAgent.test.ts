import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { image, MODEL_DIR, tempDir } from '../helpers/env.js';
import { startImprinting, type StartedImprinting } from '../helpers/imprinting.js';

/**
 * The CLI and the agent read thresholds and scores through one code path (ImprintingService
 * list() and classify): the same class shows the same threshold, the same photo the same score.
 */
describe('the CLI shows what the agent uses', () => {
  const dir = tempDir();
  const cli = (...args: string[]) => runCli([...args, '--model-dir', MODEL_DIR, '--data-dir', dir.path]);
  let agent: StartedImprinting;
  before(async () => {
    for (const [label, photos] of [
      ['cat', ['cat_train_0.jpg', 'cat_720p.jpg']],
      ['dog', ['dog_train_0.jpg', 'pets.jpg']],
      ['hotdog', ['hotdog_train_0.jpg', 'hotdog_train_1.jpg', 'hot_dog.jpg']],
    ] as const) {
      const r = cli('enroll', label, ...photos.map(image));
      assert.equal(r.code, 0, r.stderr);
    }
    agent = await startImprinting({ dataDir: dir.path, config: (c) => ({ ...c, detector: { ...c.detector, type: 'cpu' }, classifier: { ...c.classifier, fine_tune: true } }) });
    // What the agent does a second after a change: fine-tune in the background.
    await agent.imprinter.tune();
  });
  after(async () => {
    await agent.stop();
    dir.cleanup();
  });

  it('classes --json: the thresholds in effect and their source', () => {
    const r = cli('classes', '--json');
    assert.equal(r.code, 0, r.stderr);
    const listed = JSON.parse(r.stdout) as Array<{ label: string; threshold: number; threshold_source: string }>;
    const expected = agent.imprinter.list().map((c) => ({ label: c.label, threshold: c.threshold, threshold_source: c.threshold_source }));
    assert.deepEqual(listed.map((c) => ({ label: c.label, threshold: c.threshold, threshold_source: c.threshold_source })), expected);
    assert.match(cli('classes').stdout, /^cat\t2 shots\tthreshold 0\.\d\d \((learned|floor)\)/m);
  });

  it('class/set shows as threshold_source set, in the CLI too', () => {
    const info = agent.imprinter.setClass('dog', { threshold: 0.7 });
    assert.deepEqual([info.threshold, info.threshold_source], [0.7, 'set']);
    const listed = JSON.parse(cli('classes', '--json').stdout) as Array<{ label: string; threshold: number; threshold_source: string }>;
    assert.deepEqual(listed.find((c) => c.label === 'dog'), { ...listed.find((c) => c.label === 'dog'), threshold: 0.7, threshold_source: 'set' });
    agent.imprinter.setClass('dog', { threshold: null });
  });

  it('classify: the same scores as the agent', async () => {
    // The class/set changes above reloaded the agent's classes: plain imprinting until its
    // background tuning (1 s later, longer on a busy machine) is done. The CLI tunes before it
    // classifies; so does the agent here, so both compare tuned weights.
    await agent.imprinter.tune();
    const photos = ['cat_test_0.jpg', 'dog_test_0.jpg', 'hotdog_test_0.jpg', 'cat.jpg'];
    const r = cli('classify', '--json', ...photos.map(image));
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { label: string; score: number; scores: Record<string, number> });
    for (const [i, photo] of photos.entries()) {
      const expected = await agent.imprinter.classifyImage(readFileSync(image(photo)));
      console.log(`${photo}: cli ${lines[i]!.score.toFixed(4)} agent ${expected.score.toFixed(4)}`);
      assert.equal(lines[i]!.label, expected.label, photo);
      for (const [label, score] of Object.entries(expected.scores)) assert.ok(Math.abs(lines[i]!.scores[label]! - score) < 1e-6, `${photo} ${label}: cli ${lines[i]!.scores[label]} agent ${score}`);
    }
  });
});
