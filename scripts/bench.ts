// `npm run bench`: every benchmark of the project, one after another on the same machine, and one
// table of their headline figures at the end. Each benchmark also prints its own details.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Figure } from '../bench/results.ts';

const benches: { name: string; args: string[] }[] = [
  { name: 'toolchain', args: ['bench/toolchain.ts', '3'] },
  { name: 'build', args: ['bench/build.ts', 'example', '5'] },
  { name: 'upload', args: ['bench/deploy.ts', '5'] },
  { name: 'swap', args: ['bench/swap.ts'] },
  { name: 'end-to-end', args: ['bench/e2e.ts', '5'] },
  { name: 'package', args: ['bench/package.ts', '5'] },
  { name: 'canary', args: ['bench/canary.ts', '5', '5'] },
  { name: 'go cache', args: ['bench/gocache.ts', '20'] },
];
const only = process.argv.slice(2);
const results = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gad-bench-')), 'results.jsonl');
fs.writeFileSync(results, '');
const failed: string[] = [];
for (const b of benches) {
  if (only.length > 0 && !only.includes(b.name)) continue;
  process.stdout.write(`\n=== ${b.name}: node ${b.args.join(' ')}\n`);
  const r = spawnSync(process.execPath, b.args, { stdio: 'inherit', env: { ...process.env, BENCH_RESULTS: results } });
  if (r.status !== 0) failed.push(b.name);
}
const figures = fs
  .readFileSync(results, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Figure);
const fmt = (f: Figure): string =>
  f.unit === 'x' ? f.value.toFixed(2) : f.unit === 'failed' ? `${f.value} failed` : `${f.value.toFixed(f.value < 10 ? 2 : 0)} ${f.unit}`;
process.stdout.write(`\n| benchmark | figure | value | goal | met |\n| --- | --- | --- | --- | --- |\n`);
for (const f of figures) {
  process.stdout.write(`| ${f.bench} | ${f.figure} | ${fmt(f)} | ${f.goal || '—'} | ${f.met === undefined ? '—' : f.met ? 'yes' : 'no'} |\n`);
}
if (failed.length > 0) {
  process.stdout.write(`\nbenchmarks that failed to run: ${failed.join(', ')}\n`);
  process.exitCode = 1;
}
