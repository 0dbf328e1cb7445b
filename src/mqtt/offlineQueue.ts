/** The messages kept while disconnected, and why a message was not delivered. */
import type { PublishOptions } from './transport.js';

/** Default cap of the offline queue (QoS 1 non-retained messages kept while disconnected). */
export const OFFLINE_QUEUE_SIZE = 50;
/** Default age after which a queued message is dropped instead of sent late. */
export const OFFLINE_QUEUE_MAX_AGE_MS = 60_000;

/** Why a message was not delivered: QoS 0 while offline, offline queue full, aged out in it. */
export const DROP_REASONS = ['offline_qos0', 'queue_full', 'expired'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface QueuedMessage {
  topic: string;
  payload: string | Buffer;
  opts: PublishOptions;
  /** When it was first published (ms): its age decides whether it is still worth sending. */
  at: number;
}

/**
 * Bounded by count and by age: when full the oldest goes, and nothing older than `maxAgeMs`
 * is ever sent. Every drop is reported.
 */
export class OfflineQueue {
  private items: QueuedMessage[] = [];

  constructor(
    private readonly maxSize: number,
    private readonly maxAgeMs: number,
    private readonly now: () => number,
    private readonly onDrop: (reason: DropReason, count: number) => void,
  ) {}

  get length(): number {
    return this.items.length;
  }

  push(message: QueuedMessage): void {
    this.expire();
    this.items.push(message);
    this.trim();
  }

  /** Messages that were in flight when the connection dropped go back first, keeping their age. */
  requeue(messages: QueuedMessage[]): void {
    if (messages.length === 0) return;
    this.items.unshift(...messages);
    this.expire();
    this.trim();
  }

  /** The oldest message still young enough; aged-out ones are dropped on the way. */
  shift(): QueuedMessage | undefined {
    this.expire();
    return this.items.shift();
  }

  private trim(): void {
    const excess = this.items.length - this.maxSize;
    if (excess <= 0) return;
    this.items.splice(0, excess);
    this.onDrop('queue_full', excess);
  }

  private expire(): void {
    const cutoff = this.now() - this.maxAgeMs;
    const before = this.items.length;
    this.items = this.items.filter((m) => m.at >= cutoff);
    const stale = before - this.items.length;
    if (stale > 0) this.onDrop('expired', stale);
  }
}
