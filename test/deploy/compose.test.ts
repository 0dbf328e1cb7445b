/**
 * No Docker engine here: docker-compose.yml, the Dockerfile, .dockerignore and the systemd
 * unit are checked by reading them, against each other and against the config schema.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { validateConfig } from '../../src/config/load.js';
import { leaves, mainSchema } from '../../src/config/schema.js';
import { ROOT, tempDir } from '../helpers/env.js';

interface Service {
  image?: string;
  build?: { context: string; args?: Record<string, string> };
  restart?: string;
  ports?: string[];
  volumes?: string[];
  devices?: string[];
  environment?: Record<string, string>;
  secrets?: string[];
  healthcheck?: { test: string[] | string };
  depends_on?: string[];
}

interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { file: string }>;
}

const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

/**
 * deploy/ copied to a temporary folder and deploy/make-secrets.sh run there, as a user does
 * before `docker compose up`: the files under deploy/secrets/ exist only then.
 */
function madeSecrets(): { root: string; cleanup: () => void; run: () => string } {
  const dir = tempDir('edge-imprint-secrets-');
  cpSync(join(ROOT, 'deploy'), join(dir.path, 'deploy'), { recursive: true, filter: (src) => !src.includes(`${join('deploy', 'secrets')}`) });
  const run = (): string => {
    const r = spawnSync('bash', [join(dir.path, 'deploy', 'make-secrets.sh')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  run();
  return { root: dir.path, cleanup: dir.cleanup, run };
}

/** A mount's or secret's source: in the repository, or made by deploy/make-secrets.sh. */
function sourceExists(source: string, secrets: { root: string }): boolean {
  return source.startsWith('./deploy/secrets/') ? existsSync(join(secrets.root, source)) : existsSync(join(ROOT, source));
}
const compose = parse(read('docker-compose.yml')) as Compose;
const schemaDefaults = mainSchema({ nodeId: 'x' });
const defaultHttpPort = leaves(schemaDefaults).find(([p]) => p === 'http.port')?.[1].default;

function service(name: string): Service {
  const s = compose.services[name];
  assert.ok(s, `service ${name} is missing`);
  return s;
}

/** `source:target[:mode]` → {source, target}. */
function mount(spec: string): { source: string; target: string } {
  const [source = '', target = ''] = spec.split(':');
  return { source, target };
}

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function dockerfile(): Instruction[] {
  const text = read('Dockerfile')
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => {
      const space = l.indexOf(' ');
      return { op: l.slice(0, space).toUpperCase(), args: l.slice(space + 1).trim() };
    });
}

/** Stages by name, each with its instructions; the last one is the image that runs. */
function stages(): Array<{ from: string; name: string; body: Instruction[] }> {
  const out: Array<{ from: string; name: string; body: Instruction[] }> = [];
  for (const ins of dockerfile()) {
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `FROM ${ins.args}`);
      out.push({ from: m[1] ?? '', name: m[2] ?? '', body: [] });
    } else {
      out[out.length - 1]?.body.push(ins);
    }
  }
  return out;
}

void describe('docker-compose.yml', () => {
  const secrets = madeSecrets();
  after(() => secrets.cleanup());

  void it('has mosquitto with its mounted config, password file and ACL, matching mosquitto.conf', () => {
    const mosquitto = service('mosquitto');
    assert.match(mosquitto.image ?? '', /^eclipse-mosquitto:2/);
    assert.equal(mosquitto.restart, 'unless-stopped');
    const mounts = (mosquitto.volumes ?? []).map(mount);
    const conf = read('deploy/mosquitto/mosquitto.conf');
    for (const [directive, target] of [
      ['password_file', '/mosquitto/config/passwd'],
      ['acl_file', '/mosquitto/config/acl'],
    ] as const) {
      assert.match(conf, new RegExp(`^${directive} ${target}$`, 'm'));
      const m = mounts.find((v) => v.target === target);
      assert.ok(m, `${target} is not mounted`);
      assert.ok(sourceExists(m.source, secrets), `${m.source} does not exist (or deploy/make-secrets.sh does not make it)`);
    }
    assert.ok(mounts.some((v) => v.target === '/mosquitto/config/mosquitto.conf' && v.source === './deploy/mosquitto/mosquitto.conf'));
    assert.match(conf, /^allow_anonymous false$/m);
    assert.match(conf, /^listener 1883$/m);
    // The agent needs no published port; Home Assistant on this machine gets loopback only.
    assert.deepEqual(mosquitto.ports, ['127.0.0.1:1883:1883']);
  });

  void it('has no usable default password: every secret is made at random by deploy/make-secrets.sh, never committed', () => {
    const files = ['mqtt_password', 'homeassistant_password', 'enroller_password', 'dashboard_password'];
    const first = files.map((f) => readFileSync(join(secrets.root, 'deploy/secrets', f), 'utf8').trim());
    for (const p of first) assert.match(p, /^[A-Za-z0-9]{32}$/);
    assert.equal(new Set(first).size, files.length, 'a password each');
    const other = madeSecrets();
    try {
      assert.notEqual(readFileSync(join(other.root, 'deploy/secrets/mqtt_password'), 'utf8'), readFileSync(join(secrets.root, 'deploy/secrets/mqtt_password'), 'utf8'), 'random');
    } finally {
      other.cleanup();
    }
    secrets.run();
    assert.deepEqual(files.map((f) => readFileSync(join(secrets.root, 'deploy/secrets', f), 'utf8').trim()), first, 'a second run overwrites nothing');
    assert.equal(statSync(join(secrets.root, 'deploy/secrets')).mode & 0o777, 0o700, 'only its owner lists the folder');
    for (const secret of Object.values(compose.secrets ?? {})) assert.match(secret.file ?? '', /^\.\/deploy\/secrets\//);
    const tracked = spawnSync('git', ['ls-files', 'deploy'], { cwd: ROOT, encoding: 'utf8' }).stdout;
    assert.doesNotMatch(tracked, /secrets\/|passwd\.example|password\.example/, 'no password file in git');
    assert.match(read('.gitignore'), /^deploy\/secrets\/$/m);
  });

  void it('has edge-imprint with config, data and models volumes, restart policy and the Coral devices', () => {
    const agent = service('edge-imprint');
    assert.equal(agent.restart, 'unless-stopped');
    assert.equal(agent.build?.context, '.');
    assert.ok(['std', 'max'].includes(agent.build?.args?.LIBEDGETPU ?? ''));
    const targets = (agent.volumes ?? []).map(mount);
    for (const target of ['/config', '/data', '/models']) assert.ok(targets.some((v) => v.target === target), `${target} is not a volume`);
    for (const v of targets) {
      if (v.source.startsWith('.')) assert.ok(sourceExists(v.source, secrets), `${v.source} does not exist`);
      else assert.ok(compose.volumes && v.source in compose.volumes, `named volume ${v.source} is not declared`);
    }
    assert.deepEqual(agent.devices, ['/dev/bus/usb:/dev/bus/usb']);
    // The PCIe mapping is there, commented, for the user to swap in.
    assert.match(read('docker-compose.yml'), /^\s*# - \/dev\/apex_0:\/dev\/apex_0$/m);
    assert.ok(agent.depends_on?.includes('mosquitto'));
  });

  void it('points MQTT at the mosquitto service with a user the password file and ACL know', () => {
    const env = service('edge-imprint').environment ?? {};
    const url = new URL(env.EDGE_IMPRINT_MQTT_URL ?? '');
    assert.equal(url.hostname, 'mosquitto');
    assert.equal(url.port, '1883');
    const user = env.EDGE_IMPRINT_MQTT_USERNAME ?? '';
    assert.match(readFileSync(join(secrets.root, 'deploy/secrets/mosquitto_passwd'), 'utf8'), new RegExp(`^${user}:\\$7\\$`, 'm'));
    assert.match(read('deploy/mosquitto/acl'), new RegExp(`^user ${user}$`, 'm'));
    assert.match(read('deploy/mosquitto/acl'), new RegExp(`edge_imprint_${env.EDGE_IMPRINT_NODE_ID ?? ''}/`));
    const secret = compose.secrets?.mqtt_password?.file ?? '';
    assert.ok(sourceExists(secret, secrets));
    assert.equal(env.EDGE_IMPRINT_MQTT_PASSWORD_FILE, '/run/secrets/mqtt_password');
    assert.ok(service('edge-imprint').secrets?.includes('mqtt_password'));
  });

  void it('uses only environment variables the configuration knows, and they validate', () => {
    const env = { ...(service('edge-imprint').environment ?? {}) };
    const known = new Set(leaves(schemaDefaults).map(([, spec]) => spec.env));
    for (const name of Object.keys(env)) if (name.startsWith('EDGE_IMPRINT_')) assert.ok(known.has(name), `${name} is not a config key`);
    const dir = tempDir();
    try {
      const password = join(dir.path, 'mqtt_password');
      writeFileSync(password, readFileSync(join(secrets.root, compose.secrets?.mqtt_password?.file ?? ''), 'utf8'));
      env.EDGE_IMPRINT_MQTT_PASSWORD_FILE = password;
      const dashboard = join(dir.path, 'dashboard_password');
      writeFileSync(dashboard, readFileSync(join(secrets.root, compose.secrets?.dashboard_password?.file ?? ''), 'utf8'));
      env.EDGE_IMPRINT_HTTP_AUTH_PASSWORD_FILE = dashboard;
      assert.deepEqual(validateConfig({ env }), []);
    } finally {
      dir.cleanup();
    }
  });

  void it('publishes the HTTP port the image exposes and checks, on loopback by default', () => {
    const agent = service('edge-imprint');
    const env = agent.environment ?? {};
    assert.equal(Number(env.EDGE_IMPRINT_HTTP_PORT), defaultHttpPort);
    assert.equal(env.EDGE_IMPRINT_HTTP_HOST, '0.0.0.0');
    assert.ok((agent.ports ?? []).includes(`127.0.0.1:${String(defaultHttpPort)}:${String(defaultHttpPort)}`));
    if (agent.healthcheck) {
      const test = [agent.healthcheck.test].flat().join(' ');
      assert.match(test, /\/health/);
    }
  });
});

void describe('Dockerfile', () => {
  const all = stages();
  const runtime = all[all.length - 1];

  void it('builds in stages from node:22-bookworm-slim, compilers only in the build stage', () => {
    const args = dockerfile().filter((i) => i.op === 'ARG');
    assert.ok(args.some((a) => a.args === 'NODE_IMAGE=node:22-bookworm-slim'));
    const names = new Set<string>();
    for (const stage of all) {
      assert.ok(stage.from === '${NODE_IMAGE}' || stage.from === 'node:22-bookworm-slim' || names.has(stage.from), stage.from);
      names.add(stage.name);
    }
    assert.ok(all.length >= 3);
    const build = all.find((s) => s.name === 'build');
    const buildRun = build?.body.filter((i) => i.op === 'RUN').map((i) => i.args).join(' ') ?? '';
    for (const pkg of ['python3', 'make', 'g++']) assert.ok(buildRun.includes(pkg), pkg);
    assert.match(buildRun, /npm ci/);
    const runtimeRun = runtime?.body.filter((i) => i.op === 'RUN').map((i) => i.args).join(' ') ?? '';
    assert.doesNotMatch(runtimeRun, /\bg\+\+|\bmake\b|python3/);
    for (const copy of runtime?.body.filter((i) => i.op === 'COPY') ?? []) {
      const from = /--from=(\S+)/.exec(copy.args)?.[1];
      if (from) assert.ok(names.has(from), `COPY --from=${from}`);
    }
  });

  void it('installs ffmpeg and libedgetpu (std or max) from Coral\'s repository, and verified models', () => {
    const body = runtime?.body ?? [];
    assert.ok(body.some((i) => i.op === 'ARG' && i.args === 'LIBEDGETPU=std'));
    const run = body.filter((i) => i.op === 'RUN').map((i) => i.args).join(' ');
    assert.match(run, /ffmpeg/);
    assert.match(run, /https:\/\/packages\.cloud\.google\.com\/apt coral-edgetpu-stable main/);
    assert.match(run, /"libedgetpu1-\$\{LIBEDGETPU\}"/);
    assert.match(run, /std\|max\)/);
    const models = all.find((s) => s.name === 'models');
    assert.match(models?.body.map((i) => i.args).join(' ') ?? '', /node dist\/cli\/main\.js models --model-dir \/models/);
    assert.ok(body.some((i) => i.op === 'COPY' && /--from=models/.test(i.args) && /\/models \/models$/.test(i.args)));
  });

  void it('runs as a non-root user in plugdev, exposes the HTTP port, checks /health, declares /config and /data', () => {
    const body = runtime?.body ?? [];
    const user = body.filter((i) => i.op === 'USER').pop()?.args ?? 'root';
    assert.ok(!['root', '0', '0:0'].includes(user), `USER ${user}`);
    const useradd = body.find((i) => i.op === 'RUN' && i.args.includes('useradd'))?.args ?? '';
    assert.match(useradd, new RegExp(`--groups plugdev\\S*.* ${user}(\\s|$)`));
    assert.ok(body.some((i) => i.op === 'EXPOSE' && i.args === String(defaultHttpPort)));
    const health = body.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
    assert.match(health, /\/health/);
    assert.match(health, new RegExp(`EDGE_IMPRINT_HTTP_PORT \\|\\| ${String(defaultHttpPort)}`));
    const env = body.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
    assert.match(env, new RegExp(`EDGE_IMPRINT_HTTP_PORT=${String(defaultHttpPort)}`));
    assert.match(env, /EDGE_IMPRINT_HTTP_HOST=0\.0\.0\.0/);
    assert.match(body.find((i) => i.op === 'VOLUME')?.args ?? '', /"\/config", "\/data"/);
    const entry = `${body.find((i) => i.op === 'ENTRYPOINT')?.args ?? ''} ${body.find((i) => i.op === 'CMD')?.args ?? ''}`;
    assert.match(entry, /dist\/cli\/main\.js.*"run"/);
  });

  void it('ships the model manifest the CLI reads at run time (models/manifest.json)', () => {
    const ignore = read('.dockerignore').split('\n');
    assert.ok(ignore.includes('!models/manifest.json'), '.dockerignore must let models/manifest.json through');
    assert.ok(!ignore.includes('models'), '.dockerignore must not exclude the whole models folder');
    const build = all.find((s) => s.name === 'build')?.body ?? [];
    assert.ok(build.some((i) => i.op === 'COPY' && /^models\/manifest\.json /.test(i.args)));
    assert.ok((runtime?.body ?? []).some((i) => i.op === 'COPY' && /--from=build \/app\/models\/manifest\.json/.test(i.args)));
  });

  void it('copies only files that exist and that .dockerignore lets through', () => {
    const ignore = read('.dockerignore')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'));
    for (const needed of ['node_modules', 'dist', '.git']) assert.ok(ignore.includes(needed), needed);
    assert.ok(ignore.includes('config/*') && ignore.includes('!config/config.example.yaml'));
    const copies = dockerfile().filter((i) => i.op === 'COPY' && !i.args.includes('--from'));
    for (const copy of copies) {
      const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const source of parts.slice(0, -1)) {
        assert.ok(existsSync(join(ROOT, source)), `COPY ${source}: not in the repository`);
        assert.ok(!ignore.includes(source), `COPY ${source}: excluded by .dockerignore`);
      }
    }
  });
});

void describe('deploy/edge-imprint.service', () => {
  const unit = read('deploy/edge-imprint.service');

  void it('runs as a non-root user, restarts on failure, has a working folder and an environment file', () => {
    const user = /^User=(.+)$/m.exec(unit)?.[1] ?? 'root';
    assert.notEqual(user, 'root');
    assert.match(unit, /^Restart=on-failure$/m);
    assert.match(unit, /^WorkingDirectory=\/\S+$/m);
    assert.match(unit, /^EnvironmentFile=-?\/\S+$/m);
    assert.match(unit, /^ExecStart=\/usr\/bin\/node \S+\/dist\/cli\/main\.js run/m);
    assert.match(unit, /^SupplementaryGroups=plugdev/m);
    assert.match(unit, /^WantedBy=multi-user\.target$/m);
    // A broker on the same machine is up before the agent looks for it (mqtt.embedded.enabled: auto).
    assert.match(unit, /^After=.*\bmosquitto\.service\b/m);
    assert.match(unit, /^Wants=.*\bmosquitto\.service\b/m);
  });

  void it('passes systemd-analyze verify without unknown keys', (t) => {
    const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      t.skip('systemd-analyze is not installed');
      return;
    }
    const dir = tempDir();
    try {
      // Documentation= points at a file that only exists once installed; verify would try it.
      const file = join(dir.path, 'edge-imprint.service');
      writeFileSync(file, unit.replace(/^Documentation=.*$/m, ''));
      const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
      const output = `${r.stdout}${r.stderr}`;
      assert.doesNotMatch(output, /Unknown (key|section)|Failed to parse|Invalid|bad-setting/i, output);
    } finally {
      dir.cleanup();
    }
  });
});
