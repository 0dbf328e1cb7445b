/**
 * The shape pass before convict sees any value: unknown keys (with a "did you mean"), a
 * mapping where a value belongs (convict would crash on it) and values shown safely.
 * Values themselves are validated by convict, with the formats of src/config/formats.ts.
 */
import { redactUrl } from './redact.js';
import type { ConfigIssue } from './issues.js';
import { VALIDATORS, type LeafSpec } from './formats.js';
import { isLeaf, isMap, type SchemaNode } from './schema.js';
import { isPlain, type Plain } from './yamlFile.js';

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

function unknownKeyMessage(key: string, known: string[]): string {
  const near = known.filter((k) => editDistance(k, key) <= 2 || k.startsWith(key) || key.startsWith(k));
  return near.length > 0 ? `unknown key (did you mean ${near.join(' or ')}?)` : `unknown key (known: ${known.join(', ')})`;
}

/** A value as it may appear in an error: short, URL credentials hidden, secrets never. */
export function showValue(value: unknown, spec?: LeafSpec): string | undefined {
  // A URL key given a mapping or list (`{user, password}`) may hold a secret in any field.
  if (spec?.sensitive || (spec?.redactUrl && typeof value !== 'string')) return undefined;
  const text = JSON.stringify(value) ?? String(value);
  const short = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  const shown = redactUrl(short);
  // A URL-like value that is not quite a URL may still carry `user:password@`.
  return spec?.redactUrl && shown.includes('@') ? shown.replace(/^.*@/, '"***@') : shown;
}

/**
 * Keeps only known keys with the right shape, reporting the rest. `null` means "use the
 * default", as YAML writes an empty value. Map nodes are passed through as they are: their
 * entries are checked one by one against the entry schema.
 */
export function checkStructure(node: SchemaNode, raw: unknown, path: string, issues: ConfigIssue[]): Plain {
  if (raw === undefined || raw === null) return {};
  if (!isPlain(raw)) {
    issues.push({ path, message: 'must be a mapping of keys', value: showValue(raw) });
    return {};
  }
  const out: Plain = {};
  for (const [key, value] of Object.entries(raw)) {
    const childPath = path === '' ? key : `${path}.${key}`;
    const spec = Object.hasOwn(node, key) ? node[key] : undefined;
    if (!spec) issues.push({ path: childPath, message: unknownKeyMessage(key, Object.keys(node)) });
    else if (isMap(spec)) out[key] = value;
    else if (!isLeaf(spec)) out[key] = checkStructure(spec, value, childPath, issues);
    else if (isPlain(value)) keepMapping(spec, value, childPath, out, issues);
    else if (value !== null && value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * A mapping given for a leaf: convict would crash on it, so the leaf's own format rule
 * (the same one convict applies) is asked here; only a valid mapping (a roi) is kept.
 */
function keepMapping(spec: LeafSpec, value: Plain, path: string, out: Plain, issues: ConfigIssue[]): void {
  try {
    VALIDATORS[spec.format](value, spec);
    out[path.slice(path.lastIndexOf('.') + 1)] = value;
  } catch (err) {
    issues.push({ path, message: err instanceof Error ? err.message : String(err), value: showValue(value, spec) });
  }
}
