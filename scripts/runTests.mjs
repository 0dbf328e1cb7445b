#!/usr/bin/env node
// Runs the test suites with Node's own test runner (Node 20 has no --test globs):
//   node scripts/runTests.mjs               the default suite (`npm test`)
//   node scripts/runTests.mjs --reliability test/reliability: faults, fuzzing, load, security
//   node scripts/runTests.mjs --newcomer    test/newcomer: a fresh clone set up and tested as
//                                           the README says (minutes; `npm run test:newcomer`)
// Test files given as arguments run alone; other arguments pass through, e.g.
// `npm test -- --test-name-pattern=store`.
// Before the tests start, the model files are installed once into the test model cache
// (scripts/modelCache.mjs), which the tests read through EDGE_IMPRINT_TEST_MODEL_DIR.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { installModelCache, MODEL_CACHE } from './modelCache.mjs';

/** Suites kept out of the default run, by folder name under test/. */
const SEPARATE_SUITES = ['reliability', 'newcomer'];

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

const suiteOf = (path) => SEPARATE_SUITES.find((s) => path.split(/[\\/]/).includes(s)) ?? 'default';

const passthrough = process.argv.slice(2);
const suite = SEPARATE_SUITES.find((s) => passthrough.includes(`--${s}`)) ?? 'default';
const only = passthrough.filter((a) => !a.startsWith('--'));
const flags = passthrough.filter((a) => a.startsWith('--') && !SEPARATE_SUITES.includes(a.slice(2)));
const files = only.length > 0 ? only : findTests('test').filter((path) => suiteOf(path) === suite);

// The newcomer suite only clones the repository and runs `npm test` there, which installs
// the models in the clone: it needs none here.
const needsModels = files.some((path) => suiteOf(path) !== 'newcomer');
if (needsModels) {
  try {
    console.log(`model files for the tests (${MODEL_CACHE}):\n${installModelCache()}`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', ...flags, ...files],
  { stdio: 'inherit', env: { ...process.env, EDGE_IMPRINT_TEST_MODEL_DIR: MODEL_CACHE } },
);
process.exit(result.status ?? 1);
