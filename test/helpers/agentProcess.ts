import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLI } from './cli.js';
import { freePort, MODEL_DIR, ROOT, waitFor } from './env.js';

export interface AgentProcess {
  proc: ChildProcess;
  pid: number;
  httpPort: number;
  /** Everything the agent logged so far (stdout + stderr). */
  log(): string;
  /** SIGTERM and wait for the exit code (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | null>;
  /** kill -9, as a power cut would. */
  kill(): Promise<void>;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/**
 * Starts `edge-imprint run` from source as a separate process, with `config` written as
 * `<dir>/config.yaml` (data in `<dir>/data`, models from the test model cache unless given).
 * Resolves once the start-up banner is logged.
 */
export async function startAgentProcess(opts: {
  dir: string;
  config: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  /** Run dist/cli/main.js (npm run build first) instead of the sources under tsx. */
  built?: boolean;
}): Promise<AgentProcess> {
  const httpPort = await freePort();
  const config = {
    data_dir: join(opts.dir, 'data'),
    model_dir: MODEL_DIR,
    http: { port: httpPort },
    ...opts.config,
  };
  const file = join(opts.dir, 'config.yaml');
  writeFileSync(file, stringify(config));
  const entry = opts.built ? [join(ROOT, 'dist/cli/main.js')] : ['--import', import.meta.resolve('tsx'), CLI];
  const proc = spawn(process.execPath, [...entry, 'run', '--config', file], {
    cwd: opts.dir,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  proc.stdout?.on('data', (b: Buffer) => (text += b.toString()));
  proc.stderr?.on('data', (b: Buffer) => (text += b.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const agent: AgentProcess = {
    proc,
    pid: proc.pid!,
    httpPort,
    log: () => text,
    async stop(graceMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGKILL');
      await exited;
    },
    waitForLog: (pattern, timeoutMs = 30_000) =>
      waitFor(() => pattern.test(text), timeoutMs, `log line ${pattern}`).then(() => undefined),
  };
  try {
    await waitFor(
      () => text.includes('Enroll a first class') || proc.exitCode !== null,
      opts.readyTimeoutMs ?? 90_000,
      'the agent to start',
    );
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  if (proc.exitCode !== null) throw new Error(`the agent exited with ${proc.exitCode}:\n${text}`);
  return agent;
}
