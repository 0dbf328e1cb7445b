/**
 * convict applies the schema: defaults, environment variables, the merge with the file, and
 * the validation of every value with the formats of src/config/formats.ts. Each leaf carries
 * a `report` hook so a failing value becomes one issue with its own path and a safely shown
 * value (convict itself only joins its errors into one string).
 */
import convict from 'convict';
import { CONVERTERS, VALIDATORS, type FormatName, type LeafSpec } from './formats.js';
import type { ConfigIssue } from './issues.js';
import { redactUrl } from './redact.js';
import { isLeaf, type SchemaNode } from './schema.js';
import { showValue } from './structure.js';
import type { Plain } from './yamlFile.js';

interface ConvictLeaf extends LeafSpec {
  nullable: boolean;
  report: (message: string, value: unknown) => void;
}

let formatsRegistered = false;

/** convict keeps formats in module state; registering ours is idempotent. */
function registerFormats(): void {
  if (formatsRegistered) return;
  for (const [name, validate] of Object.entries(VALIDATORS)) {
    convict.addFormat({
      name,
      validate: (x: unknown, schema: unknown) => {
        const leaf = schema as ConvictLeaf;
        try {
          validate(x, leaf);
        } catch (err) {
          leaf.report(err instanceof Error ? err.message : String(err), x);
          throw err;
        }
      },
      coerce: (x: unknown) => (typeof x === 'string' ? CONVERTERS[name as FormatName](x) : x),
    });
  }
  formatsRegistered = true;
}

function toConvict(node: SchemaNode, report: (path: string, spec: LeafSpec) => ConvictLeaf['report'], prefix = ''): Plain {
  const out: Plain = {};
  for (const [key, child] of Object.entries(node)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    out[key] = isLeaf(child)
      ? { ...child, nullable: child.format === 'ei_roi', report: report(path, child) }
      : toConvict(child as SchemaNode, report, path);
  }
  return out;
}

export interface ConvictRun {
  values: Plain;
  set(path: string, value: unknown): void;
  /** Validates every value; problems are added to `issues` with `pathPrefix` before their path. */
  validate(): void;
}

/**
 * Loads `values` (already shape-checked) over the defaults and the environment. `schema`
 * has no map nodes (see withoutMaps). Call validate() after any set().
 */
export function runConvict(schema: SchemaNode, values: Plain, env: NodeJS.ProcessEnv, pathPrefix: string, issues: ConfigIssue[]): ConvictRun {
  registerFormats();
  const report = (path: string, spec: LeafSpec) => (message: string, value: unknown) => {
    const fromEnv = spec.env !== undefined && env[spec.env] !== undefined ? `, set by ${spec.env}` : '';
    issues.push({ path: pathPrefix + path, message: message + fromEnv, value: showValue(value, spec) });
  };
  const conf = convict<Plain>(toConvict(schema, report) as convict.Schema<Plain>, { env, args: [] });
  conf.load(values);
  return {
    get values() {
      return conf.getProperties();
    },
    set: (path, value) => conf.set(path, value),
    validate: () => {
      const before = issues.length;
      try {
        conf.validate({ allowed: 'strict' });
      } catch (err) {
        // Our formats reported their problems; anything else convict found is listed as it says it.
        if (issues.length > before) return;
        const text = err instanceof Error ? err.message : String(err);
        for (const line of text.split('\n')) issues.push({ path: pathPrefix.replace(/\.$/, '') || 'config', message: redactUrl(line) });
      }
    },
  };
}
