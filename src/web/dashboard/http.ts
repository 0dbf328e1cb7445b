/** Small HTTP helpers of the dashboard: answers with the security headers, bodies with a limit. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '../../errors.js';
import type { Asset } from './assets.js';

/**
 * Scripts and styles from this site only (jsmpeg compiles its WebAssembly decoder, hence
 * 'wasm-unsafe-eval'); framed only by this site, which is what Home Assistant's ingress
 * panel is from the browser's point of view. The two style hashes are the <style> elements
 * @cycjimmy/jsmpeg-player 6.1.2 adds for its (unused) player element: allowed by their
 * hash, so the console stays clean, and nothing else inline is.
 */
const JSMPEG_STYLES = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' 'sha256-lRyplcblLyRa4o+ZUBNzXETDGwKXzgKgrWbiYOwfTLg='";
const CSP =
  `default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' ${JSMPEG_STYLES}; img-src 'self' data: blob:; ` +
  "connect-src 'self'; frame-ancestors 'self'; base-uri 'self'; form-action 'self'; object-src 'none'";

export const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'SAMEORIGIN',
  'Referrer-Policy': 'same-origin',
};

export function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...extra,
  });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...extra,
  });
  res.end(text);
}

export function sendHtml(res: ServerResponse, status: number, html: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Cache-Control': 'no-store',
    ...extra,
  });
  res.end(html);
}

/** A JPEG from the store (thumbnails, snapshots): private, revalidated by its ETag. */
export function sendJpeg(req: IncomingMessage, res: ServerResponse, jpeg: Buffer, etag: string): void {
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { ETag: etag, 'Cache-Control': 'private, no-cache' });
    res.end();
    return;
  }
  res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'image/jpeg', 'Content-Length': jpeg.length, 'Cache-Control': 'private, no-cache', ETag: etag });
  res.end(req.method === 'HEAD' ? undefined : jpeg);
}

/** The best encoding the client accepts: br, then gzip, else none. Pure. */
export function chooseEncoding(acceptEncoding: string | undefined): 'br' | 'gzip' | null {
  const accepted = new Map<string, number>();
  for (const part of (acceptEncoding ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)?.[1]).find((v) => v !== undefined);
    if (name) accepted.set(name, q === undefined ? 1 : Number(q));
  }
  const ok = (name: string) => (accepted.get(name) ?? accepted.get('*') ?? 0) > 0;
  if (ok('br')) return 'br';
  if (ok('gzip')) return 'gzip';
  return null;
}

/** A compressed asset: `immutable` for versioned files, revalidated (ETag) for the page. */
export function sendAsset(req: IncomingMessage, res: ServerResponse, asset: Asset, cache: 'immutable' | 'revalidate', extra: Record<string, string> = {}): void {
  const cacheControl = cache === 'immutable' ? 'public, max-age=31536000, immutable' : 'no-cache';
  const common = { ETag: asset.etag, 'Cache-Control': cacheControl, Vary: 'Accept-Encoding', ...extra };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, common);
    res.end();
    return;
  }
  const encoding = chooseEncoding(req.headers['accept-encoding']);
  const body = encoding === 'br' ? asset.br : encoding === 'gzip' ? asset.gzip : asset.body;
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    ...common,
    'Content-Type': asset.type,
    'Content-Length': body.length,
    ...(encoding ? { 'Content-Encoding': encoding } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** The request body, refused past `limit` bytes (`too_large`, naming the limit's key). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(declared, limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(size, limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function tooLarge(bytes: number, limit: number): AppError {
  return new AppError('too_large', `payload: ${bytes} bytes, over the limit of ${limit} (limits.max_payload_bytes)`, 'payload');
}

/** The HTTP status of a command's error code. Pure. */
export function statusOf(code: string | undefined): number {
  switch (code) {
    case undefined:
      return 200;
    case 'bad_request':
    case 'bad_label':
    case 'bad_image':
      return 400;
    case 'not_found':
      return 404;
    case 'conflict':
      return 409;
    case 'too_large':
      return 413;
    case 'busy':
    case 'detector_unavailable':
      return 503;
    case 'timeout':
      return 504;
    default:
      return 500;
  }
}
