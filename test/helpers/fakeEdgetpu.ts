import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './env.js';

/** Compiles the fake libedgetpu (test/fixtures/fakeEdgetpu.c) into `dir`; returns its path. */
export function buildFakeEdgetpu(dir: string): string {
  const out = join(dir, 'libfake-edgetpu.so');
  execFileSync('cc', [
    '-shared',
    '-fPIC',
    '-O1',
    '-I',
    join(ROOT, 'node_modules/tfjs-tflite-node/cc_deps/include'),
    join(ROOT, 'test/fixtures/fakeEdgetpu.c'),
    '-o',
    out,
  ]);
  return out;
}
