/** One file out of a package tarball (src/models/tarEntry.ts, install.ts), with GNU tar's archives and a local HTTP server. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import { installModels } from '../../src/models/install.js';
import type { ModelFile } from '../../src/models/manifest.js';
import { tarEntry } from '../../src/models/tarEntry.js';
import { tempDir, testLogger } from '../helpers/env.js';

const dir = tempDir('edge-imprint-tar-');
const MODEL = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) % 251));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A folder whose files' paths pass 100 characters: ustar keeps their start in its prefix field. */
const DEEP = join('package', 'a'.repeat(60), 'b'.repeat(60));

/** A tar of package/{README.md, model.onnx} (a long path too), as `npm pack` makes one. */
function packTar(format: string): Buffer {
  const root = join(dir.path, `src-${format}`);
  mkdirSync(join(root, DEEP), { recursive: true });
  writeFileSync(join(root, 'package', 'README.md'), 'a readme\n');
  writeFileSync(join(root, 'package', 'model.onnx'), MODEL);
  writeFileSync(join(root, DEEP, 'deep.bin'), 'deep');
  const out = join(dir.path, `p-${format}.tar`);
  const r = spawnSync('tar', [`--format=${format}`, '-cf', out, '-C', root, 'package'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(out);
}

describe('tarEntry: one file out of a tar archive', () => {
  after(() => dir.cleanup());

  for (const format of ['ustar', 'gnu', 'pax']) {
    it(`finds the file by its path in a ${format} archive, byte for byte`, () => {
      const tar = packTar(format);
      assert.deepEqual(tarEntry(tar, 'package/model.onnx'), MODEL);
      assert.equal(tarEntry(tar, 'package/README.md')?.toString(), 'a readme\n');
      assert.equal(tarEntry(tar, 'package/missing.onnx'), null);
      assert.equal(tarEntry(tar, 'package'), null, 'a folder is no file');
      assert.equal(tarEntry(tar, `${DEEP}/deep.bin`)?.toString(), 'deep');
    });
  }

  it('says a truncated archive is truncated', () => {
    const tar = packTar('ustar');
    assert.throws(() => tarEntry(tar.subarray(0, 2000), 'package/model.onnx'), /truncated tar archive/);
  });
});

describe('installModels: a model published inside a package tarball', () => {
  let url = '';
  const server = createServer((req, res) => {
    if (req.url !== '/pkg.tgz') return void res.writeHead(404).end();
    try {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(gzipSync(packTar('ustar')));
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const entry = (over: Partial<ModelFile>): ModelFile => ({ role: 'salient', name: 'model.onnx', url: `${url}/pkg.tgz`, archive: 'package/model.onnx', optional: true, sha256: sha(MODEL), ...over });

  it('is taken out of the downloaded tarball when the mirror lacks it, its sha256 checked', async () => {
    const target = tempDir('edge-imprint-tgz-');
    const mirror = tempDir('edge-imprint-mirror-');
    try {
      const outcomes = await installModels({ modelDir: target.path, from: mirror.path, files: [entry({})], logger: testLogger() });
      assert.equal(outcomes['model.onnx'], 'downloaded');
      assert.deepEqual(readFileSync(join(target.path, 'model.onnx')), MODEL);
    } finally {
      target.cleanup();
      mirror.cleanup();
    }
  });

  it('when optional and not to be had, is left out with one warning; when required, fails the install', async () => {
    const target = tempDir('edge-imprint-tgz-');
    try {
      const lines: string[] = [];
      const logger = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
      const outcomes = await installModels({ modelDir: target.path, files: [entry({ url: `${url}/gone.tgz` })], logger });
      assert.equal(outcomes['model.onnx'], 'unavailable');
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /HTTP 404.*searched for their object by colour/);
      await assert.rejects(installModels({ modelDir: target.path, files: [entry({ url: `${url}/gone.tgz`, optional: false })], logger }), /HTTP 404/);
      await assert.rejects(installModels({ modelDir: target.path, files: [entry({ sha256: '0'.repeat(64), optional: false })], logger }), /expected 0000/);
    } finally {
      target.cleanup();
    }
  });
});
