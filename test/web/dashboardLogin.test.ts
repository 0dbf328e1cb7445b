/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// (The functions these tests hand to page.evaluate run in the browser.)
/**
 * The running agent bound beyond loopback (as the Docker image is, on 0.0.0.0), seen from a
 * real Chromium: without a password nothing but /health is served and the page says how to
 * set one; with a password every page, API and the live view need the login, and after it
 * the dashboard and its live video work.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startAgentProcess, type AgentProcess } from '../helpers/agentProcess.js';
import { launchBrowser, screenshot, type Browser } from '../helpers/browser.js';
import { freePort, image, tempDir } from '../helpers/env.js';
import { buildTestClip } from '../helpers/rtspServer.js';
import { refusal } from './live/helpers.js';

const PASSWORD = 'open-sesame-4711';

const PAGES_AND_APIS = [
  '/',
  '/api/session',
  '/api/cameras',
  '/api/status',
  '/api/classes',
  '/api/events',
  '/api/shots?label=cat',
  '/api/shots/1.jpg',
  '/api/events/x.jpg',
  '/api/cameras/door.jpg',
  '/api/stream',
];

void describe('the agent bound beyond loopback', { timeout: 300_000 }, () => {
  const dir = tempDir('edge-imprint-dash-login-');
  let clip: string;
  let browser: Browser;

  const start = (env: NodeJS.ProcessEnv = {}): Promise<AgentProcess> =>
    freePort().then((mqttPort) =>
      startAgentProcess({
        dir: dir.path,
        config: {
          mqtt: { embedded: { port: mqttPort }, discovery: { enabled: false } },
          detector: { type: 'cpu' },
          cameras: { door: { url: clip, fps: 1 } },
        },
        // As the Docker image does it.
        env: { EDGE_IMPRINT_HTTP_HOST: '0.0.0.0', ...env },
      }),
    );

  before(async () => {
    clip = buildTestClip(dir.path, 'door', { images: [image('cat_test_0.jpg'), image('sunflower.jpg')], secondsEach: 3, repeat: 10 });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    dir.cleanup();
  });

  void it('without a password refuses the dashboard, its API and the live view, saying how to set one; /health answers', async () => {
    const agent = await start();
    try {
      const base = `http://127.0.0.1:${agent.httpPort}`;
      const res = await browser.page.goto(`${base}/`);
      assert.equal(res?.status(), 503);
      assert.match((await browser.page.textContent('body')) ?? '', /set a password[\s\S]*EDGE_IMPRINT_HTTP_AUTH_PASSWORD_FILE/);
      await screenshot(browser.page, 'refused');
      for (const path of PAGES_AND_APIS) assert.equal((await fetch(`${base}${path}`)).status, 503, path);
      assert.equal((await fetch(`${base}/api/command/class/list`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).status, 503);
      assert.equal(await refusal(agent.httpPort, '/live/door'), 401);
      assert.equal((await fetch(`${base}/health`)).status, 200);
      assert.match(agent.log(), /refuses everyone until http\.auth\.password/);
    } finally {
      await agent.stop();
    }
  });

  void it('with a password (from a file) needs the login for everything but /health; after it the dashboard and its live video work', async () => {
    const passwordFile = join(dir.path, 'dashboard_password');
    writeFileSync(passwordFile, `${PASSWORD}\n`);
    const agent = await start({ EDGE_IMPRINT_HTTP_AUTH_PASSWORD_FILE: passwordFile });
    try {
      const base = `http://127.0.0.1:${agent.httpPort}`;
      for (const path of PAGES_AND_APIS) assert.equal((await fetch(`${base}${path}`)).status, 401, path);
      assert.equal((await fetch(`${base}/api/command/class/list`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).status, 401);
      assert.equal(await refusal(agent.httpPort, '/live/door'), 401);
      assert.equal((await fetch(`${base}/health`)).status, 200);

      const { page } = browser;
      await page.goto(`${base}/`);
      await page.locator('input[name="password"]').waitFor();
      await screenshot(page, 'login');
      await page.fill('input[name="password"]', 'not-the-password');
      await page.click('button[type="submit"]');
      await page.locator('.error', { hasText: 'Wrong password' }).waitFor();
      await page.fill('input[name="password"]', PASSWORD);
      await page.click('button[type="submit"]');
      await page.waitForFunction(() => document.body.dataset.ready === 'live', null, { timeout: 20_000 });
      await page.waitForFunction(() => Number(document.querySelector('canvas')?.dataset.frames ?? 0) > 5, null, { timeout: 30_000 });
      const cookies = await browser.context.cookies();
      const session = cookies.find((c) => c.name === 'edge_imprint_session');
      assert.ok(session?.httpOnly && session.sameSite === 'Strict', JSON.stringify(session));
      assert.equal(await page.locator('#logout').isVisible(), true);
      assert.ok(!page.url().includes(PASSWORD) && !agent.log().includes(PASSWORD), 'the password is in no URL or log');
      await page.click('#logout');
      await page.locator('input[name="password"]').waitFor({ timeout: 10_000 });
    } finally {
      await agent.stop();
    }
  });
});
