// The demo: a local App Service (Kudu emulator + IIS emulator) on 127.0.0.1, the bundled action
// dist/index.js run exactly as a runner runs it, with its default inputs, to deploy the example
// app, steady load on the site, a second deploy under that load, and a short report. Everything it
// starts, it stops.
//
//   npm ci && npm run demo
//
// The action reaches go.dev, dl.google.com and the site's real names through the sandbox's proxy
// (sandbox/internet.ts), which serves them from the emulators; nothing leaves the machine. The
// runner's tool cache starts empty, so the first deploy downloads Go from "go.dev" (the machine's
// own Go, repacked) and the second finds it cached.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startAppService, deployInputs, type AppService } from '../sandbox/appservice.ts';
import { startLoad } from '../sandbox/load.ts';
import { runAction, repoRoot, type ActionRun } from '../sandbox/runner.ts';

const RATE = 100;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function deploy(site: AppService, commit: string): Promise<ActionRun> {
  const run = await runAction({
    inputs: deployInputs(site, commit, { 'verify-timeout-seconds': '60', 'timeout-seconds': '300' }),
    env: { ...site.env, GITHUB_SHA: commit, GITHUB_REF_TYPE: 'branch', GITHUB_REF_NAME: 'main' },
    toolCache: site.toolCache,
    cwd: repoRoot,
    entry: 'dist',
  });
  if (run.code !== 0) {
    process.stderr.write(run.stdout + run.stderr);
    throw new Error(`the deploy of ${commit.slice(0, 10)} failed (exit ${run.code}); its log is above`);
  }
  return run;
}

/** Watches _artifact.txt and records when its content changes: the moment of the switch. */
function watchSwitch(wwwroot: string): { at: () => number | undefined; stop: () => void } {
  const file = path.join(wwwroot, '_artifact.txt');
  const read = (): string => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  const initial = read();
  let switchedAt: number | undefined;
  const timer = setInterval(() => {
    if (switchedAt === undefined && read() !== initial) switchedAt = performance.now();
  }, 20);
  return { at: () => switchedAt, stop: () => clearInterval(timer) };
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(repoRoot, 'dist', 'index.js'))) throw new Error('dist/index.js is missing: run "npm run bundle" first');
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-demo-'));

  say('Starting the local App Service (Kudu emulator + IIS emulator) and the Go download site behind a local proxy …');
  const site = await startAppService({ siteName: 'demo-site', home: path.join(scratch, 'home') });
  try {
    say(`  site: ${site.appUrl} (IIS emulator at ${site.localAppUrl})`);
    say(`  kudu: ${site.kuduUrl} (Kudu emulator at ${site.localKuduUrl})`);
    say(`  proxy: ${site.internet.proxyUrl}, test CA ${site.internet.caFile}`);

    const first = randomBytes(20).toString('hex');
    const second = randomBytes(20).toString('hex');

    say(`\nDeploy 1: commit ${first.slice(0, 10)} (dist/index.js, as a runner runs it) …`);
    const started1 = performance.now();
    const run1 = await deploy(site, first);
    const seconds1 = (performance.now() - started1) / 1000;
    say(`  deployed ${run1.outputs['artifact-name']} in ${seconds1.toFixed(1)} s (toolchain cache hit: ${run1.outputs['toolchain-cache-hit']})`);

    say(`\nPutting ${RATE} requests/s on ${site.localAppUrl} over keep-alive connections …`);
    const load = startLoad(site.localAppUrl, RATE, 240);
    await new Promise((r) => setTimeout(r, 2000));

    say(`Deploy 2: commit ${second.slice(0, 10)} under load …`);
    const loadStart = performance.now() - load.elapsed();
    const watch = watchSwitch(site.wwwroot);
    const started2 = performance.now();
    const run2 = await deploy(site, second);
    const seconds2 = (performance.now() - started2) / 1000;
    await new Promise((r) => setTimeout(r, 2000));
    watch.stop();
    const result = await load.stop();

    const switchedAt = watch.at();
    const firstNew = result.firstSeen(second.slice(0, 10));
    const swapMs = switchedAt !== undefined && firstNew !== undefined ? firstNew - (switchedAt - loadStart) : undefined;

    say('\nReport');
    say(`  site URL              ${site.appUrl}`);
    say(`  Kudu URL              ${site.kuduUrl}`);
    say(`  artifact before       ${run2.outputs['previous-artifact']}`);
    say(`  artifact now          ${run2.outputs['artifact-name']}`);
    say(`  Go                    ${run2.outputs['go-version']} (deploy 1 downloaded it: ${run1.outputs['toolchain-cache-hit'] === 'false'})`);
    const hosts = [...new Set(site.internet.requests.map((r) => `${r.scheme}://${r.host}`))].sort();
    say(`  reached               ${hosts.join(', ')}`);
    say(`  refused by the proxy  ${site.internet.refused.length === 0 ? 'nothing' : site.internet.refused.join(', ')}`);
    say(`  deploy 1 / deploy 2   ${seconds1.toFixed(1)} s / ${seconds2.toFixed(1)} s`);
    say(`  requests sent         ${result.sent}`);
    say(`  requests failed       ${result.failed}${result.failed > 0 ? ` (${[...new Set(result.failures.map((f) => f.status || f.error))].join(', ')})` : ''}`);
    say(`  switch → new version  ${swapMs === undefined ? 'not seen' : `${(swapMs / 1000).toFixed(2)} s`}`);
    if (firstNew === undefined) throw new Error('the new version never answered under load');
  } finally {
    await site.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  say('\nEverything the demo started has been stopped.');
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
