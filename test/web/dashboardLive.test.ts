/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// (The functions these tests hand to page.evaluate run in the browser.)
/**
 * The Live and Status pages in a real headless Chromium against the real agent process, a
 * real RTSP camera and a real mosquitto: one label chip for a camera without zones, no score
 * for none/unknown, phone photos shrunk before they are sent, and the status table showing
 * ffmpeg's cause without breaking words.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import sharp from 'sharp';
import { startAgentProcess, type AgentProcess } from '../helpers/agentProcess.js';
import { launchBrowser, screenshot, type Browser } from '../helpers/browser.js';
import { image, tempDir, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { buildTestClip, startRtspServer, type RtspServer } from '../helpers/rtspServer.js';

const BASE = 'edge-imprint';

/** A 4000x3000 photo of noise: JPEG cannot make it small, as a phone's 12 MP photo of a busy scene. */
async function bigPhoto(): Promise<Buffer> {
  const raw = randomBytes(4000 * 3000 * 3);
  return sharp(raw, { raw: { width: 4000, height: 3000, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
}

void describe('dashboard Live and Status pages in Chromium', { timeout: 300_000 }, () => {
  const dir = tempDir('edge-imprint-dash-live-');
  let broker: Mosquitto;
  let camera: RtspServer;
  let agent: AgentProcess;
  let browser: Browser;
  let client: MqttClient;
  let classes: Array<{ label: string; shots: number }> = [];
  let url = '';
  const page = () => browser.page;
  const open = async (name: string) => {
    await page().goto(`${url}#/${name}`);
    await page().waitForFunction((n) => document.body.dataset.ready === n, name, { timeout: 20_000 });
  };

  before(async () => {
    broker = await startMosquitto();
    const clip = buildTestClip(dir.path, 'door', { images: [image('sunflower.jpg')], secondsEach: 4, repeat: 20 });
    camera = await startRtspServer({ file: clip });
    agent = await startAgentProcess({
      dir: dir.path,
      config: {
        mqtt: { url: broker.url, discovery: { enabled: false } },
        detector: { type: 'cpu' },
        cameras: {
          // No zones, no pixel roi: the chip is drawn before the stream's size is known, then again.
          door: { url: camera.url, fps: 2 },
          // The config refuses htp:// itself; behind file:// it reaches ffmpeg, which then says
          // "Protocol not found" and, last, "Did you mean file:htp://cam/stream?".
          broken: { url: 'file://htp://cam/stream', fps: 1 },
        },
      },
    });
    url = `http://127.0.0.1:${agent.httpPort}/`;
    client = await mqtt.connectAsync(broker.url);
    client.on('message', (topic, payload) => {
      if (topic === `${BASE}/classes`) classes = JSON.parse(payload.toString()) as typeof classes;
    });
    await client.subscribeAsync(`${BASE}/classes`);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await client?.endAsync();
    await agent?.stop();
    await camera?.stop();
    await broker?.cleanup();
    dir.cleanup();
  });

  void it('Live: one label chip for the whole frame, updated, with no score for none/unknown', async () => {
    await open('live');
    await page().waitForFunction(() => Number(document.querySelector<HTMLCanvasElement>('canvas[data-camera="door"]')?.dataset.frames ?? 0) > 5, null, { timeout: 30_000 });
    const chip = page().locator('.stage[data-camera="door"] .chip');
    await page().waitForFunction(() => document.querySelector('.stage[data-camera="door"] .chip[data-label]') !== null, null, { timeout: 30_000 });
    assert.equal(await chip.count(), 1, 'one chip for the whole frame');
    const label = await chip.getAttribute('data-label');
    assert.ok(label === 'none' || label === 'unknown', `no class is enrolled yet, got ${label}`);
    assert.equal((await chip.textContent())?.trim(), label, 'no score beside none/unknown');
    await screenshot(page(), 'live-chip');
  });

  void it('Live: two 12 MP photos enroll, sent shrunk (the request body is small)', async () => {
    const photos = await Promise.all([bigPhoto(), bigPhoto()]);
    for (const p of photos) assert.ok(p.length > 4 * 1024 * 1024, `a big photo (${p.length} bytes)`);
    const bodies: number[] = [];
    page().on('request', (r) => {
      if (r.url().endsWith('api/command/class/enroll')) bodies.push(r.postDataBuffer()?.length ?? 0);
    });
    await page().fill('.camera[data-camera="door"] input[name="label"]', 'noise');
    const files = photos.map((p, i) => ({ name: `phone${i}.jpg`, b64: p.toString('base64') }));
    const dataTransfer = await page().evaluateHandle((list) => {
      const dt = new DataTransfer();
      for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: 'image/jpeg' }));
      return dt;
    }, files);
    await page().dispatchEvent('.stage[data-camera="door"]', 'drop', { dataTransfer });
    await page().locator('.toast', { hasText: 'Enrolled "noise"' }).waitFor({ timeout: 60_000 });
    await waitFor(() => classes.find((c) => c.label === 'noise' && c.shots === 2), 20_000, 'class "noise" with 2 shots on MQTT');
    assert.equal(bodies.length, 1);
    assert.ok((bodies[0] ?? Infinity) < 3 * 1024 * 1024, `the body the agent received is small (${bodies[0]} bytes)`);
  });

  void it('Live: a photo with its background removed (transparent PNG) is sent as a PNG, its transparency kept', async () => {
    // The cat cut out as an ellipse, transparent round it: what a phone's "lift subject" gives.
    const cat = await sharp(image('cat_test_0.jpg')).resize(400, 300, { fit: 'fill' }).ensureAlpha().raw().toBuffer();
    for (let y = 0; y < 300; y++) for (let x = 0; x < 400; x++) if (((x - 200) / 150) ** 2 + ((y - 150) / 120) ** 2 > 1) cat[(y * 400 + x) * 4 + 3] = 0;
    const png = await sharp(cat, { raw: { width: 400, height: 300, channels: 4 } }).png().toBuffer();
    const sent: string[] = [];
    page().on('request', (r) => {
      if (r.url().endsWith('api/command/class/enroll')) sent.push(r.postData() ?? '');
    });
    await page().fill('.camera[data-camera="door"] input[name="label"]', 'cutout_cat');
    const dataTransfer = await page().evaluateHandle((b64) => {
      const dt = new DataTransfer();
      dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], 'cat.png', { type: 'image/png' }));
      return dt;
    }, png.toString('base64'));
    const answered = page().waitForResponse((r) => r.url().endsWith('api/command/class/enroll'), { timeout: 60_000 });
    await page().dispatchEvent('.stage[data-camera="door"]', 'drop', { dataTransfer });
    const answer = JSON.stringify(await (await answered).json());
    await page().locator('.toast', { hasText: 'Enrolled "cutout_cat"' }).waitFor({ timeout: 60_000 });
    const body = JSON.parse(sent.at(-1) ?? '{}') as { images?: string[] };
    const bytes = Buffer.from((body.images?.[0] ?? '').replace(/^data:[^,]*,/, ''), 'base64');
    const meta = await sharp(bytes).metadata();
    assert.equal(meta.format, 'png', 'a PNG, not a JPEG that would lose the transparency');
    const { data } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    assert.equal(data[3], 0, 'the corner is still transparent');
    // No note that no object stood out: the agent took the cut-out as its object.
    assert.ok(answer.includes('"cutout_cat"') && !answer.includes('no_object_in_photo'), answer);
  });

  void it('Status: the last error is ffmpeg\'s cause, and the camera table breaks no word, on a phone', async () => {
    await page().setViewportSize({ width: 390, height: 844 });
    await open('status');
    const err = page().locator('tr[data-camera="broken"] td.err');
    await waitFor(async () => ((await err.textContent()) ?? '') !== '', 30_000, 'the broken camera\'s last error');
    // Every word of the table on one line: a word whose range has two boxes was broken.
    const broken = await page().evaluate(() => {
      const out: string[] = [];
      const walker = document.createTreeWalker(document.querySelector('table.cameras') ?? document.body, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const value = node.nodeValue ?? '';
        for (const m of value.matchAll(/\S+/g)) {
          const range = document.createRange();
          range.setStart(node, m.index ?? 0);
          range.setEnd(node, (m.index ?? 0) + m[0].length);
          if ([...range.getClientRects()].filter((r) => r.width > 0).length > 1) out.push(m[0]);
        }
      }
      return out;
    });
    assert.deepEqual(broken, [], 'words broken across lines');
    const text = (await err.textContent()) ?? '';
    assert.match(text, /htp:\/\/cam\/stream: Protocol not found \(unsupported URL scheme\)/);
    assert.doesNotMatch(text, /Did you mean/);
    await screenshot(page(), 'status-phone');
    await page().setViewportSize({ width: 1200, height: 900 });
  });
});
