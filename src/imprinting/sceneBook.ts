/**
 * The learned empty scene of every camera unit (each zone, or the whole frame of a camera
 * without zones): one SceneModel each, loaded from the store when a unit is first seen,
 * saved every few minutes and at stop, and thrown away when the model changes (prototypes
 * of another embedding space mean nothing).
 */
import type { Logger } from 'pino';
import type { EventBus } from '../eventBus.js';
import type { EventStore } from '../storage/eventStore.js';
import { DEFAULT_SCENE_OPTIONS, SceneModel, type SceneModelOptions, type SceneModelState } from '../recognition/sceneModel.js';
import type { UnitRef } from '../recognition/types.js';

export interface SceneBookDeps {
  events: EventStore;
  bus?: EventBus;
  modelId: () => string;
  logger: Logger;
  clock?: () => number;
  options?: Partial<Omit<SceneModelOptions, 'clock'>>;
  /** How often changed scenes are written (ms). */
  saveEveryMs?: number;
}

interface Entry {
  unit: UnitRef;
  model: SceneModel;
  dirty: boolean;
}

export const unitKey = (unit: UnitRef): string => (unit.zone === null ? unit.camera : `${unit.camera}/${unit.zone}`);

export class SceneBook {
  private readonly entries = new Map<string, Entry>();
  private timer: NodeJS.Timeout | null = null;
  private readonly options: SceneModelOptions;

  constructor(private readonly deps: SceneBookDeps) {
    this.options = { ...DEFAULT_SCENE_OPTIONS, ...deps.options, clock: deps.clock ?? Date.now };
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => this.save(), this.deps.saveEveryMs ?? 5 * 60_000);
    this.timer.unref();
  }

  /** Writes what changed; a scene learned over hours is not lost to a restart. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.save();
  }

  /** The unit's scene prototypes (raw unit embeddings), loading it on first use. */
  prototypes(unit: UnitRef): Float32Array[] {
    return this.entry(unit).model.prototypes();
  }

  /** Learns from a frame of the unit; never while a class is ON there. */
  observe(unit: UnitRef, x: Float32Array, classOn: boolean): void {
    const entry = this.entry(unit);
    const outcome = entry.model.observe(x, { classOn });
    if (outcome !== 'skipped' && outcome !== 'pending') entry.dirty = true;
  }

  /** Diagnostics for `state`: every unit seen so far. */
  states(): Record<string, SceneModelState> {
    return Object.fromEntries([...this.entries.values()].map((e) => [unitKey(e.unit), e.model.state()]));
  }

  /** Saves every changed scene now (also every few minutes and at stop). */
  save(): void {
    const saved: string[] = [];
    for (const entry of this.entries.values()) {
      if (!entry.dirty) continue;
      try {
        const { camera, zone } = entry.unit;
        this.deps.events.saveScene(camera, zone, this.deps.modelId(), JSON.stringify(entry.model.toJSON()));
        entry.dirty = false;
        saved.push(unitKey(entry.unit));
      } catch (err) {
        this.deps.logger.warn({ err, unit: unitKey(entry.unit) }, 'could not save the learned scene; it is kept in memory');
      }
    }
    if (saved.length > 0) this.deps.bus?.emit('scenesSaved', { units: saved });
  }

  /** A compact summary per unit, for the retained `state`. */
  summaries(): Record<string, { prototypes: number; updated_at: string | null; pending_since: string | null }> {
    return Object.fromEntries(
      Object.entries(this.states()).map(([key, s]) => [key, { prototypes: s.prototypes.length, updated_at: s.updated_at, pending_since: s.pending?.since ?? null }]),
    );
  }

  private entry(unit: UnitRef): Entry {
    const key = unitKey(unit);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { unit, model: this.load(unit), dirty: false };
      this.entries.set(key, entry);
    }
    return entry;
  }

  private load(unit: UnitRef): SceneModel {
    let saved: { model: string; state: string } | null = null;
    try {
      saved = this.deps.events.loadScene(unit.camera, unit.zone);
    } catch (err) {
      this.deps.logger.warn({ err, unit: unitKey(unit) }, 'could not read the learned scene; learning it again');
    }
    if (!saved) return new SceneModel(this.options);
    if (saved.model !== this.deps.modelId()) {
      this.deps.logger.info({ unit: unitKey(unit) }, 'the model changed since this scene was learned; learning it again');
      return new SceneModel(this.options);
    }
    try {
      return SceneModel.fromJSON(JSON.parse(saved.state), this.options);
    } catch (err) {
      this.deps.logger.warn({ err, unit: unitKey(unit) }, 'the saved scene is unreadable; learning it again');
      return new SceneModel(this.options);
    }
  }
}
