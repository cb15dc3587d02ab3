// Build once, deploy many: what a deploy job pays when it deploys a package a build-only job wrote
// (from-package: check the package, sign in, upload, switch, verify, prune) ÷ what a full deploy
// pays (toolchain, build, package, then the same), both on the local App Service with a warm tool
// cache and a warm Go build cache, each round a new commit so nothing is skipped as already there.
// The build-only run that makes each package is timed too, but is not part of the ratio: it runs
// once, however many sites the package then goes to.
//
//   node_modules/.bin/node bench/package.ts [rounds]

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startAppService, deployInputs } from '../sandbox/appservice.ts';
import { seedToolCache } from '../sandbox/gomirror.ts';
import { runAction, repoRoot, type ActionRun } from '../sandbox/runner.ts';
import { recordFigure } from './results.ts';
import { MANIFEST_FILE, type PackageManifest } from '../src/artifact/manifest.ts';

const rounds = Number(process.argv[2] ?? 5);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-bench-package-'));
const toolCache = path.join(scratch, 'toolcache');
seedToolCache(toolCache);
const site = await startAppService({ siteName: 'bench-package', home: path.join(scratch, 'home') });
try {
  const timed = async (what: string, run: () => Promise<ActionRun>): Promise<{ ms: number; run: ActionRun }> => {
    const t0 = performance.now();
    const r = await run();
    const ms = performance.now() - t0;
    if (r.code !== 0) throw new Error(`${what} failed:\n${r.stdout}`);
    return { ms, run: r };
  };
  const newCommit = (): string => randomBytes(20).toString('hex');
  const full = (): Promise<{ ms: number }> => {
    const commit = newCommit();
    return timed('full deploy', () => runAction({ inputs: deployInputs(site, commit), env: { ...site.env, RUNNER_TOOL_CACHE: toolCache, GITHUB_SHA: commit }, cwd: repoRoot }));
  };
  const buildOnly = async (): Promise<{ ms: number; dir: string }> => {
    const inputs = deployInputs(site, newCommit(), { 'build-only': 'true', 'artifact-prefix': 'bench' });
    for (const deployOnly of ['app-name', 'publish-profile', 'slot-name']) delete inputs[deployOnly];
    const { ms, run } = await timed('build-only', () => runAction({ inputs, toolCache, cwd: repoRoot }));
    return { ms, dir: run.outputs['package-path'] };
  };
  const packageCommit = (dir: string): string => (JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), 'utf8')) as PackageManifest).commit;
  const fromPackage = (dir: string): Promise<{ ms: number }> => {
    const { goos, goarch } = deployInputs(site, newCommit());
    return timed('package deploy', () =>
      // The deploy runs in the build's workflow run: the same commit (GITHUB_SHA).
      runAction({ inputs: { 'app-name': site.siteName, 'publish-profile': site.publishProfile, 'from-package': dir, goos, goarch }, env: { ...site.env, GITHUB_SHA: packageCommit(dir) }, cwd: scratch }),
    );
  };

  // Warm-up: the Go build cache and the site's first deploy (bootstrap) out of the figures.
  await full();
  await fromPackage((await buildOnly()).dir);
  const fullMs: number[] = [];
  const packageMs: number[] = [];
  const buildMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const built = await buildOnly();
    buildMs.push(built.ms);
    // Alternate the order so neither side always runs on a warmer site.
    if (i % 2 === 0) {
      fullMs.push((await full()).ms);
      packageMs.push((await fromPackage(built.dir)).ms);
    } else {
      packageMs.push((await fromPackage(built.dir)).ms);
      fullMs.push((await full()).ms);
    }
  }
  const ratio = median(packageMs) / median(fullMs);
  console.log(
    `${rounds} rounds, medians: full deploy ${(median(fullMs) / 1000).toFixed(2)} s; package deploy ${(median(packageMs) / 1000).toFixed(2)} s; ` +
      `build-only (once per package) ${(median(buildMs) / 1000).toFixed(2)} s`,
  );
  console.log(`package deploy ÷ full deploy: ${ratio.toFixed(2)}`);
  recordFigure({ bench: 'package', figure: 'package deploy ÷ full deploy (warm caches)', value: ratio, unit: 'x', goal: '' });
  recordFigure({ bench: 'package', figure: 'package deploy wall time', value: median(packageMs) / 1000, unit: 's', goal: '' });
} finally {
  await site.close();
  fs.rmSync(scratch, { recursive: true, force: true });
}
