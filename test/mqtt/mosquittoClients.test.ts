import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { image, testLogger, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { BASE, startAgent, startTestImprinting, type Agent, type TestImprinting } from './harness.js';
import { enrollAnswerCounts } from '../helpers/enrollAnswer.js';

/** Runs a mosquitto client tool; resolves with its stdout once it exits. */
function run(cmd: string, args: string[]): { done: Promise<string>; output: () => string } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<string>((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err}`)))),
  );
  return { done, output: () => out };
}

/** Waits until the broker logged one more SUBSCRIBE than before (mosquitto_sub is ready). */
async function subscribed(log: () => string, before: number): Promise<void> {
  await waitFor(() => (log().match(/ SUBSCRIBE /g) ?? []).length > before, 5000, 'mosquitto_sub subscribed');
}

void describe('independent clients: mosquitto_pub and mosquitto_sub', () => {
  let broker: Mosquitto;
  let agent: Agent;
  let imprinting: TestImprinting;
  const logger = testLogger();

  before(async () => {
    broker = await startMosquitto();
    imprinting = await startTestImprinting();
    agent = await startAgent({ url: broker.url, imprinter: imprinting.imprinter, bus: imprinting.bus, logger, discovery: false });
  });
  after(async () => {
    await agent?.stop();
    await broker?.cleanup();
    await imprinting?.stop();
  });

  void it('mosquitto_pub -f photo.jpg on class/enroll/cat; mosquitto_sub gets the answer', async () => {
    const port = String(broker.port);
    const subsBefore = (broker.log().match(/ SUBSCRIBE /g) ?? []).length;
    const sub = run('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-t', `${BASE}/response/class/enroll`, '-C', '1', '-W', '15']);
    await subscribed(broker.log, subsBefore);
    await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-q', '1', '-t', `${BASE}/request/class/enroll/cat`, '-f', image('cat.jpg')]).done;
    const answer = JSON.parse(await sub.done) as Record<string, unknown>;
    assert.deepEqual(enrollAnswerCounts(answer), { status: 'ok', data: { label: 'cat', shots: 1, added: 1 } });
  });

  void it('MQTT v5 response topic and correlation data round-trip', async () => {
    const port = String(broker.port);
    const subsBefore = (broker.log().match(/ SUBSCRIBE /g) ?? []).length;
    const sub = run('mosquitto_sub', ['-V', '5', '-h', '127.0.0.1', '-p', port, '-t', 'my/replies', '-C', '1', '-W', '15', '-F', '%D|%p']);
    await subscribed(broker.log, subsBefore);
    await run('mosquitto_pub', [
      '-V', '5', '-h', '127.0.0.1', '-p', port, '-q', '1',
      '-t', `${BASE}/request/class/list`,
      '-D', 'publish', 'response-topic', 'my/replies',
      '-D', 'publish', 'correlation-data', 'corr-42',
      '-m', '{"transaction":"t1"}',
    ]).done;
    const line = (await sub.done).trim();
    const [correlation, payload] = [line.slice(0, line.indexOf('|')), line.slice(line.indexOf('|') + 1)];
    assert.equal(correlation, 'corr-42');
    const answer = JSON.parse(payload) as Record<string, unknown>;
    assert.equal(answer.status, 'ok');
    assert.equal(answer.transaction, 't1');
    assert.ok(Array.isArray(answer.data));
  });
});
