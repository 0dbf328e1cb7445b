import type { IPublishPacket } from 'mqtt';
import type { Logger } from 'pino';
import type { Commands } from '../commands/commands.js';
import { parseJson } from '../commands/json.js';
import type { Job } from '../commands/lanes.js';
import type { CommandRunner } from '../commands/runner.js';
import { AppError, isAppError } from '../errors.js';
import { buildResponse, type ResponsePayload } from '../commands/response.js';
import type { EnrollAnswered, EventBus } from '../eventBus.js';
import { enrollRequestOf } from './lastEnrollment.js';
import type { MqttTransport } from './transport.js';
import { commandOf, requestFilter, responseTopic } from './topics.js';

export interface RequestServerDeps {
  transport: MqttTransport;
  baseTopic: string;
  commands: Commands;
  runner: CommandRunner;
  /** limits.max_payload_bytes: checked before a payload is even parsed. */
  maxPayloadBytes: number;
  logger: Logger;
  /** Home Assistant's discovery prefix: response topics there are refused. */
  discoveryPrefix?: string;
  /** gallery.topic: the fleet gallery's subtree, refused as a response topic too. */
  galleryTopic: string;
  /** Every class/enroll answer goes on the bus too (the "Last enrollment" sensor). */
  bus?: EventBus;
  /** Called once per answer (metrics: requests and request errors per command). */
  onAnswer?: (command: string, response: ResponsePayload) => void;
}

interface ReplyTarget {
  command: string;
  responseTopic?: string;
  correlationData?: Buffer;
  /** class/enroll: who asked and what, for the bus. */
  enroll?: Pick<EnrollAnswered, 'source' | 'request'>;
}

const RAW_ENROLL_PREFIX = 'class/enroll/';

/**
 * `<base>/request/<command>` → `<base>/response/<command>` (and the v5 response topic): every
 * request gets exactly one answer however malformed, so clients never wait for nothing.
 */
export class RequestServer {
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly deps: RequestServerDeps) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.deps.transport.subscribe(
      requestFilter(this.deps.baseTopic),
      (topic, payload, packet) => this.onRequest(topic, payload, packet),
      { retainAsPublished: true },
    );
  }

  /** Stops taking requests; the runner (stopped by its owner) answers those in flight. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** The Home Assistant "Enroll from camera" button (a zone, or null: the whole camera): answered on `response/class/enroll`. */
  enrollFromCamera(label: string, camera: string, zone: string | null = null): void {
    const payload = { label, camera, ...(zone === null ? {} : { zone }) };
    const target: ReplyTarget = { command: 'class/enroll', enroll: { source: 'home_assistant', request: enrollRequestOf(payload) } };
    this.handle(target, undefined, () => this.deps.commands.job('class/enroll', payload));
  }

  private onRequest(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const command = commandOf(this.deps.baseTopic, topic);
    if (command === null) return;
    const rawLabel = command.startsWith(RAW_ENROLL_PREFIX) ? command.slice(RAW_ENROLL_PREFIX.length) : null;
    const props = packet.properties;
    const target: ReplyTarget = {
      command: rawLabel === null ? command : 'class/enroll',
      ...(props?.responseTopic ? { responseTopic: props.responseTopic } : {}),
      ...(props?.correlationData ? { correlationData: props.correlationData } : {}),
    };
    if (target.command === 'class/enroll') {
      target.enroll = { source: 'mqtt', request: enrollRequestOf(rawLabel === null ? undefined : { label: rawLabel }) };
    }
    this.deps.logger.debug({ command, bytes: payload.length }, 'MQTT request');
    if (packet.retain) {
      // An empty retained message is the clear asked for below, not a request.
      if (payload.length === 0) return;
      // A retained request would be replayed on every reconnect: refuse to act on it.
      const err = new AppError(
        'bad_request',
        `retain: this request was published retained, so the broker would replay it at every restart; it was not applied. ` +
          `Clear it with an empty retained message (mosquitto_pub -r -n -t '${topic}') and publish it again without the retain flag`,
      );
      this.reply(target, buildResponse({ ok: false, error: err }, undefined));
      return;
    }
    this.parseAndHandle(target, command, rawLabel, payload);
  }

  private parseAndHandle(target: ReplyTarget, command: string, rawLabel: string | null, payload: Buffer): void {
    const { commands } = this.deps;
    const max = this.deps.maxPayloadBytes;
    if (payload.length > max) {
      const err = new AppError('too_large', `payload: ${payload.length} bytes, over the limit of ${max} (limits.max_payload_bytes)`, 'payload');
      this.reply(target, buildResponse({ ok: false, error: rawLabel === null ? err : namingLabel(rawLabel, err) }, undefined));
      return;
    }
    if (rawLabel !== null) return this.handle(target, undefined, () => commands.rawEnrollJob(rawLabel, payload, 'payload'), rawLabel);
    if (commands.takesRawImage(command, payload)) return this.handle(target, undefined, () => commands.classifyBytes(payload, 'payload'));
    let json: unknown;
    let transaction: unknown;
    try {
      json = commands.has(command) ? parseJson(payload) : tryParseJson(payload);
      if (target.enroll) target.enroll.request = enrollRequestOf(json);
      transaction = isObject(json) ? echoable(json.transaction) : undefined;
    } catch (error) {
      this.reply(target, buildResponse({ ok: false, error }, undefined));
      return;
    }
    this.handle(target, transaction, () => commands.job(command, json));
  }

  /** The one place a request is answered: parse errors, busy, timeout, success or failure. */
  private handle(target: ReplyTarget, transaction: unknown, makeJob: () => Job, rawLabel?: string): void {
    void this.deps.runner.run(makeJob).then((outcome) => {
      if (!outcome.ok && !isAppError(outcome.error)) {
        this.deps.logger.error({ err: outcome.error, command: target.command }, 'request failed');
      }
      const named = !outcome.ok && rawLabel !== undefined && isAppError(outcome.error) ? { ok: false as const, error: namingLabel(rawLabel, outcome.error) } : outcome;
      this.reply(target, buildResponse(named, transaction));
    });
  }

  private reply(target: ReplyTarget, response: ResponsePayload): void {
    this.deps.onAnswer?.(target.command, response);
    if (target.enroll) this.deps.bus?.emit('enrollAnswered', { ...target.enroll, response, at: new Date() });
    if (response.status === 'error') {
      this.deps.logger.info({ command: target.command, code: response.code }, `request refused: ${response.error}`);
    }
    const body = JSON.stringify(response);
    const { transport, baseTopic } = this.deps;
    void transport.publish(responseTopic(baseTopic, target.command), body, { qos: 1 });
    if (target.responseTopic && !safeResponseTopic(target.responseTopic, baseTopic, this.deps.discoveryPrefix ?? 'homeassistant', this.deps.galleryTopic)) {
      this.deps.logger.warn(
        { command: target.command },
        'request asked for a response_topic among the agent\'s own, gallery, discovery, $ or wildcard topics; answered on the standard response topic only',
      );
    } else if (target.responseTopic) {
      void transport.publish(target.responseTopic, body, {
        qos: 1,
        ...(target.correlationData ? { properties: { correlationData: target.correlationData } } : {}),
      });
    }
  }
}

/** Every label's raw enrollment is answered on response/class/enroll: its errors say which label. */
function namingLabel(label: string, err: AppError): AppError {
  return new AppError(err.code, `class/enroll/${label}: ${err.message}`, err.field);
}

/**
 * The requester chooses a v5 response_topic but the agent publishes with its own rights: never
 * onto its own state topics, the fleet gallery, Home Assistant discovery or `$` topics. Pure.
 */
export function safeResponseTopic(topic: string, baseTopic: string, discoveryPrefix: string, galleryTopic: string): boolean {
  if (topic.length === 0 || topic.startsWith('$') || ['+', '#', '\u0000'].some((c) => topic.includes(c))) return false;
  if (within(topic, baseTopic)) return topic.startsWith(`${baseTopic}/response/`);
  return !within(topic, discoveryPrefix) && !within(topic, galleryTopic);
}

/** `topic` is `root` or a topic under it. */
function within(topic: string, root: string): boolean {
  return topic === root || topic.startsWith(`${root}/`);
}

function tryParseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The transaction is echoed as is, so it must survive JSON.stringify: one nested 10 000
 * levels deep overflows its stack in reply(), and the request would go unanswered.
 */
function echoable(transaction: unknown): unknown {
  try {
    JSON.stringify(transaction);
  } catch {
    throw new AppError('bad_request', 'transaction: cannot be echoed (nested too deeply)');
  }
  return transaction;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
