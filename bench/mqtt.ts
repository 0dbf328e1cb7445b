import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import pino from 'pino';
import sharp from 'sharp';
import type { EventBus } from '../src/eventBus.js';
import type { Imprinter } from '../src/imprinting/imprinter.js';
import { image } from '../test/helpers/env.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { BASE, startAgent } from '../test/mqtt/harness.js';

export interface MqttBenchOptions {
  imprinter: Imprinter;
  bus: EventBus;
  logger?: Logger;
  /** Measured enrollments of one 1080p JPEG (after 3 warm-up rounds). */
  enrollRounds?: number;
  /** Duration of the sustained classify run. */
  classifySeconds?: number;
  /** Requests kept in flight by the classify client. */
  concurrency?: number;
}

export interface MqttBenchResult {
  enroll_1080p: {
    rounds: number;
    jpeg_bytes: number;
    p50_ms: number;
    p95_ms: number;
    /** The same enrollment called in-process, without MQTT: what the transport adds is the difference. */
    direct_p50_ms: number;
    direct_p95_ms: number;
    target_p50_ms: 100;
    target_p95_ms: 150;
  };
  classify: {
    seconds: number;
    concurrency: number;
    requests: number;
    busy: number;
    per_second: number;
    p50_ms: number;
    p95_ms: number;
    /** In-process classifyImage, one at a time, for comparison. */
    direct_per_second: number;
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round((sorted[i] ?? NaN) * 10) / 10;
}

/** Resolves each response by its transaction (JSON) or, for raw requests, in order. */
class Requester {
  private readonly waiting = new Map<string, (body: Record<string, unknown>) => void>();
  private readonly inOrder: Array<(body: Record<string, unknown>) => void> = [];

  constructor(private readonly client: MqttClient) {
    client.on('message', (_topic, payload) => {
      const body = JSON.parse(payload.toString()) as Record<string, unknown>;
      const tx = typeof body.transaction === 'string' ? body.transaction : undefined;
      const resolve = tx !== undefined ? this.waiting.get(tx) : this.inOrder.shift();
      if (tx !== undefined) this.waiting.delete(tx);
      resolve?.(body);
    });
  }

  async send(command: string, payload: Buffer | string, tx?: string): Promise<Record<string, unknown>> {
    const answered = new Promise<Record<string, unknown>>((resolve) => {
      if (tx !== undefined) this.waiting.set(tx, resolve);
      else this.inOrder.push(resolve);
    });
    await this.client.publishAsync(`${BASE}/request/${command}`, payload, { qos: 1 });
    return answered;
  }
}

/**
 * MQTT API figures on a real mosquitto and the given (real) imprinter: enrolling one
 * 1080p JPEG (published → answer received), and sustained classify throughput.
 */
export async function runMqttBench(opts: MqttBenchOptions): Promise<MqttBenchResult> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const broker = await startMosquitto({ persistence: false });
  const agent = await startAgent({
    url: broker.url,
    imprinter: opts.imprinter,
    bus: opts.bus,
    logger,
    discovery: false,
    limits: { queue_size: 64 },
  });
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  try {
    await client.subscribeAsync(`${BASE}/response/#`, { qos: 1 });
    const requester = new Requester(client);
    const jpeg = await sharp(image('cat.jpg')).resize(1920, 1080, { fit: 'cover' }).jpeg({ quality: 90 }).toBuffer();
    const rounds = opts.enrollRounds ?? 30;
    const enroll = await benchEnroll(requester, jpeg, rounds);
    const direct = await timeDirect(() => opts.imprinter.enrollImages('mqtt bench', [jpeg], { source: 'bench' }), rounds);
    const classify = await benchClassify(requester, jpeg, opts.classifySeconds ?? 5, opts.concurrency ?? 2);
    const directClassify = await timeDirect(() => opts.imprinter.classifyImage(jpeg), rounds);
    await requester.send('class/remove', JSON.stringify({ label: 'mqtt bench', transaction: 'cleanup' }), 'cleanup');
    return {
      enroll_1080p: {
        ...enroll,
        jpeg_bytes: jpeg.length,
        direct_p50_ms: percentile(direct, 50),
        direct_p95_ms: percentile(direct, 95),
        target_p50_ms: 100,
        target_p95_ms: 150,
      },
      classify: { ...classify, direct_per_second: Math.round((1000 / mean(directClassify)) * 10) / 10 },
    };
  } finally {
    await client.endAsync();
    await agent.stop();
    await broker.cleanup();
  }
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

/** Sorted durations of `rounds` sequential calls, after 3 warm-up calls. */
async function timeDirect(call: () => Promise<unknown>, rounds: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < rounds + 3; i++) {
    const t0 = performance.now();
    await call();
    if (i >= 3) times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

async function benchEnroll(requester: Requester, jpeg: Buffer, rounds: number) {
  const times: number[] = [];
  for (let i = 0; i < rounds + 3; i++) {
    const t0 = performance.now();
    const res = await requester.send('class/enroll/mqtt bench', jpeg);
    const ms = performance.now() - t0;
    if (res.status !== 'ok') throw new Error(`enroll failed: ${JSON.stringify(res)}`);
    if (i >= 3) times.push(ms);
  }
  times.sort((a, b) => a - b);
  return { rounds, p50_ms: percentile(times, 50), p95_ms: percentile(times, 95) };
}

async function benchClassify(requester: Requester, jpeg: Buffer, seconds: number, concurrency: number) {
  const times: number[] = [];
  let busy = 0;
  let n = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const tx = `c${n++}`;
      const t0 = performance.now();
      const res = await requester.send('classify', JSON.stringify({ image: jpeg.toString('base64'), transaction: tx }), tx);
      if (res.code === 'busy') busy++;
      else if (res.status !== 'ok') throw new Error(`classify failed: ${JSON.stringify(res)}`);
      else times.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  return {
    seconds: Math.round(elapsed * 10) / 10,
    concurrency,
    requests: times.length,
    busy,
    per_second: Math.round((times.length / elapsed) * 10) / 10,
    p50_ms: percentile(times, 50),
    p95_ms: percentile(times, 95),
  };
}

/** Human-readable lines, both sides of each comparison. */
export function formatMqttBench(r: MqttBenchResult): string[] {
  const e = r.enroll_1080p;
  const c = r.classify;
  return [
    `MQTT enroll, one 1080p JPEG (${Math.round(e.jpeg_bytes / 1024)} KiB), published → answer, ${e.rounds} rounds: ` +
      `p50 ${e.p50_ms} ms (target ≤ ${e.target_p50_ms}), p95 ${e.p95_ms} ms (target ≤ ${e.target_p95_ms}); ` +
      `same enrollment in-process: p50 ${e.direct_p50_ms} ms, p95 ${e.direct_p95_ms} ms`,
    `MQTT classify (1080p JPEG as base64), ${c.concurrency} in flight for ${c.seconds} s: ` +
      `${c.per_second} requests/s, p50 ${c.p50_ms} ms, p95 ${c.p95_ms} ms, ${c.busy} busy; ` +
      `in-process one at a time: ${c.direct_per_second} per second`,
  ];
}
