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

  void it('.ci/run runs exactly the README test commands, in order', () => {
    const readme = readmeCommands('Tests').flat();
    // `npm test` alone is the tail of the set-up command, which runs it.
    const expected = readme.filter((c) => c !== 'npm test');
    assert.deepEqual(ciCommands(), expected);
    for (const suite of ['npm run test:reliability', 'npm run test:newcomer', 'npm run lint']) assert.ok(readme.includes(suite), suite);
  });
});
