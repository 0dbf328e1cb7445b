/**
 * The viewers of one camera's live view and the fan-out to them: each starts at a
 * keyframe (the cached GOP of a running stream, else the next one), and one that lets too
 * much pile up is dropped, so its backlog is never the agent's memory.
 */
import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import { settleWithin } from '../../process/timeout.js';
import { firstKeyframePacket } from './tsPackets.js';

export interface Viewer {
  ws: WebSocket;
  /** Has been sent a keyframe of the current run: can be sent anything that follows. */
  synced: boolean;
}

export interface FanOutOptions {
  /** A viewer with more than this queued (ws.bufferedAmount) is dropped. */
  maxViewerBufferBytes: number;
  /** Cap of the current-GOP cache that lets a new viewer start with a picture at once. */
  maxGopCacheBytes: number;
}

export class LiveViewers {
  private readonly viewers = new Set<Viewer>();
  /** Packets from the latest keyframe on, for viewers who join a running stream. */
  private gop: Buffer[] = [];
  private gopBytes = 0;
  private droppedCount = 0;

  constructor(
    private readonly options: FanOutOptions,
    private readonly log: Logger,
  ) {}

  add(ws: WebSocket): Viewer {
    const viewer: Viewer = { ws, synced: false };
    this.viewers.add(viewer);
    return viewer;
  }

  delete(viewer: Viewer): boolean {
    return this.viewers.delete(viewer);
  }

  size(): number {
    return this.viewers.size;
  }

  /** Viewers dropped for not keeping up. */
  dropped(): number {
    return this.droppedCount;
  }

  sockets(): WebSocket[] {
    return [...this.viewers].map((v) => v.ws);
  }

  /** A new run: its stream starts over, nobody has its keyframe yet. */
  resync(): void {
    for (const viewer of this.viewers) viewer.synced = false;
    this.clearCache();
  }

  clearCache(): void {
    this.gop = [];
    this.gopBytes = 0;
  }

  /** A viewer joining a running stream gets the current GOP at once, if it is cached. */
  catchUp(viewer: Viewer): void {
    if (this.gop.length === 0) return;
    viewer.synced = true;
    this.send(viewer, Buffer.concat(this.gop, this.gopBytes));
  }

  broadcast(packets: Buffer): void {
    const key = firstKeyframePacket(packets);
    this.cache(packets, key);
    for (const viewer of this.viewers) {
      if (viewer.synced) this.send(viewer, packets);
      else if (key >= 0) {
        viewer.synced = true;
        this.send(viewer, packets.subarray(key));
      }
    }
  }

  private cache(packets: Buffer, key: number): void {
    if (key >= 0) {
      this.gop = [packets.subarray(key)];
      this.gopBytes = packets.length - key;
    } else if (this.gop.length > 0) {
      this.gop.push(packets);
      this.gopBytes += packets.length;
    }
    // A GOP too long to cache: a new viewer waits for the next keyframe instead.
    if (this.gopBytes > this.options.maxGopCacheBytes) this.clearCache();
  }

  private send(viewer: Viewer, data: Buffer): void {
    const { ws } = viewer;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > this.options.maxViewerBufferBytes) {
      this.droppedCount += 1;
      this.log.warn({ buffered: ws.bufferedAmount }, 'live viewer does not keep up: dropped');
      ws.terminate();
      return;
    }
    ws.send(data, { binary: true });
  }
}

/** A close frame to each (1001: going away), then the sockets still open after a moment are cut. */
export async function closeSockets(sockets: WebSocket[]): Promise<void> {
  const closed = sockets.map((ws) => new Promise<void>((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve();
    else ws.once('close', () => resolve());
  }));
  for (const ws of sockets) ws.close(1001, 'stopping');
  await settleWithin(Promise.all(closed), 500);
  for (const ws of sockets) if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
}
