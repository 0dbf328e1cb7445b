/**
 * What a zone looks like when nothing is there: a few prototypes (unit embeddings) of its
 * empty scene, learned from the camera's own frames and kept up to date slowly, so the
 * decision can ask "is this frame clearly closer to a class than to the scene?".
 *
 * - A quiet frame (no class ON, not a frame a user confirmed as a class) that matches a
 *   prototype (cosine >= mergeCosine) moves it a little towards itself: by 1 - exp(-dt/tau),
 *   dt the time since that prototype's last update. Light drifting over a day is followed;
 *   an object passing for a few seconds barely moves it.
 * - A quiet frame that matches no prototype starts (or continues) a pending look. A look that
 *   stays for promoteAfterS (every quiet frame in between matching it) becomes a prototype:
 *   a parked car or a moved chair becomes part of the scene, a passer-by does not.
 * - At most maxPrototypes; a new one replaces the one updated longest ago.
 * - An empty model takes its first prototype from a look that stays firstLookAfterS (0: the
 *   first quiet frame at once): an unrecognised object in view when the agent first starts
 *   must not become the empty scene. A user's "nothing should have been there" adds the
 *   frame as a prototype at once (addPrototype).
 *
 * Pure: no I/O, time from the injected clock (ms). Persist with toJSON / SceneModel.fromJSON.
 */
import { dot, l2Normalize } from './vector.js';

export interface SceneModelOptions {
  maxPrototypes: number;
  /** Cosine at or above which a frame is the same look as a prototype (raw model space). */
  mergeCosine: number;
  /** Time constant of a prototype's update, seconds. */
  tauS: number;
  /** How long a new look must persist before it becomes a prototype, seconds. */
  promoteAfterS: number;
  /** How long the first look of an empty model must persist before it becomes its first prototype, seconds. */
  firstLookAfterS: number;
  clock: () => number;
}

export const DEFAULT_SCENE_OPTIONS: Omit<SceneModelOptions, 'clock'> = {
  maxPrototypes: 4,
  mergeCosine: 0.9,
  tauS: 120,
  promoteAfterS: 60,
  firstLookAfterS: 10,
};

interface Prototype {
  vector: Float32Array;
  hits: number;
  createdAt: number;
  updatedAt: number;
}

interface Pending {
  vector: Float32Array;
  frames: number;
  since: number;
}

export type Observation = 'skipped' | 'created' | 'updated' | 'pending' | 'promoted';

export interface SceneModelState {
  prototypes: Array<{ hits: number; created_at: string; updated_at: string }>;
  pending: { frames: number; since: string } | null;
  updated_at: string | null;
}

export interface SceneModelSnapshot {
  version: 1;
  dim: number;
  prototypes: Array<{ vector: string; hits: number; created_at: string; updated_at: string }>;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export class SceneModel {
  private protos: Prototype[] = [];
  private pending: Pending | null = null;

  constructor(private readonly opts: SceneModelOptions) {}

  /**
   * Learns from one frame of the zone. Frames while any class is ON in the zone, and frames a
   * user confirmed as a class, are never learned: they show an object, not the scene.
   */
  observe(x: Float32Array, context: { classOn: boolean; confirmed?: boolean }): Observation {
    if (context.classOn || context.confirmed) return 'skipped';
    const now = this.opts.clock();
    if (this.protos.length === 0 && this.opts.firstLookAfterS <= 0) return this.create(x, now);
    if (this.protos.length === 0) return this.extendPending(x, now);
    const { index, score } = this.nearest(x);
    if (score >= this.opts.mergeCosine) {
      this.pending = null;
      const p = this.protos[index]!;
      const alpha = 1 - Math.exp(-Math.max(0, now - p.updatedAt) / 1000 / this.opts.tauS);
      p.vector = mix(p.vector, x, alpha);
      p.hits++;
      p.updatedAt = now;
      return 'updated';
    }
    return this.extendPending(x, now);
  }

  /** A frame a user said shows nothing: a prototype at once. */
  addPrototype(x: Float32Array): void {
    this.create(x, this.opts.clock());
  }

  /** Best cosine to a prototype (-Infinity when the model is empty). */
  similarity(x: Float32Array): number {
    return this.nearest(x).score;
  }

  prototypes(): Float32Array[] {
    return this.protos.map((p) => p.vector);
  }

  state(): SceneModelState {
    const latest = this.protos.reduce((m, p) => Math.max(m, p.updatedAt), -Infinity);
    return {
      prototypes: this.protos.map((p) => ({ hits: p.hits, created_at: iso(p.createdAt), updated_at: iso(p.updatedAt) })),
      pending: this.pending ? { frames: this.pending.frames, since: iso(this.pending.since) } : null,
      updated_at: latest === -Infinity ? null : iso(latest),
    };
  }

  toJSON(): SceneModelSnapshot {
    return {
      version: 1,
      dim: this.protos[0]?.vector.length ?? 0,
      prototypes: this.protos.map((p) => ({
        vector: Buffer.from(p.vector.buffer, p.vector.byteOffset, p.vector.byteLength).toString('base64'),
        hits: p.hits,
        created_at: iso(p.createdAt),
        updated_at: iso(p.updatedAt),
      })),
    };
  }

  /** Restores a snapshot; errors name the field. A pending look is not persisted (it restarts). */
  static fromJSON(json: unknown, opts: SceneModelOptions): SceneModel {
    const o = json as Partial<SceneModelSnapshot> | null;
    if (typeof o !== 'object' || o === null || o.version !== 1) throw new Error('scene model: version must be 1');
    if (!Array.isArray(o.prototypes)) throw new Error('scene model: prototypes must be an array');
    const model = new SceneModel(opts);
    o.prototypes.slice(0, opts.maxPrototypes).forEach((p, i) => {
      const field = `scene model: prototypes[${i}]`;
      const bytes = Buffer.from(typeof p.vector === 'string' ? p.vector : '', 'base64');
      if (bytes.length === 0 || bytes.length !== (o.dim ?? 0) * 4) throw new Error(`${field}.vector must hold ${String(o.dim)} float32 values`);
      const vector = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      if (!vector.every(Number.isFinite)) throw new Error(`${field}.vector has values that are not finite`);
      const createdAt = Date.parse(p.created_at ?? '');
      const updatedAt = Date.parse(p.updated_at ?? '');
      if (Number.isNaN(createdAt) || Number.isNaN(updatedAt)) throw new Error(`${field}: created_at and updated_at must be ISO times`);
      if (!Number.isInteger(p.hits) || (p.hits ?? -1) < 0) throw new Error(`${field}.hits must be a count`);
      model.protos.push({ vector: l2Normalize(vector), hits: p.hits!, createdAt, updatedAt });
    });
    return model;
  }

  private nearest(x: Float32Array): { index: number; score: number } {
    let index = -1;
    let score = -Infinity;
    this.protos.forEach((p, i) => {
      const s = dot(p.vector, x);
      if (s > score) {
        score = s;
        index = i;
      }
    });
    return { index, score };
  }

  private extendPending(x: Float32Array, now: number): Observation {
    const p = this.pending;
    if (!p || dot(p.vector, x) < this.opts.mergeCosine) {
      this.pending = { vector: Float32Array.from(x), frames: 1, since: now };
      return 'pending';
    }
    p.frames++;
    p.vector = mix(p.vector, x, 1 / p.frames);
    const after = this.protos.length === 0 ? this.opts.firstLookAfterS : this.opts.promoteAfterS;
    if (now - p.since < after * 1000) return 'pending';
    this.pending = null;
    this.create(p.vector, now);
    return 'promoted';
  }

  private create(x: Float32Array, now: number): 'created' {
    if (this.protos.length >= this.opts.maxPrototypes) {
      let oldest = 0;
      this.protos.forEach((p, i) => {
        if (p.updatedAt < this.protos[oldest]!.updatedAt) oldest = i;
      });
      this.protos.splice(oldest, 1);
    }
    this.protos.push({ vector: l2Normalize(x), hits: 1, createdAt: now, updatedAt: now });
    return 'created';
  }
}

/** normalise((1 - alpha) * a + alpha * b). */
function mix(a: Float32Array, b: Float32Array, alpha: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (1 - alpha) * a[i]! + alpha * b[i]!;
  return l2Normalize(out);
}
