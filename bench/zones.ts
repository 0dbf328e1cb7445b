/**
 * What zones cost (issue 9): a camera with N zones is one ffmpeg and one decode; its N crops
 * go to the detector back to back. Per frame, the time from the first crop's inference start
 * to the last one's decision, against the sum of that frame's N embeddings (each the
 * detector's round trip from the agent, IPC included, timed in the same frame) plus 2 ms:
 * everything zones add beyond the embeddings themselves must fit in the 2 ms.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CameraManager } from '../src/pipeline/cameraManager.js';
import type { ScheduledResult } from '../src/pipeline/scheduler.js';
import { loadConfig } from '../src/config/load.js';
import type { AppConfig, ZoneConfig } from '../src/config/types.js';
import { Core } from '../src/core.js';
import { EventBus } from '../src/eventBus.js';
import { cameraConfig } from '../test/camera/fixtures.js';
import { buildTestClip } from '../test/helpers/rtspServer.js';
import { median, ms, type Report } from './report.js';
import { benchLogger, FIXTURE_IMAGES, MODEL_DIR, tempDir } from './setup.js';

const MEASURE_MS = 8000;

/** N side-by-side zones over the lower half of the frame. */
function zonesOf(n: number): Record<string, ZoneConfig> {
  return Object.fromEntries(
    Array.from({ length: n }, (_, i) => [`z${i}`, { roi: { x: i / n, y: 0.5, width: 1 / n, height: 0.5 }, classes: [] }]),
  );
}

interface FrameCost {
  /** First inference start to last decision. */
  frame: number;
  /** The frame's embeddings, summed. */
  embeddings: number;
}

async function frameCosts(core: Core, config: AppConfig, clip: string, n: number): Promise<FrameCost[]> {
  const costs: FrameCost[] = [];
  let embedded = 0;
  const manager = new CameraManager({
    config: { cameras: { bench: cameraConfig({ url: clip, fps: 4, zones: zonesOf(n) }) }, classifier: config.classifier },
    bus: new EventBus(benchLogger()),
    logger: benchLogger(),
    classify: async (rgb, unit) => {
      const started = performance.now();
      const x = await core.detector.embed(rgb);
      embedded += performance.now() - started;
      return core.service.classifyEmbedding(x, unit);
    },
    observe: (unit, result, active) => core.service.observe(unit, result, active),
    inputSize: core.detector.inputSize,
    clock: () => performance.now(),
    onResult: (r: ScheduledResult) => {
      if (r.units.every((u) => !u.reused)) costs.push({ frame: r.finishedAt - r.startedAt, embeddings: embedded });
      embedded = 0;
    },
  });
  await manager.start();
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  await manager.stop();
  return costs.slice(3); // the first frames warm caches up
}

export async function runZonesBench(report: Report): Promise<void> {
  const dir = tempDir();
  const loaded = loadConfig({ env: {}, overrides: { data_dir: join(dir.path, 'data'), model_dir: MODEL_DIR } });
  const config: AppConfig = { ...loaded, detector: { ...loaded.detector, type: 'cpu' } };
  const core = new Core({ config, logger: benchLogger() });
  await core.start();
  try {
    const photo = (f: string) => readFileSync(join(FIXTURE_IMAGES, f));
    await core.service.enrollImages('cat', [photo('cat_train_0.jpg')], { source: 'bench' });
    await core.service.enrollImages('dog', [photo('dog_train_0.jpg')], { source: 'bench' });
    const clip = buildTestClip(dir.path, 'zones', { secondsEach: 3, repeat: 4, fps: 10 });
    for (const n of [1, 2, 4]) {
      const costs = await frameCosts(core, config, clip, n);
      const frame = median(costs.map((c) => c.frame));
      const embeddings = median(costs.map((c) => c.embeddings));
      const overhead = median(costs.map((c) => c.frame - c.embeddings));
      report.add({
        section: 'zones',
        figure: `one frame with ${n} zone${n > 1 ? 's' : ''} (medians of ${costs.length} frames): frame − its ${n} embedding${n > 1 ? 's' : ''}`,
        value: `${ms(frame)} − ${ms(embeddings)} = ${ms(overhead)} (${ms(embeddings / n)} per embedding)`,
        target: `≤ 2 ms beyond ${n} × one embedding`,
        ok: overhead <= 2,
      });
    }
  } finally {
    await core.stop();
    dir.cleanup();
  }
}
