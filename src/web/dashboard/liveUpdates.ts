/**
 * The bus's news as server-sent events. A page that does not keep up is disconnected (it
 * reconnects by itself) rather than buffered without end.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { EventBus } from '../../eventBus.js';
import type { StreamEvents } from '../apiTypes.js';
import { SECURITY_HEADERS } from './http.js';

export interface LiveUpdatesOptions {
  bus: EventBus;
  logger: Logger;
  /** Unsent bytes past which a page is dropped. */
  maxBufferBytes?: number;
  maxClients?: number;
  heartbeatMs?: number;
}

export class LiveUpdates {
  private readonly clients = new Set<ServerResponse>();
  private readonly latest = new Map<string, StreamEvents['result']>();
  private readonly offs: Array<() => void> = [];
  private heartbeat: NodeJS.Timeout | null = null;
  private dropped = 0;

  constructor(private readonly opts: LiveUpdatesOptions) {}

  async start(): Promise<void> {
    const { bus } = this.opts;
    this.offs.push(
      bus.on('cameraResult', (e) => {
        const result = { camera: e.camera, zone: e.zone, label: e.label, score: Math.round(e.score * 1000) / 1000, at: e.at.toISOString(), ...(e.box ? { box: e.box } : {}) };
        this.latest.set(`${e.camera}/${e.zone ?? ''}`, result);
        this.send('result', result);
      }),
      bus.on('cameraStatus', (e) => this.send('camera', { camera: e.camera, status: e.status })),
      bus.on('classesChanged', (e) => this.send('classes', { labels: e.labels })),
      bus.on('detectionEvent', (e) =>
        this.send('detection', { type: e.type, id: e.id, camera: e.camera, zone: e.zone, label: e.label, score: Math.round(e.score * 1000) / 1000 }),
      ),
      bus.on('detectorChanged', (e) => this.send('detector', { state: e.state, type: e.type, reason: e.reason })),
    );
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), this.opts.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  /** Pages connected now, and pages dropped for not keeping up (tests, status). */
  counts(): { clients: number; dropped: number } {
    return { clients: this.clients.size, dropped: this.dropped };
  }

  /** Serves one page's stream until it goes away. */
  attach(res: ServerResponse): void {
    if (this.clients.size >= (this.opts.maxClients ?? 64)) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '10' });
      res.end('too many dashboard pages are open\n');
      return;
    }
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      // Proxies (nginx, Home Assistant's ingress) pass each event on at once.
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    res.write('retry: 2000\n\n');
    for (const result of this.latest.values()) res.write(frame('result', result));
  }

  private send<K extends keyof StreamEvents>(event: K, data: StreamEvents[K]): void {
    if (this.clients.size > 0) this.write(frame(event, data));
  }

  private write(text: string): void {
    const max = this.opts.maxBufferBytes ?? 256 * 1024;
    for (const res of this.clients) {
      if (res.writableLength > max) {
        this.dropped += 1;
        this.clients.delete(res);
        this.opts.logger.info({ unsent: res.writableLength }, 'a dashboard page did not keep up with the live updates; disconnected');
        res.destroy();
        continue;
      }
      res.write(text);
    }
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
