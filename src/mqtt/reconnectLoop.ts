/**
 * When MqttConnection tries the broker again and how loudly it says why: capped exponential
 * backoff with jitter, and one log line per distinct problem (repeats go to debug, so a broker
 * that stays down does not flood the log).
 */
import type { Logger } from 'pino';
import { redactUrl } from '../config/redact.js';
import { Backoff } from '../process/backoff.js';

/** Share of a reconnect delay taken off at random, so many agents do not retry in lockstep. */
const RECONNECT_JITTER = 0.2;

export interface ReconnectLoopOptions {
  url: string;
  minReconnectMs?: number;
  maxReconnectMs?: number;
  random?: () => number;
  logger: Logger;
  /** Starts the next attempt. */
  retry: () => void;
}

export class ReconnectLoop {
  private readonly backoff: Backoff;
  private timer: NodeJS.Timeout | null = null;
  private atOnce = false;
  private stopped = false;
  /** What went wrong in the current attempt, and the last problem logged. */
  private problem = '';
  private reported = '';

  constructor(private readonly opts: ReconnectLoopOptions) {
    const random = opts.random ? { random: opts.random } : {};
    this.backoff = new Backoff({ initialMs: opts.minReconnectMs ?? 1000, maxMs: opts.maxReconnectMs ?? 30_000, jitter: RECONNECT_JITTER, ...random });
  }

  /** A new attempt begins: its problem is not known yet. */
  attempting(): void {
    this.timer = null;
    this.problem = '';
  }

  /** The current attempt's problem; the last one told wins. */
  failed(problem: string): void {
    this.problem = problem;
  }

  /** The next attempt goes without a wait (it changes what it asks for, e.g. the protocol). */
  retryAtOnce(): void {
    this.atOnce = true;
  }

  connected(): void {
    this.backoff.reset();
    if (this.reported) this.opts.logger.info('MQTT connection restored');
    this.reported = '';
  }

  /** The attempt could not even start a client: the next one after a backoff. */
  notStarted(): void {
    this.schedule(this.backoff.next(), false);
  }

  /** The attempt's client closed; `lost`: it had been connected. */
  closed(lost: boolean): void {
    if (this.atOnce) {
      this.atOnce = false;
      this.schedule(0, false);
      return;
    }
    if (!this.problem) this.problem = lost ? 'connection lost' : 'the broker closed the connection';
    this.schedule(this.backoff.next(), lost);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(delayMs: number, lost: boolean): void {
    if (this.stopped) return;
    if (this.problem) this.report(this.problem, lost, delayMs);
    this.timer = setTimeout(this.opts.retry, delayMs);
  }

  private report(problem: string, lost: boolean, retryMs: number): void {
    const { logger } = this.opts;
    if (problem === this.reported) {
      logger.debug({ retry_ms: retryMs }, `MQTT: ${problem}`);
      return;
    }
    this.reported = problem;
    if (lost && problem === 'connection lost') {
      logger.warn({ retry_ms: retryMs }, 'MQTT connection lost; reconnecting');
    } else {
      logger.error({ url: redactUrl(this.opts.url), retry_ms: retryMs }, `MQTT: ${problem}; retrying with backoff`);
    }
  }
}

/** A one-line explanation of a connection error, never containing a secret. */
export function describeError(err: Error, code: number | undefined, username: string): string {
  const who = username ? `user "${username}"` : 'anonymous login';
  if (code === 4 || code === 134) return `the broker rejected the credentials of ${who} (bad username or password)`;
  // Mosquitto answers a wrong password with "not authorized" under MQTT v5.
  if (code === 5 || code === 135) return `the broker refused ${who}: not authorized (wrong credentials, or not allowed)`;
  const sysCode = (err as { code?: unknown }).code;
  if (sysCode === 'ECONNREFUSED') return 'the broker refused the TCP connection (is it running?)';
  if (sysCode === 'ENOTFOUND') return 'the broker host name does not resolve';
  return err.message;
}
