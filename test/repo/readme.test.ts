import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/env.js';
import { readmeCommands } from '../helpers/readme.js';

/** The commands .ci/run runs: every line after its set-up lines (cd, the mirror). */
function ciCommands(): string[] {
  const lines = readFileSync(join(ROOT, '.ci', 'run'), 'utf8').split('\n').map((l) => l.trim());
  return lines.filter((l) => /^(bash scripts|npm )/.test(l));
}

void describe('the README and CI agree', () => {
  void it('the Quick start is one command that sets up and runs the agent', () => {
    const [first] = readmeCommands('Quick start');
    assert.deepEqual(first, ['bash scripts/install-system-deps.sh && ONNXRUNTIME_NODE_INSTALL=skip npm ci && npm start']);
  });

  void it('the Tests section starts with one command that sets up and runs the tests', () => {
    const [first] = readmeCommands('Tests');
    assert.deepEqual(first, ['bash scripts/install-system-deps.sh --test && ONNXRUNTIME_NODE_INSTALL=skip npm ci && npm test']);
  });

  void it('.ci/run runs the README set-up, then exactly the README suites, in order', () => {
    const blocks = readmeCommands('Tests');
    const setupAndTest = blocks[0]?.[0] ?? '';
    const suites = blocks[1] ?? [];
    // The default suite (`npm test`) runs once, in the newcomer suite's fresh clone.
    assert.deepEqual(ciCommands(), [setupAndTest.replace(/ && npm test$/, ''), ...suites]);
    assert.deepEqual(suites, ['npm run test:newcomer', 'npm run test:reliability', 'npm run lint']);
  });

  void it('the newcomer suite runs the README test command, npm test included', () => {
    const newcomer = readFileSync(join(ROOT, 'test', 'newcomer', 'freshClone.test.ts'), 'utf8');
    assert.match(newcomer, /readmeCommands\('Tests', clone\)/);
    assert.match(newcomer, /&& npm test'\]\);/);
  });
});
