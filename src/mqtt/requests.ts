import type { IPublishPacket } from 'mqtt';
import type { Logger } from 'pino';
import type { Commands } from '../commands/commands.js';
import { parseJson } from '../commands/json.js';
import type { Job } from '../commands/lanes.js';
import type { CommandRunner } from '../commands/runner.js';
import { AppError, isAppError } from '../errors.js';
import { buildResponse, type ResponsePayload } from '../commands/response.js';
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
  /** Called once per answer (metrics: requests and request errors per command). */
  onAnswer?: (command: string, response: ResponsePayload) => void;
}

interface ReplyTarget {
  command: string;
  responseTopic?: string;
  correlationData?: Buffer;
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
    );
  }

  /** Stops taking requests; the runner (stopped by its owner) answers those in flight. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** The Home Assistant "Enroll from camera" button: answered on `response/class/enroll`. */
  enrollFromCamera(label: string, camera: string): void {
    this.handle({ command: 'class/enroll' }, undefined, () => this.deps.commands.job('class/enroll', { label, camera }));
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
    this.deps.logger.debug({ command, bytes: payload.length }, 'MQTT request');
    if (packet.retain) {
      // A retained request would be replayed on every reconnect: refuse to act on it.
      const err = new AppError('bad_request', 'retain: requests must be published without the retain flag');
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
      this.reply(target, buildResponse({ ok: false, error: err }, undefined));
      return;
    }
    if (rawLabel !== null) return this.handle(target, undefined, () => commands.rawEnrollJob(rawLabel, payload, 'payload'));
    if (commands.takesRawImage(command, payload)) return this.handle(target, undefined, () => commands.classifyBytes(payload, 'payload'));
    let json: unknown;
    let transaction: unknown;
    try {
      json = commands.has(command) ? parseJson(payload) : tryParseJson(payload);
      transaction = isObject(json) ? echoable(json.transaction) : undefined;
    } catch (error) {
      this.reply(target, buildResponse({ ok: false, error }, undefined));
      return;
    }
    this.handle(target, transaction, () => commands.job(command, json));
  }

  /** The one place a request is answered: parse errors, busy, timeout, success or failure. */
  private handle(target: ReplyTarget, transaction: unknown, makeJob: () => Job): void {
    void this.deps.runner.run(makeJob).then((outcome) => {
      if (!outcome.ok && !isAppError(outcome.error)) {
        this.deps.logger.error({ err: outcome.error, command: target.command }, 'request failed');
      }
      this.reply(target, buildResponse(outcome, transaction));
    });
  }

  private reply(target: ReplyTarget, response: ResponsePayload): void {
    this.deps.onAnswer?.(target.command, response);
    if (response.status === 'error') {
      this.deps.logger.info({ command: target.command, code: response.code }, `request refused: ${response.error}`);
    }
    const body = JSON.stringify(response);
    const { transport, baseTopic } = this.deps;
    void transport.publish(responseTopic(baseTopic, target.command), body, { qos: 1 });
    if (target.responseTopic && !safeResponseTopic(target.responseTopic, baseTopic, this.deps.discoveryPrefix)) {
      this.deps.logger.warn(
        { command: target.command },
        'request asked for a response_topic among the agent\'s own or discovery topics; answered on the standard response topic only',
      );
    } else if (target.responseTopic) {
      void transport.publish(target.responseTopic, body, {
        qos: 1,
        ...(target.correlationData ? { properties: { correlationData: target.correlationData } } : {}),
      });
    }
  }
}

/**
 * The requester chooses a v5 response_topic but the agent publishes with its own rights:
 * never onto its own state topics or Home Assistant discovery. Pure.
 */
export function safeResponseTopic(topic: string, baseTopic: string, discoveryPrefix = 'homeassistant'): boolean {
  if (topic.length === 0 || topic.includes('+') || topic.includes('#') || topic.includes('\u0000')) return false;
  if (topic === baseTopic || topic.startsWith(`${baseTopic}/`)) return topic.startsWith(`${baseTopic}/response/`);
  return topic !== discoveryPrefix && !topic.startsWith(`${discoveryPrefix}/`);
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
