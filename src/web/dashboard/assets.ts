/**
 * The dashboard's files, read once at start and kept compressed in memory. They live under
 * `assets/<hash>/` so they can be cached for a year: a new version is a new address.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

export interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  br: Buffer;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
};

/** The jsmpeg player, phoboslab's decoder as @cycjimmy/jsmpeg-player ships it (UMD: `window.JSMpeg`). */
export const JSMPEG_FILE = 'jsmpeg.min.js';

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

async function compress(type: string, body: Buffer): Promise<Asset> {
  const [br, gz] = await Promise.all([
    brotli(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } }),
    gzipAsync(body, { level: 9 }),
  ]);
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  return { type, body, gzip: gz, br, etag };
}

/** Where the UI's files are: beside this module's parent (src/web/ui or dist/web/ui). */
export function uiDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'ui');
}

function jsmpegSource(): Buffer {
  // The package exports no subpaths: find its folder through its main file.
  const main = createRequire(import.meta.url).resolve('@cycjimmy/jsmpeg-player');
  return readFileSync(join(dirname(main), 'jsmpeg-player.umd.min.js'));
}

/**
 * The UI's scripts as JavaScript: the built .js files, or the .ts sources transpiled with
 * TypeScript (a development dependency) when running from source under tsx.
 */
async function scripts(dir: string): Promise<Map<string, Buffer>> {
  const names = readdirSync(dir).sort();
  const out = new Map<string, Buffer>();
  const fromSource = import.meta.url.endsWith('.ts');
  if (!fromSource) {
    for (const name of names) if (name.endsWith('.js')) out.set(name, readFileSync(join(dir, name)));
    return out;
  }
  const ts = (await import('typescript')).default;
  for (const name of names) {
    if (!name.endsWith('.ts') || name.endsWith('.d.ts')) continue;
    const { outputText } = ts.transpileModule(readFileSync(join(dir, name), 'utf8'), {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, removeComments: true },
      fileName: name,
    });
    out.set(name.replace(/\.ts$/, '.js'), Buffer.from(outputText));
  }
  return out;
}

export class UiAssets {
  private constructor(
    /** Covers every asset: the address of this version's files (`assets/<hash>/`). */
    readonly hash: string,
    private readonly files: Map<string, Asset>,
    /** The page, with the assets' folder filled in. */
    readonly page: Asset,
  ) {}

  static async load(dir = uiDir()): Promise<UiAssets> {
    const raw = new Map<string, Buffer>(await scripts(dir));
    for (const name of readdirSync(dir).sort()) {
      if (name.endsWith('.css')) raw.set(name, readFileSync(join(dir, name)));
    }
    raw.set(JSMPEG_FILE, jsmpegSource());
    const index = readFileSync(join(dir, 'index.html'), 'utf8');
    const hash = createHash('sha256');
    for (const [name, body] of raw) hash.update(name).update(body);
    hash.update(index);
    const files = new Map<string, Asset>();
    for (const [name, body] of raw) files.set(name, await compress(TYPES[extname(name)] ?? 'application/octet-stream', body));
    const version = hash.digest('hex').slice(0, 12);
    const page = await compress(TYPES['.html']!, Buffer.from(index.replaceAll('{{assets}}', `assets/${version}`)));
    return new UiAssets(version, files, page);
  }

  /** A file under `assets/<hash>/`, or undefined. */
  file(name: string): Asset | undefined {
    return this.files.get(name);
  }

  /** Every file's name (benchmarks, tests). */
  names(): string[] {
    return [...this.files.keys()];
  }
}
