/**
 * An in-process fleet node for the fast gallery tests: the real inference core (CPU model),
 * its gallery book, one real MQTT connection and the gallery sync, wired as src/app.ts does.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import type { AppConfig } from '../../src/config/types.js';
import { jpegToInput } from '../../src/media/image.js';
import { EventBus } from '../../src/eventBus.js';
import { GallerySync } from '../../src/fleet/gallerySync.js';
import { connectionOptions } from '../../src/mqtt/clientOptions.js';
import { MqttConnection } from '../../src/mqtt/connection.js';
import { readFileSync } from 'node:fs';
import { image, waitFor } from '../helpers/env.js';
import { startImprinting, type StartedImprinting } from '../helpers/imprinting.js';

export interface FleetNode {
  name: string;
  core: StartedImprinting;
  sync: GallerySync;
  connection: MqttConnection;
  /** Every log line so far (JSON). */
  logs: string[];
  stop(): Promise<void>;
}

export async function startNode(opts: {
  name: string;
  url: string;
  dataDir: string;
  gallery?: Partial<AppConfig['gallery']>;
}): Promise<FleetNode> {
  const logs: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(chunk.toString());
        done();
      },
    }),
  );
  const bus = new EventBus(logger);
  const core = await startImprinting({
    dataDir: opts.dataDir,
    bus,
    config: (c) => ({ ...c, node_id: opts.name, mqtt: { ...c.mqtt, client_id: `edge-imprint-${opts.name}` }, detector: { ...c.detector, type: 'cpu' }, gallery: { ...c.gallery, sync: true, ...opts.gallery } }),
  });
  const { config } = core;
  const connection = new MqttConnection(connectionOptions({ ...config.mqtt, protocol_version: 5 }, opts.name, opts.url), logger.child({ part: 'mqtt' }));
  await connection.start();
  const detector = core.core.detector;
  const sync = new GallerySync({
    transport: connection,
    book: core.core.gallery!,
    bus,
    config: config.gallery,
    nodeId: opts.name,
    modelId: () => detector.modelId(),
    embedThumbnail: async (jpeg) => detector.embed(await jpegToInput(jpeg, detector.inputSize)),
    changed: () => core.imprinter.notifyChanged(),
    logger: logger.child({ part: 'gallery' }),
    compactEveryMs: 60_000,
  });
  await sync.start();
  return {
    name: opts.name,
    core,
    sync,
    connection,
    logs,
    async stop() {
      await sync.stop();
      await connection.stop();
      await core.stop();
    },
  };
}

/**
 * Waits until the node classifies a test photo as `label`: its recognizer takes a change a
 * moment after its class list shows it (one reload per burst of gallery messages).
 */
export function recognizes(n: FleetNode, picture: string, label: string, timeoutMs = 15_000): Promise<unknown> {
  const bytes = readFileSync(image(picture));
  return waitFor(async () => (await n.core.imprinter.classifyImage(bytes)).label === label, timeoutMs, `${n.name} to see ${picture} as ${label}`);
}
