/**
 * The gallery's messages on the wire: pure builders, and one parser that takes any bytes and
 * returns either a checked message or the reason it is refused (garbled, forged, a clock too
 * far ahead). Schemas are checked with ajv (compiled once); what a schema cannot say (labels,
 * stamps minted by the topic's own node, embeddings that are unit vectors, a sum that matches
 * the shots) is checked after it.
 *
 * Embeddings travel as float32 little-endian, base64; thumbnails as base64 JPEG.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { formatErrors } from '../commands/schemas.js';
import { labelProblem } from '../recognition/labels.js';
import { allFinite, decodeFloat32, encodeFloat32, sumFloat32 } from '../storage/codec.js';
import type { GalleryTopic } from '../mqtt/topics.js';
import { MAX_DRIFT_MS, stampNode, stampWall, type Stamp } from './hlc.js';
import type { Op } from './merge.js';
import type { ContributionMeta, ManifestEntry, PlacedSettings, RecordMeta } from './replica.js';

export const WIRE_VERSION = 1;

const STAMP = '^\\d{15}\\.\\d{6}@[a-z0-9_]{1,64}$';
const ID = '^[0-9a-f]{16}@[a-z0-9_]{1,64}$';
const MODEL = '^[0-9a-f]{64}$';
const BASE64 = '^[A-Za-z0-9+/]*={0,2}$';
const NODE = '^[a-z0-9_]{1,64}$';
const LABEL = { type: 'string', minLength: 1, maxLength: 256 } as const;

const record = {
  type: 'object',
  required: ['id', 'at', 'label_at', 'embedding'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', pattern: ID },
    at: { type: 'string', pattern: STAMP },
    label_at: { type: 'string', pattern: STAMP },
    embedding: { type: 'string', minLength: 4, pattern: BASE64 },
    thumbnail: { type: 'string', minLength: 4, pattern: BASE64 },
  },
} as const;

const schemas = {
  class: {
    type: 'object',
    required: ['v', 'node', 'label', 'model', 'version', 'settings', 'dim', 'count', 'sum', 'shots', 'negatives'],
    additionalProperties: false,
    properties: {
      v: { const: WIRE_VERSION },
      node: { type: 'string', pattern: NODE },
      label: LABEL,
      model: { type: 'string', pattern: MODEL },
      version: { type: 'string', pattern: STAMP },
      settings: {
        type: ['object', 'null'],
        required: ['background', 'threshold', 'at', 'label_at'],
        additionalProperties: false,
        properties: {
          background: { type: 'boolean' },
          threshold: { type: ['number', 'null'], minimum: 0, maximum: 1 },
          at: { type: 'string', pattern: STAMP },
          label_at: { type: 'string', pattern: STAMP },
        },
      },
      dim: { type: 'integer', minimum: 0, maximum: 16384 },
      count: { type: 'integer', minimum: 0 },
      sum: { type: 'string', pattern: BASE64 },
      shots: { type: 'array', items: record },
      negatives: { type: 'array', items: record },
    },
  },
  manifest: {
    type: 'object',
    required: ['v', 'node', 'at', 'thumbnails', 'classes'],
    additionalProperties: false,
    properties: {
      v: { const: WIRE_VERSION },
      node: { type: 'string', pattern: NODE },
      at: { type: 'string', pattern: STAMP },
      thumbnails: { type: 'boolean' },
      classes: {
        type: 'array',
        items: {
          type: 'object',
          required: ['label', 'model', 'version', 'shots'],
          additionalProperties: false,
          properties: {
            label: LABEL,
            model: { type: 'string', pattern: MODEL },
            version: { type: 'string', pattern: STAMP },
            shots: { type: 'integer', minimum: 0 },
          },
        },
      },
    },
  },
  ops: {
    type: 'object',
    required: ['v', 'node', 'at', 'ops'],
    additionalProperties: false,
    properties: {
      v: { const: WIRE_VERSION },
      node: { type: 'string', pattern: NODE },
      at: { type: 'string', pattern: STAMP },
      ops: {
        type: 'array',
        items: {
          type: 'object',
          required: ['kind', 'label', 'at'],
          additionalProperties: false,
          properties: {
            kind: { enum: ['remove', 'rename', 'drop'] },
            label: LABEL,
            to: LABEL,
            id: { type: 'string', pattern: ID },
            at: { type: 'string', pattern: STAMP },
          },
        },
      },
    },
  },
} as const;

// ---- wire shapes ----

export interface WireRecord {
  id: string;
  at: Stamp;
  label_at: Stamp;
  embedding: string;
  thumbnail?: string;
}

export interface ContributionPayload {
  v: typeof WIRE_VERSION;
  node: string;
  label: string;
  model: string;
  version: Stamp;
  settings: { background: boolean; threshold: number | null; at: Stamp; label_at: Stamp } | null;
  dim: number;
  count: number;
  sum: string;
  shots: WireRecord[];
  negatives: WireRecord[];
}

export interface ManifestPayload {
  v: typeof WIRE_VERSION;
  node: string;
  at: Stamp;
  thumbnails: boolean;
  classes: Array<ManifestEntry & { shots: number }>;
}

export interface WireOp {
  kind: Op['kind'];
  label: string;
  to?: string;
  id?: string;
  at: Stamp;
}

export interface OpsPayload {
  v: typeof WIRE_VERSION;
  node: string;
  at: Stamp;
  ops: WireOp[];
}

// ---- building ----

/** One record (a shot or a class negative) as a node holds it, with its vectors. */
export interface OwnRecord extends RecordMeta {
  embedding: Float32Array;
  thumbnail: Buffer | null;
}

function encodeVector(v: Float32Array): string {
  return encodeFloat32(v).toString('base64');
}

function wireRecord(r: OwnRecord, thumbnails: boolean): WireRecord {
  const out: WireRecord = { id: r.id, at: r.at, label_at: r.labelAt, embedding: encodeVector(r.embedding) };
  if (thumbnails && r.thumbnail && r.thumbnail.length > 0) out.thumbnail = r.thumbnail.toString('base64');
  return out;
}

/** A node's contribution to one class for one model: its shots (sum and count too), negatives and settings. Pure. */
export function contributionPayload(c: {
  node: string;
  label: string;
  model: string;
  version: Stamp;
  settings: PlacedSettings | null;
  shots: OwnRecord[];
  negatives: OwnRecord[];
  thumbnails: boolean;
}): ContributionPayload {
  const dim = (c.shots[0] ?? c.negatives[0])?.embedding.length ?? 0;
  const s = c.settings;
  return {
    v: WIRE_VERSION,
    node: c.node,
    label: c.label,
    model: c.model,
    version: c.version,
    settings: s ? { background: s.background, threshold: s.threshold, at: s.at, label_at: s.labelAt } : null,
    dim,
    count: c.shots.length,
    sum: encodeVector(sumFloat32(c.shots.map((r) => r.embedding), dim)),
    shots: c.shots.map((r) => wireRecord(r, c.thumbnails)),
    negatives: c.negatives.map((r) => wireRecord(r, c.thumbnails)),
  };
}

export function opsPayload(node: string, at: Stamp, ops: readonly Op[]): OpsPayload {
  return { v: WIRE_VERSION, node, at, ops: ops.map(wireOp) };
}

function wireOp(op: Op): WireOp {
  if (op.kind === 'rename') return { kind: op.kind, label: op.label, to: op.to, at: op.at };
  if (op.kind === 'drop') return { kind: op.kind, label: op.label, id: op.id, at: op.at };
  return { kind: op.kind, label: op.label, at: op.at };
}

// ---- parsing ----

export type RejectReason = 'garbled' | 'forged' | 'oversized' | 'clock';

export class GalleryReject extends Error {
  constructor(
    readonly reason: RejectReason,
    message: string,
  ) {
    super(message);
  }
}

/** A contribution as received: its metadata, and per record id its vectors. */
export interface ReceivedContribution {
  meta: ContributionMeta;
  dim: number;
  vectors: Map<string, { embedding: Float32Array; thumbnail: Buffer | null }>;
}

export type ParsedMessage =
  | { kind: 'class'; contribution: ReceivedContribution; bytes: number }
  | { kind: 'manifest'; manifest: ManifestPayload }
  | { kind: 'ops'; node: string; at: Stamp; ops: Op[] };

/** The unit-length tolerance of a shared embedding (they are L2-normalised float32). */
const NORM_TOLERANCE = 1e-3;

export class GalleryParser {
  private readonly validators: Record<keyof typeof schemas, ValidateFunction>;

  constructor(private readonly opts: { maxBytes: number; now?: () => number }) {
    const ajv = new Ajv({ allErrors: true, strict: true });
    this.validators = {
      class: ajv.compile(schemas.class),
      manifest: ajv.compile(schemas.manifest),
      ops: ajv.compile(schemas.ops),
    };
  }

  /** The checked message, or throws GalleryReject. An empty payload is not a message (a cleared topic): null. */
  parse(topic: GalleryTopic, payload: Buffer): ParsedMessage | null {
    if (payload.length === 0) return null;
    if (payload.length > this.opts.maxBytes) throw new GalleryReject('oversized', `${payload.length} bytes, more than gallery.max_message_bytes (${this.opts.maxBytes})`);
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      throw new GalleryReject('garbled', 'not JSON');
    }
    const validate = this.validators[topic.kind];
    if (!validate(body)) throw new GalleryReject('garbled', formatErrors(validate.errors));
    const node = (body as { node: string }).node;
    if (node !== topic.node) throw new GalleryReject('forged', `node: "${node}" in the subtree of "${topic.node}"`);
    if (topic.kind === 'class') return this.contribution(topic, body as ContributionPayload, payload.length);
    if (topic.kind === 'manifest') return this.manifest(body as ManifestPayload);
    return this.ops(body as OpsPayload);
  }

  private contribution(topic: GalleryTopic & { kind: 'class' }, p: ContributionPayload, bytes: number): ParsedMessage {
    checkLabel('label', p.label);
    if (p.label !== topic.label || !p.model.startsWith(topic.model)) throw new GalleryReject('garbled', 'label/model: differ from the topic');
    this.own(p.node, 'version', p.version);
    // Settings a node adopted from the fleet keep the stamp they were set with, by whichever node.
    if (p.settings) this.notAhead('settings.at', p.settings.at);
    if (p.count !== p.shots.length) throw new GalleryReject('garbled', `count: ${p.count}, but ${p.shots.length} shots`);
    const vectors = new Map<string, { embedding: Float32Array; thumbnail: Buffer | null }>();
    const records: RecordMeta[] = [];
    const take = (list: WireRecord[], kind: 'shot' | 'negative'): void =>
      list.forEach((r, i) => {
        const field = `${kind === 'shot' ? 'shots' : 'negatives'}[${i}]`;
        this.own(p.node, `${field}.at`, r.at);
        if (stampNode(r.id) !== p.node) throw new GalleryReject('forged', `${field}.id: made by "${stampNode(r.id)}"`);
        if (vectors.has(r.id)) throw new GalleryReject('garbled', `${field}.id: twice`);
        if (r.label_at < r.at) throw new GalleryReject('garbled', `${field}.label_at: before its at`);
        this.notAhead(`${field}.label_at`, r.label_at);
        vectors.set(r.id, { embedding: unitVector(r.embedding, p.dim, `${field}.embedding`), thumbnail: r.thumbnail ? Buffer.from(r.thumbnail, 'base64') : null });
        records.push({ id: r.id, kind, at: r.at, labelAt: r.label_at });
      });
    take(p.shots, 'shot');
    take(p.negatives, 'negative');
    checkSum(p, vectors);
    const settings = p.settings ? { background: p.settings.background, threshold: p.settings.threshold, at: p.settings.at, labelAt: p.settings.label_at } : null;
    const meta: ContributionMeta = { node: p.node, label: p.label, model: p.model, version: p.version, settings, records };
    return { kind: 'class', contribution: { meta, dim: p.dim, vectors }, bytes };
  }

  private manifest(p: ManifestPayload): ParsedMessage {
    this.own(p.node, 'at', p.at);
    p.classes.forEach((c, i) => {
      checkLabel(`classes[${i}].label`, c.label);
      this.own(p.node, `classes[${i}].version`, c.version);
    });
    return { kind: 'manifest', manifest: p };
  }

  private ops(p: OpsPayload): ParsedMessage {
    this.own(p.node, 'at', p.at);
    const ops = p.ops.map((op, i): Op => {
      const field = `ops[${i}]`;
      this.own(p.node, `${field}.at`, op.at);
      checkLabel(`${field}.label`, op.label);
      if (op.kind === 'rename') {
        if (op.to === undefined || op.id !== undefined) throw new GalleryReject('garbled', `${field}: a rename has "to" and no "id"`);
        checkLabel(`${field}.to`, op.to);
        if (op.to === op.label) throw new GalleryReject('garbled', `${field}.to: the same label`);
        return { kind: 'rename', label: op.label, to: op.to, at: op.at };
      }
      if (op.kind === 'drop') {
        if (op.id === undefined || op.to !== undefined) throw new GalleryReject('garbled', `${field}: a drop has "id" and no "to"`);
        return { kind: 'drop', id: op.id, label: op.label, at: op.at };
      }
      if (op.id !== undefined || op.to !== undefined) throw new GalleryReject('garbled', `${field}: a remove has neither "to" nor "id"`);
      return { kind: 'remove', label: op.label, at: op.at };
    });
    return { kind: 'ops', node: p.node, at: p.at, ops };
  }

  /** A stamp the topic's node made itself (anything else in its subtree is forged), and not from the future. */
  private own(node: string, field: string, stamp: Stamp): void {
    if (stampNode(stamp) !== node) throw new GalleryReject('forged', `${field}: stamped by "${stampNode(stamp)}", not "${node}"`);
    this.notAhead(field, stamp);
  }

  private notAhead(field: string, stamp: Stamp): void {
    const ahead = stampWall(stamp) - (this.opts.now ?? Date.now)();
    if (ahead > MAX_DRIFT_MS) throw new GalleryReject('clock', `${field}: ${Math.round(ahead / 1000)} s ahead of this node's clock (are the clocks set? NTP)`);
  }
}

function checkLabel(field: string, label: string): void {
  const problem = labelProblem(label);
  if (problem) throw new GalleryReject('garbled', `${field}: ${problem}`);
}

function unitVector(text: string, dim: number, field: string): Float32Array {
  const v = decodeFloat32(Buffer.from(text, 'base64'));
  if (!v || v.length !== dim || dim === 0) throw new GalleryReject('garbled', `${field}: not ${dim} float32 values`);
  if (!allFinite(v)) throw new GalleryReject('garbled', `${field}: not finite`);
  let norm = 0;
  for (let i = 0; i < v.length; i++) norm += v[i]! * v[i]!;
  if (Math.abs(Math.sqrt(norm) - 1) > NORM_TOLERANCE) throw new GalleryReject('garbled', `${field}: not a unit vector (norm ${Math.sqrt(norm).toFixed(4)})`);
  return v;
}

/** The shared sum must be the sum of the shared shots (a cheap check that nothing was mangled). */
function checkSum(p: ContributionPayload, vectors: Map<string, { embedding: Float32Array }>): void {
  const sum = decodeFloat32(Buffer.from(p.sum, 'base64'));
  if (!sum || sum.length !== p.dim) throw new GalleryReject('garbled', `sum: not ${p.dim} float32 values`);
  const expected = sumFloat32(p.shots.map((s) => vectors.get(s.id)!.embedding), p.dim);
  for (let i = 0; i < p.dim; i++) {
    if (Math.abs(expected[i]! - sum[i]!) > 1e-3 * Math.max(1, p.count)) throw new GalleryReject('garbled', `sum: differs from the shots at [${i}]`);
  }
}

/** The version stamp near the start of a contribution (builders write it among the first keys), or null. */
export function peekVersion(payload: Buffer): string | null {
  const head = payload.subarray(0, 512).toString('latin1');
  return /"version":"(\d{15}\.\d{6}@[a-z0-9_]{1,64})"/.exec(head)?.[1] ?? null;
}
