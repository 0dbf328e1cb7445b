import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { AppError } from '../errors.js';

/** JSON request payloads, per command. Label rules are checked after, by validateLabel. */

export interface EnrollRequest {
  label: string;
  images?: string[];
  background?: boolean;
  camera?: string;
  zone?: string;
  box?: { x: number; y: number; width: number; height: number };
  frames?: number;
  interval_ms?: number;
  transaction?: unknown;
}
export interface LabelRequest {
  label: string;
  transaction?: unknown;
}
export interface RenameRequest {
  label: string;
  to: string;
  transaction?: unknown;
}
export interface ClassifyRequest {
  image: string;
  transaction?: unknown;
}
export interface DetectRequest {
  camera: string;
  enabled: boolean;
  transaction?: unknown;
}

export interface ShotRequest {
  id: number;
  transaction?: unknown;
}

export interface ClassSetRequest {
  label: string;
  threshold?: number | null;
  background?: boolean;
  transaction?: unknown;
}
export interface EventListRequest {
  camera?: string;
  zone?: string;
  label?: string;
  limit?: number;
  transaction?: unknown;
}
/** An event by `id`, or the newest of a camera (and zone): what Home Assistant's buttons send. */
export interface EventRefRequest {
  id?: string;
  camera?: string;
  zone?: string | null;
  /** event/reject: nothing should have been there at all (the frame shows the empty scene). */
  empty?: boolean;
  /** event/relabel: the class the event really showed. */
  label?: string;
  transaction?: unknown;
}

const transaction = {} as const; // any JSON value, echoed back as is

const schemas = {
  'class/enroll': {
    type: 'object',
    required: ['label'],
    additionalProperties: false,
    properties: {
      label: { type: 'string' },
      images: { type: 'array', minItems: 1, maxItems: 50, items: { type: 'string', minLength: 1 } },
      background: { type: 'boolean' },
      camera: { type: 'string', minLength: 1 },
      zone: { type: 'string', minLength: 1 },
      box: {
        type: 'object',
        required: ['x', 'y', 'width', 'height'],
        additionalProperties: false,
        properties: { x: { type: 'number' }, y: { type: 'number' }, width: { type: 'number' }, height: { type: 'number' } },
      },
      frames: { type: 'integer', minimum: 1, maximum: 50 },
      interval_ms: { type: 'integer', minimum: 0, maximum: 10_000 },
      transaction,
    },
  },
  'class/remove': labelOnly(),
  'class/undo': labelOnly(),
  'class/rename': {
    type: 'object',
    required: ['label', 'to'],
    additionalProperties: false,
    properties: { label: { type: 'string' }, to: { type: 'string' }, transaction },
  },
  'class/list': { type: 'object', additionalProperties: false, properties: { transaction } },
  classify: {
    type: 'object',
    required: ['image'],
    additionalProperties: false,
    properties: { image: { type: 'string', minLength: 1 }, transaction },
  },
  'class/set': {
    type: 'object',
    required: ['label'],
    additionalProperties: false,
    minProperties: 2,
    properties: {
      label: { type: 'string' },
      threshold: { type: ['number', 'null'], minimum: 0, maximum: 1 },
      background: { type: 'boolean' },
      transaction,
    },
  },
  'shot/remove': {
    type: 'object',
    required: ['id'],
    additionalProperties: false,
    properties: { id: { type: 'integer', minimum: 1 }, transaction },
  },
  'event/list': {
    type: 'object',
    additionalProperties: false,
    properties: {
      camera: { type: 'string', minLength: 1 },
      zone: { type: 'string', minLength: 1 },
      label: { type: 'string', minLength: 1 },
      limit: { type: 'integer', minimum: 1, maximum: 1000 },
      transaction,
    },
  },
  'event/confirm': eventRef({}),
  'event/reject': eventRef({ empty: { type: 'boolean' } }),
  'event/relabel': { ...eventRef({ label: { type: 'string' } }), required: ['label'] },
  'event/undo': eventRef({}),
  'camera/detect': {
    type: 'object',
    required: ['camera', 'enabled'],
    additionalProperties: false,
    properties: { camera: { type: 'string', minLength: 1 }, enabled: { type: 'boolean' }, transaction },
  },
} as const;

/** `{id}` or `{camera, zone?}`, plus a command's own fields. */
function eventRef<P extends Record<string, unknown>>(extra: P) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      id: { type: 'string', minLength: 1 },
      camera: { type: 'string', minLength: 1 },
      zone: { type: ['string', 'null'], minLength: 1 },
      ...extra,
      transaction,
    },
  } as const;
}

function labelOnly() {
  return {
    type: 'object',
    required: ['label'],
    additionalProperties: false,
    properties: { label: { type: 'string' }, transaction },
  } as const;
}

export type JsonCommand = keyof typeof schemas;

/** At most this many faults are named: 20 000 wrong array items must not make a 600 kB answer. */
const MAX_LISTED_ERRORS = 10;

/** One line naming the fields at fault, e.g. `label: must be string; foo: unknown field`. */
export function formatErrors(errors: ErrorObject[] | null | undefined): string {
  const all = errors ?? [];
  const listed = all
    .slice(0, MAX_LISTED_ERRORS)
    .map((e) => {
      const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
      if (e.keyword === 'additionalProperties') {
        const extra = (e.params as { additionalProperty?: string }).additionalProperty ?? '?';
        return `${path ? `${path}.` : ''}${extra}: unknown field`;
      }
      if (e.keyword === 'required') {
        const missing = (e.params as { missingProperty?: string }).missingProperty ?? '?';
        return `${path ? `${path}.` : ''}${missing}: is required`;
      }
      return `${path || 'payload'}: ${e.message ?? 'is invalid'}`;
    })
    .join('; ');
  return all.length > MAX_LISTED_ERRORS ? `${listed}; and ${all.length - MAX_LISTED_ERRORS} more` : listed;
}

/** The request validators, compiled once per process part that owns them. */
export class RequestSchemas {
  private readonly validators: Map<string, ValidateFunction>;

  constructor() {
    const ajv = new Ajv({ allErrors: true, strict: true });
    this.validators = new Map(
      Object.entries(schemas).map(([command, schema]) => [command, ajv.compile(schema)]),
    );
  }

  has(command: string): command is JsonCommand {
    return this.validators.has(command);
  }

  /** Returns the payload typed for its command, or throws `bad_request` naming the fields. */
  validate<T>(command: JsonCommand, payload: unknown): T {
    const validator = this.validators.get(command);
    if (!validator) throw new AppError('bad_request', `unknown command "${command}"`);
    if (!validator(payload)) throw new AppError('bad_request', formatErrors(validator.errors));
    return payload as T;
  }
}
