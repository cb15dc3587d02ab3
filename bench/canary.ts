// What a canary release adds to a deploy: the same deploy of test/fixtures/health to the local
// scaled-out site (two instances behind the ARR front end, Entra ID sign-in, ARM listing the
// instances), with canary: true and canary-seconds: N, and without, each round a new commit,
// alternating the order. The figure is the median wall time with the canary minus without, and
// that minus N: what the canary costs beyond the window itself (the gate on the canary instance,
// reading the counters, the promotion's switch).
//
//   node_modules/.bin/node bench/canary.ts [rounds] [canary-seconds]

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { linuxBuildInputs } from '../sandbox/appservice.ts';
import { startScaledSite } from '../sandbox/scaled.ts';
import { runAction, repoRoot } from '../sandbox/runner.ts';
import { recordFigure } from './results.ts';

const rounds = Number(process.argv[2] ?? 5);
const window = Number(process.argv[3] ?? 5);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const instances = ['4f2a9c0e1b3d5f7a9c0e1b3d5f7a9c0e1b3d5f7a9c0e1b3d5f7a9c0e1b3d5f7a', 'b81c3e5a7092b4d6f81c3e5a7092b4d6f81c3e5a7092b4d6f81c3e5a7092b4d6'];

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-bench-canary-'));
const scaled = await startScaledSite({ instances, home: path.join(scratch, 'home') });
const site = scaled.site;
try {
  const deploy = async (canary: boolean): Promise<number> => {
    const commit = randomBytes(20).toString('hex');
    const t0 = performance.now();
    const run = await runAction({
      inputs: {
        'app-name': 'scaled',
        ...scaled.signIn,
        ...linuxBuildInputs('test/fixtures/health'),
        commit,
        canary: String(canary),
        'canary-seconds': String(window),
      },
      env: { ...site.env, GITHUB_SHA: commit },
      toolCache: site.toolCache,
      cwd: repoRoot,
    });
    const ms = performance.now() - t0;
    if (run.code !== 0) throw new Error(`deploy (canary ${canary}) failed:\n${run.stdout}`);
    return ms;
  };
  // Warm-up: the Go build cache and the site's first deploy (bootstrap) out of the figures.
  await deploy(false);
  const plain: number[] = [];
  const canary: number[] = [];
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      plain.push(await deploy(false));
      canary.push(await deploy(true));
    } else {
      canary.push(await deploy(true));
      plain.push(await deploy(false));
    }
  }
  const added = (median(canary) - median(plain)) / 1000;
  console.log(`${rounds} rounds, medians: deploy ${(median(plain) / 1000).toFixed(2)} s; with canary (canary-seconds ${window}) ${(median(canary) / 1000).toFixed(2)} s`);
  console.log(`a canary adds ${added.toFixed(2)} s, ${(added - window).toFixed(2)} s beyond its ${window} s window`);
  recordFigure({ bench: 'canary', figure: `time a canary adds to a deploy (canary-seconds ${window})`, value: added, unit: 's', goal: '' });
  recordFigure({ bench: 'canary', figure: 'time a canary adds beyond its window', value: added - window, unit: 's', goal: '' });
} finally {
  await scaled.close();
  fs.rmSync(scratch, { recursive: true, force: true });
}
