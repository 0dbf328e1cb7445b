import type { IPublishPacket } from 'mqtt';
import type { Logger } from 'pino';
import type { LimitsConfig } from '../config/types.js';
import { AppError, errorMessage, isAppError } from '../errors.js';
import type { Imprinter, PixelShot } from '../imprinting/imprinter.js';
import { validateLabel } from '../imprinting/labels.js';
import type { MqttTransport } from './connection.js';
import { checkImageSize, decodeBase64Image, imageKind, requireImage } from './images.js';
import {
  RequestSchemas,
  type ClassifyRequest,
  type DetectRequest,
  type EnrollRequest,
  type JsonCommand,
  type LabelRequest,
  type RenameRequest,
} from './schemas.js';
import { commandOf, requestFilter, responseTopic } from './topics.js';
import { WorkQueue } from './workQueue.js';

export interface ResponsePayload {
  status: 'ok' | 'error';
  data?: unknown;
  error?: string;
  /** The AppError code (`bad_request`, `bad_label`, `busy`, ...) so clients can match on it. */
  code?: string;
  transaction?: unknown;
}

/** Turns a handler's result, or what it threw, into the response payload. Pure. */
export function buildResponse(
  outcome: { ok: true; data: unknown } | { ok: false; error: unknown },
  transaction: unknown,
): ResponsePayload {
  const tx = transaction === undefined ? {} : { transaction };
  if (outcome.ok) return { status: 'ok', data: outcome.data, ...tx };
  const err = outcome.error;
  if (isAppError(err)) return { status: 'error', error: err.message, code: err.code, ...tx };
  return { status: 'error', error: `internal error: ${errorMessage(err)}`, code: 'internal', ...tx };
}

export type LatestFrame = (camera: string) => PixelShot | null | Promise<PixelShot | null>;

export interface RequestServerDeps {
  transport: MqttTransport;
  baseTopic: string;
  limits: LimitsConfig;
  imprinter: Imprinter;
  /** Names of the configured cameras. */
  cameras: () => string[];
  /** The newest frame of a camera at the model's input size, or null when there is none. */
  latestFrame: LatestFrame;
  setCameraEnabled: (camera: string, enabled: boolean) => void | Promise<void>;
  logger: Logger;
  sleep?: (ms: number) => Promise<void>;
  /** Home Assistant's discovery prefix: response topics there are refused. */
  discoveryPrefix?: string;
  /** Called once per answer (metrics: requests and request errors per command). */
  onAnswer?: (command: string, response: ResponsePayload) => void;
}

/** A parsed request: the work to do, and what to echo. */
interface Parsed {
  transaction: unknown;
  work: () => Promise<unknown>;
}

interface ReplyTarget {
  command: string;
  responseTopic?: string;
  correlationData?: Buffer;
}

const RAW_ENROLL_PREFIX = 'class/enroll/';
const DEFAULT_INTERVAL_MS = 500;

/**
 * Serves `<base>/request/<command>`: every request gets exactly one answer on
 * `<base>/response/<command>` (and on the MQTT v5 response topic when given), however
 * malformed it is. Validation happens on arrival; the work goes through a bounded queue.
 */
export class RequestServer {
  private readonly schemas = new RequestSchemas();
  private readonly queue: WorkQueue;
  private unsubscribe: (() => void) | null = null;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly handlers: Record<JsonCommand, (payload: unknown) => () => Promise<unknown>>;

  constructor(private readonly deps: RequestServerDeps) {
    this.queue = new WorkQueue(deps.limits.queue_size);
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.handlers = {
      'class/enroll': (p) => this.enroll(this.schemas.validate<EnrollRequest>('class/enroll', p)),
      'class/remove': (p) => {
        const { label } = this.schemas.validate<LabelRequest>('class/remove', p);
        return async () => this.deps.imprinter.remove(validateLabel(label));
      },
      'class/undo': (p) => {
        const { label } = this.schemas.validate<LabelRequest>('class/undo', p);
        return async () => this.deps.imprinter.undo(validateLabel(label));
      },
      'class/rename': (p) => {
        const { label, to } = this.schemas.validate<RenameRequest>('class/rename', p);
        const from = validateLabel(label);
        const target = validateLabel(to, 'to');
        return async () => this.deps.imprinter.rename(from, target);
      },
      'class/list': (p) => {
        this.schemas.validate('class/list', p);
        return async () => this.deps.imprinter.list();
      },
      classify: (p) => {
        const { image } = this.schemas.validate<ClassifyRequest>('classify', p);
        const bytes = decodeBase64Image(image, 'image');
        return () => this.classify(bytes, 'image');
      },
      'camera/detect': (p) => {
        const { camera, enabled } = this.schemas.validate<DetectRequest>('camera/detect', p);
        this.requireCamera(camera);
        return async () => {
          await this.deps.setCameraEnabled(camera, enabled);
          return { camera, enabled };
        };
      },
    };
  }

  async start(): Promise<void> {
    this.unsubscribe = await this.deps.transport.subscribe(
      requestFilter(this.deps.baseTopic),
      (topic, payload, packet) => this.onRequest(topic, payload, packet),
    );
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.queue.close();
  }

  /** The Home Assistant "Enroll from camera" button: answered on `response/class/enroll`. */
  enrollFromCamera(label: string, camera: string): void {
    this.handle({ command: 'class/enroll' }, () => ({
      transaction: undefined,
      work: this.enroll({ label, camera }),
    }));
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
    this.handle(target, () => this.parse(command, rawLabel, payload));
  }

  /** The one place a request is answered: parse errors, busy, success or failure. */
  private handle(target: ReplyTarget, parse: () => Parsed): void {
    let parsed: Parsed;
    try {
      parsed = parse();
    } catch (err) {
      this.reply(target, buildResponse({ ok: false, error: err }, transactionOf(err)));
      return;
    }
    const { transaction, work } = parsed;
    const accepted = this.queue.tryPush({
      run: async () => {
        let response: ResponsePayload;
        try {
          response = buildResponse({ ok: true, data: await work() }, transaction);
        } catch (err) {
          if (!isAppError(err)) this.deps.logger.error({ err, command: target.command }, 'request failed');
          response = buildResponse({ ok: false, error: err }, transaction);
        }
        this.reply(target, response);
      },
      cancel: () =>
        this.reply(target, buildResponse({ ok: false, error: new AppError('busy', 'the agent is stopping') }, transaction)),
    });
    if (!accepted) {
      const busy = new AppError('busy', `too many requests waiting (limits.queue_size ${this.deps.limits.queue_size}); retry later`);
      this.reply(target, buildResponse({ ok: false, error: busy }, transaction));
    }
  }

  private parse(command: string, rawLabel: string | null, payload: Buffer): Parsed {
    const max = this.deps.limits.max_payload_bytes;
    if (payload.length > max) {
      throw new AppError('too_large', `payload: ${payload.length} bytes, over the limit of ${max} (limits.max_payload_bytes)`);
    }
    if (rawLabel !== null) {
      const label = validateLabel(rawLabel);
      requireImage(payload, 'payload');
      return { transaction: undefined, work: () => this.enrollBytes(label, [payload], false) };
    }
    if (command === 'classify' && imageKind(payload)) {
      return { transaction: undefined, work: () => this.classify(payload, 'payload') };
    }
    const known = this.schemas.has(command);
    const json = known ? parseJson(payload) : tryParseJson(payload);
    const transaction = isObject(json) ? echoable(json.transaction) : undefined;
    try {
      if (!known) throw new AppError('bad_request', `unknown command "${command}"`);
      return { transaction, work: this.handlers[command](json) };
    } catch (err) {
      throw withTransaction(err, transaction);
    }
  }

  private enroll(req: EnrollRequest): () => Promise<unknown> {
    const label = validateLabel(req.label);
    const hasImages = req.images !== undefined;
    const hasCamera = req.camera !== undefined;
    if (hasImages === hasCamera) {
      throw new AppError('bad_request', 'images, camera: give exactly one of "images" or "camera"');
    }
    if (req.images) {
      const images = req.images.map((image, i) => decodeBase64Image(image, `images[${i}]`));
      return () => this.enrollBytes(label, images, req.background ?? false);
    }
    const camera = req.camera ?? '';
    this.requireCamera(camera);
    return () => this.enrollFrames(label, camera, req.frames ?? 1, req.interval_ms ?? DEFAULT_INTERVAL_MS, req.background ?? false);
  }

  private async enrollBytes(label: string, images: Buffer[], background: boolean): Promise<unknown> {
    for (const [i, image] of images.entries()) {
      await checkImageSize(image, images.length > 1 ? `images[${i}]` : 'image', this.deps.limits.max_megapixels);
    }
    return this.deps.imprinter.enrollImages(label, images, { background, source: 'mqtt' });
  }

  private async enrollFrames(
    label: string,
    camera: string,
    frames: number,
    intervalMs: number,
    background: boolean,
  ): Promise<unknown> {
    const shots: PixelShot[] = [];
    for (let i = 0; i < frames; i++) {
      if (i > 0) await this.sleep(intervalMs);
      const frame = await this.deps.latestFrame(camera);
      if (!frame) throw new AppError('not_found', `camera: no frame from "${camera}" yet (is the stream online?)`);
      shots.push(frame);
    }
    return this.deps.imprinter.enrollPixels(label, shots, { background, source: `camera:${camera}` });
  }

  private async classify(image: Buffer, field: string): Promise<unknown> {
    await checkImageSize(image, field, this.deps.limits.max_megapixels);
    return this.deps.imprinter.classifyImage(image);
  }

  private requireCamera(camera: string): void {
    if (!this.deps.cameras().includes(camera)) {
      throw new AppError('not_found', `camera: no camera named "${camera}"`);
    }
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
 * An MQTT v5 response_topic is chosen by whoever sent the request, but the answer is
 * published with the agent's rights: never let it land on the agent's own state topics
 * (availability, class ON/OFF, ...) or on Home Assistant discovery. Pure.
 */
export function safeResponseTopic(topic: string, baseTopic: string, discoveryPrefix = 'homeassistant'): boolean {
  if (topic.length === 0 || topic.includes('+') || topic.includes('#') || topic.includes('\u0000')) return false;
  if (topic === baseTopic || topic.startsWith(`${baseTopic}/`)) return topic.startsWith(`${baseTopic}/response/`);
  return topic !== discoveryPrefix && !topic.startsWith(`${discoveryPrefix}/`);
}

function parseJson(payload: Buffer): unknown {
  if (payload.length === 0) return {};
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    throw new AppError('bad_request', 'payload: not valid JSON');
  }
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

/** Parse errors carry the transaction so the error answer can still echo it. */
const TRANSACTION = Symbol('transaction');

function withTransaction(err: unknown, transaction: unknown): unknown {
  if (err instanceof Error) Object.assign(err, { [TRANSACTION]: transaction });
  return err;
}

function transactionOf(err: unknown): unknown {
  return err instanceof Error ? (err as Error & { [TRANSACTION]?: unknown })[TRANSACTION] : undefined;
}
