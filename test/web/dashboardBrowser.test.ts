/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// (The functions these tests hand to page.evaluate run in the browser.)
/**
 * The dashboard in a real headless Chromium against the real agent process, a real RTSP
 * camera (GStreamer) and a real mosquitto: the live view plays, zones and labels are drawn,
 * photos dropped and a box drawn enroll classes the agent announces on MQTT, the gallery
 * deletes a shot from the store, the events page confirms and rejects, and the live ffmpeg
 * goes once nobody watches. Screenshots of every page are kept in test-output/screenshots.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { startAgentProcess, type AgentProcess } from '../helpers/agentProcess.js';
import { launchBrowser, meanLevel, pixelDifference, screenshot, SCREENSHOT_DIR, type Browser } from '../helpers/browser.js';
import { image, tempDir, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { descendants } from '../helpers/processes.js';
import { buildTestClip, startRtspServer, type RtspServer } from '../helpers/rtspServer.js';
import { cmdline } from './live/helpers.js';

const BASE = 'edge-imprint';

interface ClassRow {
  label: string;
  shots: number;
  background: boolean;
}

void describe('dashboard in Chromium against the running agent', { timeout: 420_000 }, () => {
  const dir = tempDir('edge-imprint-dash-browser-');
  let broker: Mosquitto;
  let camera: RtspServer;
  let agent: AgentProcess;
  let browser: Browser;
  let client: MqttClient;
  let classes: ClassRow[] = [];
  let url = '';

  const db = () => new BetterSqlite3(join(dir.path, 'data', 'edge-imprint.db'), { readonly: true });
  const liveFfmpegs = () => descendants(agent.pid).filter((pid) => cmdline(pid).includes('mpeg1video'));
  const page = () => browser.page;
  const open = async (name: string) => {
    await page().goto(`${url}#/${name}`);
    await page().waitForFunction((n) => document.body.dataset.ready === n, name, { timeout: 20_000 });
  };

  before(async () => {
    broker = await startMosquitto();
    // 8 s of a cat, then 4 s of a sunflower, over and over: detections start and end.
    const clip = buildTestClip(dir.path, 'door', {
      images: [image('cat_test_0.jpg'), image('cat_test_0.jpg'), image('sunflower.jpg')],
      secondsEach: 4,
      repeat: 20,
    });
    camera = await startRtspServer({ file: clip });
    agent = await startAgentProcess({
      dir: dir.path,
      config: {
        mqtt: { url: broker.url, discovery: { enabled: false } },
        detector: { type: 'cpu' },
        classifier: { off_delay_s: 1, vote: { window: 3, min_hits: 2 } },
        cameras: {
          door: {
            url: camera.url,
            fps: 2,
            zones: { all: { roi: { x: 0, y: 0, width: 1, height: 1 } }, corner: { roi: { x: 0, y: 0, width: 0.3, height: 0.3 } } },
          },
        },
      },
    });
    url = `http://127.0.0.1:${agent.httpPort}/`;
    client = await mqtt.connectAsync(broker.url);
    client.on('message', (topic, payload) => {
      if (topic === `${BASE}/classes`) classes = JSON.parse(payload.toString()) as ClassRow[];
    });
    await client.subscribeAsync(`${BASE}/classes`);
    browser = await launchBrowser();
    console.log(`# screenshots: ${SCREENSHOT_DIR}`);
  });

  after(async () => {
    await browser?.close();
    await client?.endAsync();
    await agent?.stop();
    await camera?.stop();
    await broker?.cleanup();
    dir.cleanup();
  });

  void it('Live: the camera plays (decoded, changing pictures), its zones are drawn, each with its live label', async () => {
    await open('live');
    const canvas = page().locator('canvas[data-camera="door"]');
    await page().waitForFunction(() => Number(document.querySelector('canvas')?.dataset.frames ?? 0) > 10, null, { timeout: 30_000 });
    const first = await canvas.screenshot();
    const level = await meanLevel(first);
    assert.ok(level > 5 && level < 250, `a picture, not a blank canvas (mean level ${level.toFixed(1)})`);
    // The picture changes within one cycle of the clip (cat → sunflower).
    const changed = await waitFor(async () => (await pixelDifference(first, await canvas.screenshot())) > 10, 20_000, 'the live picture to change');
    assert.ok(changed);
    assert.deepEqual(await page().locator('.stage[data-camera="door"] .zone').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.zone)), ['all', 'corner']);
    await page().waitForFunction(() => document.querySelector('[data-unit="door/all"]')?.getAttribute('data-label') !== null, null, { timeout: 20_000 });
    assert.equal(liveFfmpegs().length, 1, 'one live ffmpeg while the page watches');
    await screenshot(page(), 'live');
  });

  void it('Live: photos dropped on the picture enroll a class, which the agent announces on MQTT', async () => {
    await page().fill('.camera[data-camera="door"] input[name="label"]', 'empty');
    const files = ['sunflower.jpg', 'hot_dog.jpg'].map((name) => ({ name, b64: readFileSync(image(name)).toString('base64') }));
    const dataTransfer = await page().evaluateHandle((list) => {
      const dt = new DataTransfer();
      for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name, { type: 'image/jpeg' }));
      return dt;
    }, files);
    await page().dispatchEvent('.stage[data-camera="door"]', 'drop', { dataTransfer });
    await waitFor(() => classes.find((c) => c.label === 'empty' && c.shots === 2), 30_000, 'class "empty" with 2 shots on MQTT');
    await page().locator('.toast', { hasText: 'Enrolled "empty"' }).waitFor({ timeout: 5000 });
  });

  void it('Classes: marks a class as background, and a shot deleted from the gallery is gone from the store', async () => {
    await open('classes');
    const card = page().locator('.class[data-label="empty"]');
    await card.locator('button', { hasText: 'Mark as background' }).click();
    await waitFor(() => classes.find((c) => c.label === 'empty')?.background === true, 10_000, 'background: true on MQTT');
    await card.locator('.thumb').nth(1).waitFor({ timeout: 10_000 });
    const ids = await card.locator('.thumb').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.shot)));
    assert.equal(ids.length, 2);
    const doomed = ids[1]!;
    const store = db();
    try {
      assert.ok(store.prepare('SELECT id FROM shots WHERE id = ?').get(doomed), 'the shot is in the store before');
      await page().locator(`.class[data-label="empty"] .thumb[data-shot="${doomed}"] button.delete`).click();
      await waitFor(() => store.prepare('SELECT id FROM shots WHERE id = ?').get(doomed) === undefined, 10_000, 'the shot gone from the store');
      const left = store.prepare("SELECT s.id FROM shots s JOIN classes c ON c.id = s.class_id WHERE c.label = 'empty'").all() as Array<{ id: number }>;
      assert.deepEqual(left.map((r) => r.id), [ids[0]]);
    } finally {
      store.close();
    }
    await page().locator(`.class[data-label="empty"] .thumb[data-shot="${doomed}"]`).waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(await page().locator('.class[data-label="empty"] .thumb').count(), 1);
  });

  void it('Live: a box drawn on the picture and Enroll create the class from that crop; the agent announces it on MQTT', async () => {
    await open('live');
    const chip = page().locator('[data-unit="door/all"]');
    // The sunflower is the background now: `none` while it shows, `unknown` once the cat is back.
    await waitFor(async () => (await chip.getAttribute('data-label')) === 'none', 30_000, 'the sunflower (none)');
    await waitFor(async () => (await chip.getAttribute('data-label')) === 'unknown', 30_000, 'the cat (unknown)');
    const stage = await page().locator('.stage[data-camera="door"]').boundingBox();
    assert.ok(stage);
    const at = (fx: number, fy: number) => [stage.x + fx * stage.width, stage.y + fy * stage.height] as const;
    await page().mouse.move(...at(0.3, 0.1));
    await page().mouse.down();
    await page().mouse.move(...at(0.5, 0.5), { steps: 4 });
    await page().mouse.move(...at(0.7, 0.9), { steps: 4 });
    await page().mouse.up();
    assert.equal(await page().locator('.stage[data-camera="door"] .box').isVisible(), true, 'the box is drawn');
    await screenshot(page(), 'live-box');
    await page().fill('.camera[data-camera="door"] input[name="label"]', 'cat');
    await page().locator('.camera[data-camera="door"] button', { hasText: 'Enroll' }).click();
    await waitFor(() => classes.find((c) => c.label === 'cat' && c.shots === 1), 30_000, 'class "cat" on MQTT');
    const store = db();
    try {
      const source = store.prepare("SELECT s.source FROM shots s JOIN classes c ON c.id = s.class_id WHERE c.label = 'cat'").get() as { source: string };
      assert.equal(source.source, 'camera:door/box', 'enrolled from the box, through the camera enrollment path');
    } finally {
      store.close();
    }
  });

  void it('Events: detections are listed with snapshots, filtered by label; Right confirms, Nothing there rejects', async () => {
    await waitFor(() => {
      const store = db();
      try {
        return (store.prepare("SELECT COUNT(*) AS n FROM events WHERE label = 'cat' AND zone = 'all'").get() as { n: number }).n >= 2;
      } finally {
        store.close();
      }
    }, 90_000, 'two cat detections');
    await open('events');
    await page().fill('.filters input[aria-label="label"]', 'cat');
    await page().press('.filters input[aria-label="label"]', 'Enter');
    await page().locator('.filters select[aria-label="camera"]').selectOption('door');
    await page().waitForFunction(() => {
      const rows = [...document.querySelectorAll('.event')];
      return rows.length >= 2 && rows.every((r) => r.querySelector('b')?.textContent === 'cat');
    }, null, { timeout: 20_000 });
    const rows = page().locator('.event');
    const [first, second] = [await rows.nth(0).getAttribute('data-event'), await rows.nth(1).getAttribute('data-event')];
    assert.ok(first && second);
    assert.ok(await rows.nth(0).locator('img').count(), 'the event has its snapshot');
    assert.equal(await rows.nth(0).locator('img').evaluate((img) => (img as HTMLImageElement).naturalWidth > 0), true, 'the snapshot loads');
    await screenshot(page(), 'events');
    await page().locator(`.event[data-event="${first}"] button`, { hasText: 'Right' }).click();
    await page().locator(`.event[data-event="${first}"] button`, { hasText: 'Undo' }).waitFor({ timeout: 10_000 });
    await page().locator(`.event[data-event="${second}"] button`, { hasText: 'Nothing there' }).click();
    await page().locator(`.event[data-event="${second}"] button`, { hasText: 'Undo' }).waitFor({ timeout: 10_000 });
    const store = db();
    try {
      const correction = (id: string) => (store.prepare('SELECT correction FROM events WHERE id = ?').get(id) as { correction: string | null }).correction;
      assert.equal(correction(first), 'confirmed');
      assert.equal(correction(second), 'rejected');
      const negatives = store.prepare('SELECT class_id FROM negatives WHERE event_id = ?').all(second) as Array<{ class_id: number | null }>;
      assert.equal(negatives.length, 2, 'a negative of the class and an example of the empty scene');
    } finally {
      store.close();
    }
    await screenshot(page(), 'events-corrected');
    await open('classes');
    await page().locator('.class[data-label="cat"] .thumb').nth(1).waitFor({ timeout: 10_000 });
    assert.equal(await page().locator('.class[data-label="cat"] [data-shots]').getAttribute('data-shots'), '2', 'the confirmed event became a shot');
    await screenshot(page(), 'classes');
  });

  void it('Status: the detector (CPU, and why), the camera and its live view, the version; Live fits a phone', async () => {
    await open('status');
    assert.equal(await page().locator('[data-detector]').getAttribute('data-detector'), 'cpu');
    assert.match((await page().locator('#detector').textContent()) ?? '', /detector\.type is cpu/);
    assert.equal(await page().locator('tr[data-camera="door"] .badge').first().textContent(), 'online');
    assert.match((await page().locator('#version').textContent()) ?? '', /^\d+\.\d+\.\d+/);
    await screenshot(page(), 'status');
    // On a phone.
    await page().setViewportSize({ width: 390, height: 844 });
    await open('live');
    await page().waitForFunction(() => Number(document.querySelector('canvas')?.dataset.frames ?? 0) > 5, null, { timeout: 30_000 });
    const card = await page().locator('.camera[data-camera="door"]').boundingBox();
    assert.ok(card && card.width <= 390, 'the camera fits a phone\'s width');
    await screenshot(page(), 'live-phone');
    await page().setViewportSize({ width: 1200, height: 900 });
    assert.deepEqual(browser.errors, [], 'no console or page errors');
  });

  void it('the live ffmpeg is gone within 15 s after the last viewer left', async () => {
    await open('live');
    await waitFor(() => liveFfmpegs().length === 1, 20_000, 'the live ffmpeg for the new viewer');
    await open('status');
    const left = Date.now();
    await waitFor(() => liveFfmpegs().length === 0, 15_000, 'no live ffmpeg 15 s after the last viewer left');
    console.log(`# live ffmpeg gone ${((Date.now() - left) / 1000).toFixed(1)} s after the last viewer left`);
  });
});
