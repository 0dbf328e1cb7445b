import { existsSync } from 'node:fs';

/**
 * util-linux's setpriv (on every Debian), put before a command: the kernel kills the child
 * when the agent dies, even by kill -9. An ffmpeg reading a silent source never writes, so
 * it would not notice the broken pipe and would run on forever.
 */
export function parentDeathPrefix(): readonly string[] {
  return existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--'] : [];
}
