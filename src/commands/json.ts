import { AppError } from '../errors.js';

/** A command's JSON payload as MQTT and the dashboard take it: an empty one is `{}` (no fields). */
export function parseJson(payload: Buffer): unknown {
  if (payload.length === 0) return {};
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    throw new AppError('bad_request', 'payload: not valid JSON');
  }
}
