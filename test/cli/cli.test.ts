import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, spawnCli } from '../helpers/cli.js';
import { CPU_MODEL, image, MODEL_DIR, ROOT, tempDir, testLogger } from '../helpers/env.js';
import { readFileSync } from 'node:fs';
import { EventStore } from '../../src/storage/eventStore.js';
import { ClassStore } from '../../src/storage/classStore.js';
import { l2Normalize } from '../../src/recognition/vector.js';
import { verifyModel } from '../../src/models/install.js';
import { loadManifest } from '../../src/models/manifest.js';

describe('edge-imprint CLI, end to end on the real model', () => {
  const dir = tempDir();
  const models = join(dir.path, 'models');
  const data = join(dir.path, 'data');
  const common = ['--model-dir', models, '--data-dir', data];
  const cli = (...args: string[]) => runCli([...args, ...common], { cwd: dir.path });
  after(() => dir.cleanup());

  it('models --from copies and verifies the model files', () => {
    const r = cli('models', '--from', MODEL_DIR);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /mobilenet_v1_1\.0_224_quant_embedding_extractor\.tflite: copied, sha256 ok/);
    assert.match(r.stdout, /_edgetpu\.tflite: copied, sha256 ok/);
    assert.ok(existsSync(join(models, 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite')));
    assert.match(cli('models', '--from', MODEL_DIR).stdout, /already installed/);
  });

  it('models without --from copies from EDGE_IMPRINT_MODEL_MIRROR; --from wins over it', () => {
    const target = join(dir.path, 'mirrored');
    const r = runCli(['models', '--model-dir', target], { cwd: dir.path, env: { EDGE_IMPRINT_MODEL_MIRROR: MODEL_DIR } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /mobilenet_v1_1\.0_224_quant_embedding_extractor\.tflite: copied, sha256 ok/);
    assert.ok(existsSync(join(target, 'mobilenet_v1_1.0_224_quant_embedding_extractor_edgetpu.tflite')));
    // An empty mirror: the error names it, so the variable was read (and nothing downloaded).
    const empty = join(dir.path, 'emptymirror');
    mkdirSync(empty);
    const missing = runCli(['models', '--model-dir', join(dir.path, 'none')], { cwd: dir.path, env: { EDGE_IMPRINT_MODEL_MIRROR: empty } });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not found in .*emptymirror/);
    const explicit = runCli(['models', '--from', MODEL_DIR, '--model-dir', join(dir.path, 'explicit')], {
      cwd: dir.path,
      env: { EDGE_IMPRINT_MODEL_MIRROR: empty },
    });
    assert.equal(explicit.code, 0, explicit.stderr);
  });

  it('models --from a folder with a corrupt file refuses it and says which', () => {
    const bad = join(dir.path, 'badmirror');
    runCli(['models', '--from', MODEL_DIR, '--model-dir', bad]);
    writeFileSync(join(bad, 'mobilenet_v1_1.0_224_quant_embedding_extractor.tflite'), 'not a model');
    const r = runCli(['models', '--from', bad, '--model-dir', join(dir.path, 'other')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /mobilenet_v1_1\.0_224_quant_embedding_extractor\.tflite from .*badmirror has sha256 [0-9a-f]{64}, expected f409ef4f/);
  });

  it('enroll, then classify --json prints the label', () => {
    for (const [label, photo] of [
      ['cat', 'cat_train_0.jpg'],
      ['dog', 'dog_train_0.jpg'],
    ] as const) {
      const r = cli('enroll', label, image(photo));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `enrolled 1 shot into "${label}" (1 in all)`);
    }
    const two = cli('enroll', 'hotdog', image('hotdog_train_0.jpg'), image('hotdog_train_1.jpg'));
    assert.equal(two.stdout.trim(), 'enrolled 2 shots into "hotdog" (2 in all)');
    const r = cli('classify', '--json', image('cat_test_0.jpg'), image('hotdog_test_0.jpg'));
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines[0]?.image, image('cat_test_0.jpg'));
    assert.equal(lines[0]?.label, 'cat');
    assert.equal(lines[1]?.label, 'hotdog');
    assert.equal(typeof lines[0]?.score, 'number');
    assert.deepEqual(Object.keys(lines[0]?.scores as object).sort(), ['cat', 'dog', 'hotdog']);
    assert.match(r.stdout, /"label":"cat"/);
  });

  it('classify of many photos, bad ones among them: answers in the order given, each error on its own line', () => {
    // More photos than the CLI decodes ahead, with failures before, between and after good ones.
    const notImage = join(dir.path, 'notes.jpg');
    writeFileSync(notImage, 'not an image');
    const good = ['cat_test_0.jpg', 'hotdog_test_0.jpg', 'dog_test_0.jpg', 'cat.jpg', 'owl.jpg'].map(image);
    const missing = join(dir.path, 'gone.jpg');
    const args = [missing, good[0]!, good[1]!, notImage, good[2]!, good[3]!, missing, good[4]!, notImage];
    const r = cli('classify', '--json', ...args);
    assert.equal(r.code, 1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { image: string; label: string });
    assert.deepEqual(lines.map((l) => l.image), good);
    assert.deepEqual(lines.slice(0, 3).map((l) => l.label), ['cat', 'hotdog', 'dog']);
    const errors = r.stderr.trim().split('\n');
    assert.equal(errors.length, 4, r.stderr);
    assert.match(errors[0]!, /gone\.jpg: no such file$/);
    assert.match(errors[1]!, /notes\.jpg.*not an image/);
    assert.match(errors[2]!, /gone\.jpg: no such file$/);
    assert.match(errors[3]!, /notes\.jpg.*not an image/);
  });

  it('classes list, rename, undo and remove', () => {
    const list = JSON.parse(cli('classes', 'list', '--json').stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      list.map((c) => [c.label, c.shots, c.background]),
      [
        ['cat', 1, false],
        ['dog', 1, false],
        ['hotdog', 2, false],
      ],
    );
    assert.ok(typeof list[0]?.created_at === 'string' && typeof list[0]?.updated_at === 'string');
    assert.equal(cli('classes', 'rename', 'dog', 'doggo').code, 0);
    assert.equal(cli('enroll', 'doggo', image('dog_test_0.jpg')).code, 0);
    assert.match(cli('classes', 'undo', 'doggo').stdout, /"doggo" now has 1 shots/);
    assert.equal(cli('classes', 'remove', 'doggo').code, 0);
    assert.match(cli('classes').stdout, /^cat\t1 shot\tthreshold 0\.\d\d \((learned|floor)\)\tupdated .*\nhotdog\t2 shots/);
  });

  it('user errors are one line each with exit 1; usage errors exit 2', () => {
    const missing = cli('classes', 'remove', 'nope');
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
    assert.match(missing.stderr, /nope/);
    const noFile = cli('enroll', 'cat', join(dir.path, 'missing.jpg'));
    assert.equal(noFile.code, 1);
    assert.match(noFile.stderr.trim(), /missing\.jpg: no such file$/);
    const reserved = cli('enroll', 'unknown', image('cat_train_0.jpg'));
    assert.equal(reserved.code, 1);
    assert.match(reserved.stderr, /label: "unknown" is reserved/);
    assert.equal(cli('frobnicate').code, 2);
    assert.equal(cli('enroll', 'cat').code, 2);
  });

  it('a missing model gives one message: which file, where, and the fix', () => {
    const r = runCli(['classify', image('cat.jpg'), '--model-dir', join(dir.path, 'empty'), '--data-dir', data]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /mobilenet_v1_1\.0_224_quant_embedding_extractor\.tflite not found in .*empty: run `npx edge-imprint models`/);
  });

  it('validate-config lists every error with its path, exit 1', () => {
    const file = join(dir.path, 'bad.yaml');
    writeFileSync(file, 'mqtt:\n  stats_interval: soon\ndetector:\n  type: gpu\nbogus: 1\n');
    const r = runCli(['validate-config', '--config', file]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.ok(lines.length >= 3, r.stderr);
    assert.ok(lines.some((l) => l.startsWith('mqtt.stats_interval')));
    assert.ok(lines.some((l) => l.startsWith('detector.type')));
    assert.ok(lines.some((l) => l.startsWith('bogus')));
    const typo = join(dir.path, 'typo.yaml');
    writeFileSync(typo, 'cameras:\n  door:\n    url: htp://cam/stream\n');
    const scheme = runCli(['validate-config', '--config', typo]);
    assert.equal(scheme.code, 1);
    assert.match(scheme.stderr, /^cameras\.door\.url: unsupported URL scheme "htp"/m);
    // `run` with the same file prints the same list and starts nothing.
    const run = runCli(['run', '--config', file], { cwd: dir.path });
    assert.equal(run.code, 1);
    assert.deepEqual(run.stderr.trim().split('\n'), lines);
  });
});

describe('edge-imprint events: the correction loop from the command line', () => {
  const dir = tempDir();
  const data = join(dir.path, 'data');
  const common = ['--model-dir', MODEL_DIR, '--data-dir', data];
  const cli = (...args: string[]) => runCli([...args, ...common], { cwd: dir.path });
  after(() => dir.cleanup());

  before(async () => {
    assert.equal(cli('enroll', 'cat', image('cat_train_0.jpg')).code, 0);
    // Two detections as the agent records them: the real model's id, a 1024-d frame embedding.
    const model = await verifyModel(CPU_MODEL, loadManifest());
    const store = new ClassStore({ dataDir: data, logger: testLogger() });
    await store.start();
    const events = new EventStore(store, { maxCount: 100, maxAgeDays: 365 });
    const embedding = l2Normalize(Float32Array.from({ length: 1024 }, (_, i) => Math.sin(i + 1)));
    const jpeg = readFileSync(image('cat_test_0.jpg'));
    const now = Date.now();
    for (const [id, zone, ago] of [['e-older', null, 60_000], ['e-newer', 'bin', 1000]] as const) {
      events.recordStart({ id, camera: 'door', zone, label: 'cat', score: 0.71, start_time: new Date(now - ago), embedding, residual: null, model, crop: jpeg, snapshot: jpeg });
    }
    await store.stop();
  });

  it('lists, confirms (once), relabels, undoes; errors name the event', () => {
    const list = cli('events', '--json');
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as Array<{ id: string }>).map((e) => e.id), ['e-newer', 'e-older']);
    assert.match(cli('events', 'list', '--zone', 'bin').stdout, /^e-newer\t.*\tdoor\/bin\tcat \(0\.71\)$/m);
    assert.match(cli('events', 'confirm', 'e-older').stdout, /confirmed \(was "cat"\)/);
    const twice = cli('events', 'confirm', 'e-older');
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /^id: event "e-older" is already confirmed; undo that first/);
    assert.match(cli('classes', 'list').stdout, /^cat\t2 shots/m, 'the confirmed frame is a shot');
    assert.match(cli('events', 'relabel', 'e-newer', 'fox').stdout, /relabeled as "fox"/);
    assert.match(cli('classes', 'list').stdout, /^fox\t1 shot\t/m);
    assert.equal(cli('events', 'undo', 'e-newer').code, 0);
    assert.doesNotMatch(cli('classes', 'list').stdout, /^fox/m);
    const missing = cli('events', 'reject', 'nope');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^id: no event "nope"/);
    assert.equal(cli('events', 'relabel', 'only-id').code, 2, 'usage');
  });
});

describe('kill -9 of an enrolling CLI process leaves each class whole or absent', () => {
  const dir = tempDir();
  const data = join(dir.path, 'data');
  const photos = ['cat_train_0.jpg', 'cat_test_0.jpg', 'cat.jpg'].map(image);
  before(() => {
    assert.equal(runCli(['enroll', 'base', image('dog_train_0.jpg'), '--data-dir', data, '--model-dir', MODEL_DIR]).code, 0);
  });
  after(() => dir.cleanup());

  it('repeated at random moments', async () => {
    const outcomes: string[] = [];
    for (let round = 0; round < 6; round++) {
      const child = spawnCli(['enroll', `batch${round}`, ...photos, '--data-dir', data, '--model-dir', MODEL_DIR]);
      const delay = 300 + Math.floor(Math.random() * 2500);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const timer = setTimeout(() => child.kill('SIGKILL'), delay);
      const code = await exited;
      clearTimeout(timer);
      const list = JSON.parse(runCli(['classes', '--json', '--data-dir', data]).stdout) as Array<{ label: string; shots: number }>;
      const batch = list.find((c) => c.label === `batch${round}`);
      outcomes.push(`${delay}ms:${code === 0 ? 'finished' : 'killed'}:${batch ? batch.shots : 'absent'}`);
      assert.ok(!batch || batch.shots === 3, `batch${round} has ${batch?.shots} shots`);
      assert.equal(list.find((c) => c.label === 'base')?.shots, 1);
    }
    console.log(`kill -9 rounds: ${outcomes.join(', ')}`);
  });
});

describe('edge-imprint usage: per-command help, --version, short usage errors', () => {
  it('`<command> --help` prints that command\'s usage, exit 0', () => {
    const r = runCli(['enroll', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^usage:\n {2}edge-imprint enroll <label> <image>\.\.\. \[--background\]/);
    assert.doesNotMatch(r.stdout, /classify|validate-config/, 'only enroll');
    assert.match(runCli(['events', 'relabel', '-h']).stdout, /edge-imprint events relabel <id> <label>/);
    assert.match(runCli(['--help']).stdout, /^usage: edge-imprint <command>[\s\S]*validate-config/);
  });

  it('--version prints the version, exit 0', () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const r = runCli(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), version);
  });

  it('a usage error is one line and a hint to that command\'s help, exit 2', () => {
    const noImage = runCli(['enroll', 'cat']);
    assert.equal(noImage.code, 2);
    assert.deepEqual(noImage.stderr.trim().split('\n'), [
      'edge-imprint: enroll: missing <image>...: the photo(s) to imprint into "cat"',
      'run `edge-imprint enroll --help` for its usage',
    ]);
    const badOption = runCli(['classify', '--bogus', 'x.jpg']);
    assert.equal(badOption.code, 2);
    assert.deepEqual(badOption.stderr.trim().split('\n'), ["edge-imprint: unknown option '--bogus'", 'run `edge-imprint classify --help` for its usage']);
    const unknown = runCli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.deepEqual(unknown.stderr.trim().split('\n'), ['edge-imprint: unknown command "frobnicate"', 'run `edge-imprint --help` for the list of commands']);
    assert.equal(unknown.stdout, '');
  });
});
