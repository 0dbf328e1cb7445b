/**
 * Child process for crash.test.ts: runs a CameraManager, prints its ffmpeg pid, then dies
 * the way argv[3] says. With argv[4] the camera URL is that (the test's silent server,
 * which accepts and never answers, so ffmpeg never writes and no broken pipe can end it).
 */
import { spawnSync } from 'node:child_process';
import pino from 'pino';
import { CameraManager } from '../../src/pipeline/cameraManager.js';
import { EventBus } from '../../src/eventBus.js';
import { cameraConfig, classifierConfig, INPUT_SIZE } from './fixtures.js';

const [clip, mode, silentUrl] = process.argv.slice(2);
const logger = pino({ level: 'silent' });
const bus = new EventBus(logger);

function reportAndDie(): void {
  const pids = spawnSync('pgrep', ['-P', String(process.pid), 'ffmpeg'], { encoding: 'utf8' }).stdout.trim();
  console.log(`FFMPEG ${pids}`);
  if (mode === 'exit') setTimeout(() => process.exit(3), 100);
  if (mode === 'throw') {
    setTimeout(() => {
      throw new Error('boom');
    }, 100);
  }
  // 'hang': wait to be SIGKILLed by the test.
}

const url = silentUrl ?? clip ?? '';
const manager = new CameraManager({
  config: { cameras: { c: cameraConfig({ url, fps: 5 }) }, classifier: classifierConfig() },
  bus,
  logger,
  classify: async () => ({ label: 'none', score: 1, scores: {} }),
  inputSize: INPUT_SIZE,
});
if (silentUrl) setTimeout(reportAndDie, 1000);
else bus.on('cameraStatus', (e) => void (e.status === 'online' && reportAndDie()));
await manager.start();
