import { parseArgs } from 'node:util';
import { COMMAND_NAMES } from './usage.js';

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
  | { name: 'help'; topic: string | undefined }
  | { name: 'version' };

export interface CommonFlags {
  config: string | undefined;
  dataDir: string | undefined;
  modelDir: string | undefined;
}

/** Bad usage; `command` names the command whose usage would help (none: the list). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

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
  version: { type: 'boolean', default: false },
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
      need(rest, 1, '<label> and <image>...: the class to imprint into and its photos');
      need(rest, 2, `<image>...: the photo(s) to imprint into "${rest[0]}"`);
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
    default:
      throw new UsageError(name === undefined ? 'missing command' : `unknown command ${JSON.stringify(name)}`);
  }
}

/** The first positional, read leniently: the command a usage error's hint points to. */
function commandName(argv: string[]): string | undefined {
  const { positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: false });
  return positionals[0];
}

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // Node's message goes on about '--' for positionals: its first sentence is the problem.
    const message = (err instanceof Error ? err.message : String(err)).split(/\. (?=[A-Z])/)[0] ?? '';
    throw new UsageError(message.charAt(0).toLowerCase() + message.slice(1), commandName(argv));
  }
}

/** Pure: argv (without node and the script) → command and common flags. */
export function parseCommandLine(argv: string[]): { command: Command; flags: CommonFlags } {
  const { values, positionals } = parse(argv);
  const flags = { config: values.config, dataDir: values['data-dir'], modelDir: values['model-dir'] };
  const [name, ...rest] = positionals;
  if (values.version) return { command: { name: 'version' }, flags };
  if (values.help) {
    if (name !== undefined && !COMMAND_NAMES.includes(name)) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    return { command: { name: 'help', topic: name }, flags };
  }
  const optional = (['from', 'camera', 'zone', 'label', 'limit'] as const).filter((k) => values[k] !== undefined);
  const v: Values = { json: values.json, background: values.background, empty: values.empty, ...Object.fromEntries(optional.map((k) => [k, values[k]])) };
  try {
    return { command: command(name, rest, v), flags };
  } catch (err) {
    if (err instanceof UsageError && name !== undefined && COMMAND_NAMES.includes(name)) throw new UsageError(`${name}: ${err.message}`, name);
    throw err;
  }
}
