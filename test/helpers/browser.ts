/**
 * A real headless Chromium (Debian's `chromium` package, installed by
 * scripts/install-system-deps.sh --test) driven by playwright-core, which downloads no
 * browser. Each browser gets a fresh profile folder, removed on close.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { ROOT, tempDir } from './env.js';

export const CHROMIUM = '/usr/bin/chromium';

/** Where the tests keep their screenshots for the developer (gitignored, kept between runs). */
export const SCREENSHOT_DIR = join(ROOT, 'test-output', 'screenshots');

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught page errors so far. */
  errors: string[];
  close(): Promise<void>;
}

export async function launchBrowser(opts: { viewport?: { width: number; height: number } } = {}): Promise<Browser> {
  const profile = tempDir('edge-imprint-chromium-');
  const context = await chromium.launchPersistentContext(profile.path, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: opts.viewport ?? { width: 1200, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  return {
    context,
    page,
    errors,
    close: async () => {
      await context.close();
      profile.cleanup();
    },
  };
}

/** Saves a full-page screenshot as `<SCREENSHOT_DIR>/<name>.png`; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Mean absolute difference of two same-sized PNGs, per channel value (0-255). */
export async function pixelDifference(a: Buffer, b: Buffer): Promise<number> {
  const [ra, rb] = await Promise.all([a, b].map((png) => sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true })));
  if (!ra || !rb || ra.info.width !== rb.info.width || ra.info.height !== rb.info.height) return 255;
  let sum = 0;
  for (let i = 0; i < ra.data.length; i++) sum += Math.abs((ra.data[i] ?? 0) - (rb.data[i] ?? 0));
  return sum / ra.data.length;
}

/** Mean value of every channel of a PNG: a white or black (unpainted) picture is near 255 or 0. */
export async function meanLevel(png: Buffer): Promise<number> {
  const stats = await sharp(png).removeAlpha().stats();
  return stats.channels.reduce((s, c) => s + c.mean, 0) / stats.channels.length;
}
