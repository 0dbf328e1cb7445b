/** Usage texts: the whole list (`--help`) and one per command (`<command> --help`). */

const COMMON = `options:
  --config FILE      configuration file (default: config/config.yaml if present)
  --data-dir DIR     data folder (env EDGE_IMPRINT_DATA_DIR, default ./data)
  --model-dir DIR    model folder (env EDGE_IMPRINT_MODEL_DIR, default ./models)
  -h, --help         this text (\`edge-imprint <command> --help\`: that command's)
  --version          print the version`;

/** Per command: its synopsis lines (as in the list) and what it does in more words. */
const COMMANDS: Record<string, { lines: string; more: string }> = {
  run: {
    lines: '  run                                   run the agent (also: npm start)',
    more: 'Runs the agent with the configuration; with no config file and no cameras, a demo camera.',
  },
  enroll: {
    lines: `  enroll <label> <image>... [--background]
                                        imprint the images into class <label>`,
    more: `Creates class <label> if new. <image>: one or more JPEG, PNG or WebP files.
  --background       the images show the empty scene (a look of "none")`,
  },
  classify: {
    lines: '  classify <image>... [--json]          classify each image',
    more: '  --json             one JSON line per image: {"image","label","score","scores"}',
  },
  classes: {
    lines: `  classes [list] [--json]               list the classes
  classes remove <label>                remove a class and its shots
  classes rename <label> <new>          rename a class
  classes undo <label>                  remove the latest shot of a class`,
    more: '  --json             the list as one JSON array',
  },
  events: {
    lines: `  events [list] [--camera C] [--zone Z] [--label L] [--limit N] [--json]
                                        recent detections, newest first
  events confirm <id>                   the detection was right: learn its frame
  events reject <id> [--empty]          it was wrong (--empty: nothing was there)
  events relabel <id> <label>           it showed <label>: learn that instead
  events undo <id>                      take a correction back`,
    more: '  --limit N          at most N events (1 to 1000, default 20)',
  },
  models: {
    lines: `  models [--from DIR]                   install the model files (download, or copy from DIR
                                        or from env EDGE_IMPRINT_MODEL_MIRROR)`,
    more: 'The files are sha256-checked either way.',
  },
  'validate-config': {
    lines: '  validate-config                       check the configuration, list every error',
    more: 'Exit 1 when the configuration has errors, one line each.',
  },
  bench: {
    lines: `  bench [--json]                        run the benchmarks (from a clone of the repository:
                                        the Docker image has no bench/)`,
    more: '  --json             the results as JSON',
  },
};

export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

export const USAGE = `usage: edge-imprint <command> [options]

commands:
${Object.values(COMMANDS)
  .map((c) => c.lines)
  .join('\n')}

${COMMON}`;

/** The usage of one command; the whole list for a name that is not one. */
export function commandUsage(name: string): string {
  const c = COMMANDS[name];
  if (!c) return USAGE;
  return `usage:\n${c.lines.replace(/^ {2}(?=\S)/gm, '  edge-imprint ').replace(/^ {40}/gm, ' '.repeat(53))}\n\n${c.more}\n\n${COMMON}`;
}

/** The hint after a usage error: where to read the usage. */
export function usageHint(name: string | undefined): string {
  return name !== undefined && COMMANDS[name] ? `run \`edge-imprint ${name} --help\` for its usage` : 'run `edge-imprint --help` for the list of commands';
}
