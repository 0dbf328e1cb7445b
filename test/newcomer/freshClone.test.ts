/**
 * A newcomer's machine: the committed HEAD cloned into an empty folder (nothing beside it,
 * no models or photos), set up and tested with the README's own commands, and the agent started
 * with the README's run command. The environment holds only PATH, HOME, what npm needs to
 * reach its registry, and EDGE_IMPRINT_MODEL_MIRROR when it is set (else the models are
 * downloaded). Minutes: `npm run test:newcomer`, kept out of `npm test`.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { probeBroker } from '../../src/mqtt/brokerProbe.js';
import { ROOT, tempDir, waitFor } from '../helpers/env.js';
import { descendants } from '../helpers/processes.js';
import { readmeCommands } from '../helpers/readme.js';

/** Variables a user's shell may carry that npm needs to reach its registry; nothing else. */
const NPM_NEEDS = [
  'http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY',
  'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'npm_config_registry', 'NPM_CONFIG_REGISTRY',
];

function newcomerEnv(): NodeJS.ProcessEnv {
  // PATH without this checkout's node_modules/.bin, which `npm run` puts first.
  const path = (process.env.PATH ?? '').split(delimiter).filter((p) => p && !p.startsWith(ROOT)).join(delimiter);
  const env: NodeJS.ProcessEnv = { PATH: path, HOME: process.env.HOME ?? '' };
  for (const name of [...NPM_NEEDS, 'EDGE_IMPRINT_MODEL_MIRROR']) {
    if (process.env[name]) env[name] = process.env[name];
  }
  return env;
}

/** Runs a README command line with bash in `cwd`; its output goes to `logFile`. */
function runCommand(command: string, cwd: string, logFile: string): Promise<number | null> {
  const log = createWriteStream(logFile, { flags: 'a' });
  log.write(`\n$ ${command}\n`);
  const child = spawn('bash', ['-euo', 'pipefail', '-c', command], { cwd, env: newcomerEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  return new Promise((resolve) => child.once('close', (code) => log.end(() => resolve(code))));
}

/** The `edge-imprint run` process among `root`'s descendants. */
function agentPid(root: number): number | undefined {
  return descendants(root).find((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv.some((a) => a.endsWith(join('dist', 'cli', 'main.js'))) && argv.includes('run');
    } catch {
      return false;
    }
  });
}

function tail(file: string, lines = 60): string {
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

/**
 * The failed tests of a TAP log, each with the lines of its report (the log's tail rarely
 * holds them: the summary of a long run is all it shows).
 */
function failedTests(log: string, linesEach = 30): string {
  const lines = log.split('\n');
  const blocks: string[] = [];
  lines.forEach((line, i) => {
    if (/^\s*not ok \d+ - /.test(line)) blocks.push(lines.slice(i, i + linesEach).join('\n'));
  });
  return blocks.join('\n[…]\n');
}

/** What a failed README command printed that tells why: its failed tests, then its tail. */
function whyFailed(file: string): string {
  const failed = failedTests(readFileSync(file, 'utf8'));
  return `${failed ? `failed tests:\n${failed}\n\n` : ''}the log's last lines:\n${tail(file, 20)}`;
}

void describe('a newcomer: fresh clone, the README commands, nothing beside it', { timeout: 40 * 60_000 }, () => {
  const dir = tempDir('edge-imprint-newcomer-');
  const clone = join(dir.path, 'edge-imprint');
  const logFile = join(dir.path, 'newcomer.log');
  let passed = true;
  after(() => {
    // Kept on failure, for the log and the clone.
    if (passed) dir.cleanup();
  });
  const check = <T>(fn: () => Promise<T>): Promise<T> =>
    fn().catch((err: unknown) => {
      passed = false;
      throw err;
    });

  void it('clones the committed HEAD into an empty folder', () =>
    check(async () => {
      const head = spawnSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
      assert.match(head, /^[0-9a-f]{40}$/);
      const cloned = spawnSync('git', ['clone', '--quiet', '--no-checkout', ROOT, clone], { encoding: 'utf8', env: newcomerEnv() });
      assert.equal(cloned.status, 0, cloned.stderr);
      const checkout = spawnSync('git', ['-C', clone, 'checkout', '--quiet', '--detach', head], { encoding: 'utf8' });
      assert.equal(checkout.status, 0, checkout.stderr);
      // Nothing beside the clone: no models, no photos, no shared folder.
      assert.deepEqual(readdirSync(dir.path), ['edge-imprint']);
      assert.equal(existsSync(join(clone, 'node_modules')), false);
    }));

  void it('the README Tests command (install --test, npm ci, npm test) passes there', () =>
    check(async () => {
      const [setupAndTest] = readmeCommands('Tests', clone);
      assert.deepEqual(setupAndTest, ['bash scripts/install-system-deps.sh --test && ONNXRUNTIME_NODE_INSTALL=skip npm ci && npm test']);
      const code = await runCommand(setupAndTest![0]!, clone, logFile);
      const out = readFileSync(logFile, 'utf8');
      assert.equal(code, 0, `exit ${code}; log ${logFile}:\n${whyFailed(logFile)}`);
      const pass = Number(/^# pass (\d+)$/m.exec(out)?.[1] ?? 0);
      assert.ok(pass > 100, `only ${pass} tests passed`);
      assert.match(out, /^# fail 0$/m);
      assert.match(out, /_edgetpu\.tflite: (copied|downloaded), sha256 ok/);
    }));

  void it('the system install is idempotent: run again, it installs nothing', () =>
    check(async () => {
      for (const command of ['bash scripts/install-system-deps.sh --test', 'bash scripts/install-system-deps.sh']) {
        const before = readFileSync(logFile, 'utf8').length;
        assert.equal(await runCommand(command, clone, logFile), 0, tail(logFile));
        assert.match(readFileSync(logFile, 'utf8').slice(before), /system packages: all present/);
      }
    }));

  void it('the README run command starts the agent on its defaults; SIGINT stops it with status 0', () =>
    check(async () => {
      const [quickStart] = readmeCommands('Quick start', clone);
      const parts = quickStart![0]!.split('&&').map((p) => p.trim());
      // The set-up parts ran above (install-system-deps.sh and npm ci); the last part runs it.
      assert.deepEqual(parts.slice(0, -1), ['bash scripts/install-system-deps.sh', 'ONNXRUNTIME_NODE_INSTALL=skip npm ci']);
      const run = parts.at(-1)!;
      assert.equal(run, 'npm start');
      const brokerBefore = await probeBroker({ host: '127.0.0.1', port: 1883 });
      let log = '';
      // Its own process group, so that the clean-up below can end all of it.
      const child = spawn('bash', ['-c', run], { cwd: clone, env: newcomerEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (b: Buffer) => (log += b.toString()));
      child.stderr.on('data', (b: Buffer) => (log += b.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      try {
        await waitFor(() => log.includes('Enroll a first class') || child.exitCode !== null, 120_000, `the start-up banner:\n${log}`);
        assert.match(log, /Enroll a first class: +mosquitto_pub -h 127\.0\.0\.1 -p 1883 /, log);
        // The embedded broker, unless a broker already answered on 1883 before the start.
        assert.match(log, brokerBefore.kind === 'broker' ? /using the MQTT broker already answering on mqtt:\/\/127\.0\.0\.1:1883/ : /started the embedded MQTT broker on mqtt:\/\/127\.0\.0\.1:1883/);
        assert.match(log, /model files not found .*copying them from|downloading Coral's official files/);
        // SIGINT to the agent itself (npm, on a SIGINT of its own, would end by the signal).
        const agent = await waitFor(() => agentPid(child.pid!), 10_000, 'the agent process under npm start');
        process.kill(agent, 'SIGINT');
        const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
        assert.equal(code, 0, log.slice(-3000));
        assert.match(log, /SIGINT: stopping/);
      } finally {
        if (child.exitCode === null) {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    }));
});
