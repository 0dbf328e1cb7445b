/**
 * The documentation's own links: every relative link of README.md, CONTRIBUTING.md and
 * docs/*.md names a file that exists, and every `#anchor` a heading of its target, as GitHub
 * makes them (lower case, spaces to `-`, punctuation other than `-` and `_` dropped, `-1`,
 * `-2` … for repeats). And the README stays a front page.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/env.js';

const README_MAX_LINES = 200;

function docFiles(): string[] {
  const docs = join(ROOT, 'docs');
  const inDocs = existsSync(docs) ? readdirSync(docs).filter((n) => n.endsWith('.md')).map((n) => join(docs, n)) : [];
  return [join(ROOT, 'README.md'), join(ROOT, 'CONTRIBUTING.md'), ...inDocs];
}

/** The lines outside fenced code blocks, inline code spans replaced by a word. */
function prose(text: string): string[] {
  let fenced = false;
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      continue;
    }
    if (!fenced) lines.push(line.replace(/`[^`]*`/g, 'code'));
  }
  return lines;
}

/** GitHub's anchor for a heading's text. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a Markdown file's headings (outside code blocks). */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const h = !fenced && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const base = slug(h[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Every `[text](target)` of a file's prose whose target is not a URL with a scheme. */
function relativeLinks(file: string): string[] {
  const links: string[] = [];
  for (const line of prose(readFileSync(file, 'utf8'))) {
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1]!;
      if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) links.push(target);
    }
  }
  return links;
}

/** What is wrong with one link of `file`, or null. */
function brokenLink(file: string, target: string): string | null {
  const [path, anchor] = target.split('#', 2) as [string, string | undefined];
  const dest = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
  if (!existsSync(dest)) return `${relative(ROOT, dest)} does not exist`;
  if (anchor === undefined) return null;
  if (statSync(dest).isDirectory() || !dest.endsWith('.md')) return `#${anchor} points into ${relative(ROOT, dest)}, which has no headings`;
  return anchors(dest).has(decodeURIComponent(anchor)) ? null : `${relative(ROOT, dest)} has no heading #${anchor}`;
}

void describe('the documentation', () => {
  void it('has README.md, CONTRIBUTING.md and docs/', () => {
    for (const file of docFiles()) assert.ok(existsSync(file), `${relative(ROOT, file)} is missing`);
  });

  void it('links only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const file of docFiles().filter((f) => existsSync(f))) {
      for (const target of relativeLinks(file)) {
        const why = brokenLink(file, target);
        if (why) broken.push(`${relative(ROOT, file)}: (${target}) — ${why}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  void it(`keeps README.md a front page (at most ${README_MAX_LINES} lines)`, () => {
    const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').trimEnd().split('\n').length;
    assert.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines; move the detail into docs/`);
  });

  void it('makes anchors as GitHub does', () => {
    assert.equal(slug('Fleet gallery: how it scales'), 'fleet-gallery-how-it-scales');
    assert.equal(slug('Reverse proxy, Home Assistant ingress and add-on'), 'reverse-proxy-home-assistant-ingress-and-add-on');
    assert.equal(slug('Fleet gallery (`npm run bench -- --only=fleet`)'), 'fleet-gallery-npm-run-bench------onlyfleet');
    assert.equal(slug('`class/enroll` and a box'), 'classenroll-and-a-box');
    assert.equal(slug('MQTT users and ACL'), 'mqtt-users-and-acl');
  });
});
