/** The salient-object model (imprinting/salientModel.ts) with the real U²-Net-p file, and its pure parts. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import sharp from 'sharp';
import { SALIENT_SIDE, SalientModel, salientInput, salientMap } from '../../src/imprinting/salientModel.js';
import type { Raster } from '../../src/recognition/foreground.js';
import { salientObject } from '../../src/recognition/photoObject.js';
import { MODEL_DIR, image, tempDir, testLogger } from '../helpers/env.js';

const W = 320;
const H = 240;

async function photo(name: string): Promise<Raster> {
  const { data } = await sharp(image(name)).resize(W, H, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: W, height: H };
}

describe('SalientModel: U²-Net-p finds the photographed object', () => {
  const model = new SalientModel({ modelPath: join(MODEL_DIR, 'u2netp.onnx'), logger: testLogger() });
  after(() => model.stop());

  it('finds the owl in a real photo of an owl standing in grass, and little else', async () => {
    await model.start();
    const owl = await photo('owl.jpg');
    const map = await model.saliency(owl);
    assert.ok(map, 'the model file is installed (npm test installs it)');
    assert.equal(map.length, W * H);
    const high = map.filter((v) => v >= 0.9).length / map.length;
    const low = map.filter((v) => v <= 0.1).length / map.length;
    assert.ok(high > 0.05 && low > 0.3, `an object apart from its place (${(100 * high).toFixed(0)} % high, ${(100 * low).toFixed(0)} % low)`);
    const v = salientObject(owl, map);
    assert.ok(v);
    const cx = v.box.x + v.box.width / 2;
    const cy = v.box.y + v.box.height / 2;
    // The owl stands in the middle third, from near the top to the bottom edge; grass all round.
    assert.ok(cx > 0.35 && cx < 0.6 && cy > 0.4 && cy < 0.7, `centred on the owl (${cx.toFixed(2)}, ${cy.toFixed(2)})`);
    assert.ok(v.box.width < 0.5, `the grass beside it left out (width ${v.box.width.toFixed(2)})`);
  });

  it('opens its session again for the next photo after letting it go', async () => {
    await model.stop();
    const again = await model.saliency(await photo('sunflower.jpg'));
    assert.ok(again && again.some((v) => v >= 0.9));
  });

  it('finds nothing in a defocused picture (its answer stays near 0, not stretched into blobs)', async () => {
    const { data } = await sharp(image('sunflower.jpg')).resize(W, H, { fit: 'fill' }).blur(25).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const blurred: Raster = { data: new Uint8Array(data), width: W, height: H };
    const map = await model.saliency(blurred);
    assert.ok(map);
    assert.ok(Math.max(...map) < 0.5, `max ${Math.max(...map).toFixed(2)}`);
    assert.equal(salientObject(blurred, map), null);
  });

  it('gives up a file that does not load: that photo fails, the next ones answer null (the border search)', async () => {
    const dir = tempDir('edge-imprint-salient-');
    try {
      const path = join(dir.path, 'u2netp.onnx');
      writeFileSync(path, 'not a model');
      const lines: string[] = [];
      const broken = new SalientModel({ modelPath: path, logger: pino({ level: 'warn' }, { write: (l: string) => lines.push(l) }) });
      await broken.start();
      await assert.rejects(broken.saliency(await photo('owl.jpg')));
      assert.equal(await broken.saliency(await photo('owl.jpg')), null);
      assert.equal(lines.filter((l) => l.includes('failed to load')).length, 1);
      await broken.stop();
    } finally {
      dir.cleanup();
    }
  });

  it('answers null without its file, and says once at start how photos are searched instead', async () => {
    const lines: string[] = [];
    const missing = new SalientModel({ modelPath: join(MODEL_DIR, 'no-such-model.onnx'), logger: pino({ level: 'warn' }, { write: (l: string) => lines.push(l) }) });
    await missing.start();
    assert.equal(await missing.saliency(await photo('sunflower.jpg')), null);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /searched for their object by colour/);
    await missing.stop();
  });
});

describe('the model\'s input and output', () => {
  it('scales by the picture\'s brightest value, then ImageNet\'s mean and spread, planar', () => {
    const rgb = Uint8Array.from([100, 50, 0, 200, 100, 50]);
    const input = salientInput(rgb);
    // Pixel 0's red is 100/200 of the brightest: (0.5 - 0.485) / 0.229; planes: R R G G B B.
    assert.ok(Math.abs(input[0]! - (0.5 - 0.485) / 0.229) < 1e-6);
    assert.ok(Math.abs(input[1]! - (1 - 0.485) / 0.229) < 1e-6);
    assert.ok(Math.abs(input[2]! - (0.25 - 0.456) / 0.224) < 1e-6);
    assert.ok(Math.abs(input[4]! - (0 - 0.406) / 0.225) < 1e-6);
    assert.equal(SALIENT_SIDE, 320);
  });

  it('keeps the model\'s own scale, so that a picture it finds nothing in stays dark', () => {
    assert.deepEqual([...salientMap(Float32Array.from([0, 0.5, 1, 1.2, -0.1]))], [0, 128, 255, 255, 0]);
    assert.deepEqual([...salientMap(Float32Array.from([0.01, 0.02]))], [3, 5]);
  });
});
