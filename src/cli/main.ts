#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import { ConfigError, inspectConfig, loadConfig, formatIssue } from '../config/load.js';
import type { AppConfig } from '../config/types.js';
import { AppError } from '../errors.js';
import { unknownZoneClasses } from '../core.js';
import { storedLabels } from '../storage/classStore.js';
import { parseCommandLine, UsageError, type Command, type CommonFlags } from './args.js';
import { commandUsage, USAGE, usageHint } from './usage.js';
import { VERSION } from '../version.js';
import { classes, classify, enroll, events, models, type CliContext, type CliIo } from './commands.js';
import { prettyDestination } from './logFormat.js';

const DEFAULT_CONFIG = 'config/config.yaml';

function configFile(flags: CommonFlags): string | undefined {
  if (flags.config) return flags.config;
  return existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : undefined;
}

function overrides(flags: CommonFlags): { data_dir?: string; model_dir?: string } {
  return {
    ...(flags.dataDir ? { data_dir: flags.dataDir } : {}),
    ...(flags.modelDir ? { model_dir: flags.modelDir } : {}),
  };
}

function validate(flags: CommonFlags, io: CliIo): 0 | 1 {
  const file = configFile(flags);
  const { config, issues } = inspectConfig({ ...(file ? { file } : {}), overrides: overrides(flags) });
  if (config && issues.length === 0) {
    io.out(`${file ?? 'defaults (no config file)'}: valid`);
    // Not errors: a zone may list classes it will learn later. Checked against the store, if any.
    const labels = storedLabels(config.data_dir);
    if (labels) unknownZoneClasses(config, labels).forEach((line) => io.err(`warning: ${line}`));
    return 0;
  }
  issues.forEach((i) => io.err(formatIssue(i)));
  return 1;
}

/**
 * Bench code lives outside src/ (bench/), run from the source with tsx: only a clone of the
 * repository has both (the Docker image and production installs have neither).
 */
function bench(json: boolean, io: CliIo): number {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  if (!existsSync(`${root}bench/index.ts`)) {
    io.err('bench: the benchmarks run from a clone of the repository (npm ci, then npm run bench); this installation has no bench/ folder (the Docker image has neither it nor tsx)');
    return 1;
  }
  const args = ['--import', 'tsx', `${root}bench/index.ts`, ...(json ? ['--json'] : [])];
  const result = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
  return result.status ?? 1;
}

async function dispatch(command: Command, ctx: CliContext & { configFile: string | undefined }): Promise<number> {
  switch (command.name) {
    case 'enroll':
      return enroll(ctx, command.label, command.images, command.background);
    case 'classify':
      return classify(ctx, command.images, command.json);
    case 'classes':
      return classes(ctx, command.action, command);
    case 'events':
      return events(ctx, command);
    case 'models':
      return models(ctx, command.from);
    case 'run': {
      const { runAgent } = await import('../app.js');
      const demoCamera = !ctx.configFile && Object.keys(ctx.config.cameras).length === 0;
      return runAgent(ctx.config, ctx.logger, { demoCamera });
    }
    default:
      throw new Error(`unhandled command ${command.name}`);
  }
}

function cliLogger(config: AppConfig | null, command: Command): Logger {
  const level = command.name === 'run' ? (config?.log.level ?? 'info') : 'warn';
  const format = config?.log.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && process.stderr.isTTY);
  return pino({ level, base: undefined }, pretty ? prettyDestination(process.stderr) : pino.destination(2));
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`edge-imprint: ${err.message}`);
    io.err(usageHint(err.command));
    return 2;
  }
  const { command, flags } = parsed;
  if (command.name === 'help') {
    io.out(command.topic === undefined ? USAGE : commandUsage(command.topic));
    return 0;
  }
  if (command.name === 'version') {
    io.out(VERSION);
    return 0;
  }
  if (command.name === 'validate-config') return validate(flags, io);
  if (command.name === 'bench') return bench(command.json, io);
  try {
    const file = configFile(flags);
    const config = loadConfig({ ...(file ? { file } : {}), overrides: overrides(flags) });
    return await dispatch(command, { config, logger: cliLogger(config, command), io, configFile: file });
  } catch (err) {
    if (err instanceof ConfigError) {
      err.lines.forEach((line) => io.err(line));
      return 1;
    }
    if (err instanceof AppError) {
      io.err(err.message);
      return 1;
    }
    throw err;
  }
}

const isEntry = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1]);
if (isEntry) {
  const io: CliIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`edge-imprint: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
