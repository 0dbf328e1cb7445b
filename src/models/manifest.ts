import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ModelRole = 'cpu' | 'edgetpu' | 'salient';

export interface ModelFile {
  role: ModelRole;
  name: string;
  url: string;
  sha256: string;
  /** The file's path inside the .tgz at `url` (a model published only in an npm package). */
  archive?: string;
  /** The agent runs without it (less well): a mirror may lack it, and failing to fetch it only warns. */
  optional?: boolean;
}

/** models/manifest.json, found from both src/models (tsx) and dist/models (built). */
export const MANIFEST_PATH = fileURLToPath(new URL('../../models/manifest.json', import.meta.url));

/** A model file named in the config: absolute as given, else inside the model dir. */
export function modelPath(modelDir: string, file: string): string {
  return isAbsolute(file) ? file : join(modelDir, file);
}

export function loadManifest(path = MANIFEST_PATH): ModelFile[] {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { files: ModelFile[] };
  return parsed.files;
}
