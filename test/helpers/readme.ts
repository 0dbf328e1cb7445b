import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './env.js';

/**
 * The shell commands of the README's ```sh blocks under a heading (up to the next heading
 * of the same or a higher level), one per line, comments and blank lines dropped.
 */
export function readmeCommands(heading: string, root = ROOT): string[][] {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n');
  const start = lines.findIndex((l) => /^#+ /.test(l) && l.replace(/^#+ /, '') === heading);
  if (start < 0) throw new Error(`README.md has no heading "${heading}"`);
  const level = /^#+/.exec(lines[start]!)![0].length;
  const blocks: string[][] = [];
  let block: string[] | null = null;
  for (const line of lines.slice(start + 1)) {
    const h = /^(#+) /.exec(line);
    if (!block && h && h[1]!.length <= level) break;
    if (line.trim() === '```sh') block = [];
    else if (block && line.trim() === '```') {
      blocks.push(block);
      block = null;
    } else if (block) {
      const command = line.replace(/(^|\s)#.*$/, '').trim();
      if (command) block.push(command);
    }
  }
  return blocks;
}
