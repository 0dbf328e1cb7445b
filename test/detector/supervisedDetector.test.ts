import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { DetectorConfig } from '../../src/config/types.js';
import { prepareImage } from '../../src/media/image.js';
import type { DetectorState } from '../../src/detector/state.js';
import { SupervisedDetector, type SupervisedDetectorOptions } from '../../src/detector/supervisedDetector.js';
import { AppError } from '../../src/errors.js';
import { EventBus, type Events } from '../../src/eventBus.js';
import { loadManifest } from '../../src/models/manifest.js';
import { dot } from '../../src/recognition/vector.js';
import { image, MODEL_DIR, tempDir, waitFor } from '../helpers/env.js';
import { buildFakeEdgetpu } from '../helpers/fakeEdgetpu.js';

const LIMITS = { maxBytes: 8 << 20, maxMegapixels: 40 };

function config(overrides: Partial<DetectorConfig> = {}): DetectorConfig {
  return {
    type: 'cpu',
    backend: 'auto',
    device: '',
    threads: 2,
    model: {
      cpu: 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite',
      edgetpu: 'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite',
    },
    edgetpu_library: 'libedgetpu.so.1',
    inference_timeout_ms: 5000,
    ...overrides,
  };
}

/** A logger whose lines the test can read. */
function capture(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  return { logger, lines };
}

async function embedFile(detector: SupervisedDetector, name: string): Promise<Float32Array> {
  const prepared = await prepareImage(readFileSync(image(name)), detector.inputSize, LIMITS);
  return detector.embed(prepared.rgb);
}

function makeDetector(
  cfg: DetectorConfig,
  extra: { logger: pino.Logger; bus?: EventBus } & Partial<SupervisedDetectorOptions>,
): SupervisedDetector {
  const { bus, ...rest } = extra;
  return new SupervisedDetector({
    config: cfg,
    modelDir: MODEL_DIR,
    manifest: loadManifest(),
    backoff: { initialMs: 50, maxMs: 500 },
    tpuRetryMs: 60_000,
    ...rest,
    ...(bus ? { onChange: (change) => bus.emit('detectorChanged', change) } : {}),
  });
}

/** Every state the detector announced on the bus, in order. */
function recordStates(bus: EventBus): DetectorState[] {
  const states: DetectorState[] = [];
  bus.on('detectorChanged', (e) => void states.push(e.state));
  return states;
}

function currentPid(detector: SupervisedDetector): number {
  return (detector as unknown as { child: { pid: number } | null }).child?.pid ?? 0;
}

/** The pid of the detector's current child, once it is not `previous`. */
function childPid(detector: SupervisedDetector, previous = 0): Promise<number> {
  return waitFor(() => (currentPid(detector) !== previous ? currentPid(detector) : 0), 20_000, 'a new detector child');
}

describe('SupervisedDetector on the CPU', () => {
  const { logger, lines } = capture();
  const bus = new EventBus(logger);
  const states = recordStates(bus);
  const detector = makeDetector(config(), { logger, bus });
  before(() => detector.start());
  after(() => detector.stop());

  it('says which backend it uses and why, in one line', () => {
    assert.equal(detector.info().type, 'cpu');
    assert.ok(lines.some((l) => l.includes('using the CPU (2 threads) because detector.type is cpu')));
  });

  it('is ready once started, and said so on the bus', () => {
    assert.equal(detector.state, 'ready');
    assert.deepEqual(states, ['ready']);
  });

  it('returns unit-length embeddings in which same-class photos are closer', async () => {
    const catTrain = await embedFile(detector, 'cat_train_0.jpg');
    const catTest = await embedFile(detector, 'cat_test_0.jpg');
    const dogTest = await embedFile(detector, 'dog_test_0.jpg');
    assert.equal(catTrain.length, 1024);
    assert.ok(Math.abs(dot(catTrain, catTrain) - 1) < 1e-4);
    assert.ok(dot(catTrain, catTest) > dot(catTrain, dogTest) + 0.1);
  });

  it('survives SIGKILL of its child and keeps answering: restarting, then ready', async () => {
    const before = await embedFile(detector, 'dog_test_0.jpg');
    const seen = states.length;
    process.kill(await childPid(detector), 'SIGKILL');
    const again = await embedFile(detector, 'dog_test_0.jpg');
    assert.ok(dot(before, again) > 0.9999, 'same input, same embedding after the restart');
    assert.equal(detector.stats().restarts, 1);
    assert.deepEqual(states.slice(seen), ['restarting', 'ready']);
    assert.equal(detector.state, 'ready');
  });

  it('rejects input of the wrong size with a clear error', async () => {
    await assert.rejects(detector.embed(new Uint8Array(10)), /input has 10 bytes, the model takes 150528/);
  });
});

describe('SupervisedDetector gives up on a child that keeps crashing', () => {
  const { logger, lines } = capture();
  const bus = new EventBus(logger);
  const states = recordStates(bus);
  const retryMs = 3000;
  const detector = makeDetector(config(), { logger, bus, giveUp: { retryMs } });
  before(() => detector.start());
  after(() => detector.stop());

  /** SIGKILLs each new child until the detector says `failed`; returns how many it took. */
  async function killUntilFailed(): Promise<number> {
    let kills = 0;
    let pid = 0;
    for (;;) {
      const next = await waitFor(
        () => (detector.state === 'failed' ? -1 : currentPid(detector) !== pid && currentPid(detector)),
        20_000,
        'a new detector child or the give-up',
      );
      if (next === -1) return kills;
      assert.ok(kills < 10, `still ${detector.state} after ${kills} kills`);
      pid = next;
      process.kill(pid, 'SIGKILL');
      kills++;
    }
  }

  it('after 5 crashes in a row without an inference: failed, and embed() is refused at once', async () => {
    const reference = await embedFile(detector, 'cat_test_0.jpg');
    const kills = await killUntilFailed();
    assert.equal(kills, 5);
    assert.equal(states.at(-1), 'failed');
    assert.ok(states.includes('restarting'));
    assert.ok(lines.some((l) => l.includes('5 crashes in 10 min without a successful inference')));
    await assert.rejects(embedFile(detector, 'cat_test_0.jpg'), (err: unknown) => {
      assert.ok(err instanceof AppError && err.code === 'detector_unavailable', String(err));
      assert.match(err.message, /the detector failed \(5 crashes .*\); it is retried every 3 s/);
      return true;
    });
    assert.equal((detector as unknown as { child: unknown }).child, null, 'no child runs while failed');
    // The one retry comes by itself; this one is killed too, and one crash is enough to give up again.
    const seen = states.length;
    process.kill(await childPid(detector), 'SIGKILL');
    await waitFor(() => states.length > seen + 1, 10_000, 'the retry to crash');
    assert.deepEqual(states.slice(seen), ['restarting', 'failed']);
    // The next retry is left alone: the cause has passed, and the detector recovers.
    await waitFor(() => detector.state === 'ready', retryMs + 20_000, 'the detector to recover');
    assert.deepEqual(states.slice(seen), ['restarting', 'failed', 'restarting', 'ready']);
    const again = await embedFile(detector, 'cat_test_0.jpg');
    assert.ok(dot(reference, again) > 0.9999, 'same input, same embedding after the recovery');
  });
});

describe('SupervisedDetector with an Edge TPU that fails', () => {
  const dir = tempDir();
  let fakeLib = '';
  before(() => {
    fakeLib = buildFakeEdgetpu(dir.path);
  });
  after(() => {
    delete process.env.FAKE_EDGETPU_MODE;
    dir.cleanup();
  });

  async function runWithMode(mode: string, timeoutMs = 5000) {
    process.env.FAKE_EDGETPU_MODE = mode;
    const { logger, lines } = capture();
    const bus = new EventBus(logger);
    const changes: Array<Events['detectorChanged']> = [];
    bus.on('detectorChanged', (e) => void changes.push(e));
    const detector = makeDetector(
      config({ type: 'edgetpu', edgetpu_library: fakeLib, device: 'usb', inference_timeout_ms: timeoutMs }),
      { logger, bus },
    );
    return { detector, lines, changes };
  }

  it('falls back to the CPU when the library is missing, without crashing', async () => {
    const { logger, lines } = capture();
    const detector = makeDetector(config({ type: 'edgetpu', edgetpu_library: '/nonexistent/libedgetpu.so.1' }), {
      logger,
    });
    await detector.start();
    try {
      assert.equal(detector.info().type, 'cpu');
      assert.equal(detector.state, 'fallback');
      assert.ok(lines.some((l) => l.includes('Edge TPU unavailable') && l.includes('/nonexistent/libedgetpu.so.1')));
      assert.equal((await embedFile(detector, 'cat_test_0.jpg')).length, 1024);
    } finally {
      await detector.stop();
    }
  });

  for (const mode of ['crash_on_load', 'crash_on_invoke']) {
    it(`survives a delegate that segfaults (${mode}) and falls back to the CPU`, async () => {
      const { detector, lines, changes } = await runWithMode(mode);
      await detector.start();
      try {
        const embedding = await embedFile(detector, 'cat_test_0.jpg');
        assert.equal(embedding.length, 1024);
        assert.equal(detector.info().type, 'cpu');
        assert.ok(detector.stats().restarts >= 3, `restarts: ${detector.stats().restarts}`);
        assert.ok(lines.some((l) => l.includes('SIGSEGV')));
        assert.ok(lines.some((l) => l.includes('falling back to the CPU')));
        assert.equal(changes.at(-1)?.type, 'cpu');
        assert.equal(detector.state, 'fallback');
        assert.equal(changes.at(-1)?.state, 'fallback');
        assert.ok(changes.some((c) => c.state === 'restarting' && c.type === 'edgetpu'), 'the Edge TPU child was restarted first');
      } finally {
        await detector.stop();
      }
    });
  }

  it('kills an inference that hangs past the timeout and falls back to the CPU', async () => {
    const { detector, lines, changes } = await runWithMode('hang_on_invoke', 800);
    await detector.start();
    try {
      assert.equal(detector.info().type, 'edgetpu');
      assert.equal(detector.state, 'ready');
      assert.equal(changes.at(-1)?.state, 'ready');
      const embedding = await embedFile(detector, 'dog_test_0.jpg');
      assert.equal(embedding.length, 1024);
      assert.equal(detector.info().type, 'cpu');
      assert.equal(detector.state, 'fallback');
      assert.ok(lines.some((l) => l.includes('inference took longer than 800 ms')));
    } finally {
      await detector.stop();
    }
  });
});
