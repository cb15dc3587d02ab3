// End-to-end deploy benchmark on the local App Service, in one run with a warm tool cache and a
// warm Go build cache: the bundled action (toolchain, build, package, upload, switch, verify,
// prune) ÷ the bare minimum by hand — `go build` of the same package plus a `curl` PUT of the
// same zip to the same Kudu emulator. The action's figure includes waiting until the new process
// serves, which the bare baseline does not do at all.
//
//   node_modules/.bin/node bench/e2e.ts [rounds]

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startAppService, deployInputs } from '../sandbox/appservice.ts';
import { seedToolCache } from '../sandbox/gomirror.ts';
import { runAction, repoRoot } from '../sandbox/runner.ts';
import { recordFigure } from './results.ts';

const rounds = Number(process.argv[2] ?? 5);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const goarch = process.arch === 'arm64' ? 'arm64' : 'amd64';

const stageSeconds: Record<string, number[]> = {};
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-bench-e2e-'));
const toolCache = path.join(scratch, 'toolcache');
seedToolCache(toolCache);
const site = await startAppService({ siteName: 'bench-site', home: path.join(scratch, 'home') });
try {
  const deploy = async (): Promise<{ ms: number; zip: string }> => {
    const commit = randomBytes(20).toString('hex');
    const t0 = performance.now();
    const run = await runAction({
      inputs: deployInputs(site, commit),
      env: { ...site.env, GITHUB_SHA: commit },
      toolCache,
      cwd: repoRoot,
      entry: 'dist',
    });
    const ms = performance.now() - t0;
    if (run.code !== 0) throw new Error(`deploy failed:\n${run.stdout}`);
    for (const m of run.stdout.matchAll(/^(.+): done in ([\d.]+) s$/gm)) (stageSeconds[m[1]] ??= []).push(Number(m[2]));
    return { ms, zip: path.join(path.dirname(run.outputs['artifact-path']), `${run.outputs['artifact-name']}.zip`) };
  };

  // Asynchronous on purpose: the Kudu emulator answers the upload from this same process.
  const run = promisify(execFile);
  const bare = async (zip: string): Promise<number> => {
    const t0 = performance.now();
    // A new commit stamped in, as each deploy has: without it go would only copy a cached binary.
    await run('go', ['build', '-ldflags', `-X main.commit=${randomBytes(20).toString('hex')}`, '-o', path.join(scratch, 'bare'), '.'], {
      cwd: path.join(repoRoot, 'example'),
      env: { ...process.env, GOOS: 'linux', GOARCH: goarch, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-buildvcs=false' },
    });
    await run('curl', ['-sS', '-f', '-o', '/dev/null', '-X', 'PUT', '-u', `${site.kudu.userName}:${site.kudu.password}`, '--data-binary', `@${zip}`, `${site.localKuduUrl}/api/zip/site/wwwroot/_bench/`]);
    return performance.now() - t0;
  };

  const warm = await deploy();
  await bare(warm.zip);
  const action: number[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const d = await deploy();
    action.push(d.ms);
    baseline.push(await bare(d.zip));
  }
  const ratio = median(action) / median(baseline);
  const stagesLine = Object.entries(stageSeconds).map(([name, xs]) => `${name} ${median(xs).toFixed(1)} s`).join(', ');
  console.log(`stages (median): ${stagesLine}`);
  console.log(`end-to-end deploy (warm tool cache), ${rounds} rounds: action median ${(median(action) / 1000).toFixed(2)} s; go build + curl PUT median ${(median(baseline) / 1000).toFixed(2)} s`);
  console.log(`deploy ÷ bare go build + curl upload: ${ratio.toFixed(2)}`);
  recordFigure({ bench: 'end-to-end', figure: 'deploy (warm cache, incl. verify) ÷ go build + curl PUT', value: ratio, unit: 'x', goal: '' });
  recordFigure({ bench: 'end-to-end', figure: 'deploy wall time (warm cache)', value: median(action) / 1000, unit: 's', goal: '' });
} finally {
  await site.close();
  fs.rmSync(scratch, { recursive: true, force: true });
}
