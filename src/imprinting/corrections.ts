/**
 * The correction loop: a user says a detection was right, wrong, or something else, and
 * the agent learns from it at once. Every correction is one transaction and can be undone
 * exactly (the event remembers the shot and the negatives it added).
 */
import { AppError, fieldError } from '../errors.js';
import type { Correction, EventFilter, EventInfo, EventRecord, EventStore } from '../storage/eventStore.js';
import type { ClassStore } from '../storage/classStore.js';

/** An event by id, or the newest event of a camera (and zone), as Home Assistant's buttons send. */
export type EventRef = { id: string } | { camera: string; zone: string | null };

export interface CorrectionResult {
  id: string;
  label: string;
  correction: Correction | null;
  /** relabel: the class the event now counts for. */
  to?: string;
}

export interface CorrectionDeps {
  store: ClassStore;
  events: EventStore;
  /** The model whose embeddings the classes hold now. */
  modelId: () => string;
  /** Checks a label a correction would create (label rules, zone names). */
  newLabel: (label: string, field: string) => string;
  /** Called after every change, so the classifier and the thresholds follow. */
  changed: () => void;
}

export class Corrections {
  constructor(private readonly deps: CorrectionDeps) {}

  list(filter: EventFilter): EventInfo[] {
    return this.deps.events.list(filter);
  }

  /** The event was right: its frame becomes a shot of its class. */
  confirm(ref: EventRef): CorrectionResult {
    const event = this.uncorrected(ref);
    this.deps.store.transaction(() => {
      const shotId = this.addShot(event, event.label);
      this.deps.events.setCorrection(event.id, { correction: 'confirmed', label: event.label, shotId, negativeIds: [] });
    });
    this.deps.changed();
    return { id: event.id, label: event.label, correction: 'confirmed' };
  }

  /**
   * The event was wrong: the frame becomes a negative of its class in its zone (that class's
   * threshold rises against frames like it). `empty`: nothing should have been there at
   * all, so the frame is also an example of the zone's empty scene.
   */
  reject(ref: EventRef, opts: { empty: boolean }): CorrectionResult {
    const event = this.uncorrected(ref);
    const embedding = this.embeddingOf(event);
    this.deps.store.transaction(() => {
      const common = { camera: event.camera, zone: event.zone, embedding, residual: event.residual, model: event.model, thumbnail: event.crop, eventId: event.id };
      const ids = [this.deps.events.addNegative({ ...common, label: event.label })];
      if (opts.empty) ids.push(this.deps.events.addNegative({ ...common, label: null }));
      this.deps.events.setCorrection(event.id, { correction: 'rejected', label: event.label, shotId: null, negativeIds: ids });
    });
    this.deps.changed();
    return { id: event.id, label: event.label, correction: 'rejected' };
  }

  /** The event showed `to`, not its class: a shot of `to` (created if new) and a negative of the old class. */
  relabel(ref: EventRef, to: string): CorrectionResult {
    const target = this.deps.newLabel(to, 'label');
    const event = this.uncorrected(ref);
    if (target === event.label) throw fieldError('conflict', 'label', `the event is already "${target}"; use event/confirm`);
    const embedding = this.embeddingOf(event);
    this.deps.store.transaction(() => {
      const shotId = this.addShot(event, target);
      const negative = this.deps.events.addNegative({
        label: event.label, camera: event.camera, zone: event.zone, embedding, residual: event.residual, model: event.model, thumbnail: event.crop, eventId: event.id,
      });
      this.deps.events.setCorrection(event.id, { correction: 'relabeled', label: target, shotId, negativeIds: [negative] });
    });
    this.deps.changed();
    return { id: event.id, label: event.label, correction: 'relabeled', to: target };
  }

  /** Takes a correction back: removes exactly the shot and negatives it added. */
  undo(ref: EventRef): CorrectionResult {
    const event = this.find(ref);
    if (event.correction === null) throw fieldError('conflict', 'id', `event "${event.id}" has no correction to undo`);
    this.deps.store.transaction(() => {
      if (event.shot_id !== null) {
        try {
          this.deps.store.removeShot(event.shot_id);
        } catch (err) {
          // The shot may already be gone (its class removed, the shot undone): nothing to take back.
          if (!(err instanceof AppError && err.code === 'not_found')) throw err;
        }
      }
      this.deps.events.removeNegatives(event.negative_ids);
      this.deps.events.setCorrection(event.id, { correction: null, label: null, shotId: null, negativeIds: [] });
    });
    this.deps.changed();
    return { id: event.id, label: event.label, correction: null };
  }

  private find(ref: EventRef): EventRecord {
    if ('id' in ref) {
      const event = this.deps.events.get(ref.id);
      if (!event) throw fieldError('not_found', 'id', `no event "${ref.id}" (unknown, or expired: see events.max_count and events.max_age_days)`);
      return event;
    }
    const event = this.deps.events.latest(ref.camera, ref.zone);
    if (!event) throw fieldError('not_found', 'camera', `no event yet on ${ref.zone === null ? `camera "${ref.camera}"` : `zone "${ref.zone}" of camera "${ref.camera}"`}`);
    return event;
  }

  private uncorrected(ref: EventRef): EventRecord {
    const event = this.find(ref);
    if (event.correction !== null) {
      throw fieldError('conflict', 'id', `event "${event.id}" is already ${event.correction}; undo that first (event/undo)`);
    }
    return event;
  }

  private embeddingOf(event: EventRecord): Float32Array {
    if (!event.embedding) throw fieldError('not_found', 'id', `event "${event.id}" kept no frame embedding to learn from`);
    if (event.model !== this.deps.modelId()) {
      throw new AppError('model_changed', `id: event "${event.id}" was seen with another model; it cannot be learned from`, 'id');
    }
    return event.embedding;
  }

  /**
   * The event's frame as a shot: its embedding, its crop as the thumbnail (re-embedding
   * needs it), and its residual as the class seen in that unit (the unit learns it there).
   */
  private addShot(event: EventRecord, label: string): number {
    const embedding = this.embeddingOf(event);
    if (!event.crop) throw fieldError('not_found', 'id', `event "${event.id}" kept no frame to learn from`);
    const units = event.residual ? [{ camera: event.camera, zone: event.zone, residual: event.residual, augmentation: '' }] : [];
    const shot = { embedding, thumbnail: event.crop, source: `event:${event.id}` };
    const { ids } = this.deps.store.addShotsWithIds(label, [shot], { model: event.model, units: [units] });
    return ids[0] ?? 0;
  }
}
