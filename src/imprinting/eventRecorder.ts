/**
 * Keeps every detection event for the correction loop: the start with the embedding and
 * crop of the frame that turned the class ON (and the scene snapshot), the end time later.
 */
import type { Logger } from 'pino';
import { inputThumbnail } from '../media/image.js';
import type { InputSize } from '../media/image.js';
import type { EventBus, Events } from '../eventBus.js';
import type { EventStore } from '../storage/eventStore.js';

export interface EventRecorderDeps {
  bus: EventBus;
  events: EventStore;
  modelId: () => string;
  inputSize: () => InputSize;
  logger: Logger;
}

export class EventRecorder {
  private off: (() => void) | null = null;
  /** Writes in arrival order: an end is never stored before its start. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly deps: EventRecorderDeps) {}

  async start(): Promise<void> {
    this.off = this.deps.bus.on('detectionEvent', (e) => {
      this.queue = this.queue.then(() => this.record(e));
    });
  }

  async stop(): Promise<void> {
    this.off?.();
    this.off = null;
    await this.queue;
  }

  private async record(e: Events['detectionEvent']): Promise<void> {
    try {
      if (e.type === 'end') {
        this.deps.events.recordEnd(e.id, e.end_time ?? new Date());
        return;
      }
      const crop = e.crop ? await inputThumbnail(e.crop, this.deps.inputSize()) : null;
      this.deps.events.recordStart({
        id: e.id,
        camera: e.camera,
        zone: e.zone,
        label: e.label,
        score: e.score,
        start_time: e.start_time,
        embedding: e.embedding,
        residual: e.residual,
        model: this.deps.modelId(),
        crop,
        snapshot: e.snapshot,
        box: e.box ?? null,
      });
    } catch (err) {
      // A full disk costs the event's record, never the detection itself.
      this.deps.logger.warn({ err, id: e.id }, 'could not keep the detection event for corrections');
    }
  }
}
