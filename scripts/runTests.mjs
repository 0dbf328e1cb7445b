#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's own test runner (Node 20 has no --test globs).
// Extra arguments are passed through, e.g. `npm test -- --test-name-pattern=store`.
// The slow reliability suites (test/reliability: faults, fuzzing, load, security) run
// separately: `npm run test:reliability` (this script with --reliability).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

const passthrough = process.argv.slice(2);
const reliability = passthrough.includes('--reliability');
const only = passthrough.filter((a) => !a.startsWith('--'));
const flags = passthrough.filter((a) => a.startsWith('--') && a !== '--reliability');
const isReliability = (path) => path.split(/[\\/]/).includes('reliability');
const files =
  only.length > 0 ? only : findTests('test').filter((path) => isReliability(path) === reliability);
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', ...flags, ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
