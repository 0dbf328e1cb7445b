import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import sharp from 'sharp';
import { startAgentProcess, type AgentProcess } from '../helpers/agentProcess.js';
import { image, MODEL_DIR, tempDir, waitFor } from '../helpers/env.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { alive } from '../helpers/processes.js';
import { percentile, RequestTracker, rssMb, RssSampler, tally, type TrackedRequest } from '../helpers/requestTracker.js';
import { BAD_LABELS, buildCase, buildMaterial, Deep, JSON_COMMANDS, payloadOf, seededRng, type FuzzCase, type Material } from './fuzzCases.js';

/**
 * Fuzzing the MQTT API of a real agent process through a real mosquitto: every malformed
 * request is answered exactly once, with an error, and nothing escapes the data folder.
 * Replay a run with EDGE_IMPRINT_FUZZ_SEED=<seed>; EDGE_IMPRINT_FUZZ_COUNT changes the size.
 */

const BASE = 'edge-imprint';
const MAX_PAYLOAD = 256 * 1024;
const COUNT = Number(process.env.EDGE_IMPRINT_FUZZ_COUNT ?? 1200);
/** Requests per second: fast enough to fill the bounded queue now and then, not to flood. */
const RATE = 60;
const SEED = Number(process.env.EDGE_IMPRINT_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));

interface Sent {
  fuzz: FuzzCase;
  request: TrackedRequest;
  bytes: number;
}

/** path → size:mtime of every file and folder under `root`, except under `skip`. */
function snapshot(root: string, skip: string): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (path === skip) continue;
      const st = statSync(path);
      found.set(path, st.isDirectory() ? 'dir' : `${st.size}:${st.mtimeMs}`);
      if (st.isDirectory()) walk(path);
    }
  };
  walk(root);
  return found;
}

function changes(before: Map<string, string>, afterwards: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [path, what] of afterwards) {
    if (!before.has(path)) out.push(`new ${path}`);
    else if (before.get(path) !== what && what !== 'dir') out.push(`changed ${path}`);
  }
  for (const path of before.keys()) if (!afterwards.has(path)) out.push(`removed ${path}`);
  return out;
}

/** The command whose standard response topic answers a request on `command`. */
function answeredOn(command: string): string {
  return command.startsWith('class/enroll/') ? 'class/enroll' : command;
}

void describe('fuzz: 1000+ malformed MQTT requests to a running agent', () => {
  const root = tempDir('edge-imprint-fuzz-');
  const agentDir = join(root.path, 'agent');
  const dataDir = join(agentDir, 'data');
  const runId = `fz${SEED.toString(36)}`;
  let broker: Mosquitto;
  let agent: AgentProcess;
  let tracker: RequestTracker;
  let watcher: MqttClient;
  let material: Material;
  const watched: Array<{ topic: string; payload: Buffer }> = [];

  before(async () => {
    mkdirSync(agentDir);
    // Canaries where a traversal from the data folder would land.
    mkdirSync(join(root.path, 'etc'));
    writeFileSync(join(root.path, 'etc', 'passwd'), 'canary\n');
    writeFileSync(join(agentDir, 'canary.txt'), 'canary\n');
    [broker, material] = await Promise.all([startMosquitto({ persistence: false }), buildMaterial()]);
    agent = await startAgentProcess({
      dir: agentDir,
      config: {
        mqtt: { url: broker.url, stats_interval: 3600 },
        detector: { type: 'cpu' },
        limits: { max_payload_bytes: MAX_PAYLOAD },
        log: { level: 'info' },
      },
    });
    watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
    watcher.on('message', (topic, payload) => {
      if (!topic.startsWith(`${BASE}/request/`)) watched.push({ topic, payload });
    });
    await watcher.subscribeAsync('#', { qos: 1 });
    tracker = await RequestTracker.connect(broker.url, BASE, runId);
  });

  after(async () => {
    await tracker?.close();
    await watcher?.endAsync();
    await agent?.stop();
    await broker?.cleanup();
    root.cleanup();
  });

  void it('every request answered exactly once with an error; agent up, RSS bounded, no file outside data/', { timeout: 150_000 }, async () => {
    const started = performance.now();
    console.log(`fuzz seed=${SEED} (replay: EDGE_IMPRINT_FUZZ_SEED=${SEED}) count=${COUNT}`);
    await waitFor(() => lastOn(`${BASE}/available`) === 'online', 20_000, 'the agent online');

    // Warm-up with ordinary traffic (valid classify requests, a list): the working set of a
    // running agent (detector, V8 heap, image buffers) is the baseline, not a cold start.
    const rssCold = rssMb(agent.pid);
    const valid = await sharp(image('cat_test_0.jpg')).resize(320, 240).jpeg().toBuffer();
    for (let i = 0; i < 20; i++) {
      await tracker.send({ id: `${runId}-warm-${i}`, command: 'classify', payload: valid, byTransaction: false, responseTopic: 'reply' });
      await waitFor(() => tracker.pending().length === 0, 30_000, 'a warm-up answer');
    }
    await tracker.send({ id: `${runId}-warm-list`, command: 'class/list', payload: Buffer.from(`{"transaction":"${runId}-warm-list"}`), byTransaction: true });
    await waitFor(() => tracker.pending().length === 0, 30_000, 'the warm-up answers');
    const treeBefore = snapshot(root.path, dataDir);
    const modelsBefore = snapshot(MODEL_DIR, '');
    const rssBefore = rssMb(agent.pid);
    const sampler = new RssSampler(agent.pid);
    sampler.start();

    const rng = seededRng(SEED);
    const sent: Sent[] = [];
    const trail: string[] = [];
    const t0 = performance.now();
    for (let i = 0; i < COUNT; i++) {
      const wait = t0 + (i * 1000) / RATE - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      sent.push(await sendCase(buildCase(rng, material, MAX_PAYLOAD), `${runId}-${i}`));
      if (i % 200 === 199) trail.push(rssMb(agent.pid).toFixed(0));
    }
    await waitFor(() => tracker.pending().length === 0 && tracker.standard.length >= tracker.requests.size, 45_000, 'every answer').catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1500)); // room for a duplicate to show up
    sampler.stop();
    const rssAfter = rssMb(agent.pid);

    const counts = tally(sent.map((s) => s.request));
    const latencies = sent.flatMap((s) => (s.request.answers[0] ? [s.request.answers[0].at - s.request.sentAt] : []));
    const final = await finalList();
    console.log(
      `FUZZ summary: seed=${SEED} sent=${counts.sent} answered=${counts.answered} ok=${counts.ok} error=${counts.error} busy=${counts.busy} ` +
        `latency_ms p50=${percentile(latencies, 50).toFixed(0)} p95=${percentile(latencies, 95).toFixed(0)} p99=${percentile(latencies, 99).toFixed(0)} ` +
        `rss_mb cold=${rssCold.toFixed(0)} before=${rssBefore.toFixed(0)} peak=${sampler.peak.toFixed(0)} after=${rssAfter.toFixed(0)} ` +
        `tree_peak=${sampler.treePeak.toFixed(0)} trail=${trail.join('/')} max_answer_bytes=${Math.max(...sent.flatMap((s) => s.request.answers.map((a) => a.bytes)))} ` +
        `runtime_s=${((performance.now() - started) / 1000).toFixed(1)}`,
    );
    console.log(`FUZZ by kind: ${JSON.stringify(byKind(sent))} codes: ${JSON.stringify(codes(sent))}`);

    assertAnsweredOnce(sent);
    assertOnlyAllowedOk(sent);
    assertCoverage(sent);
    assert.equal(counts.answered, counts.sent, 'answered == sent');

    // The agent is up and still says so.
    assert.ok(alive(agent.pid), `the agent process died:\n${agent.log().slice(-3000)}`);
    assert.equal(lastOn(`${BASE}/available`), 'online');
    const health = await fetch(`http://127.0.0.1:${agent.httpPort}/health`);
    assert.equal(health.status, 200, `/health: ${await health.text()}`);
    assert.doesNotMatch(agent.log(), /uncaught|unhandled|FATAL|"level":60/i, 'no crash report in the agent log');

    // Memory bounded, nothing written outside data/, no class made by a malformed request.
    assert.ok(rssAfter - rssBefore < 100, `RSS grew ${(rssAfter - rssBefore).toFixed(0)} MB`);
    // Caches fill early (libvips keeps up to 50 MB of decoded images); after that it must level off.
    const half = Number(trail[Math.floor(trail.length / 2)] ?? rssBefore);
    assert.ok(rssAfter - half < 40, `RSS still climbing in the second half: ${trail.join(' → ')} MB`);
    assert.deepEqual(changes(treeBefore, snapshot(root.path, dataDir)), []);
    assert.deepEqual(changes(modelsBefore, snapshot(MODEL_DIR, '')), []);
    assert.deepEqual(final, [], 'class/list after the fuzz');
    assert.equal(lastOn(`${BASE}/classes`), '[]', 'retained classes');
    const leaks = watched.filter(
      (m) => !m.topic.startsWith(`${BASE}/response/`) && !m.topic.startsWith('tracker/') && m.payload.includes(runId),
    );
    assert.deepEqual(leaks.map((m) => m.topic), [], 'an answer landed on a topic a request named as hostile response_topic');
  });

  void it('Home Assistant enrollment form: bad labels and cameras, then "Enroll" answers an error each time', { timeout: 60_000 }, async () => {
    const form = `${BASE}/enroll_form`;
    const enrollAnswers = (): string[] =>
      tracker.standard.filter((a) => a.topic === `${BASE}/response/class/enroll`).map((a) => a.code ?? a.status ?? '?');
    const from = enrollAnswers().length;
    const labels = BAD_LABELS.filter((l) => !l.includes('\u0000') && l.length < 1000);
    for (const label of labels) {
      await tracker.mqtt.publishAsync(`${form}/label/set`, label, { qos: 1 });
      await tracker.mqtt.publishAsync(`${form}/camera/set`, pickCamera(label), { qos: 1 });
      await tracker.mqtt.publishAsync(`${form}/enroll`, 'PRESS', { qos: 1 });
    }
    await waitFor(() => enrollAnswers().length - from >= labels.length, 20_000, 'an answer per press');
    await new Promise((r) => setTimeout(r, 500));
    const answers = enrollAnswers().slice(from);
    console.log(`FUZZ form: presses=${labels.length} answers=${answers.length} codes=${JSON.stringify(countValues(answers))}`);
    assert.equal(answers.length, labels.length, 'one answer per press');
    assert.ok(answers.every((code) => code !== 'ok' && code !== 'internal'), `form answers: ${answers.join(',')}`);
    assert.ok(alive(agent.pid), 'the agent is alive');
    assert.deepEqual(await finalList(), [], 'no class from the form');
  });

  async function sendCase(fuzz: FuzzCase, id: string): Promise<Sent> {
    let payload = payloadOf(fuzz, id);
    let responseTopic = fuzz.responseTopic;
    let byTransaction = fuzz.withTransaction && !fuzz.command.startsWith('class/enroll/');
    if (payload.length > MAX_PAYLOAD) {
      // Refused before parsing, so no transaction can come back: match on the reply topic.
      byTransaction = false;
      responseTopic = 'reply';
      if (fuzz.withTransaction) payload = payloadOf({ ...fuzz, withTransaction: false }, id);
    }
    const request = await tracker.send({
      id,
      command: fuzz.command,
      payload,
      byTransaction,
      ...(responseTopic === 'none' ? {} : { responseTopic }),
      ...(fuzz.correlationData && responseTopic === 'reply' ? { correlationData: fuzz.correlationData } : {}),
    });
    return { fuzz, request, bytes: payload.length };
  }

  function lastOn(topic: string): string | undefined {
    return watched.findLast((m) => m.topic === topic)?.payload.toString();
  }

  async function finalList(): Promise<unknown> {
    const id = `${runId}-final-${tracker.requests.size}`;
    let data: unknown;
    const onMessage = (topic: string, payload: Buffer): void => {
      if (topic !== `${BASE}/response/class/list`) return;
      const body = JSON.parse(payload.toString()) as { transaction?: unknown; data?: unknown };
      if (body.transaction === id) data = body.data;
    };
    tracker.mqtt.on('message', onMessage);
    await tracker.send({ id, command: 'class/list', payload: Buffer.from(JSON.stringify({ transaction: id })), byTransaction: true });
    await waitFor(() => data !== undefined, 20_000, 'the final class/list');
    tracker.mqtt.off('message', onMessage);
    return data;
  }

  function assertAnsweredOnce(sent: Sent[]): void {
    const problems: string[] = [];
    for (const { fuzz, request, bytes } of sent) {
      const reply = request.answers.filter((a) => a.via === 'reply');
      const standard = request.answers.filter((a) => a.via === 'standard');
      const what = `${request.id} ${fuzz.kind} ${JSON.stringify(fuzz.command.slice(0, 40))} ${describeBody(fuzz)}`;
      if (request.byReply && reply.length !== 1) problems.push(`${what}: ${reply.length} answers on its reply topic`);
      if (request.byReply && reply[0]?.correlationOk === false) problems.push(`${what}: correlation data not echoed`);
      if (request.byTransaction && standard.length !== 1) problems.push(`${what}: ${standard.length} standard answers`);
      if (!request.byReply && !request.byTransaction) problems.push(`${what}: cannot be matched (test bug)`);
      for (const a of standard) {
        if (a.topic !== `${BASE}/response/${answeredOn(fuzz.command)}`) problems.push(`${what}: answered on ${a.topic}`);
      }
      if (new Set(request.answers.map((a) => a.status)).size > 1) problems.push(`${what}: answers disagree`);
      // An error answer names the field; it must not be an amplified copy of the request.
      const biggest = Math.max(0, ...request.answers.map((a) => a.bytes));
      if (biggest > Math.max(8192, bytes + 1024)) problems.push(`${what}: ${biggest}-byte answer to a ${bytes}-byte request`);
    }
    assert.deepEqual(tracker.strays, [], 'stray answers');
    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} requests not answered exactly once`);
    // Every request gets one standard answer, matched or not: no more, no less.
    assert.equal(tracker.standard.length, tracker.requests.size, 'standard answers == requests');
  }

  function assertOnlyAllowedOk(sent: Sent[]): void {
    const wrong = sent
      .filter((s) => s.request.answers[0]?.status === 'ok' && !s.fuzz.mayBeOk)
      .map((s) => `${s.request.id} ${s.fuzz.kind} ${s.fuzz.command.slice(0, 40)}`);
    assert.deepEqual(wrong, [], 'malformed requests answered ok');
    const noCode = sent.filter((s) => s.request.answers[0]?.status === 'error' && !s.request.answers[0].code);
    assert.equal(noCode.length, 0, 'every error answer carries a code');
    const internal = sent.filter((s) => s.request.answers.some((a) => a.code === 'internal'));
    assert.deepEqual(internal.map((s) => `${s.fuzz.kind} ${s.fuzz.command.slice(0, 40)}`), [], 'internal errors (a bug, not a refusal)');
  }

  function assertCoverage(sent: Sent[]): void {
    const seen = new Map<string, number>();
    for (const s of sent) {
      const key = s.fuzz.command.startsWith('class/enroll/') ? 'class/enroll/<label>' : s.fuzz.command;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    const unknown = sent.filter((s) => s.fuzz.kind === 'unknown-command').length;
    const hostile = sent.filter((s) => !['reply', 'none'].includes(s.fuzz.responseTopic)).length;
    const least = Math.floor(COUNT / 60); // 20 of each at the default 1200
    for (const command of [...JSON_COMMANDS, 'class/enroll/<label>']) {
      assert.ok((seen.get(command) ?? 0) >= least, `only ${seen.get(command) ?? 0} requests on ${command}`);
    }
    assert.ok(unknown >= least && hostile >= least, `unknown commands ${unknown}, hostile response topics ${hostile}`);
  }
});

function byKind(sent: Sent[]): Record<string, string> {
  const groups = new Map<string, TrackedRequest[]>();
  for (const s of sent) {
    groups.set(s.fuzz.kind, [...(groups.get(s.fuzz.kind) ?? []), s.request]);
  }
  return Object.fromEntries(
    [...groups].map(([kind, requests]) => {
      const t = tally(requests);
      return [kind, `${t.sent}/${t.ok}ok/${t.error}err/${t.busy}busy`];
    }),
  );
}

function codes(sent: Sent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of sent) {
    const a = s.request.answers[0];
    const key = a ? (a.code ?? a.status ?? '?') : 'none';
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** A short description of a case for failure messages: keys and value shapes, not contents. */
function describeBody(fuzz: FuzzCase): string {
  if (fuzz.raw) return `raw ${fuzz.raw.length} bytes ${fuzz.raw.subarray(0, 8).toString('hex')}`;
  const body = fuzz.body as Record<string, unknown>;
  const shape = (v: unknown): string =>
    v instanceof Deep ? `deep-${v.kind}` : Array.isArray(v) ? `array(${v.length})` : typeof v === 'string' ? `string(${v.length})` : typeof v;
  return `{${Object.keys(body).map((k) => `${k}:${shape(body[k])}`).join(',')}}`;
}

/** A camera name for the form: none is configured, so each one is unknown. */
function pickCamera(label: string): string {
  return ['', 'door', '../cam', label][label.length % 4]!;
}

function countValues(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
