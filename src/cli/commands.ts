import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/types.js';
import { Core } from '../core.js';
import { AppError, errorMessage, fieldError } from '../errors.js';
import type { ClassInfo, Classification } from '../recognition/types.js';
import type { EventInfo } from '../storage/eventStore.js';
import { modelPath } from '../models/manifest.js';
import type { Command } from './args.js';
import { installModels, verifyModel, type InstallOutcome } from '../models/install.js';
import { loadManifest } from '../models/manifest.js';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

export interface CliContext {
  config: AppConfig;
  logger: Logger;
  io: CliIo;
}

/** Exit code of a command: 0 success, 1 a user error (already printed). */
export type ExitCode = 0 | 1;

async function withCore<T>(ctx: CliContext, fn: (core: Core) => Promise<T>): Promise<T> {
  const core = new Core({ config: ctx.config, logger: ctx.logger });
  await core.start();
  try {
    return await fn(core);
  } finally {
    await core.stop();
  }
}

async function readImage(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw fieldError('bad_image', path, code === 'ENOENT' ? 'no such file' : errorMessage(err));
  }
}

export async function enroll(ctx: CliContext, label: string, images: string[], background: boolean): Promise<ExitCode> {
  const buffers = await Promise.all(images.map(readImage));
  // Errors name the file, not an index, for a CLI user.
  const source = `cli:${images.map((p) => basename(p)).join(',')}`;
  const result = await withCore(ctx, (core) =>
    core.service.enrollImages(label, buffers, { source, names: images, ...(background ? { background } : {}) }),
  );
  ctx.io.out(`enrolled ${result.added} shot${result.added === 1 ? '' : 's'} into "${result.label}" (${result.shots} in all)${background ? ', a background class' : ''}`);
  return 0;
}

/**
 * Photos classified while the next ones are read and decoded: decoding runs on this process's
 * threads while the detector child embeds, so the two overlap. Output keeps the given order.
 */
const CLASSIFY_AHEAD = 3;

export async function classify(ctx: CliContext, images: string[], json: boolean): Promise<ExitCode> {
  return withCore(ctx, async (core) => {
    // The agent decides with the fine-tuned weights once its background tuning is done: so must the CLI.
    await core.service.tune();
    const results: Array<Promise<Classification>> = [];
    const start = (i: number): void => {
      const path = images[i];
      if (path === undefined) return;
      results[i] = readImage(path).then((bytes) => core.service.classifyImage(bytes, path));
      // Awaited in order below; until then a failure must not count as unhandled.
      results[i].catch(() => undefined);
    };
    for (let i = 0; i < CLASSIFY_AHEAD; i++) start(i);
    let code: ExitCode = 0;
    for (const [i, path] of images.entries()) {
      try {
        const r = await results[i]!;
        if (json) ctx.io.out(JSON.stringify({ image: path, label: r.label, score: r.score, scores: r.scores }));
        else ctx.io.out(`${path}: ${r.label} (score ${r.score.toFixed(3)})`);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        ctx.io.err(err.message);
        code = 1;
      }
      start(i + CLASSIFY_AHEAD);
    }
    return code;
  });
}

function classLine(c: ClassInfo): string {
  const kind = c.background ? '\tbackground' : `\tthreshold ${c.threshold.toFixed(2)} (${c.threshold_source})`;
  return `${c.label}\t${c.shots} shot${c.shots === 1 ? '' : 's'}${kind}\tupdated ${c.updated_at}`;
}

/** The installed model's sha256, or null when there is none here (the classes are listed all the same). */
async function installedModel(ctx: CliContext): Promise<string | null> {
  try {
    return await verifyModel(modelPath(ctx.config.model_dir, ctx.config.detector.model.cpu), loadManifest());
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return null;
  }
}

/** Class management needs no detector: the store, and the classes loaded as the agent loads them. */
export async function classes(
  ctx: CliContext,
  action: 'list' | 'remove' | 'rename' | 'undo',
  args: { label?: string; to?: string; json?: boolean },
): Promise<ExitCode> {
  const installed = action === 'list' ? await installedModel(ctx) : null;
  // Without the model installed here: the one the stored shots were embedded by (read once the store is open).
  let stored: string | undefined;
  const modelId = (): string => installed ?? (stored ??= core.store.shots()[0]?.model ?? '');
  const core: Core = new Core({ config: ctx.config, logger: ctx.logger, modelId });
  // With gallery.sync the fleet's classes are listed, and changes are shared (the agent publishes them).
  if (action === 'list') await core.startClasses();
  else await core.store.start().then(() => core.gallery?.start());
  const shared = core.gallery !== null;
  try {
    const store = core.store;
    if (action === 'list') {
      // The agent's list (its thresholds and their sources), not the store's rows.
      const list = core.service.list();
      if (args.json) ctx.io.out(JSON.stringify(list));
      else if (list.length === 0) ctx.io.out('no classes yet: enroll one with `edge-imprint enroll <label> <image>`');
      else list.forEach((c) => ctx.io.out(classLine(c)));
    } else if (action === 'remove') {
      if (shared) core.service.remove(args.label!);
      else store.removeClass(args.label!);
      ctx.io.out(`removed "${args.label}"`);
    } else if (action === 'rename') {
      core.service.rename(args.label!, args.to!);
      ctx.io.out(`renamed "${args.label}" to "${args.to}"`);
    } else {
      const r = shared ? core.service.undo(args.label!) : store.undoShot(args.label!);
      ctx.io.out(r.shots === 0 ? `removed the last shot of "${r.label}", and so the class` : `"${r.label}" now has ${r.shots} shots`);
    }
    return 0;
  } finally {
    await core.stop();
  }
}

/**
 * Installs the model files: copied from `--from`, else from EDGE_IMPRINT_MODEL_MIRROR (the
 * variable `run` honours on a first run), else downloaded; sha256-checked either way.
 */
export async function models(ctx: CliContext, from: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<ExitCode> {
  const source = from || env.EDGE_IMPRINT_MODEL_MIRROR;
  const outcomes = await installModels({
    modelDir: ctx.config.model_dir,
    files: loadManifest(),
    logger: ctx.logger,
    ...(source ? { from: source } : {}),
  });
  for (const [name, outcome] of Object.entries(outcomes)) {
    ctx.io.out(`${name}: ${modelOutcomeText(outcome)}`);
  }
  return 0;
}

function modelOutcomeText(outcome: InstallOutcome): string {
  if (outcome === 'present') return 'already installed, sha256 ok';
  if (outcome === 'converted') return 'converted from the .tflite for ONNX Runtime';
  if (outcome === 'not converted') return 'not converted: the CPU runs the .tflite on TFLite';
  if (outcome === 'unavailable') return 'not installed (optional): photos are searched for their object by colour';
  return `${outcome}, sha256 ok`;
}

function eventLine(e: EventInfo): string {
  const where = e.zone === null ? e.camera : `${e.camera}/${e.zone}`;
  const fix = e.correction === null ? '' : `\t${e.correction}${e.correction === 'relabeled' ? ` as "${e.corrected_label}"` : ''}`;
  return `${e.id}\t${e.start_time}\t${where}\t${e.label} (${e.score.toFixed(2)})${fix}`;
}

/**
 * The correction loop from the command line. It needs no detector: events keep their
 * frame's embedding, and the model is identified by its file's sha256.
 */
export async function events(ctx: CliContext, command: Extract<Command, { name: 'events' }>): Promise<ExitCode> {
  const modelFile = modelPath(ctx.config.model_dir, ctx.config.detector.model.cpu);
  const modelId = command.action === 'list' ? '' : await verifyModel(modelFile, loadManifest());
  const core = new Core({ config: ctx.config, logger: ctx.logger, modelId: () => modelId });
  await core.store.start();
  try {
    const c = core.corrections;
    if (command.action === 'list') {
      const list = c.list(command.filter);
      if (command.json) ctx.io.out(JSON.stringify(list));
      else if (list.length === 0) ctx.io.out('no detection events (yet, or none that match)');
      else list.forEach((e) => ctx.io.out(eventLine(e)));
      return 0;
    }
    const ref = { id: command.id };
    const result =
      command.action === 'confirm' ? c.confirm(ref)
      : command.action === 'reject' ? c.reject(ref, { empty: command.empty })
      : command.action === 'relabel' ? c.relabel(ref, command.label)
      : c.undo(ref);
    ctx.io.out(`${result.id}: ${result.correction ?? 'correction undone'}${result.to ? ` as "${result.to}"` : ''} (was "${result.label}")`);
    return 0;
  } finally {
    await core.store.stop();
  }
}
