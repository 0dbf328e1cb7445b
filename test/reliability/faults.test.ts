/**
 * Fault injection against the real agent process: a real mosquitto, a real GStreamer RTSP
 * camera, the real models and SQLite. Each fault is followed by the same questions: does
 * the agent run (or did it restart cleanly), are `available` and the retained states right,
 * is every class enrolled before the fault intact, and is a half-done enrollment either
 * complete or absent?
 *
 * One agent is shared by the faults where that is safe (camera, broker, detector child,
 * full disk, kill -9); the Edge TPU fault needs its own agent (another detector config).
 * The data folder is a small tmpfs mount, so the disk can really be filled (root only;
 * without it that fault is skipped and the others use a plain folder).
 *
 * Every fault prints one `FAULT |` line (what was injected, recovery time, outcome); the
 * whole table is printed again at the end. FAULTS_SEED changes the kill moments.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentProbe, type ClassEntry } from '../helpers/agentProbe.js';
import { startAgentProcess, type AgentProcess } from '../helpers/agentProcess.js';
import { runCli } from '../helpers/cli.js';
import { image, tempDir, waitFor } from '../helpers/env.js';
import { buildFakeEdgetpu } from '../helpers/fakeEdgetpu.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';
import { alive, descendants } from '../helpers/processes.js';
import { buildTestClip, startRtspServer, type RtspServer } from '../helpers/rtspServer.js';
import { seededRandom } from '../../src/recognition/vector.js';

const BASE = 'faults';
const CAMERA = 'porch';
const STALL_S = 3;
const RTSP_CYCLES = 3;
const KILL_ROUNDS = Number(process.env.FAULTS_KILL_ROUNDS ?? 5);
const SEED = Number(process.env.FAULTS_SEED ?? 20261125);
const TMPFS_MB = 32;

const summary: string[] = [];
function report(fault: string, injected: string, recovery: string, outcome: string): void {
  const line = `FAULT | ${fault} | ${injected} | recovery ${recovery} | ${outcome}`;
  summary.push(line);
  console.log(line);
}

const b64 = (name: string): string => readFileSync(image(name)).toString('base64');

/** Deterministic kill moments, so a failing round can be replayed with FAULTS_SEED. */
const rng = seededRandom;

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function detectorPid(agentPid: number): number | undefined {
  return descendants(agentPid).find((pid) => commandLine(pid).includes('detector/child'));
}

function mountTmpfs(path: string): boolean {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_MB}m,mode=0755`, 'tmpfs', path], { encoding: 'utf8' });
  return r.status === 0;
}

/** Writes zeros to `file` until the file system says ENOSPC; returns the bytes written. */
function fillDisk(file: string): number {
  const fd = openSync(file, 'w');
  let written = 0;
  try {
    for (const size of [1 << 20, 1 << 12, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

function sameClass(a: ClassEntry | undefined, b: ClassEntry): boolean {
  return !!a && a.label === b.label && a.shots === b.shots && a.background === b.background &&
    a.created_at === b.created_at && a.updated_at === b.updated_at;
}

describe('faults against a real agent process', { timeout: 240_000 }, () => {
  const work = tempDir('edge-imprint-faults-');
  const dataDir = join(work.path, 'data');
  let tmpfs = false;
  let broker: Mosquitto;
  let rtsp: RtspServer;
  let rtspPort = 0;
  let clip = '';
  let agent: AgentProcess;
  let probe: AgentProbe;
  const extraProbes: AgentProbe[] = [];
  const extraAgents: AgentProcess[] = [];
  const extraDirs: Array<{ cleanup: () => void }> = [];
  /** Classes whose enrollment was answered `ok`: each must survive every later fault unchanged. */
  const known = new Map<string, ClassEntry>();

  const config = (): Record<string, unknown> => ({
    node_id: 'faults_agent',
    data_dir: dataDir,
    mqtt: { url: broker.url, base_topic: BASE, stats_interval: 1, discovery: { enabled: false } },
    detector: { type: 'cpu', threads: 1 },
    cameras: { [CAMERA]: { url: rtsp.url, fps: 2, stall_timeout: STALL_S } },
    log: { level: 'info' },
  });

  /** The class list straight from the store, through the agent. */
  async function listClasses(): Promise<ClassEntry[]> {
    const answer = await probe.request('class/list', {});
    assert.equal(answer.status, 'ok', `class/list: ${answer.error}`);
    return answer.data as ClassEntry[];
  }

  async function enroll(label: string, images: string[], background = false): Promise<void> {
    const answer = await probe.request('class/enroll', { label, images: images.map(b64), background }, 30_000);
    assert.equal(answer.status, 'ok', `enroll ${label}: ${answer.error}`);
  }

  /** Remembers the current entries of `labels` as the reference later faults must keep. */
  async function remember(labels: string[]): Promise<void> {
    const list = await listClasses();
    for (const label of labels) {
      const entry = list.find((c) => c.label === label);
      assert.ok(entry, `class ${label} is listed`);
      known.set(label, entry);
    }
  }

  /** Every class enrolled before is there with the same shots and times, in the store and on MQTT. */
  async function assertIntact(where: string): Promise<void> {
    const list = await listClasses();
    for (const entry of known.values()) {
      assert.ok(sameClass(list.find((c) => c.label === entry.label), entry), `${where}: class ${entry.label} intact`);
    }
    await waitFor(
      () => [...known.values()].every((e) => sameClass(probe.classes().find((c) => c.label === e.label), e)),
      5000,
      `${where}: the retained classes list to hold every known class`,
    );
    // The weights work too: a training photo still classifies as its class.
    const answer = await probe.request('classify', { image: b64('cat_train_0.jpg') });
    assert.equal(answer.status, 'ok', `${where}: classify: ${answer.error}`);
    assert.equal((answer.data as { label: string }).label, 'cat', `${where}: cat_train_0 is still a cat`);
  }

  /** `available` online and the retained `state` consistent with the camera status and the classes. */
  async function assertStates(where: string, opts: { camera?: 'online' | 'offline' } = {}): Promise<void> {
    assert.ok(alive(agent.pid) && agent.proc.exitCode === null, `${where}: the agent runs`);
    await waitFor(() => probe.latest('available')?.text === 'online', 10_000, `${where}: available online`);
    const camera = opts.camera ?? 'online';
    await waitFor(() => probe.latest(`${CAMERA}/status`)?.text === camera, 15_000, `${where}: ${CAMERA}/status ${camera}`);
    await waitFor(
      () => {
        const state = probe.state() as { classes: string[]; cameras: Record<string, { status: string }> } | undefined;
        return (
          state?.cameras[CAMERA]?.status === camera &&
          [...known.keys()].every((label) => state.classes.includes(label))
        );
      },
      5000,
      `${where}: state with ${CAMERA} ${camera} and every known class`,
    );
  }

  /** Runs `body`; on failure prints the end of the agent's log, which usually says why. */
  async function logged(body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (err) {
      console.error(`--- agent log (tail) ---\n${agent.log().slice(-6000)}`);
      throw err;
    }
  }

  before(async () => {
    mkdirSync(dataDir);
    tmpfs = mountTmpfs(dataDir);
    broker = await startMosquitto({ persistence: false });
    // Short stills, looped in the file, small: cheap to serve and to decode.
    clip = buildTestClip(work.path, 'clip', {
      images: [image('dog_test_0.jpg'), image('sunflower.jpg')],
      secondsEach: 2,
      repeat: 150,
      width: 320,
      height: 240,
      fps: 5,
      gop: 5,
    });
    rtsp = await startRtspServer({ file: clip });
    rtspPort = rtsp.port;
    agent = await startAgentProcess({ dir: work.path, config: config() });
    probe = await AgentProbe.connect(broker.url, BASE);
    await probe.next('available', (t) => t === 'online');
    await probe.next(`${CAMERA}/status`, (t) => t === 'online', { timeoutMs: 20_000 });
    await enroll('dog', ['dog_train_0.jpg']);
    await enroll('cat', ['cat_train_0.jpg']);
    await enroll('hotdog', ['hotdog_train_0.jpg', 'hotdog_train_1.jpg']);
    await enroll('garden', ['sunflower.jpg'], true);
    await remember(['dog', 'cat', 'hotdog', 'garden']);
  });

  after(async () => {
    for (const p of [probe, ...extraProbes]) await p?.close();
    for (const a of [agent, ...extraAgents]) await a?.stop(5000).catch(() => undefined);
    await rtsp?.kill().catch(() => undefined);
    await broker?.cleanup().catch(() => undefined);
    if (tmpfs) spawnSync('umount', ['-l', dataDir]);
    work.cleanup();
    for (const d of extraDirs) d.cleanup();
    console.log(`\nFAULT SUMMARY (${summary.length} faults)\n${summary.join('\n')}`);
  });

  it('1. RTSP server killed and restarted: offline within the stall timeout, online again after', () =>
    logged(async () => {
      const offline: number[] = [];
      const online: number[] = [];
      for (let cycle = 0; cycle < RTSP_CYCLES; cycle++) {
        await waitFor(() => probe.latest(`${CAMERA}/status`)?.text === 'online', 20_000, 'camera online');
        const killedAt = Date.now();
        await rtsp.kill();
        const off = await probe.next(`${CAMERA}/status`, (t) => t === 'offline', {
          since: killedAt,
          timeoutMs: STALL_S * 1000 + 5000,
        });
        offline.push(off.at - killedAt);
        // The stall check runs every stall_timeout/4: allow one period plus scheduling slack.
        assert.ok(off.at - killedAt <= STALL_S * 1000 + 1500, `offline after ${off.at - killedAt} ms`);
        await assertStates(`rtsp cycle ${cycle + 1} (down)`, { camera: 'offline' });
        const backAt = Date.now();
        rtsp = await startRtspServer({ file: clip, port: rtspPort });
        const on = await probe.next(`${CAMERA}/status`, (t) => t === 'online', { since: backAt, timeoutMs: 20_000 });
        online.push(on.at - backAt);
        await assertStates(`rtsp cycle ${cycle + 1} (back)`);
      }
      await assertIntact('after the RTSP cycles');
      const stats = JSON.parse((await probe.next('stats', () => true, { since: Date.now() })).text) as {
        cameras: Record<string, { reconnects: number }>;
      };
      assert.ok((stats.cameras[CAMERA]?.reconnects ?? 0) >= RTSP_CYCLES, 'stats count the reconnects');
      report(
        'rtsp server kill -9 + restart',
        `${RTSP_CYCLES} cycles, stall_timeout ${STALL_S} s`,
        `offline after ${offline.join('/')} ms, online ${online.join('/')} ms after the server returned`,
        `survived: same agent pid, status+state right each time, ${known.size} classes intact`,
      );
    }));

  it('2. broker restarted (retained messages lost): the agent reconnects and republishes every state', () =>
    logged(async () => {
      const t0 = Date.now();
      await broker.restart(); // persistence off: the new broker knows nothing retained
      // A fresh subscriber can only see what the agent published again after reconnecting.
      const fresh = await AgentProbe.connect(broker.url, BASE);
      extraProbes.push(fresh);
      const online = await fresh.next('available', (t) => t === 'online', { timeoutMs: 20_000 });
      const reconnectMs = online.at - t0;
      await fresh.next(`${CAMERA}/status`, (t) => t === 'online', { timeoutMs: 5000 });
      await fresh.next('classes', () => true, { timeoutMs: 5000 });
      const state = JSON.parse((await fresh.next('state', () => true, { timeoutMs: 5000 })).text) as {
        classes: string[];
        cameras: Record<string, { status: string }>;
      };
      for (const entry of known.values()) {
        assert.ok(sameClass(fresh.classes().find((c) => c.label === entry.label), entry), `retained ${entry.label}`);
        assert.ok(state.classes.includes(entry.label), `state lists ${entry.label}`);
      }
      assert.equal(state.cameras[CAMERA]?.status, 'online');
      // The first probe reconnected by itself; requests work over the new broker.
      await waitFor(() => probe.latest('available')?.text === 'online' && probe.latest('available')!.at >= t0, 10_000, 'probe sees online');
      await assertStates('after the broker restart');
      await assertIntact('after the broker restart');
      report(
        'mosquitto restart (retained state wiped)',
        '1 restart on the same port',
        `available online + state/classes/${CAMERA}/status republished ${reconnectMs} ms after the restart began`,
        `survived: same agent pid, ${known.size} classes intact`,
      );
    }));

  it('3. detector child killed with SIGKILL and SIGSEGV: classify and enroll still answer ok', () =>
    logged(async () => {
      const t0 = Date.now();
      const recovery: string[] = [];
      for (const signal of ['SIGKILL', 'SIGSEGV'] as const) {
        const pid = await waitFor(() => detectorPid(agent.pid), 10_000, 'the detector child');
        const killedAt = Date.now();
        process.kill(pid, signal);
        const answer = await probe.request('classify', { image: b64('dog_train_0.jpg') });
        assert.equal(answer.status, 'ok', `classify after ${signal}: ${answer.error}`);
        assert.equal((answer.data as { label: string }).label, 'dog');
        recovery.push(`${signal} ${Date.now() - killedAt} ms`);
        const again = await waitFor(() => detectorPid(agent.pid), 10_000, 'a new detector child');
        assert.notEqual(again, pid, `a new detector child after ${signal}`);
        assert.ok(!alive(pid), `the killed child ${pid} is gone`);
      }
      await enroll('owl', ['owl.jpg', 'bird.jpg']);
      await remember(['owl']);
      const stats = await probe.next('stats', (t) => (JSON.parse(t) as { detector: { restarts: number } }).detector.restarts >= 2, {
        since: t0,
        timeoutMs: 5000,
      });
      const restarts = (JSON.parse(stats.text) as { detector: { restarts: number } }).detector.restarts;
      await assertStates('after the detector kills');
      await assertIntact('after the detector kills');
      report(
        'detector child SIGKILL + SIGSEGV',
        '2 kills',
        `first classify answered ok ${recovery.join(', ')} after the kill`,
        `survived: stats.detector.restarts=${restarts}, enroll ok, ${known.size} classes intact`,
      );
    }));

  it('4. data folder file system full during an enrollment: a clear error, nothing half-stored, works after freeing space', (t) =>
    logged(async () => {
      if (!tmpfs) {
        t.skip('cannot mount a tmpfs here (needs root)');
        return;
      }
      const fill = join(dataDir, 'fill.bin');
      const images = ['parrot.jpg', 'pets.jpg', 'dragonfly.jpg', 'hot_dog.jpg', 'cat_720p.jpg', 'cat.jpg'];
      const sentAt = Date.now();
      const tx = await probe.send('class/enroll', { label: 'full_disk', images: images.map(b64) });
      const filled = fillDisk(fill); // the images are still being embedded: the store write comes next
      const answer = await probe.waitAnswer(tx, 30_000);
      const answerMs = Date.now() - sentAt;
      assert.equal(answer.status, 'error', 'enrolling onto a full disk is refused');
      assert.match(answer.error ?? '', /data_dir: no space left/, `the error says the disk is full: ${answer.error}`);
      assert.ok(alive(agent.pid), 'the agent still runs');
      // Reading still works on the full disk; nothing of the failed enrollment is there.
      const list = await listClasses();
      assert.equal(list.find((c) => c.label === 'full_disk'), undefined, 'the failed enrollment is absent');
      await assertIntact('with the disk full');
      await assertStates('with the disk full');
      unlinkSync(fill);
      const freedAt = Date.now();
      const retry = await probe.request('class/enroll', { label: 'full_disk', images: images.map(b64) }, 30_000);
      assert.equal(retry.status, 'ok', `enroll after freeing space: ${retry.error}`);
      assert.equal((retry.data as { shots: number }).shots, images.length, 'all images stored, once');
      await remember(['full_disk']);
      await assertIntact('after freeing space');
      report(
        `data dir full (tmpfs ${TMPFS_MB} MB, ${Math.round(filled / 2 ** 20)} MB filler)`,
        `enroll of ${images.length} images while the disk filled`,
        `error answer in ${answerMs} ms; enroll ok ${Date.now() - freedAt} ms after freeing space`,
        `survived: "${answer.error}"; nothing half-stored; ${known.size} classes intact`,
      );
    }));

  it(`5. agent killed with -9 during enrollments (${KILL_ROUNDS} rounds): each enrollment complete or absent`, () =>
    logged(async () => {
      const random = rng(SEED);
      const pool = ['bird.jpg', 'owl.jpg', 'parrot.jpg', 'dragonfly.jpg', 'pets.jpg', 'cat.jpg', 'hot_dog.jpg'].map(b64);
      const perRequest = 3;
      const restartMs: number[] = [];
      // okBefore: answered before the kill; redelivered: answered by the restarted agent (it
      // never got them, the broker kept them in its session); lost: taken but never answered.
      const outcome = { complete: 0, absent: 0, okBefore: 0, redelivered: 0, lost: 0 };
      const delays: number[] = [];
      for (let round = 1; round <= KILL_ROUNDS; round++) {
        const sent: Array<{ label: string; tx: string }> = [];
        for (let k = 0; k < 3; k++) {
          const label = `kill${round}_${k}`;
          const images = Array.from({ length: perRequest }, (_, i) => pool[(round + k + i) % pool.length]!);
          sent.push({ label, tx: await probe.send('class/enroll', { label, images }) });
        }
        const delay = Math.round(100 + random() * 1400);
        delays.push(delay);
        await sleep(delay);
        const okBefore = sent.filter((s) => probe.answer(s.tx)?.status === 'ok').map((s) => s.label);
        outcome.okBefore += okBefore.length;
        const children = descendants(agent.pid);
        const killedAt = Date.now();
        await agent.kill();
        await probe.next('available', (t) => t === 'offline', { since: killedAt, timeoutMs: 5000 });
        // Nothing the agent started outlives it (the detector child and ffmpeg notice the closed pipes).
        await waitFor(() => children.every((pid) => !alive(pid)), 10_000, `children ${children.join(',')} to exit`);
        agent = await startAgentProcess({ dir: work.path, config: config() });
        const online = await probe.next('available', (t) => t === 'online', { since: killedAt, timeoutMs: 30_000 });
        restartMs.push(online.at - killedAt);
        // Requests the dead agent never received wait in its persistent session and are
        // answered now; one it received but did not finish is lost (no answer). Give them time.
        await waitFor(() => sent.every((s) => probe.answer(s.tx)), 6000, 'answers').catch(() => undefined);
        const list = await listClasses();
        for (const s of sent) {
          const entry = list.find((c) => c.label === s.label);
          const answer = probe.answer(s.tx);
          if (!answer) outcome.lost++;
          else if (!okBefore.includes(s.label)) outcome.redelivered++;
          if (answer?.status === 'ok') assert.ok(entry, `round ${round}: ${s.label} was answered ok, so it is stored`);
          if (entry) {
            assert.equal(entry.shots, perRequest, `round ${round}: ${s.label} is complete (${entry.shots}/${perRequest} shots)`);
            outcome.complete++;
          } else {
            assert.notEqual(answer?.status, 'ok');
            outcome.absent++;
          }
        }
        await remember(list.filter((c) => c.label.startsWith(`kill${round}_`)).map((c) => c.label));
        await assertStates(`kill round ${round}`);
        await assertIntact(`kill round ${round}`);
      }
      // The CLI reads the same data dir (beside the running agent) and sees the same classes.
      const cli = runCli(['classes', 'list', '--json', '--data-dir', dataDir]);
      assert.equal(cli.code, 0, cli.stderr);
      const fromCli = JSON.parse(cli.stdout) as ClassEntry[];
      for (const entry of known.values()) {
        assert.ok(sameClass(fromCli.find((c) => c.label === entry.label), entry), `CLI lists ${entry.label} intact`);
      }
      const total = KILL_ROUNDS * 3;
      report(
        'agent kill -9 during enrollment',
        `${KILL_ROUNDS} rounds x 3 requests x ${perRequest} images, killed ${delays.join('/')} ms after sending (seed ${SEED})`,
        `online again ${restartMs.join('/')} ms after the kill`,
        `survived: ${outcome.complete}/${total} complete, ${outcome.absent}/${total} absent, 0 partial ` +
          `(answered before the kill ${outcome.okBefore}, after the restart ${outcome.redelivered}, ` +
          `taken but never answered ${outcome.lost}); ` +
          `${known.size} classes intact (MQTT + CLI); no orphan processes`,
      );
    }));

  it('6. Edge TPU delegate crashes on every inference: falls back to the CPU, state says cpu, classify ok', () =>
    logged(async () => {
      const dir = tempDir('edge-imprint-faults-tpu-');
      extraDirs.push(dir);
      const library = buildFakeEdgetpu(dir.path);
      const base = 'faults-tpu';
      const tpu = await startAgentProcess({
        dir: dir.path,
        config: {
          node_id: 'faults_tpu',
          mqtt: { url: broker.url, base_topic: base, stats_interval: 1, discovery: { enabled: false } },
          detector: { type: 'edgetpu', device: 'usb', edgetpu_library: library },
          log: { level: 'info' },
        },
        env: { FAKE_EDGETPU_MODE: 'crash_on_invoke' },
      });
      extraAgents.push(tpu);
      try {
        const p = await AgentProbe.connect(broker.url, base);
        extraProbes.push(p);
        await p.next('available', (t) => t === 'online');
        const detectorType = (t: string): string => (JSON.parse(t) as { detector: { type: string } }).detector.type;
        await p.next('state', (t) => detectorType(t) === 'edgetpu', { timeoutMs: 5000 });
        const sentAt = Date.now();
        const enrolled = await p.request('class/enroll', { label: 'cat', images: [b64('cat_train_0.jpg')] }, 60_000);
        const fallbackMs = Date.now() - sentAt;
        assert.equal(enrolled.status, 'ok', `enroll through the crashing delegate: ${enrolled.error}`);
        await p.next('state', (t) => detectorType(t) === 'cpu', { since: sentAt, timeoutMs: 5000 });
        const classified = await p.request('classify', { image: b64('cat_train_0.jpg') });
        assert.equal(classified.status, 'ok', `classify: ${classified.error}`);
        assert.equal((classified.data as { label: string }).label, 'cat');
        const stats = JSON.parse((await p.next('stats', () => true, { since: Date.now() })).text) as {
          detector: { type: string; restarts: number };
        };
        assert.equal(stats.detector.type, 'cpu');
        assert.ok(stats.detector.restarts >= 1, 'the crashes were counted');
        // Retained: a subscriber arriving now is told `cpu`.
        const late = await AgentProbe.connect(broker.url, base);
        extraProbes.push(late);
        const retained = await late.next('state', () => true, { timeoutMs: 5000 });
        assert.ok(retained.retain, 'state is retained');
        assert.equal(detectorType(retained.text), 'cpu');
        assert.ok(alive(tpu.pid));
        report(
          'Edge TPU delegate SIGSEGV on invoke',
          'fake libedgetpu crash_on_invoke',
          `first enroll answered ok ${fallbackMs} ms after sending (3 crashes, then CPU)`,
          `survived: state.detector.type cpu (retained), stats.restarts=${stats.detector.restarts}, classify ok`,
        );
      } catch (err) {
        console.error(`--- Edge TPU agent log (tail) ---\n${tpu.log().slice(-6000)}`);
        throw err;
      } finally {
        await tpu.stop(5000);
      }
    }));
});
