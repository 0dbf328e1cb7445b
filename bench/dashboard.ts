/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// (The functions handed to page.evaluate run in the browser.)
/**
 * Dashboard benchmarks (issue 10), in Debian's headless Chromium against the built agent:
 * - first load: bytes transferred (compressed, headers included) and time to interactive
 *   (the Live page drawn from its data), cold cache, on loopback;
 * - live view latency: a live camera whose colour flips on request (GStreamer, encoded as it
 *   is made), from the flip to the decoded frame painted on the page's canvas;
 * - the agent's memory with 4 cameras and 2 pages watching all of them.
 */
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { startAgentProcess, type AgentProcess } from '../test/helpers/agentProcess.js';
import { launchBrowser, type Browser } from '../test/helpers/browser.js';
import { freePort, image } from '../test/helpers/env.js';
import { descendants } from '../test/helpers/processes.js';
import { buildTestClip, startLiveRtspServer, startRtspServer } from '../test/helpers/rtspServer.js';
import { median, ms, percentile, type Report } from './report.js';
import { tempDir } from './setup.js';

const LOADS = 5;
const FLIPS = 30;
const COLORS: Array<{ argb: string; channel: 0 | 1 | 2 }> = [
  { argb: '0xffff0000', channel: 0 },
  { argb: '0xff00ff00', channel: 1 },
  { argb: '0xff0000ff', channel: 2 },
];

function rssMb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

async function startAgent(dir: string, cameras: Record<string, unknown>): Promise<AgentProcess> {
  return startAgentProcess({
    dir,
    config: { cameras, mqtt: { embedded: { port: await freePort() }, discovery: { enabled: false } }, detector: { type: 'cpu' } },
    // As users run it (npm start): the built JavaScript (npm run bench builds first).
    built: true,
  });
}

/** One cold load of the Live page: bytes over the wire and the time its data is drawn. */
async function coldLoad(page: Page, url: string): Promise<{ bytes: number; rawBytes: number; interactiveMs: number }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  let bytes = 0;
  let rawBytes = 0;
  cdp.on('Network.loadingFinished', (e: { encodedDataLength: number }) => (bytes += e.encodedDataLength));
  cdp.on('Network.dataReceived', (e: { dataLength: number }) => (rawBytes += e.dataLength));
  await page.goto('about:blank');
  bytes = 0;
  rawBytes = 0;
  await page.goto(url);
  await page.waitForFunction(() => performance.getEntriesByName('ready:live').length > 0, null, { timeout: 20_000 });
  const interactiveMs = await page.evaluate(() => performance.getEntriesByName('ready:live')[0]?.startTime ?? NaN);
  // Whatever the page still fetches for its first screen (not the endless live streams).
  await page.waitForTimeout(1000);
  await cdp.detach();
  return { bytes, rawBytes, interactiveMs };
}

async function firstLoad(report: Report, browser: Browser, url: string): Promise<void> {
  const loads = [];
  for (let i = 0; i < LOADS; i++) loads.push(await coldLoad(browser.page, url));
  const bytes = Math.max(...loads.map((l) => l.bytes));
  const raw = Math.max(...loads.map((l) => l.rawBytes));
  const tti = loads.map((l) => l.interactiveMs);
  report.add({
    section: 'dashboard',
    figure: `first load of the Live page, cold cache: bytes transferred (compressed, headers included; uncompressed ${(raw / 1024).toFixed(1)} kB)`,
    value: `${(bytes / 1024).toFixed(1)} kB`,
    target: '≤ 300 kB',
    ok: bytes <= 300 * 1024,
  });
  report.add({
    section: 'dashboard',
    figure: `time to interactive on loopback (navigation → Live page drawn from its data), median / worst of ${LOADS} cold loads`,
    value: `${ms(median(tti))} / ${ms(Math.max(...tti))}`,
    target: '≤ 1000 ms',
    ok: Math.max(...tti) <= 1000,
  });
}

/** Records, in the page, when each decoded frame's centre pixel shows a new dominant colour. */
async function watchColours(page: Page): Promise<void> {
  await page.evaluate(() => {
    const canvas = document.querySelector('canvas');
    if (!canvas) throw new Error('no live canvas');
    const probe = document.createElement('canvas').getContext('2d', { willReadFrequently: true });
    const w = window as unknown as { paints: Array<{ channel: number; at: number }> };
    w.paints = [];
    let last = -1;
    // Each decoded frame bumps data-frames: read the pixel right then, while the frame just
    // drawn is still in the WebGL canvas' buffer.
    new MutationObserver(() => {
      probe?.drawImage(canvas, canvas.width / 2, canvas.height / 2, 1, 1, 0, 0, 1, 1);
      const [r = 0, g = 0, b = 0] = probe?.getImageData(0, 0, 1, 1).data ?? [];
      const channel = r > 120 && g < 90 && b < 90 ? 0 : g > 120 && r < 90 && b < 90 ? 1 : b > 120 && r < 90 && g < 90 ? 2 : -1;
      if (channel >= 0 && channel !== last) w.paints.push({ channel, at: Date.now() });
      last = channel;
    }).observe(canvas, { attributes: true, attributeFilter: ['data-frames'] });
  });
}

async function liveLatency(report: Report, browser: Browser, dir: string): Promise<void> {
  const camera = await startLiveRtspServer({ size: '1280x720', fps: 10 });
  const agent = await startAgent(dir, { cam: { url: camera.url, fps: 2 } });
  const latencies: number[] = [];
  let missed = 0;
  try {
    const { page } = browser;
    await page.goto(`http://127.0.0.1:${agent.httpPort}/#/live`);
    await page.waitForFunction(() => Number(document.querySelector('canvas')?.dataset.frames ?? 0) > 20, null, { timeout: 30_000 });
    await watchColours(page);
    for (let i = 0; i < FLIPS; i++) {
      const colour = COLORS[i % COLORS.length]!;
      const sent = await camera.setColor(colour.argb);
      const painted = await page
        .waitForFunction(
          ([channel, after]) => (window as unknown as { paints: Array<{ channel: number; at: number }> }).paints.find((p) => p.channel === channel && p.at >= after)?.at,
          [colour.channel, sent] as const,
          { timeout: 5000, polling: 20 },
        )
        .then((h) => h.jsonValue() as Promise<number>)
        .catch(() => null);
      if (painted === null) missed += 1;
      else latencies.push(painted - sent);
      await page.waitForTimeout(700);
    }
  } finally {
    await agent.stop();
    await camera.stop();
  }
  report.line(`  latency per flip (ms): ${latencies.map((l) => l.toFixed(0)).join(' ')}`);
  report.add({
    section: 'dashboard',
    figure: `live view latency, 720p 10 fps camera on loopback: colour flip → frame painted on the canvas, p50 / p95 of ${latencies.length} (${missed} missed)`,
    value: `${ms(percentile(latencies, 50))} / ${ms(percentile(latencies, 95))}`,
    target: 'p95 ≤ 1000 ms',
    ok: missed === 0 && percentile(latencies, 95) <= 1000,
  });
}

async function memory(report: Report, dir: string): Promise<void> {
  const clip = buildTestClip(dir, 'rss', { images: [image('cat_test_0.jpg'), image('sunflower.jpg')], secondsEach: 2, repeat: 30 });
  const rtsp = await startRtspServer({ file: clip });
  const cameras = Object.fromEntries(['a', 'b', 'c', 'd'].map((name) => [name, { url: rtsp.url, fps: 2 }]));
  const agent = await startAgent(dir, cameras);
  const viewers: Browser[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const viewer = await launchBrowser();
      viewers.push(viewer);
      await viewer.page.goto(`http://127.0.0.1:${agent.httpPort}/#/live`);
      await viewer.page.waitForFunction(() => [...document.querySelectorAll('canvas')].every((c) => Number(c.dataset.frames ?? 0) > 5), null, { timeout: 60_000 });
    }
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 2000));
      samples.push(rssMb(agent.pid));
    }
    const children = descendants(agent.pid);
    const live = children.filter((pid) => cmdline(pid).includes('mpeg1video'));
    const total = (pids: number[]) => pids.reduce((a, pid) => a + rssMb(pid), 0);
    report.line(
      `  agent RSS samples (MB): ${samples.map((s) => s.toFixed(0)).join(' ')}; beside it ${live.length} live ffmpegs ${total(live).toFixed(0)} MB, ` +
        `${children.length - live.length} other children (camera ffmpegs, detector) ${total(children.filter((p) => !live.includes(p))).toFixed(0)} MB`,
    );
    const peak = Math.max(...samples);
    report.add({
      section: 'dashboard',
      figure: 'agent RSS with 4 cameras and 2 pages watching all four live views (peak of 10 samples over 20 s; its child processes apart)',
      value: `${peak.toFixed(0)} MB`,
      target: '≤ 200 MB',
      ok: peak <= 200,
    });
  } finally {
    for (const viewer of viewers) await viewer.close();
    await agent.stop();
    await rtsp.stop();
  }
}

export async function runDashboardBench(report: Report): Promise<void> {
  const dir = tempDir();
  const browser = await launchBrowser();
  try {
    const clip = buildTestClip(dir.path, 'load', { images: [image('cat_test_0.jpg')], secondsEach: 30 });
    const agent = await startAgent(dir.path, { door: { url: clip, fps: 2 } });
    try {
      await firstLoad(report, browser, `http://127.0.0.1:${agent.httpPort}/`);
    } finally {
      await agent.stop();
    }
    await liveLatency(report, browser, dir.path);
  } finally {
    await browser.close();
  }
  try {
    await memory(report, dir.path);
  } finally {
    dir.cleanup();
  }
}
