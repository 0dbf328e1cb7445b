/**
 * Child process for supervision.test.ts: runs LiveStreams on an HttpServer, watches the
 * camera at argv[2] (the test's silent server: ffmpeg waits for an answer and never writes,
 * so no broken pipe can end it), prints the live ffmpeg's pid, then waits to be SIGKILLed.
 */
import { testLogger, waitFor } from '../../helpers/env.js';
import { liveCamera, startLive, watch } from './helpers.js';

const [url = ''] = process.argv.slice(2);
const h = await startLive({ door: liveCamera(url, { stall_timeout: 60 }) }, { logger: testLogger() });
await watch(h.port, 'door');
const pid = await waitFor(() => h.live.pid('door') ?? undefined, 10_000, 'the live ffmpeg');
console.log(`FFMPEG ${pid}`);
