/** Reading YAML configuration text into plain values, every problem as an issue. */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type { ConfigIssue } from './issues.js';

export type Plain = Record<string, unknown>;

export function isPlain(x: unknown): x is Plain {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Parsed YAML, or undefined after recording the problem (with line and column). */
export function parseYaml(text: string, where: string, issues: ConfigIssue[]): unknown {
  // prettyErrors off: its context lines would quote the file, secrets included.
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const pos = lineCounter.linePos(err.pos[0]);
      issues.push({ path: `${where} line ${pos.line}, column ${pos.col}`, message: `YAML: ${err.message}` });
    }
    return undefined;
  }
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (err) {
    issues.push({ path: where, message: `YAML: ${err instanceof Error ? err.message : String(err)}` });
    return undefined;
  }
}

/** The file's top-level mapping; an empty file is an empty mapping. */
export function readYamlFile(file: string, issues: ConfigIssue[]): Plain {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    issues.push({ path: file, message: `cannot read the config file (${code})` });
    return {};
  }
  const parsed = parseYaml(text, file, issues);
  if (parsed === undefined || parsed === null) return {};
  if (!isPlain(parsed)) {
    issues.push({ path: file, message: 'must be a YAML mapping of keys (see config/config.example.yaml)' });
    return {};
  }
  return parsed;
}
