/** The one shape every command's answer takes, over MQTT and over the dashboard's API. */
import type { Outcome } from './lanes.js';
import { errorMessage, isAppError } from '../errors.js';

export interface ResponsePayload {
  status: 'ok' | 'error';
  data?: unknown;
  error?: string;
  /** The AppError code (`bad_request`, `bad_label`, `busy`, ...) so clients can match on it. */
  code?: string;
  transaction?: unknown;
}

/** Turns a command's outcome into the response payload. Pure. */
export function buildResponse(outcome: Outcome, transaction: unknown): ResponsePayload {
  const tx = transaction === undefined ? {} : { transaction };
  if (outcome.ok) return { status: 'ok', data: outcome.data, ...tx };
  const err = outcome.error;
  if (isAppError(err)) return { status: 'error', error: err.message, code: err.code, ...tx };
  return { status: 'error', error: `internal error: ${errorMessage(err)}`, code: 'internal', ...tx };
}
