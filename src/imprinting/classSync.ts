import type { Logger } from 'pino';
import { jpegToInput } from '../media/image.js';
import type { Detector } from '../detector/types.js';
import type { EventBus } from '../eventBus.js';
import type { EventStore } from '../storage/eventStore.js';
import type { FineTuneResult } from '../recognition/fineTune.js';
import type { Recognizer, RecognizerData } from './recognizer.js';
import type { SharedClass, SharedClasses } from './shared.js';
import type { ClassStore } from '../storage/classStore.js';
import { meanDirection } from '../recognition/vector.js';
import type { BackgroundTuner } from './tuner.js';

export interface ClassSyncDeps {
  detector: Detector;
  modelId: () => string;
  store: ClassStore;
  events: EventStore;
  recognizer: Recognizer;
  logger: Logger;
  bus?: EventBus;
  /** The labels every class has now (with gallery.sync: the fleet's), for `classesChanged`. */
  labels: () => string[];
  /** How often to look for classes changed by another process (the CLI). */
  pollMs?: number;
  /** Fine-tunes the weights in the background after changes; absent: plain imprinting. */
  tuner?: BackgroundTuner;
  /** Wait after a change before tuning, so a burst of enrollments tunes once. */
  tuneDelayMs?: number;
  shared?: SharedClasses;
}

/**
 * Keeps the recognizer in step with the store: changes made here, by another process on
 * the same data dir, and by the fleet; fine-tunes in the background after them.
 */
export class ClassSync {
  private pollTimer: NodeJS.Timeout | null = null;
  private tuneTimer: NodeJS.Timeout | null = null;
  private tuningNow = false;
  private tuneAgain = false;
  private seenVersion = -1;
  /** Bumped by every reload: a tuning result for an older generation is stale. */
  private generation = 0;

  constructor(private readonly deps: ClassSyncDeps) {}

  /** Loads the classes and starts watching the store (after reembedForeignShots). */
  start(): void {
    this.reload();
    this.pollTimer = setInterval(() => this.pollStore(), this.deps.pollMs ?? 2000);
    this.pollTimer.unref();
  }

  /** Loads the classes once, watching nothing and tuning nothing (the CLI's class list). */
  load(): void {
    this.seenVersion = this.deps.store.dataVersion();
    this.deps.shared?.refresh();
    this.deps.recognizer.load(this.recognizerData());
  }

  stop(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.tuneTimer) clearTimeout(this.tuneTimer);
    this.pollTimer = null;
    this.tuneTimer = null;
  }

  /** The classes changed (here, or a correction): reload, and tell everyone. */
  changed(): void {
    this.reload();
    this.deps.bus?.emit('classesChanged', { labels: this.deps.labels() });
  }

  /**
   * Everything the recognizer learns from, of the current model only; with gallery.sync also
   * the other nodes' shots and class negatives (their units stay theirs).
   */
  recognizerData(): RecognizerData {
    const model = this.deps.modelId();
    const local = this.deps.store.shotEmbeddings();
    const overrides = new Map(this.deps.store.listClasses().map((c) => [c.label, c.threshold_override]));
    const data = {
      classes: local.map((c) => ({ ...c, override: overrides.get(c.label) ?? null })),
      zoneShots: this.deps.store.zoneShots(model),
      negatives: this.deps.events.negatives(model),
    };
    return this.deps.shared ? withShared(data, this.deps.shared.classes(model)) : data;
  }

  /**
   * Fine-tunes on the stored shots; applies the result if no change came in meanwhile.
   * Never rejects: any failure keeps the imprinted weights in use and resolves null.
   */
  async tune(): Promise<FineTuneResult | null> {
    const tuner = this.deps.tuner;
    if (!tuner) return null;
    // Tuning now makes the scheduled one redundant (the CLI tunes before it classifies).
    if (this.tuneTimer) clearTimeout(this.tuneTimer);
    this.tuneTimer = null;
    try {
      return await this.tuneWith(tuner);
    } catch (err) {
      this.deps.logger.warn({ err }, 'fine-tuning failed; keeping the imprinted weights');
      return null;
    }
  }

  /**
   * Shots embedded by another model live in another embedding space: comparing them
   * with new frames would be meaningless. Re-embed them from their stored thumbnails.
   */
  async reembedForeignShots(): Promise<void> {
    const model = this.deps.modelId();
    const foreign = this.deps.store.shots().filter((s) => s.model !== model);
    if (foreign.length === 0) return;
    this.deps.logger.warn(`${foreign.length} stored shots were embedded by another model; re-embedding them from their thumbnails`);
    const updates: Array<{ id: number; embedding: Float32Array }> = [];
    for (const shot of foreign) {
      const rgb = await jpegToInput(shot.thumbnail, this.deps.detector.inputSize);
      updates.push({ id: shot.id, embedding: await this.deps.detector.embed(rgb) });
    }
    this.deps.store.replaceEmbeddings(updates, model);
  }

  private reload(): void {
    this.seenVersion = this.deps.store.dataVersion();
    this.generation++;
    try {
      this.deps.shared?.refresh();
    } catch (err) {
      this.deps.logger.error({ err }, 'could not bring the shared gallery up to date; deciding with what it had');
    }
    // Plain imprinting takes effect at once; fine-tuned weights replace it when ready.
    try {
      this.deps.recognizer.load(this.recognizerData());
    } catch (err) {
      // A damaged store (a shot that is no embedding) keeps what was loaded before.
      this.deps.logger.error({ err }, 'could not reload the classes; still deciding with the ones loaded before');
    }
    this.scheduleTuning();
  }

  private scheduleTuning(): void {
    if (!this.deps.tuner) return;
    if (this.tuneTimer) clearTimeout(this.tuneTimer);
    this.tuneTimer = setTimeout(() => {
      this.tuneTimer = null;
      // One tuning at a time (seconds of CPU for a large gallery): changes meanwhile tune once after it.
      if (this.tuningNow) {
        this.tuneAgain = true;
        return;
      }
      this.tuningNow = true;
      // tune() settles with null on every failure; the catch is for a bug in it.
      this.tune()
        .catch((err: unknown) => this.deps.logger.error({ err }, 'fine-tuning failed unexpectedly'))
        .finally(() => {
          this.tuningNow = false;
          if (this.tuneAgain) {
            this.tuneAgain = false;
            this.scheduleTuning();
          }
        });
    }, this.deps.tuneDelayMs ?? 1000);
    this.tuneTimer.unref();
  }

  /** Trains in the space photos are judged in (centred embeddings). */
  private async tuneWith(tuner: BackgroundTuner): Promise<FineTuneResult | null> {
    const generation = this.generation;
    const { recognizer } = this.deps;
    const classes = this.recognizerData().classes.map((c) => ({ label: c.label, background: c.background, shots: c.shots.map((x) => recognizer.centred(x)) }));
    const result = await tuner.tune(classes);
    if (generation !== this.generation) return null;
    if (result.used) {
      const tuned = new Map(result.weights.map((w) => [w.label, w.sum]));
      const weights = classes.map((c) => {
        const sum = meanDirection(c.shots, c.shots[0]?.length ?? 0);
        const proxy = tuned.get(c.label);
        return { label: c.label, background: c.background, sum, count: c.shots.length, ...(proxy ? { proxies: [proxy] } : {}) };
      });
      recognizer.setTuned(weights);
    }
    this.deps.logger.info({ used: result.used, held_out: result.heldOut }, `fine-tuning: ${result.reason}`);
    this.deps.bus?.emit('fineTuned', result);
    return result;
  }

  private pollStore(): void {
    try {
      if (this.deps.store.dataVersion() !== this.seenVersion) {
        this.deps.logger.info('classes changed by another process; reloading');
        this.changed();
      }
    } catch (err) {
      this.deps.logger.warn({ err }, 'could not check the class store for changes');
    }
  }
}

/** This node's data with the fleet's: peers' shots added to each class, settings and class negatives from the fleet. Pure. */
function withShared(data: RecognizerData, shared: Map<string, SharedClass>): RecognizerData {
  const local = new Map(data.classes.map((c) => [c.label, c]));
  const classes = [...shared.values()].map((c) => ({
    label: c.label,
    background: c.background,
    shots: [...(local.get(c.label)?.shots ?? []), ...c.peerShots],
    // Peers' shots carry no source here: only this node's photos and boxes make a crop class.
    sources: local.get(c.label)?.sources ?? [],
    // Objects found in photos stay local too (peers' photos are matched as seen).
    objects: local.get(c.label)?.objects ?? [],
    override: c.threshold,
  }));
  // A class of this store the fleet's view lacks (not taken in yet) still counts.
  const missing = data.classes.filter((c) => !shared.has(c.label));
  const classNegatives = [...shared.values()].flatMap((c) => c.peerNegatives.map((embedding) => ({ label: c.label, embedding })));
  return { ...data, classes: [...classes.filter((c) => c.shots.length > 0), ...missing], classNegatives };
}
