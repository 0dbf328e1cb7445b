/**
 * The real fine-tuning worker (src/recognition/tuneWorker.ts) with one difference: a class
 * named `poison-exit` or `poison-throw` ends the worker mid-tune, by process.exit() or by
 * an exception outside any handler, as an out-of-memory kill or a bug in a dependency
 * would. Everything else is tuned for real.
 */
import { parentPort } from 'node:worker_threads';
import { fineTune, type LabelledShots } from '../../src/recognition/fineTune.js';

parentPort?.on('message', (message: { id: number; classes: LabelledShots[] }) => {
  const labels = message.classes.map((c) => c.label);
  if (labels.includes('poison-exit')) process.exit(3);
  if (labels.includes('poison-throw')) throw new Error('poisoned shots');
  parentPort?.postMessage({ id: message.id, result: fineTune(message.classes) });
});
