import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { descendants } from './processes.js';

/**
 * Sends many MQTT requests to a running agent and matches every answer to its request,
 * either by the `transaction` echoed on `<base>/response/...` or by a per-request MQTT v5
 * response topic, so "answered exactly once" can be checked request by request.
 */

export interface TrackedAnswer {
  via: 'standard' | 'reply';
  topic: string;
  status: string | undefined;
  code: string | undefined;
  bytes: number;
  at: number;
  /** Reply answers only: the MQTT v5 correlation data came back unchanged. */
  correlationOk?: boolean;
}

export interface TrackedRequest {
  id: string;
  command: string;
  sentAt: number;
  /** The payload carries `transaction: id`, so the standard answer can be matched. */
  byTransaction: boolean;
  /** The request asked for an answer on its own reply topic (MQTT v5 response_topic). */
  byReply: boolean;
  correlationData?: Buffer;
  answers: TrackedAnswer[];
}

export interface SendOptions {
  id: string;
  command: string;
  payload: Buffer;
  byTransaction: boolean;
  /** A reply topic under the tracker's prefix (matched), or any other topic (not matched). */
  responseTopic?: 'reply' | string;
  correlationData?: Buffer;
}

interface ResponseBody {
  status?: unknown;
  code?: unknown;
  transaction?: unknown;
}

export class RequestTracker {
  readonly requests = new Map<string, TrackedRequest>();
  /** Every message on `<base>/response/#`, matched or not. */
  readonly standard: TrackedAnswer[] = [];
  /** Answers carrying a transaction string this tracker never sent, or a reply topic unknown. */
  readonly strays: string[] = [];
  private closed = false;

  private constructor(
    private readonly client: MqttClient,
    private readonly base: string,
    private readonly replyPrefix: string,
  ) {
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet.properties?.correlationData));
    client.on('close', () => {
      if (!this.closed) this.strays.push('the tracker lost its broker connection');
    });
  }

  static async connect(url: string, base: string, runId: string): Promise<RequestTracker> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0, clean: true });
    const tracker = new RequestTracker(client, base, `tracker/${runId}/reply/`);
    await client.subscribeAsync([`${base}/response/#`, `${tracker.replyPrefix}#`], { qos: 1 });
    return tracker;
  }

  get mqtt(): MqttClient {
    return this.client;
  }

  async send(opts: SendOptions): Promise<TrackedRequest> {
    const byReply = opts.responseTopic === 'reply';
    const request: TrackedRequest = {
      id: opts.id,
      command: opts.command,
      sentAt: performance.now(),
      byTransaction: opts.byTransaction,
      byReply,
      ...(opts.correlationData ? { correlationData: opts.correlationData } : {}),
      answers: [],
    };
    this.requests.set(opts.id, request);
    const responseTopic = byReply ? `${this.replyPrefix}${opts.id}` : opts.responseTopic;
    const properties = {
      ...(responseTopic !== undefined ? { responseTopic } : {}),
      ...(opts.correlationData ? { correlationData: opts.correlationData } : {}),
    };
    await this.client.publishAsync(`${this.base}/request/${opts.command}`, opts.payload, { qos: 1, properties });
    return request;
  }

  /** Requests not yet answered on every channel they can be matched on. */
  pending(): TrackedRequest[] {
    return [...this.requests.values()].filter(
      (r) =>
        (r.byTransaction && !r.answers.some((a) => a.via === 'standard')) ||
        (r.byReply && !r.answers.some((a) => a.via === 'reply')),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client.endAsync();
  }

  private onMessage(topic: string, payload: Buffer, correlation: Buffer | undefined): void {
    const at = performance.now();
    const body = parseBody(payload);
    const answer = (via: TrackedAnswer['via']): TrackedAnswer => ({
      via,
      topic,
      status: typeof body?.status === 'string' ? body.status : undefined,
      code: typeof body?.code === 'string' ? body.code : undefined,
      bytes: payload.length,
      at,
    });
    if (topic.startsWith(this.replyPrefix)) {
      const request = this.requests.get(topic.slice(this.replyPrefix.length));
      const sent = request?.correlationData;
      const correlationOk = sent ? correlation !== undefined && sent.equals(correlation) : correlation === undefined;
      if (request) request.answers.push({ ...answer('reply'), correlationOk });
      else this.strays.push(`reply on unknown topic ${topic}`);
      return;
    }
    const standard = answer('standard');
    this.standard.push(standard);
    const tx = body?.transaction;
    if (typeof tx !== 'string' || !this.requests.has(tx)) return;
    const request = this.requests.get(tx);
    if (request?.byTransaction) request.answers.push(standard);
    else this.strays.push(`transaction ${tx} echoed for a request that did not send it`);
  }
}

function parseBody(payload: Buffer): ResponseBody | null {
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as ResponseBody) : null;
  } catch {
    return null;
  }
}

/** VmRSS of one process in MiB (0 once it is gone). */
export function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** VmRSS of a process and all its descendants (the detector child, ffmpeg), in MiB. */
export function treeRssMb(pid: number): number {
  return [pid, ...descendants(pid)].reduce((sum, p) => sum + rssMb(p), 0);
}

/** Samples a process's RSS (and its tree's) every `everyMs` until stopped; keeps the peak. */
export class RssSampler {
  peak = 0;
  treePeak = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pid: number,
    private readonly everyMs = 250,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
  }

  private sample(): void {
    this.peak = Math.max(this.peak, rssMb(this.pid));
    this.treePeak = Math.max(this.treePeak, treeRssMb(this.pid));
  }
}

/** The q-th percentile (0-100) by nearest rank; NaN for no values. */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((q / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** Counts per answer kind over every tracked request's first answer. */
export function tally(requests: Iterable<TrackedRequest>): {
  sent: number;
  answered: number;
  ok: number;
  error: number;
  busy: number;
} {
  const counts = { sent: 0, answered: 0, ok: 0, error: 0, busy: 0 };
  for (const request of requests) {
    counts.sent++;
    const first = request.answers[0];
    if (!first) continue;
    counts.answered++;
    if (first.status === 'ok') counts.ok++;
    else if (first.code === 'busy') counts.busy++;
    else counts.error++;
  }
  return counts;
}
