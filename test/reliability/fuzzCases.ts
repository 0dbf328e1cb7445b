import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { image } from '../helpers/env.js';
import { pngBomb } from '../helpers/pngBomb.js';
import { seededRandom } from '../../src/recognition/vector.js';
import { KNOWN_COMMANDS } from '../../src/web/metrics.js';

/**
 * Generators of malformed MQTT requests for the fuzz suite. Every case is built from a
 * seeded PRNG so a failing run can be replayed with EDGE_IMPRINT_FUZZ_SEED.
 */

export type Rng = () => number;

/** Reproducible case picking (the project's seeded generator). */
export function seededRng(seed: number): Rng {
  return seededRandom(seed);
}

const int = (rng: Rng, min: number, max: number): number => min + Math.floor(rng() * (max - min + 1));
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const randomBytes = (rng: Rng, n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(rng, 0, 255)));

export interface FuzzCase {
  kind: string;
  /** Topic suffix after `<base>/request/`. */
  command: string;
  /** A JSON value (serialised with the transaction added when `withTransaction`), or raw bytes. */
  body: unknown;
  raw?: Buffer;
  /** The agent can echo a transaction: a JSON object within the size limit, on a JSON command. */
  withTransaction: boolean;
  /** `reply`: a response topic of the tracker's; a string: a hostile topic; none: no property. */
  responseTopic: 'reply' | 'none' | string;
  correlationData?: Buffer;
  /** The only cases where a valid request may slip through: answered `ok` is allowed. */
  mayBeOk: boolean;
}

/** Images built once per run: small valid ones to corrupt, and decompression bombs. */
export interface Material {
  jpeg: Buffer;
  png: Buffer;
  webp: Buffer;
  /** 7000x7000 greyscale PNG, ~50 kB: 49 MP, over the 40 MP limit. */
  bombOver: Buffer;
  /** 6000x6000, 36 MP: under the limit, so a real (costly) decode. */
  bombUnder: Buffer;
}

export async function buildMaterial(): Promise<Material> {
  const small = sharp(image('cat_test_0.jpg')).resize(96, 72, { fit: 'fill' });
  return {
    jpeg: await small.clone().jpeg({ quality: 80 }).toBuffer(),
    png: await small.clone().png().toBuffer(),
    webp: await small.clone().webp().toBuffer(),
    bombOver: await pngBomb(7000, 7000),
    bombUnder: await pngBomb(6000, 6000),
  };
}

/** Every request command of the contract (the list the metrics count by). */
export const JSON_COMMANDS = KNOWN_COMMANDS;
type JsonCommand = (typeof JSON_COMMANDS)[number];

export const UNKNOWN_COMMANDS = [
  'foo',
  'class',
  'class/',
  'class/list/extra',
  'classify/x',
  'CLASSIFY',
  'Class/List',
  'camera',
  'camera/detect/door',
  'class/remove/x',
  '..',
  '../state',
  'request/classify',
  ' classify',
  'classify ',
  'ünïcode/命令',
  '',
  'x'.repeat(2000),
];

/** Labels a malformed request may carry: traversal, control characters, reserved, sizes. */
export const BAD_LABELS = [
  '../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '/etc/passwd',
  'a/b',
  'a\u0000b',
  '\u0000',
  '\n',
  'a\nb',
  '\t',
  '\r\n',
  '\u001b[31mred',
  '\u007f',
  ' lead',
  'trail ',
  '',
  ' ',
  'x'.repeat(65),
  'ß'.repeat(65),
  'a'.repeat(100_000),
  'unknown',
  'none',
  'Unknown',
  'NONE',
  'status',
  'label',
  'attributes',
  'snapshot',
  'a+b',
  'a#b',
  '%2e%2e%2f',
  '\u202eevil',
  'zero\u200bwidth',
  'emoji 😀',
  '<script>',
  'a;rm -rf /',
  '$(id)',
  '`id`',
  "O'Brien",
  '"quoted"',
  '\ud800',
];

/** Labels in a topic must be printable UTF-8 (the broker drops the client otherwise). */
const TOPIC_LABELS = ['../../etc/passwd', '', 'unknown', 'none', 'status', 'x'.repeat(65), ' lead', 'a b', '%00', 'fuzzclass', '..', 'a/b/c'];

/** Syntactically valid labels no class has: remove/undo/rename must say not found. */
const ABSENT_LABELS = ['fuzzclass', '..', '.', 'Zoë', 'cat'];

export const HOSTILE_RESPONSE_TOPICS = [
  'edge-imprint/available',
  'edge-imprint/state',
  'edge-imprint/classes',
  'edge-imprint/door/cat',
  'edge-imprint/request/class/list',
  'edge-imprint',
  'homeassistant/binary_sensor/x/y/config',
  'homeassistant/status',
  'homeassistant',
];

/**
 * Nesting 10000 levels deep, kept as a marker: JSON.stringify itself overflows the stack on
 * it, so toJson() writes its text directly.
 */
export class Deep {
  constructor(
    readonly kind: 'array' | 'object',
    readonly depth: number,
  ) {}

  text(): string {
    const d = this.depth;
    return this.kind === 'array' ? '['.repeat(d) + ']'.repeat(d) : '{"a":'.repeat(d) + '{}' + '}'.repeat(d);
  }
}

/** JSON.stringify, with Deep markers written out as their nested text. */
export function toJson(value: unknown): string {
  const deep: Deep[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => (v instanceof Deep ? `\u0001deep${deep.push(v) - 1}\u0001` : v));
  return text.replace(/"\\u0001deep(\d+)\\u0001"/g, (_m, i: string) => deep[Number(i)]!.text());
}

/** Sets a key as an own property, `__proto__` included (plain assignment would set the prototype). */
function setOwn(body: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(body, key, { value, enumerable: true, writable: true, configurable: true });
}

/** JSON values of every wrong type and size for any field. */
function badValue(rng: Rng): unknown {
  switch (int(rng, 0, 13)) {
    case 0:
      return null;
    case 1:
      return pick(rng, [true, false]);
    case 2:
      return pick(rng, [0, -1, 1e308, 3.5, -0, 2 ** 53 + 1]);
    case 3:
      return [];
    case 4:
      return {};
    case 5:
      return [1, 'two', null];
    case 6:
      return { label: 'fuzzclass', nested: { image: 'x' } };
    case 7:
      return 'x'.repeat(int(rng, 50_000, 200_000));
    case 8:
      return new Deep('array', 10_000);
    case 9:
      return new Deep('object', 10_000);
    case 10:
      return Array.from({ length: 20_000 }, (_, i) => i);
    case 11:
      return Array.from({ length: 60 }, () => 'AAAA');
    case 12:
      return '\u0000\u0001\u0002\u001f';
    default:
      return pick(rng, BAD_LABELS);
  }
}

/** An image that must never decode: truncated, garbage after the magic, absurd header. */
function brokenImage(rng: Rng, m: Material): Buffer {
  const base = pick(rng, [m.jpeg, m.png, m.webp]);
  switch (int(rng, 0, 5)) {
    case 0:
      return base.subarray(0, int(rng, 1, base.length - 40));
    case 1: {
      const magic = base.subarray(0, pick(rng, [3, 8, 12]));
      return Buffer.concat([magic, randomBytes(rng, int(rng, 0, 2000))]);
    }
    case 2:
      return absurdPng(m.png, pick(rng, [100_000, 65_535, 0, 1, 2 ** 31 - 1]), pick(rng, [100_000, 65_535, 0, 2 ** 31 - 1]), rng() < 0.8);
    case 3:
      return absurdJpeg(m.jpeg, pick(rng, [65_535, 0, 40_000]), pick(rng, [65_535, 0, 40_000]));
    case 4:
      return m.bombOver;
    default:
      return randomBytes(rng, int(rng, 0, 64));
  }
}

/** An image that may or may not decode: only allowed where an `ok` answer is acceptable. */
function maybeImage(rng: Rng, m: Material): Buffer {
  if (rng() < 0.5) return brokenImage(rng, m);
  if (rng() < 0.1) return m.bombUnder;
  const flipped = Buffer.from(pick(rng, [m.jpeg, m.png, m.webp]));
  for (let i = 0; i < int(rng, 1, 8); i++) flipped[int(rng, 20, flipped.length - 1)] = int(rng, 0, 255);
  return flipped;
}

/** A PNG whose IHDR claims width x height, over a tiny IDAT; CRC fixed unless `fixCrc` is off. */
function absurdPng(png: Buffer, width: number, height: number, fixCrc: boolean): Buffer {
  const out = Buffer.from(png);
  // Signature (8) + length (4) + "IHDR" (4): width and height follow.
  out.writeUInt32BE(width >>> 0, 16);
  out.writeUInt32BE(height >>> 0, 20);
  if (fixCrc) out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return out;
}

/** A JPEG whose first SOF marker claims width x height. */
function absurdJpeg(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i + 9 < out.length; i++) {
    if (out[i] === 0xff && out[i + 1]! >= 0xc0 && out[i + 1]! <= 0xc2) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      break;
    }
  }
  return out;
}

/** Strings that are not base64 of a valid image. */
function badBase64(rng: Rng, m: Material, allowMaybe: boolean): string {
  switch (int(rng, 0, 9)) {
    case 0:
      return pick(rng, ['!!!!', 'not base64 at all', '====', '@@@', 'AAA=A', '\u0000AAAA']);
    case 1:
      return `data:image/jpeg;base64,${pick(rng, ['@@@', '%%%', ''])}`;
    case 2:
      return randomBytes(rng, int(rng, 1, 3000)).toString('base64');
    case 3:
      return `data:image/png;base64,${brokenImage(rng, m).toString('base64')}`;
    case 4:
      return brokenImage(rng, m).toString('base64').replace(/(.{10})/g, '$1\n ');
    case 5:
      return brokenImage(rng, m).toString('base64url');
    case 6:
      return allowMaybe ? maybeImage(rng, m).toString('base64') : brokenImage(rng, m).toString('base64');
    case 7:
      return m.bombOver.toString('base64');
    case 8:
      return `${brokenImage(rng, m).toString('base64')}\u0000`;
    default:
      return brokenImage(rng, m).toString('base64');
  }
}

interface Built {
  body: Record<string, unknown>;
  mayBeOk: boolean;
  /** The transaction itself was fuzzed: do not replace it with the tracking id. */
  txFuzzed: boolean;
}

/** A well-formed-looking body for the command, then one or two mutations. */
function jsonBody(rng: Rng, command: JsonCommand, m: Material): Built {
  const body = baseBody(rng, command, m);
  const maybe = body.maybe === true;
  delete body.maybe;
  const image = body.image;
  let txFuzzed = false;
  const mutations = command === 'class/list' ? int(rng, 0, 2) : int(rng, 1, 2);
  for (let i = 0; i < mutations; i++) txFuzzed = mutate(rng, command, body, m) || txFuzzed;
  // Only these can be valid: no class and no camera exist, and enroll images never decode.
  const keys = Object.keys(body).filter((k) => k !== 'transaction');
  const mayBeOk =
    (command === 'class/list' && keys.length === 0) ||
    (command === 'classify' && maybe && body.image === image && keys.length === 1);
  return { body, mayBeOk, txFuzzed };
}

/** One mutation of a request body; true when it replaced the transaction. */
function mutate(rng: Rng, command: JsonCommand, body: Record<string, unknown>, m: Material): boolean {
  const keys = Object.keys(body);
  switch (int(rng, 0, 5)) {
    case 0:
      setOwn(body, keys.length > 0 ? pick(rng, keys) : 'label', badValue(rng));
      return false;
    case 1:
      if (keys.length > 0) delete body[pick(rng, keys)];
      return false;
    case 2:
      setOwn(body, pick(rng, ['extra', '__proto__', 'constructor', 'Label', 'label ', '']), badValue(rng));
      return false;
    case 3:
      body.transaction = pick<unknown>(rng, [new Deep('array', 10_000), new Deep('object', 10_000), 'x'.repeat(100_000), null, 0, { a: [1, 2] }]);
      return true;
    case 4:
      if (command !== 'class/list') body.label = pick(rng, BAD_LABELS);
      return false;
    default:
      if (command === 'class/rename') body.to = pick(rng, BAD_LABELS);
      else if (command === 'class/enroll') body.images = [badBase64(rng, m, false)];
      else if (command === 'classify') body.image = badBase64(rng, m, false);
      else if (command !== 'class/list') body.camera = pick(rng, ['', '../door', 'door\u0000', 'x'.repeat(10_000)]);
      return false;
  }
}

function baseBody(rng: Rng, command: JsonCommand, m: Material): Record<string, unknown> {
  switch (command) {
    case 'class/enroll':
      return rng() < 0.8
        ? { label: pick(rng, ['fuzzclass', ...BAD_LABELS]), images: [badBase64(rng, m, false)], background: rng() < 0.2 }
        : { label: 'fuzzclass', camera: pick(rng, ['door', 'nope', '']), frames: pick(rng, [0, 1, 51, -1, 1.5]), interval_ms: pick(rng, [-1, 0, 10_001]) };
    case 'class/remove':
    case 'class/undo':
      return { label: pick(rng, [...ABSENT_LABELS, ...BAD_LABELS]) };
    case 'class/rename':
      return { label: pick(rng, [...ABSENT_LABELS, ...BAD_LABELS]), to: pick(rng, [...ABSENT_LABELS, ...BAD_LABELS]) };
    case 'class/list':
      return {};
    case 'classify': {
      const maybe = rng() < 0.3;
      return { image: badBase64(rng, m, maybe), maybe };
    }
    default:
      return { camera: pick(rng, ['door', 'front', '', '../../x']), enabled: pick<unknown>(rng, [true, false, 'yes', 1, null]) };
  }
}

/** Payloads that are not a JSON object at all. */
function notAnObject(rng: Rng): Buffer {
  switch (int(rng, 0, 9)) {
    case 0:
      return Buffer.from(pick(rng, ['null', '42', '"label"', '[]', 'true', '[{"label":"x"}]']));
    case 1:
      return Buffer.from('['.repeat(10_000) + ']'.repeat(10_000));
    case 2:
      return Buffer.from('{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000));
    case 3:
      return Buffer.from('['.repeat(100_000));
    case 4:
      return Buffer.from('{"label": "fuzzclass", "images": ["AAAA"'); // truncated JSON
    case 5:
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"label":"fuzzclass"}')]); // BOM
    case 6:
      return Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]); // invalid UTF-8
    case 7:
      return Buffer.from('{"label":"a","label":5,"label":null}');
    case 8:
      return Buffer.from('{"label": "fuzzclass"} trailing');
    default:
      return randomBytes(rng, int(rng, 1, 4096));
  }
}

/** One request of the given category. */
export function buildCase(rng: Rng, m: Material, maxPayload: number): FuzzCase {
  const roll = rng();
  const responseTopic = (): string => (rng() < 0.15 ? pick(rng, [...HOSTILE_RESPONSE_TOPICS, 'none']) : 'reply');
  const correlation = (): Buffer | undefined => (rng() < 0.5 ? randomBytes(rng, int(rng, 1, 512)) : undefined);
  if (roll < 0.5) {
    const command = pick(rng, JSON_COMMANDS);
    const { body, mayBeOk, txFuzzed } = jsonBody(rng, command, m);
    const topic = txFuzzed ? 'reply' : responseTopic();
    return { kind: `json:${command}`, command, body, withTransaction: !txFuzzed, responseTopic: topic, correlationData: correlation(), mayBeOk };
  }
  if (roll < 0.6) {
    const command = pick(rng, [...JSON_COMMANDS, 'classify']);
    return { kind: 'not-an-object', command, body: undefined, raw: notAnObject(rng), withTransaction: false, responseTopic: 'reply', mayBeOk: false };
  }
  if (roll < 0.72) {
    const label = pick(rng, TOPIC_LABELS);
    const raw = rng() < 0.85 ? brokenImage(rng, m) : notAnObject(rng);
    return { kind: 'raw-enroll', command: `class/enroll/${label}`, body: undefined, raw, withTransaction: false, responseTopic: 'reply', correlationData: correlation(), mayBeOk: false };
  }
  if (roll < 0.82) {
    const maybe = rng() < 0.4;
    const raw = maybe ? maybeImage(rng, m) : brokenImage(rng, m);
    return { kind: 'raw-classify', command: 'classify', body: undefined, raw, withTransaction: false, responseTopic: 'reply', correlationData: correlation(), mayBeOk: maybe };
  }
  if (roll < 0.9) {
    const command = pick(rng, UNKNOWN_COMMANDS);
    const body = { label: 'fuzzclass', image: 'AAAA' };
    return { kind: 'unknown-command', command, body, withTransaction: true, responseTopic: responseTopic(), mayBeOk: false };
  }
  return oversized(rng, m, maxPayload);
}

/** Over limits.max_payload_bytes: refused before any parsing. */
function oversized(rng: Rng, m: Material, maxPayload: number): FuzzCase {
  const size = maxPayload + int(rng, 1, maxPayload * 3);
  const command = pick(rng, [...JSON_COMMANDS, 'class/enroll/fuzzclass']);
  const filler = pick(rng, ['json', 'jpeg', 'random'] as const);
  let raw: Buffer;
  if (filler === 'json') raw = Buffer.from(JSON.stringify({ label: 'fuzzclass', image: 'A'.repeat(size) }));
  else if (filler === 'jpeg') raw = Buffer.concat([m.jpeg, Buffer.alloc(size)]);
  else raw = Buffer.alloc(size, int(rng, 0, 255));
  return { kind: 'oversized', command, body: undefined, raw, withTransaction: false, responseTopic: 'reply', mayBeOk: false };
}

/** The bytes published for a case, with the tracking transaction added when it can be echoed. */
export function payloadOf(c: FuzzCase, id: string): Buffer {
  if (c.raw) return c.raw;
  const body = c.withTransaction ? { ...(c.body as Record<string, unknown>), transaction: id } : c.body;
  return Buffer.from(toJson(body));
}
