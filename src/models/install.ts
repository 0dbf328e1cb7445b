import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import { gunzipSync } from 'node:zlib';
import { AppError, errorMessage } from '../errors.js';
import type { ModelFile } from './manifest.js';
import { convertCpuModels, type ConvertOutcome } from './onnx/installOnnx.js';
import { tarEntry } from './tarEntry.js';

export interface InstallOptions {
  modelDir: string;
  /** Copy from this folder instead of downloading. */
  from?: string;
  files: ModelFile[];
  logger: Logger;
  fetchImpl?: typeof fetch;
}

export type InstallOutcome = 'present' | 'copied' | 'downloaded' | 'unavailable' | ConvertOutcome;

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

const FIX_HINT = 'run `npx edge-imprint models` (or `npx edge-imprint models --from <folder with the files>`)';

/**
 * Checks a model file: present, and matching the manifest's sha256 when it is a manifest
 * file. Returns its sha256, which also identifies the model the embeddings came from.
 */
export async function verifyModel(path: string, files: ModelFile[]): Promise<string> {
  if (!(await exists(path))) {
    throw new AppError('model_missing', `model file ${basename(path)} not found in ${join(path, '..')}: ${FIX_HINT}`);
  }
  const actual = await sha256File(path);
  const expected = files.find((f) => f.name === basename(path))?.sha256;
  if (expected && actual !== expected) {
    throw new AppError(
      'model_missing',
      `model file ${path} is corrupt (sha256 ${actual.slice(0, 12)}…, expected ${expected.slice(0, 12)}…): ${FIX_HINT}`,
    );
  }
  return actual;
}

async function download(file: ModelFile, target: string, fetchImpl: typeof fetch): Promise<void> {
  let response: Response;
  try {
    response = await fetchImpl(file.url, { redirect: 'follow', signal: AbortSignal.timeout(120_000) });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new AppError('model_missing', `could not download ${file.name} from ${file.url}: ${reason}; copy it with --from <folder>`);
  }
  if (!response.ok) {
    throw new AppError('model_missing', `could not download ${file.name} from ${file.url}: HTTP ${response.status}`);
  }
  const body = Buffer.from(await response.arrayBuffer());
  await writeFile(target, file.archive ? fromArchive(body, file) : body);
}

function fromArchive(tgz: Buffer, file: ModelFile): Buffer {
  const entry = tarEntry(gunzipSync(tgz), file.archive!);
  if (!entry) throw new AppError('model_missing', `${file.url} has no ${file.archive}`);
  return entry;
}

/** Installs one file: fetch or copy to a temporary name, verify, then rename into place. */
async function installOne(file: ModelFile, opts: InstallOptions): Promise<InstallOutcome> {
  const target = join(opts.modelDir, file.name);
  if ((await exists(target)) && (await sha256File(target)) === file.sha256) return 'present';
  const temp = `${target}.${process.pid}.tmp`;
  try {
    // A mirror made before an optional file was added lacks it: that one is downloaded.
    const copy = opts.from && (!file.optional || (await exists(join(opts.from, file.name))));
    if (copy) {
      const source = join(opts.from!, file.name);
      if (!(await exists(source))) {
        throw new AppError('model_missing', `model file ${file.name} not found in ${opts.from}`);
      }
      await copyFile(source, temp);
    } else {
      await download(file, temp, opts.fetchImpl ?? fetch);
    }
    const actual = await sha256File(temp);
    if (actual !== file.sha256) {
      throw new AppError('model_missing', `${file.name} from ${copy ? opts.from : file.url} has sha256 ${actual}, expected ${file.sha256}`);
    }
    await rename(temp, target);
    return copy ? 'copied' : 'downloaded';
  } finally {
    await rm(temp, { force: true });
  }
}

export async function installModels(opts: InstallOptions): Promise<Record<string, InstallOutcome>> {
  await mkdir(opts.modelDir, { recursive: true });
  const outcomes: Record<string, InstallOutcome> = {};
  for (const file of opts.files) {
    try {
      outcomes[file.name] = await installOne(file, opts);
    } catch (err) {
      if (!file.optional) throw err;
      outcomes[file.name] = 'unavailable';
      opts.logger.warn({ file: file.name }, `optional model file not installed (${errorMessage(err)}): photos are searched for their object by colour`);
      continue;
    }
    opts.logger.info({ file: file.name, outcome: outcomes[file.name] }, 'model file ready');
  }
  // ONNX Runtime's copy of the CPU model, so that the detector starts without converting.
  return { ...outcomes, ...(await convertCpuModels(opts.modelDir, opts.files, opts.logger)) };
}
