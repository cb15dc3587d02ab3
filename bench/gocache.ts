// Go cache benchmark, on the webservice fixture (gin, pgx, the Prometheus client), with the
// sandbox cache service (Azurite behind the v2 cache protocol) and the Kudu emulator. Every deploy
// runs on a fresh "runner": empty GOMODCACHE and GOCACHE at the same paths, warm tool cache.
//   1. the second deploy's restore + build stages ÷ the first deploy's (goal ≤ 0.15);
//   2. the whole warm deploy ÷ a warm local `go build` + a bare `curl` PUT of the same zip (goal ≤ 1.5);
//   3. the cache after N deploys that each change a dependency: the newest entry ÷ what a cold
//      build of the same dependencies saves (nothing left over from earlier dependencies), the
//      newest ÷ the first, and what all entries together hold in the repository's quota.
//
//   node_modules/.bin/node bench/gocache.ts [deploys-with-changing-dependencies, default 20]
//
// The fixture's modules come through the Go module proxy (GOPROXY from the environment) on the
// first deploy and for each dependency change.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startKudu } from '../sandbox/kudu.ts';
import { startCacheService } from '../sandbox/cache.ts';
import { machineGoVersion, seedToolCache } from '../sandbox/gomirror.ts';
import { runAction, repoRoot, type ActionRun } from '../sandbox/runner.ts';
import { recordFigure } from './results.ts';
import { removeTree } from '../src/artifact/gocache.ts';

const deploys = Number(process.argv[2] ?? 20);
const run = promisify(execFile);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-bench-gocache-'));
const runnerHome = path.join(scratch, 'runner');
const toolCache = path.join(scratch, 'toolcache');
seedToolCache(toolCache);

// The fixture, copied so its dependencies can change; goazure is linked by absolute path.
const app = path.join(scratch, 'webservice');
fs.mkdirSync(app);
for (const f of ['main.go', 'go.mod', 'go.sum']) fs.copyFileSync(path.join(repoRoot, 'test', 'fixtures', 'webservice', f), path.join(app, f));
fs.writeFileSync(
  path.join(app, 'go.mod'),
  fs.readFileSync(path.join(app, 'go.mod'), 'utf8').replace('=> ../../../goazure', `=> ${path.join(repoRoot, 'goazure')}`),
);

const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
const MB = 1048576;


const runnerEnv = {
  HOME: runnerHome,
  GOPATH: path.join(runnerHome, 'go'),
  GOMODCACHE: path.join(runnerHome, 'go', 'pkg', 'mod'),
  GOCACHE: path.join(runnerHome, '.cache', 'go-build'),
};

const kudu = await startKudu({ siteName: 'bench-cache', appUrl: 'https://bench-cache.azurewebsites.net' });
const service = await startCacheService();
// The service deploys talk to; the size reference at the end uses one of its own.
let serviceOverride = service;
try {
  const deploy = async (): Promise<{ ms: number; run: ActionRun; stage: (name: string) => number }> => {
    removeTree(runnerHome);
    fs.mkdirSync(runnerHome);
    const commit = randomBytes(20).toString('hex');
    const t0 = performance.now();
    const r = await runAction({
      inputs: {
        'app-name': 'bench-cache',
        'publish-profile': kudu.publishProfileXml(),
        // The emulator on 127.0.0.1: this benchmark measures the cache, not the internet.
        'kudu-url': kudu.url,
        'working-directory': app,
        'go-version': machineGoVersion().replace(/^go/, ''),
        verify: 'false',
      },
      toolCache,
      cwd: app,
      env: { GITHUB_SHA: commit, GOWORK: 'off', GOFLAGS: '-mod=mod', ...runnerEnv, ...serviceOverride.env() },
      timeoutMs: 1_200_000,
    });
    const ms = performance.now() - t0;
    if (r.code !== 0) throw new Error(`deploy failed:\n${r.stdout}\n${r.stderr}`);
    const stage = (name: string): number => Number(new RegExp(`^${name}: done in ([\\d.]+) s$`, 'm').exec(r.stdout)?.[1] ?? 0);
    return { ms, run: r, stage };
  };

  // 1. Cold, then warm on a fresh runner.
  const cold = await deploy();
  const coldBuild = cold.stage('Restore Go cache') + cold.stage('Build');
  console.log(`cold deploy: ${(cold.ms / 1000).toFixed(1)} s (restore ${cold.stage('Restore Go cache')} s, build ${cold.stage('Build')} s, save ${cold.stage('Save Go cache')} s)`);
  const warm = await deploy();
  if (warm.run.outputs['cache-hit'] !== 'true') throw new Error(`the second deploy missed the cache:\n${warm.run.stdout}`);
  const warmBuild = warm.stage('Restore Go cache') + warm.stage('Build');
  console.log(`warm deploy: ${(warm.ms / 1000).toFixed(1)} s (restore ${warm.stage('Restore Go cache')} s, build ${warm.stage('Build')} s)`);
  const buildRatio = warmBuild / coldBuild;
  console.log(`restore + build, second ÷ first: ${warmBuild.toFixed(1)} s ÷ ${coldBuild.toFixed(1)} s = ${buildRatio.toFixed(3)}`);
  recordFigure({ bench: 'go cache', figure: 'second deploy restore + build ÷ first (fresh runners)', value: buildRatio, unit: 'x', goal: '≤ 0.15', met: buildRatio <= 0.15 });

  // 2. The warm deploy against the least it could do: go build with the caches warm (as the
  // runner has them now) and a bare upload of the same zip.
  const zip = path.join(path.dirname(warm.run.outputs['artifact-path']), `${warm.run.outputs['artifact-name']}.zip`);
  const t0 = performance.now();
  await run('go', ['build', '-trimpath', '-ldflags', `-s -w -X main.commit=${randomBytes(20).toString('hex')}`, '-o', path.join(scratch, 'bare.exe'), '.'], {
    cwd: app,
    env: { ...process.env, ...runnerEnv, GOOS: 'windows', GOARCH: 'amd64', CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-buildvcs=false -mod=mod', GOWORK: 'off', GOPROXY: 'off' },
  });
  await run('curl', ['-sS', '-f', '-o', '/dev/null', '-X', 'PUT', '-u', `${kudu.userName}:${kudu.password}`, '--data-binary', `@${zip}`, `${kudu.url}/api/zip/site/wwwroot/_bench/`]);
  const bareMs = performance.now() - t0;
  const deployRatio = warm.ms / bareMs;
  console.log(`warm deploy ÷ (warm go build + curl PUT): ${(warm.ms / 1000).toFixed(2)} s ÷ ${(bareMs / 1000).toFixed(2)} s = ${deployRatio.toFixed(2)}`);
  recordFigure({ bench: 'go cache', figure: 'warm deploy ÷ warm go build + curl PUT', value: deployRatio, unit: 'x', goal: '≤ 1.5', met: deployRatio <= 1.5 });

  // 3. Deploys that each change a dependency: every one restores the newest older entry, builds,
  // trims what it did not use and saves under its new key.
  const pgx = ['v5.7.6', 'v5.8.0', 'v5.9.0', 'v5.9.1', 'v5.10.0', 'v5.11.0', 'v5.12.0', 'v5.9.2'];
  const prom = ['v1.22.0', 'v1.23.0', 'v1.23.1', 'v1.23.2'];
  const firstEntry = service.entries.find((e) => e.sizeBytes !== undefined)!.sizeBytes!;
  const sizes: number[] = [firstEntry];

  for (let i = 0; i < deploys - 1; i++) {
    const versions = [`github.com/jackc/pgx/v5@${pgx[i % pgx.length]}`, `github.com/prometheus/client_golang@${prom[Math.floor(i / 2) % prom.length]}`];
    await run('go', ['get', ...versions], { cwd: app, env: { ...process.env, GOTOOLCHAIN: 'local', GOWORK: 'off', GOFLAGS: '-mod=mod' } });
    await run('go', ['mod', 'tidy'], { cwd: app, env: { ...process.env, GOTOOLCHAIN: 'local', GOWORK: 'off' } });
    const d = await deploy();
    // The entry for this deploy's dependencies: saved now, or earlier when this set came back.
    const key = /^Key: (\S+)/m.exec(d.run.stdout)?.[1];
    const newest = service.entries.find((e) => e.key === key && e.sizeBytes !== undefined);
    if (newest === undefined) throw new Error(`no entry for ${key}:\n${d.run.stdout}`);
    sizes.push(newest.sizeBytes!);

    console.log(
      `deploy ${i + 2}/${deploys} (${versions.join(' ')}): ${(d.ms / 1000).toFixed(1)} s, restore ${d.stage('Restore Go cache')} s, build ${d.stage('Build')} s, ` +
        `save ${d.stage('Save Go cache')} s; entry ${mib(newest.sizeBytes!)}${d.run.outputs['cache-hit'] === 'true' ? ' (exact hit)' : ''}, all entries ${mib(service.storedBytes())}`,
    );
  }
  const growth = sizes[sizes.length - 1] / firstEntry;
  console.log(`entry sizes (MiB): ${sizes.map((s) => (s / MB).toFixed(0)).join(' ')}`);
  console.log(`after ${sizes.length} deploys: newest entry ${mib(sizes[sizes.length - 1])} ÷ first ${mib(firstEntry)} = ${growth.toFixed(2)}; all ${service.entries.length} entries ${mib(service.storedBytes())}`);
  recordFigure({ bench: 'go cache', figure: `newest entry after ${sizes.length} deploys with changing dependencies ÷ first entry`, value: growth, unit: 'x', goal: '' });
  // What a cold build of the final dependencies saves, through a service of its own: the newest
  // entry of the run must hold no more than that (nothing left over from earlier dependencies).
  const reference = await startCacheService();
  try {
    const saved = serviceOverride;
    serviceOverride = reference;
    await deploy();
    serviceOverride = saved;
    const cold = reference.entries.find((e) => e.sizeBytes !== undefined)!.sizeBytes!;
    const ratio = sizes[sizes.length - 1] / cold;
    console.log(`newest entry ${mib(sizes[sizes.length - 1])} ÷ a cold build's entry for the same dependencies ${mib(cold)} = ${ratio.toFixed(3)}`);
    recordFigure({ bench: 'go cache', figure: `newest entry after ${sizes.length} deploys ÷ a cold build's entry, same dependencies`, value: ratio, unit: 'x', goal: '≤ 1.05', met: ratio <= 1.05 });
  } finally {
    await reference.close();
  }
  recordFigure({ bench: 'go cache', figure: 'one cache entry (compressed)', value: sizes[sizes.length - 1] / MB, unit: 'MiB', goal: '' });
  recordFigure({ bench: 'go cache', figure: `all entries after ${sizes.length} deploys (before GitHub's eviction)`, value: service.storedBytes() / MB, unit: 'MiB', goal: '' });
} finally {
  await service.close();
  await kudu.close();
  removeTree(scratch);
}
