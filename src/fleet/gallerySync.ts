/**
 * The gallery over MQTT, on the agent's one connection: publishes what this node owns,
 * retained, under `<gallery.topic>/<node_id>/` (its operations, one contribution per class
 * and model, a manifest listing them), and takes in every other node's. Checks every message
 * (GalleryParser); a garbled, oversized or forged one is ignored with a log line and counted,
 * and never reaches the store. Contributions of another model are re-embedded from their
 * thumbnails, or ignored with one log line when they have none: embedding spaces never mix.
 *
 * Messages are taken in one at a time, in arrival order (re-embedding is asynchronous); the
 * classes are reloaded once per burst, not once per message.
 */
import { createHash } from 'node:crypto';
import type { IPublishPacket } from 'mqtt';
import type { Logger } from 'pino';
import type { GalleryConfig } from '../config/types.js';
import { errorMessage } from '../errors.js';
import type { EventBus } from '../eventBus.js';
import type { MqttTransport } from '../mqtt/transport.js';
import { galleryClassTopic, galleryFilter, galleryManifestTopic, galleryOpsTopic, parseGalleryTopic } from '../mqtt/topics.js';
import type { GalleryBook, GalleryStatus, OwnClass } from './galleryBook.js';
import { contributionPayload, GalleryParser, GalleryReject, opsPayload, WIRE_VERSION, type ManifestPayload, type ParsedMessage, type ReceivedContribution, type RejectReason } from './payloads.js';

const REJECT_REASONS: readonly RejectReason[] = ['garbled', 'oversized', 'forged', 'clock'];

export interface GallerySyncDeps {
  transport: MqttTransport;
  book: GalleryBook;
  bus: EventBus;
  config: GalleryConfig;
  nodeId: string;
  modelId: () => string;
  /** A shot's thumbnail (JPEG) embedded by this node's model: re-embedding another model's shots. */
  embedThumbnail: (jpeg: Buffer) => Promise<Float32Array>;
  /** The classes changed (the imprinting service reloads and tells everyone). */
  changed: () => void;
  logger: Logger;
  onRejected?: (reason: RejectReason) => void;
  /** Wait after a local change before publishing, so one burst is one publish. */
  publishDelayMs?: number;
  /**
   * Quiet time after the last message taken in before the classes are reloaded, and the
   * longest a burst (a node catching up on the whole gallery) may put the reload off: a
   * reload of a large gallery costs far more than taking in a message.
   */
  reloadDelayMs?: number;
  reloadMaxDelayMs?: number;
  /** How often the tombstones are compacted. */
  compactEveryMs?: number;
}

export interface GallerySyncStatus extends GalleryStatus {
  topic: string;
  /** Gallery messages ignored since start, by reason. */
  rejected: Record<RejectReason, number>;
}

/** Recently published payloads kept per topic, to recognise our own messages coming back. */
const ECHOES_KEPT = 4;
/** At most this many ignored messages are logged per minute (each is counted). */
const REJECT_LOGS_PER_MINUTE = 10;

export class GallerySync {
  private readonly parser: GalleryParser;
  private readonly offs: Array<() => void> = [];
  private queue: Promise<void> = Promise.resolve();
  /** Messages waiting in the queue: the reload waits for them. */
  private pending = 0;
  private publishTimer: NodeJS.Timeout | null = null;
  private reloadTimer: NodeJS.Timeout | null = null;
  private reloadDeadline = 0;
  private compactTimer: NodeJS.Timeout | null = null;
  private running = false;
  /** Digests of what was sent per own topic this run (the newest last); '' marks a clear. */
  private readonly sent = new Map<string, string[]>();
  /** What went out last per own topic: content digest and version. */
  private readonly lastSentDigest = new Map<string, string>();
  /** Unchanged contributions still to be sent again after a start. */
  private readonly backlog: Array<() => void> = [];
  private draining = false;
  /** The book's signature at the last reload. */
  private reloaded = '';
  /** Own topics known to hold something: published this run, by an earlier run, or seen retained. */
  private readonly ownTopics = new Set<string>();
  private readonly rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
  private rejectLog = { minute: 0, count: 0 };
  private readonly warnedModels = new Set<string>();

  constructor(private readonly deps: GallerySyncDeps) {
    this.parser = new GalleryParser({ maxBytes: deps.config.max_message_bytes });
  }

  async start(): Promise<void> {
    const { book, transport, config } = this.deps;
    this.running = true;
    const dropped = book.dropOtherSpaces(this.deps.modelId());
    if (dropped > 0) this.deps.logger.info({ dropped }, "gallery: this node's model changed; other nodes' shots are taken in again");
    book.compact();
    this.reloaded = book.signature();
    for (const topic of book.publishedTopics()) this.ownTopics.add(topic);
    this.publishOwn({ unchangedLater: true });
    this.offs.push(
      await transport.subscribe(galleryFilter(config.topic), (topic, payload, packet) => this.onMessage(topic, payload, packet)),
      this.deps.bus.on('classesChanged', () => this.schedulePublish()),
    );
    this.compactTimer = setInterval(() => this.safely('compaction', () => book.compact()), this.deps.compactEveryMs ?? 3_600_000);
    this.compactTimer.unref();
    this.deps.logger.info({ topic: config.topic, node: this.deps.nodeId, thumbnails: config.thumbnails }, 'gallery: sharing classes with the fleet');
  }

  async stop(): Promise<void> {
    this.running = false;
    this.backlog.length = 0;
    for (const off of this.offs.splice(0)) off();
    for (const timer of [this.publishTimer, this.reloadTimer]) if (timer) clearTimeout(timer);
    if (this.compactTimer) clearInterval(this.compactTimer);
    this.publishTimer = this.reloadTimer = this.compactTimer = null;
    await this.queue;
  }

  status(): GallerySyncStatus {
    return { topic: this.deps.config.topic, ...this.deps.book.status(), rejected: { ...this.rejected } };
  }

  // ---- receiving ----

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const where = parseGalleryTopic(topic, this.deps.config.topic);
    if (!where) return this.reject('garbled', topic, 'not a topic of the gallery');
    if (where.node === this.deps.nodeId) return this.ownMessage(topic, payload, packet.retain);
    // A node (re)connecting is sent every retained contribution again: one it holds already is not parsed twice.
    if (where.kind === 'class' && this.deps.book.holds(where.node, where.model, where.label, peekVersion(payload))) return;
    let parsed: ParsedMessage | null;
    try {
      parsed = this.parser.parse(where, payload);
    } catch (err) {
      if (err instanceof GalleryReject) return this.reject(err.reason, topic, err.message);
      throw err;
    }
    if (!parsed) return; // a cleared topic: not a tombstone, the node's manifest tells what it has
    const message = parsed;
    this.pending++;
    this.queue = this.queue
      .then(() => this.take(message))
      .catch((err: unknown) => this.deps.logger.error({ err, topic }, 'gallery: could not take a message in'))
      .finally(() => this.pending--);
  }

  private async take(m: ParsedMessage): Promise<void> {
    if (!this.running) return;
    const { book } = this.deps;
    let outcome: 'applied' | 'stale';
    if (m.kind === 'ops') outcome = book.ingestOps(m.ops);
    else if (m.kind === 'manifest') outcome = book.ingestManifest(m.manifest);
    else outcome = await this.takeContribution(m.contribution, m.bytes);
    if (outcome === 'applied') this.scheduleReload();
  }

  private async takeContribution(rc: ReceivedContribution, bytes: number): Promise<'applied' | 'stale'> {
    const model = this.deps.modelId();
    if (rc.meta.model === model) return this.deps.book.ingestContribution(rc, model, bytes);
    if (!this.deps.book.accepts(rc.meta)) return 'stale';
    return this.deps.book.ingestContribution(await this.reembedded(rc, model), model, bytes);
  }

  /** Another model's shots, embedded by this node's model from their thumbnails; those without one are left out. */
  private async reembedded(rc: ReceivedContribution, model: string): Promise<ReceivedContribution> {
    const { meta } = rc;
    const known = this.deps.book.knownVectors(meta.node, model, meta.records.map((r) => r.id));
    const vectors = new Map<string, { embedding: Float32Array; thumbnail: Buffer | null }>();
    let missing = 0;
    for (const r of meta.records) {
      const v = rc.vectors.get(r.id)!;
      const embedding = known.get(r.id) ?? (v.thumbnail ? await this.embed(v.thumbnail) : undefined);
      if (embedding) vectors.set(r.id, { embedding, thumbnail: v.thumbnail });
      else missing++;
    }
    this.warnModel(meta.node, meta.model, missing);
    return { ...rc, vectors, meta: { ...meta, records: meta.records.filter((r) => vectors.has(r.id)) } };
  }

  private async embed(jpeg: Buffer): Promise<Float32Array | undefined> {
    try {
      return await this.deps.embedThumbnail(jpeg);
    } catch (err) {
      this.deps.logger.warn({ err: errorMessage(err) }, 'gallery: a shared thumbnail could not be re-embedded; that shot is left out');
      return undefined;
    }
  }

  /** One line per node and model: what happens to shots of another model. */
  private warnModel(node: string, model: string, missing: number): void {
    const key = `${node}/${model}/${missing > 0}`;
    if (this.warnedModels.has(key)) return;
    this.warnedModels.add(key);
    if (missing > 0) {
      this.deps.logger.warn(
        { node, model, mine: this.deps.modelId() },
        `gallery: node "${node}" shares shots of another model without thumbnails; they are ignored here (set gallery.thumbnails: true on "${node}" to share them)`,
      );
    } else {
      this.deps.logger.info({ node, model, mine: this.deps.modelId() }, `gallery: node "${node}" runs another model; its shots are re-embedded here from their thumbnails`);
    }
  }

  /**
   * A message under this node's own id. Our own coming back, or one of an earlier run still
   * retained (cleared when we no longer have that topic); anything else is another client
   * writing our subtree (a second node with our node id?): counted as forged, ours re-sent.
   */
  private ownMessage(topic: string, payload: Buffer, retained: boolean): void {
    if (this.sent.get(topic)?.includes(digestOf(payload))) return;
    if (retained) {
      this.ownTopics.add(topic);
      this.schedulePublish();
      return;
    }
    this.reject('forged', topic, `a message under this node's own id that it did not send (is another node using node_id "${this.deps.nodeId}"?)`);
    this.sent.delete(topic);
    this.lastSentDigest.delete(topic);
    this.schedulePublish();
  }

  private reject(reason: RejectReason, topic: string, why: string): void {
    this.rejected[reason]++;
    this.deps.onRejected?.(reason);
    this.deps.bus.emit('galleryChanged', {});
    const minute = Math.floor(Date.now() / 60_000);
    if (minute !== this.rejectLog.minute) this.rejectLog = { minute, count: 0 };
    if (++this.rejectLog.count > REJECT_LOGS_PER_MINUTE) return;
    this.deps.logger.warn({ topic, reason }, `gallery: message ignored (${reason}): ${why}`);
  }

  /** Reloads once the queue is empty and quiet, or when the burst has put it off long enough. */
  private scheduleReload(): void {
    const now = Date.now();
    if (this.reloadDeadline === 0) this.reloadDeadline = now + (this.deps.reloadMaxDelayMs ?? 2000);
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    const wait = Math.max(0, Math.min(this.deps.reloadDelayMs ?? 100, this.reloadDeadline - now));
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = null;
      if (this.pending > 0 && Date.now() < this.reloadDeadline && this.running) {
        this.scheduleReload();
        return;
      }
      this.reloadDeadline = 0;
      this.safely('reload', () => this.reloadIfChanged());
      this.deps.bus.emit('galleryChanged', {});
    }, wait);
  }

  /** Reloads the classes when what the messages changed changes them (a new peer's manifest alone does not). */
  private reloadIfChanged(): void {
    const signature = this.deps.book.signature();
    if (signature === this.reloaded) return;
    this.reloaded = signature;
    this.deps.changed();
  }

  // ---- publishing ----

  private schedulePublish(): void {
    if (!this.running || this.publishTimer) return;
    this.publishTimer = setTimeout(() => {
      this.publishTimer = null;
      this.safely('publishing', () => this.publishOwn());
    }, this.deps.publishDelayMs ?? 20);
  }

  /** Publishes what changed: operations first (peers apply them to their own shots), then classes, then the manifest. */
  private publishOwn(opts: { unchangedLater?: boolean } = {}): void {
    const { book, config, nodeId } = this.deps;
    const model = this.deps.modelId();
    const opsTopic = galleryOpsTopic(config.topic, nodeId);
    const ops = book.ownOps();
    this.publishVersioned(opsTopic, JSON.stringify(ops), (at) => JSON.stringify(opsPayload(nodeId, at, ops)), ops.length === 0);
    const entries: ManifestPayload['classes'] = [];
    const desired = new Set([opsTopic, galleryManifestTopic(config.topic, nodeId)]);
    for (const c of book.own(model)) {
      const topic = galleryClassTopic(config.topic, nodeId, model, c.label);
      desired.add(topic);
      const digest = `${c.digest}/${config.thumbnails}`;
      const before = opts.unchangedLater ? book.published(topic) : null;
      let version: string;
      if (before?.digest === digest) {
        // Unchanged since the last run: the broker has it; sent again in the background (for a broker that lost it).
        version = before.version;
        this.backlog.push(() => this.publishVersioned(topic, digest, (at) => this.contribution(c, model, at)));
      } else {
        version = this.publishVersioned(topic, digest, (at) => this.contribution(c, model, at));
      }
      entries.push({ label: c.label, model, version, shots: c.records.filter((r) => r.kind === 'shot').length });
    }
    for (const topic of [...this.ownTopics]) if (!desired.has(topic)) this.clear(topic);
    const manifest = (at: string): string => JSON.stringify({ v: WIRE_VERSION, node: nodeId, at, thumbnails: config.thumbnails, classes: entries } satisfies ManifestPayload);
    this.publishVersioned(galleryManifestTopic(config.topic, nodeId), JSON.stringify([config.thumbnails, entries]), manifest);
    this.drainBacklog();
  }

  /** Sends the backlog one message per turn of the event loop, so a large gallery never blocks the agent. */
  private drainBacklog(): void {
    if (this.draining) return;
    const next = (): void => {
      const item = this.backlog.shift();
      if (!item || !this.running) {
        this.draining = false;
        return;
      }
      this.safely('publishing', item);
      setImmediate(next);
    };
    this.draining = true;
    setImmediate(next);
  }

  /**
   * Publishes `build(version)` on `topic` (retained) unless the same content went out already;
   * an unchanged content keeps its version across restarts, so peers see nothing new.
   */
  private publishVersioned(topic: string, digest: string, build: (version: string) => string, empty = false): string {
    const { book } = this.deps;
    const before = book.published(topic);
    const version = before?.digest === digest ? before.version : book.stamp();
    const sentDigest = `${digest}@${version}`;
    if (this.lastSentDigest.get(topic) === sentDigest) return version;
    if (empty && !before) return version;
    if (before?.digest !== digest) book.setPublished(topic, digest, version);
    const payload = Buffer.from(build(version));
    this.send(topic, payload, sentDigest);
    return version;
  }

  private contribution(c: OwnClass, model: string, version: string): string {
    const { config, nodeId } = this.deps;
    const vectors = this.deps.book.ownVectors(c.label, model);
    const allShots = vectors.filter((v) => v.kind === 'shot');
    const negatives = vectors.filter((v) => v.kind === 'negative');
    const build = (thumbnails: boolean, keep: number): string => {
      const payload = contributionPayload({
        node: nodeId,
        label: c.label,
        model,
        version,
        settings: c.settings,
        shots: allShots.slice(Math.max(0, allShots.length - keep)),
        negatives,
        thumbnails,
      });
      return JSON.stringify(payload);
    };
    let text = build(config.thumbnails, Infinity);
    if (text.length <= config.max_message_bytes) return text;
    text = build(false, Infinity);
    const shots = allShots.length;
    let keep = shots;
    while (text.length > config.max_message_bytes && keep > 1) {
      keep = Math.max(1, Math.floor((keep * config.max_message_bytes) / text.length) - 1);
      text = build(false, keep);
    }
    this.deps.logger.warn(
      { label: c.label, shots, shared: keep, max_message_bytes: config.max_message_bytes },
      `gallery: class "${c.label}" does not fit in one message; shared without thumbnails${keep < shots ? `, its newest ${keep} of ${shots} shots only` : ''}`,
    );
    return text;
  }

  private clear(topic: string): void {
    this.ownTopics.delete(topic);
    this.deps.book.forgetPublished(topic);
    this.send(topic, Buffer.alloc(0), '');
  }

  private send(topic: string, payload: Buffer, sentDigest: string): void {
    const echoes = this.sent.get(topic) ?? [];
    echoes.push(digestOf(payload));
    this.sent.set(topic, echoes.slice(-ECHOES_KEPT));
    this.lastSentDigest.set(topic, sentDigest);
    if (payload.length > 0) this.ownTopics.add(topic);
    void this.deps.transport.publish(topic, payload, { retain: true, qos: 1 });
  }

  private safely(what: string, fn: () => unknown): void {
    try {
      fn();
    } catch (err) {
      this.deps.logger.error({ err }, `gallery: ${what} failed`);
    }
  }
}

function digestOf(payload: Buffer): string {
  return createHash('sha1').update(payload).digest('hex');
}

/** The version stamp near the start of a contribution (builders write it among the first keys), or null. */
function peekVersion(payload: Buffer): string | null {
  const head = payload.subarray(0, 512).toString('latin1');
  return /"version":"(\d{15}\.\d{6}@[a-z0-9_]{1,64})"/.exec(head)?.[1] ?? null;
}
