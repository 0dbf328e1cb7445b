/** Worker thread: fine-tunes off the main thread, which serves cameras and MQTT meanwhile. */
import { parentPort } from 'node:worker_threads';
import { fineTune, type LabelledShots } from './fineTune.js';

parentPort?.on('message', (message: { id: number; classes: LabelledShots[] }) => {
  try {
    parentPort?.postMessage({ id: message.id, result: fineTune(message.classes) });
  } catch (err) {
    parentPort?.postMessage({ id: message.id, error: err instanceof Error ? err.message : String(err) });
  }
});
