import { AppError } from '../errors.js';
import { RESERVED_LABELS } from './types.js';

/**
 * Class-label rules shared by the CLI and the MQTT API: 1–64 characters of letters (any
 * script), digits, space, `_`, `-`, `.`; no leading or trailing space; `unknown` and
 * `none` reserved. `status`, `label`, `attributes` and `snapshot` are reserved too because
 * a class publishes `<base>/<camera>/<label>` and would overwrite those camera topics.
 */
const LABEL_CHARS = /^[\p{L}\p{M}\p{N} _.-]+$/u;
const TOPIC_RESERVED = ['status', 'label', 'attributes', 'snapshot'];
export const MAX_LABEL_LENGTH = 64;

export function validateLabel(value: unknown, field = 'label'): string {
  if (typeof value !== 'string') throw new AppError('bad_label', `${field}: must be a string`);
  const length = [...value].length;
  if (length < 1 || length > MAX_LABEL_LENGTH) {
    throw new AppError('bad_label', `${field}: must be 1-${MAX_LABEL_LENGTH} characters, got ${length}`);
  }
  if (!LABEL_CHARS.test(value)) {
    throw new AppError(
      'bad_label',
      `${field}: only letters, digits, space, "_", "-" and "." are allowed`,
    );
  }
  if (value.trim() !== value) {
    throw new AppError('bad_label', `${field}: must not start or end with a space`);
  }
  const lower = value.toLowerCase();
  if ((RESERVED_LABELS as readonly string[]).includes(lower) || TOPIC_RESERVED.includes(lower)) {
    throw new AppError('bad_label', `${field}: "${value}" is reserved`);
  }
  return value;
}
