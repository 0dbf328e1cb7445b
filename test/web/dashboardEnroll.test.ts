/// <reference lib="dom" />
// (The functions these tests hand to page.evaluate run in the browser.)
/**
 * Issue 16 on the Live page, in a real headless Chromium against the real agent process, a real
 * RTSP camera with two zones and a real mosquitto: a box drawn over a dog offers the box, the
 * zone under it and the whole camera; enrolled, the answer says where the class is recognised
 * and the zone later reports it when the dog comes back, while the same view without zones
 * outlines it with its box. Without a box a zone can be chosen.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { dogInGardenClip, DOG_BOX } from '../camera/fixtures.js';
import { startAgentProcess, type AgentProcess } from '../helpers/agentProcess.js';
import { launchBrowser, screenshot, type Browser } from '../helpers/browser.js';
import { tempDir, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { startRtspServer, type RtspServer } from '../helpers/rtspServer.js';

const BASE = 'edge-imprint';
const CARD = '.camera[data-camera="door"]';

void describe('dashboard Live: enroll from a box or a zone, in Chromium', { timeout: 300_000 }, () => {
  const dir = tempDir('edge-imprint-dash-enroll-');
  let broker: Mosquitto;
  let camera: RtspServer;
  let agent: AgentProcess;
  let browser: Browser;
  let client: MqttClient;
  /** Each zone's labels as the agent published them, changes only. */
  const labels: Record<string, string[]> = { path: [], bed: [] };
  const lastEnrollments: Array<Record<string, unknown>> = [];
  const page = () => browser.page;
  const targets = () => page().locator(`${CARD} select[name="target"] option`).evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));

  before(async () => {
    broker = await startMosquitto();
    // The garden for 16 s (the zones learn their empty scene), the dog in the bed zone until 46 s, gone until 56 s, then back.
    const clip = dogInGardenClip(`${dir.path}/garden.mp4`, 'between(t,16,46)+gte(t,56)', 150);
    camera = await startRtspServer({ file: clip });
    client = await mqtt.connectAsync(broker.url);
    client.on('message', (topic, payload) => {
      const zone = /^edge-imprint\/door\/(\w+)\/label$/.exec(topic)?.[1];
      const list = zone === undefined ? undefined : labels[zone];
      if (list && list.at(-1) !== payload.toString()) list.push(payload.toString());
      if (topic === `${BASE}/last_enrollment`) lastEnrollments.push(JSON.parse(payload.toString()) as Record<string, unknown>);
    });
    await client.subscribeAsync([`${BASE}/door/+/label`, `${BASE}/last_enrollment`]);
    agent = await startAgentProcess({
      dir: dir.path,
      config: {
        mqtt: { url: broker.url, discovery: { enabled: false } },
        detector: { type: 'cpu' },
        classifier: { off_delay_s: 1 },
        cameras: {
          door: {
            url: camera.url,
            fps: 4,
            stall_timeout: 5,
            zones: { path: { roi: { x: 0, y: 0, width: 0.5, height: 1 } }, bed: { roi: { x: 0.5, y: 0, width: 0.5, height: 1 } } },
          },
          // The same view without zones: the box class is found in a region of the frame there.
          yard: { url: camera.url, fps: 4, stall_timeout: 5 },
        },
      },
    });
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

  void it('a box over the dog: offers the box, its zone and the whole camera; the answer says where; the zone reports it when it is back', async () => {
    await page().goto(`http://127.0.0.1:${agent.httpPort}/#/live`);
    await page().waitForFunction(() => document.body.dataset.ready === 'live', null, { timeout: 20_000 });
    assert.deepEqual(await targets(), ['zone:path', 'zone:bed', 'camera'], 'without a box: each zone, then the whole camera');

    // The zone learned its empty scene (`none`), then the dog came: something, no class yet.
    const bed = labels.bed!;
    await waitFor(() => bed.includes('none') && bed.lastIndexOf('unknown') > bed.indexOf('none'), 90_000, () => `the scene, then the dog (bed: ${bed.join(' ')})`);

    const stage = await page().locator(`.stage[data-camera="door"]`).boundingBox();
    assert.ok(stage);
    const at = (fx: number, fy: number) => [stage.x + fx * stage.width, stage.y + fy * stage.height] as const;
    await page().mouse.move(...at(DOG_BOX.x, DOG_BOX.y));
    await page().mouse.down();
    await page().mouse.move(...at(DOG_BOX.x + DOG_BOX.width / 2, DOG_BOX.y + DOG_BOX.height / 2), { steps: 3 });
    await page().mouse.move(...at(DOG_BOX.x + DOG_BOX.width, DOG_BOX.y + DOG_BOX.height), { steps: 3 });
    await page().mouse.up();
    assert.deepEqual(await targets(), ['box', 'zone:bed', 'camera'], 'with a box: the box, the zone under it, the whole camera');
    assert.equal(await page().locator(`${CARD} select[name="target"]`).inputValue(), 'box');

    const bodies: Array<Record<string, unknown>> = [];
    page().on('request', (r) => {
      if (r.url().endsWith('api/command/class/enroll')) bodies.push(JSON.parse(r.postData() ?? '{}') as Record<string, unknown>);
    });
    await page().fill(`${CARD} input[name="label"]`, 'rex');
    await page().click(`${CARD} button.primary`);
    const toast = page().locator('.toast', { hasText: 'Enrolled "rex"' });
    await toast.waitFor({ timeout: 60_000 });
    assert.match((await toast.textContent()) ?? '', /Recognised in .*door\/bed \(residual\)/);
    await screenshot(page(), 'live-enroll-box');
    const box = bodies[0]?.box as Record<string, number> | undefined;
    assert.ok(box && Math.abs(box.x! - DOG_BOX.x) < 0.02 && Math.abs(box.width! - DOG_BOX.width) < 0.02, JSON.stringify(bodies));
    assert.equal(bodies[0]?.zone, undefined);
    await waitFor(() => lastEnrollments.find((e) => e.label === 'rex' && e.source === 'dashboard' && e.box === true), 10_000, 'Last enrollment from the dashboard');

    // The dog leaves (the garden again), then comes back: the zone reports rex, on the page too.
    const left = bed.length;
    await waitFor(() => bed.indexOf('none', left) >= 0, 40_000, () => `the dog to leave (bed: ${bed.slice(left).join(' ')})`);
    const back = bed.indexOf('none', left);
    await waitFor(() => bed.indexOf('rex', back) >= 0, 40_000, () => `rex reported when back (bed: ${bed.slice(back).join(' ')})`);
    await page().locator(`.stage[data-camera="door"] .chip[data-unit="door/bed"][data-label="rex"]`).waitFor({ timeout: 10_000 });
    // On the camera without zones the page outlines rex where the dog is.
    // Each result redraws the outline (and one whose region did not name rex removes it), so
    // it is measured when it is there: an outline found and gone before it was measured is retried.
    const outline = page().locator(`.stage[data-camera="yard"] .detection[data-label="rex"]`);
    const measure = async (): Promise<{ x: number; y: number; width: number; height: number } | undefined> =>
      (await outline.count()) > 0 ? ((await outline.boundingBox({ timeout: 1000 }).catch(() => null)) ?? undefined) : undefined;
    const drawn = await waitFor(measure, 30_000, 'rex outlined on the camera without zones');
    const yard = await page().locator(`.stage[data-camera="yard"]`).boundingBox();
    assert.ok(yard);
    const centre = { x: (drawn.x + drawn.width / 2 - yard.x) / yard.width, y: (drawn.y + drawn.height / 2 - yard.y) / yard.height };
    assert.ok(
      centre.x > DOG_BOX.x && centre.x < DOG_BOX.x + DOG_BOX.width && centre.y > DOG_BOX.y && centre.y < DOG_BOX.y + DOG_BOX.height,
      `the outline's centre ${JSON.stringify(centre)} lies on the dog ${JSON.stringify(DOG_BOX)}`,
    );
    await screenshot(page(), 'live-enroll-box-recognised');
  });

  void it('without a box: the zone chosen is enrolled (the request names it; the empty zone is warned about)', async () => {
    assert.deepEqual(await targets(), ['zone:path', 'zone:bed', 'camera'], 'the box is cleared after an enrollment');
    const bodies: Array<Record<string, unknown>> = [];
    page().on('request', (r) => {
      if (r.url().endsWith('api/command/class/enroll')) bodies.push(JSON.parse(r.postData() ?? '{}') as Record<string, unknown>);
    });
    await page().selectOption(`${CARD} select[name="target"]`, 'zone:path');
    await page().fill(`${CARD} input[name="label"]`, 'lawn');
    await page().click(`${CARD} button.primary`);
    const toast = page().locator('.toast', { hasText: 'Enrolled "lawn"' });
    await toast.waitFor({ timeout: 60_000 });
    assert.deepEqual(bodies, [{ label: 'lawn', camera: 'door', zone: 'path' }]);
    assert.match((await toast.textContent()) ?? '', /door\/path \(residual\)/);
    // The path zone shows only the garden: the answer warns, and the page shows it.
    await page().locator('.toast', { hasText: /looks_like_scene.*zone "path"/ }).waitFor({ timeout: 5000 });
    const shown = await waitFor(() => lastEnrollments.find((e) => e.label === 'lawn'), 10_000, 'Last enrollment of lawn');
    assert.equal(shown.result, 'warning');
    assert.equal(shown.zone, 'path');
  });
});
