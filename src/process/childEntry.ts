import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A child entry beside the caller's module: `name.ts` under tsx, `name.js` when built. */
export function siblingEntry(callerUrl: string, name: string): string {
  return fileURLToPath(new URL(`./${name}${extname(fileURLToPath(callerUrl))}`, callerUrl));
}

/**
 * This process's Node flags for a child, less the test runner's and the inspector's (they
 * would make it a test file or a debug target) and an eval'd script's (`node -e` puts the
 * script in execArgv: each child would run it again and fork again).
 */
export function childExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (['-e', '--eval', '-p', '--print'].includes(a)) i++;
    else if (!a.startsWith('--test') && !a.startsWith('--inspect') && !/^--(eval|print)=/.test(a)) out.push(a);
  }
  return out;
}
