import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { ENV_PREFIX, cameraSchema, envName, leaves, mainSchema, zoneSchema } from '../../src/config/schema.js';
import { ROOT, tempDir } from '../helpers/env.js';

const EXAMPLE = join(ROOT, 'config', 'config.example.yaml');

function paths(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => {
    const path = prefix === '' ? k : `${prefix}.${k}`;
    // roi is one value (a mapping of pixels), not a section.
    return k === 'roi' ? [path] : paths(v, path);
  });
}

/** The commented camera example at the end of the file, uncommented. */
function cameraExample(): string {
  const lines = readFileSync(EXAMPLE, 'utf8').split('\n');
  const start = lines.findIndex((l) => l === '# cameras:');
  assert.ok(start >= 0, 'the example has a commented cameras: section');
  return lines
    .slice(start)
    .map((l) => l.replace(/^# ?/, ''))
    .join('\n');
}

void describe('config/config.example.yaml', () => {
  void it('is valid and equals the built-in defaults', () => {
    const fromExample = loadConfig({ file: EXAMPLE, env: {}, hostname: 'example' });
    const defaults = loadConfig({ env: {}, hostname: 'example' });
    assert.deepEqual(fromExample, defaults);
  });

  void it('documents every key of the schema', () => {
    const documented = new Set(paths(parse(readFileSync(EXAMPLE, 'utf8'))));
    const text = readFileSync(EXAMPLE, 'utf8');
    for (const [path] of leaves(mainSchema({ nodeId: 'x' }))) {
      if (path === 'node_id') assert.match(text, /^# node_id: /m);
      else assert.ok(documented.has(path), `${path} is not in the example`);
    }
  });

  void it('has a camera example that documents every camera key and is valid once uncommented', () => {
    const parsed = parse(cameraExample()) as { cameras: Record<string, { zones?: Record<string, unknown> }> };
    const camera = Object.values(parsed.cameras)[0];
    const documented = new Set(paths(camera));
    for (const [path] of leaves(cameraSchema())) assert.ok(documented.has(path), `cameras.<name>.${path} is not in the example`);
    const zone = Object.values(parsed.cameras).flatMap((c) => Object.values(c.zones ?? {}))[0];
    const zoneKeys = new Set(paths(zone));
    for (const [path] of leaves(zoneSchema())) assert.ok(zoneKeys.has(path), `cameras.<name>.zones.<zone>.${path} is not in the example`);

    // url and url_file are alternatives: the example shows both, a real file sets one.
    const dir = tempDir();
    try {
      const file = join(dir.path, 'cameras.yaml');
      writeFileSync(file, cameraExample());
      const config = loadConfig({ file, env: {}, hostname: 'h' });
      assert.equal(Object.keys(config.cameras).length, 2);
      assert.deepEqual(Object.keys(config.cameras.driveway?.zones ?? {}), ['bin', 'gate']);
    } finally {
      dir.cleanup();
    }
  });
});

void describe('environment variable names', () => {
  void it('are unique, prefixed, and include the names the contract gives', () => {
    const names = leaves(mainSchema({ nodeId: 'x' })).map(([, spec]) => spec.env ?? '');
    assert.equal(new Set(names).size, names.length);
    for (const name of names) assert.ok(name.startsWith(ENV_PREFIX), name);
    for (const name of ['EDGE_IMPRINT_MQTT_URL', 'EDGE_IMPRINT_DETECTOR_TYPE', 'EDGE_IMPRINT_DATA_DIR', 'EDGE_IMPRINT_MODEL_DIR']) {
      assert.ok(names.includes(name), name);
    }
    assert.equal(envName('mqtt.tls.ca'), 'EDGE_IMPRINT_MQTT_TLS_CA');
  });
});
