/**
 * `npm run bench` / `edge-imprint bench [--json]`: every benchmark the issues ask for, in
 * one run, each ratio printed with both of its sides. `--only=engine,enroll` runs a subset.
 */
import { Report } from './report.js';
import { SECTIONS } from './sections.js';
import { installBenchModels } from './setup.js';

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
  const print = json ? (line: string) => process.stderr.write(`${line}\n`) : (line: string) => console.log(line);
  installBenchModels();
  const report = new Report(print);
  for (const section of SECTIONS) {
    if (only && !only.includes(section.name)) continue;
    print(`\n## ${section.name}`);
    const started = performance.now();
    await section.run(report);
    print(`  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  if (json) console.log(JSON.stringify(report.rows));
  else print(`\n${report.table()}`);
}

await main();
