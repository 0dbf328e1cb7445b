import { readFileSync } from 'node:fs';

/** The package version, read once from package.json (from src/ under tsx and dist/ when built). */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** The project's home: Home Assistant shows it as the support URL of the discovery origin. */
export const PROJECT_URL = 'https://github.com/edge-imprint/edge-imprint';
