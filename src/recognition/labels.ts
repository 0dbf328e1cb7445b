import { fieldError } from '../errors.js';
import { RESERVED_LABELS } from './types.js';

/**
 * Class-label rules, the one place they are checked (MQTT, the CLI, the config's zone
 * class lists and the dashboard all call this): 1–64 characters of letters (any script),
 * digits, space, `_`, `-`, `.`; no leading or trailing space; `unknown` and `none` reserved.
 * `status`, `label`, `attributes` and `snapshot` are reserved too because a class publishes
 * `<base>/<camera>/<label>` and would overwrite those camera topics.
 */
const LABEL_CHARS = /^[\p{L}\p{M}\p{N} _.-]+$/u;
export const TOPIC_RESERVED = ['status', 'label', 'attributes', 'snapshot'];
export const MAX_LABEL_LENGTH = 64;

/** The problem with a label, or null when it is valid. */
export function labelProblem(value: unknown): string | null {
  if (typeof value !== 'string') return 'must be a string';
  const length = [...value].length;
  if (length < 1 || length > MAX_LABEL_LENGTH) return `must be 1-${MAX_LABEL_LENGTH} characters, got ${length}`;
  if (!LABEL_CHARS.test(value)) return 'only letters, digits, space, "_", "-" and "." are allowed';
  if (value.trim() !== value) return 'must not start or end with a space';
  const lower = value.toLowerCase();
  if ((RESERVED_LABELS as readonly string[]).includes(lower) || TOPIC_RESERVED.includes(lower)) return `"${value}" is reserved`;
  return null;
}

/** The label, or AppError('bad_label') naming `field`. */
export function validateLabel(value: unknown, field = 'label'): string {
  const problem = labelProblem(value);
  if (problem !== null) throw fieldError('bad_label', field, problem);
  return value as string;
}

/**
 * What Home Assistant makes of a label in an entity id: case and runs of space, `_`, `-`, `.`
 * do not count there, so "Cat" and "cat" (or "my cat" and "my_cat") would be one entity.
 */
export function labelKey(label: string): string {
  return label.normalize('NFKC').toLowerCase().replace(/[ _.-]+/g, '_').replace(/^_+|_+$/g, '');
}

/**
 * AppError('conflict') naming the existing class when a new label (or a rename's target)
 * differs from it only where entity ids do not. `self`: the class being renamed.
 */
export function checkLabelCollision(label: string, existing: readonly string[], field = 'label', self?: string): void {
  const key = labelKey(label);
  const other = existing.find((e) => e !== label && e !== self && labelKey(e) === key);
  if (other === undefined) return;
  throw fieldError('conflict', field, `"${label}" would be the same Home Assistant entity as the existing class "${other}"; use "${other}" or another label`);
}
