import mqtt, { type MqttClient } from 'mqtt';
import { waitFor } from './env.js';

/** One message the probe saw, with when it arrived and whether the broker flagged it retained. */
export interface Seen {
  topic: string;
  text: string;
  retain: boolean;
  at: number;
}

export interface ProbeResponse {
  status: 'ok' | 'error';
  data?: unknown;
  error?: string;
  code?: string;
  transaction?: unknown;
}

/** An entry of the retained `classes` list. */
export interface ClassEntry {
  label: string;
  shots: number;
  background: boolean;
  created_at: string;
  updated_at: string;
}

/**
 * A plain MQTT client watching everything under `<base>/` the way Home Assistant or a user's
 * script would, and sending requests matched to their answers by `transaction`. It
 * reconnects on its own (the broker may be restarted under it) and resubscribes.
 */
export class AgentProbe {
  readonly seen: Seen[] = [];
  private readonly answers = new Map<string, ProbeResponse>();
  private nextTx = 1;

  private constructor(
    private readonly client: MqttClient,
    readonly base: string,
  ) {
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet.retain));
  }

  static async connect(url: string, base: string): Promise<AgentProbe> {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      reconnectPeriod: 100,
      clientId: `faults-probe-${Math.random().toString(16).slice(2, 10)}`,
    });
    const probe = new AgentProbe(client, base);
    await client.subscribeAsync(`${base}/#`, { qos: 1 });
    return probe;
  }

  /** The newest message on `<base>/<topic>`, if any. */
  latest(topic: string): Seen | undefined {
    const full = `${this.base}/${topic}`;
    for (let i = this.seen.length - 1; i >= 0; i--) if (this.seen[i]!.topic === full) return this.seen[i];
    return undefined;
  }

  /** Resolves with the first message on `<base>/<topic>` that arrived at or after `since` and matches. */
  next(topic: string, match: (text: string) => boolean, opts: { since?: number; timeoutMs?: number } = {}): Promise<Seen> {
    const full = `${this.base}/${topic}`;
    const since = opts.since ?? 0;
    return waitFor(
      () => this.seen.find((m) => m.topic === full && m.at >= since && match(m.text)),
      opts.timeoutMs ?? 10_000,
      `${full} matching ${match.toString()}`,
    );
  }

  /** The newest `classes` list seen. */
  classes(): ClassEntry[] {
    const m = this.latest('classes');
    return m ? (JSON.parse(m.text) as ClassEntry[]) : [];
  }

  /** The newest `state` payload seen (parsed). */
  state(): Record<string, unknown> | undefined {
    const m = this.latest('state');
    return m ? (JSON.parse(m.text) as Record<string, unknown>) : undefined;
  }

  /** Publishes a JSON request with a fresh transaction; returns the transaction to wait on. */
  async send(command: string, body: Record<string, unknown>): Promise<string> {
    const transaction = `tx-${process.pid}-${this.nextTx++}`;
    await this.client.publishAsync(`${this.base}/request/${command}`, JSON.stringify({ ...body, transaction }), {
      qos: 1,
    });
    return transaction;
  }

  /** Publishes raw bytes on `<base>/<topic>` (e.g. a JPEG on `request/class/enroll/<label>`). */
  async publish(topic: string, payload: Buffer): Promise<void> {
    await this.client.publishAsync(`${this.base}/${topic}`, payload, { qos: 1 });
  }

  /** The answer to `transaction`, once it has come (undefined before). */
  answer(transaction: string): ProbeResponse | undefined {
    return this.answers.get(transaction);
  }

  waitAnswer(transaction: string, timeoutMs = 20_000): Promise<ProbeResponse> {
    return waitFor(() => this.answers.get(transaction), timeoutMs, `the answer to ${transaction}`);
  }

  async request(command: string, body: Record<string, unknown>, timeoutMs = 20_000): Promise<ProbeResponse> {
    return this.waitAnswer(await this.send(command, body), timeoutMs);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true).catch(() => undefined);
  }

  private onMessage(topic: string, payload: Buffer, retain: boolean): void {
    const text = payload.toString();
    this.seen.push({ topic, text, retain, at: Date.now() });
    if (this.seen.length > 20_000) this.seen.splice(0, 10_000);
    if (!topic.startsWith(`${this.base}/response/`)) return;
    try {
      const answer = JSON.parse(text) as ProbeResponse;
      if (typeof answer.transaction === 'string') this.answers.set(answer.transaction, answer);
    } catch {
      // not one of ours
    }
  }
}
