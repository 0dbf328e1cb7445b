import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, tempDir } from './env.js';

const MOSQUITTO = '/usr/sbin/mosquitto';

export interface MosquittoOptions {
  port?: number;
  /** user → password; when given, anonymous access is off. */
  users?: Record<string, string>;
  /** ACL file text (mosquitto `acl_file` syntax). */
  acl?: string;
  /** Keep sessions and retained messages across restarts (default true). */
  persistence?: boolean;
  /** Extra mosquitto.conf lines. */
  extra?: string[];
}

export interface Mosquitto {
  port: number;
  url: string;
  dir: string;
  /** Everything the broker logged so far (log_dest stderr). */
  log(): string;
  /** SIGTERM and wait: with persistence on, mosquitto saves sessions on the way out. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same configuration. */
  restart(): Promise<void>;
  /** stop() and remove the temporary folder. */
  cleanup(): Promise<void>;
}

function writeConfig(dir: string, port: number, opts: MosquittoOptions): string {
  const lines = [`listener ${port} 127.0.0.1`, 'log_dest stderr', 'log_type all', 'connection_messages true'];
  if (opts.users) {
    const passwd = join(dir, 'passwd');
    writeFileSync(passwd, '');
    for (const [user, password] of Object.entries(opts.users)) {
      const r = spawnSync('mosquitto_passwd', ['-b', passwd, user, password], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
    }
    chmodSync(passwd, 0o644);
    lines.push('allow_anonymous false', `password_file ${passwd}`);
  } else {
    lines.push('allow_anonymous true');
  }
  if (opts.acl !== undefined) {
    const acl = join(dir, 'acl');
    writeFileSync(acl, opts.acl, { mode: 0o644 });
    lines.push(`acl_file ${acl}`);
  }
  if (opts.persistence ?? true) {
    const data = join(dir, 'data');
    mkdirSync(data, { mode: 0o777 });
    chmodSync(data, 0o777); // mosquitto drops root privileges to its own user
    lines.push('persistence true', `persistence_location ${data}/`);
  }
  lines.push(...(opts.extra ?? []));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `${lines.join('\n')}\n`, { mode: 0o644 });
  return conf;
}

async function waitListening(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited: ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port}: ${log()}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

/** Starts a real mosquitto on a free loopback port with its own temporary folder. */
export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const port = opts.port ?? (await freePort());
  const tmp = tempDir('edge-imprint-mosquitto-');
  chmodSync(tmp.path, 0o755);
  const conf = writeConfig(tmp.path, port, opts);
  let output = '';
  let child: ChildProcess | null = null;

  const launch = async (): Promise<void> => {
    const proc = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child = proc;
    await waitListening(port, proc, () => output);
  };
  const stop = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };

  await launch();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir: tmp.path,
    log: () => output,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    cleanup: async () => {
      await stop();
      tmp.cleanup();
    },
  };
}
