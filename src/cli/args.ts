import { parseArgs } from 'node:util';

/** A parsed command line. `usage` errors exit 2, everything else is the command's. */
export type Command =
  | { name: 'run' }
  | { name: 'enroll'; label: string; images: string[]; background: boolean }
  | { name: 'classify'; images: string[]; json: boolean }
  | { name: 'classes'; action: 'list'; json: boolean }
  | { name: 'classes'; action: 'remove' | 'undo'; label: string }
  | { name: 'classes'; action: 'rename'; label: string; to: string }
  | { name: 'events'; action: 'list'; json: boolean; filter: { camera?: string; zone?: string; label?: string; limit: number } }
  | { name: 'events'; action: 'confirm' | 'undo'; id: string }
  | { name: 'events'; action: 'reject'; id: string; empty: boolean }
  | { name: 'events'; action: 'relabel'; id: string; label: string }
  | { name: 'models'; from: string | undefined }
  | { name: 'validate-config' }
  | { name: 'bench'; json: boolean }
  | { name: 'help' };

export interface CommonFlags {
  config: string | undefined;
  dataDir: string | undefined;
  modelDir: string | undefined;
}

export class UsageError extends Error {}

export const USAGE = `usage: edge-imprint <command> [options]

commands:
  run                                   run the agent (also: npm start)
  enroll <label> <image>... [--background]
                                        imprint the images into class <label>
  classify <image>... [--json]          classify each image
  classes [list] [--json]               list the classes
  classes remove <label>                remove a class and its shots
  classes rename <label> <new>          rename a class
  classes undo <label>                  remove the latest shot of a class
  events [list] [--camera C] [--zone Z] [--label L] [--limit N] [--json]
                                        recent detections, newest first
  events confirm <id>                   the detection was right: learn its frame
  events reject <id> [--empty]          it was wrong (--empty: nothing was there)
  events relabel <id> <label>           it showed <label>: learn that instead
  events undo <id>                      take a correction back
  models [--from DIR]                   install the model files (download, or copy from DIR
                                        or from env EDGE_IMPRINT_MODEL_MIRROR)
  validate-config                       check the configuration, list every error
  bench [--json]                        run the benchmarks (from a clone of the repository:
                                        the Docker image has no bench/)

options:
  --config FILE      configuration file (default: config/config.yaml if present)
  --data-dir DIR     data folder (env EDGE_IMPRINT_DATA_DIR, default ./data)
  --model-dir DIR    model folder (env EDGE_IMPRINT_MODEL_DIR, default ./models)
  -h, --help         this text`;

const OPTIONS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  'model-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  background: { type: 'boolean', default: false },
  from: { type: 'string' },
  camera: { type: 'string' },
  zone: { type: 'string' },
  label: { type: 'string' },
  limit: { type: 'string' },
  empty: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function need(args: string[], count: number, what: string): void {
  if (args.length < count) throw new UsageError(`missing ${what}`);
}

function exactly(args: string[], count: number, what: string): void {
  need(args, count, what);
  if (args.length > count) throw new UsageError(`unexpected argument ${JSON.stringify(args[count])}`);
}

function classesCommand(rest: string[], json: boolean): Command {
  const [action = 'list', ...args] = rest;
  switch (action) {
    case 'list':
      exactly(args, 0, '');
      return { name: 'classes', action: 'list', json };
    case 'remove':
    case 'undo':
      exactly(args, 1, '<label>');
      return { name: 'classes', action, label: args[0]! };
    case 'rename':
      exactly(args, 2, '<label> <new>');
      return { name: 'classes', action: 'rename', label: args[0]!, to: args[1]! };
    default:
      throw new UsageError(`unknown classes action ${JSON.stringify(action)} (list, remove, rename, undo)`);
  }
}

interface Values {
  json: boolean;
  background: boolean;
  from?: string;
  camera?: string;
  zone?: string;
  label?: string;
  limit?: string;
  empty: boolean;
}

function eventsCommand(rest: string[], v: Values): Command {
  const [action = 'list', ...args] = rest;
  switch (action) {
    case 'list': {
      exactly(args, 0, '');
      const limit = v.limit === undefined ? 20 : Number(v.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be a whole number from 1 to 1000');
      const filter = { ...(v.camera ? { camera: v.camera } : {}), ...(v.zone ? { zone: v.zone } : {}), ...(v.label ? { label: v.label } : {}), limit };
      return { name: 'events', action: 'list', json: v.json, filter };
    }
    case 'confirm':
    case 'undo':
      exactly(args, 1, '<id>');
      return { name: 'events', action, id: args[0]! };
    case 'reject':
      exactly(args, 1, '<id>');
      return { name: 'events', action, id: args[0]!, empty: v.empty };
    case 'relabel':
      exactly(args, 2, '<id> <label>');
      return { name: 'events', action, id: args[0]!, label: args[1]! };
    default:
      throw new UsageError(`unknown events action ${JSON.stringify(action)} (list, confirm, reject, relabel, undo)`);
  }
}

function command(name: string | undefined, rest: string[], v: Values): Command {
  switch (name) {
    case 'run':
    case 'validate-config':
      exactly(rest, 0, '');
      return { name };
    case 'enroll':
      need(rest, 2, '<label> <image>...');
      return { name: 'enroll', label: rest[0]!, images: rest.slice(1), background: v.background };
    case 'classify':
      need(rest, 1, '<image>...');
      return { name: 'classify', images: rest, json: v.json };
    case 'classes':
      return classesCommand(rest, v.json);
    case 'events':
      return eventsCommand(rest, v);
    case 'models':
      exactly(rest, 0, '');
      return { name: 'models', from: v.from };
    case 'bench':
      exactly(rest, 0, '');
      return { name: 'bench', json: v.json };
    case undefined:
      throw new UsageError('missing command');
    default:
      throw new UsageError(`unknown command ${JSON.stringify(name)}`);
  }
}

/** Pure: argv (without node and the script) → command and common flags. */
export function parseCommandLine(argv: string[]): { command: Command; flags: CommonFlags } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  const flags = { config: values.config, dataDir: values['data-dir'], modelDir: values['model-dir'] };
  if (values.help) return { command: { name: 'help' }, flags };
  const [name, ...rest] = positionals;
  const optional = (['from', 'camera', 'zone', 'label', 'limit'] as const).filter((k) => values[k] !== undefined);
  const v: Values = { json: values.json, background: values.background, empty: values.empty, ...Object.fromEntries(optional.map((k) => [k, values[k]])) };
  return { command: command(name, rest, v), flags };
}
