// The health gate end to end: the action, run as a runner runs it, deploys test/fixtures/health
// (a goazure app whose /healthz status and crash time are stamped in through the ldflags input) to
// the local App Service, and verify decides by the health path's answers, the X-Goazure-Artifact
// header and Kudu's process list. Most scenarios are Linux builds through the shell launcher
// (go-azure.sh), as in test/e2e.test.ts; one runs a windows/amd64 build through the real
// go-azure.bat under Wine, as on App Service.

import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startAppService, linuxBuildInputs, deployInputs, identityHeaders, type AppService, type AppServiceOptions } from '../sandbox/appservice.ts';
import { seedToolCache } from '../sandbox/gomirror.ts';
import { runAction, repoRoot, type ActionRun } from '../sandbox/runner.ts';
import { wineAvailable } from '../sandbox/wine.ts';
import { startScaledSite } from '../sandbox/scaled.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const FIXTURE = 'test/fixtures/health';
const newCommit = (): string => randomBytes(20).toString('hex');

async function site(opts: Pick<AppServiceOptions, 'authentication'> = {}): Promise<AppService> {
  const s = await startAppService({ siteName: 'health-site', ...opts });
  cleanups.push(() => s.close());
  seedToolCache(s.toolCache);
  return s;
}

function deploy(s: AppService, commit: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  return runAction({
    inputs: deployInputs(s, commit, { 'working-directory': FIXTURE, 'health-path': '/healthz', 'verify-timeout-seconds': '20', 'timeout-seconds': '240', ...extra }),
    env: { ...s.env, GITHUB_SHA: commit },
    toolCache: s.toolCache,
    cwd: repoRoot,
    // A private repository: the app log's tail is shown (src/site/golive.ts, repositoryIsPublic).
    event: { repository: { full_name: 'octo/health', private: true, visibility: 'private' } },
  });
}

function artifactTxt(s: AppService): string {
  return fs.readFileSync(path.join(s.wwwroot, '_artifact.txt'), 'utf8');
}

const stem = (commit: string): string => `health-site-${commit.slice(0, 10)}`;

test('behind App Service Authentication, with a publish profile (nothing to read it from before the switch): verify stops at the sign-in redirect, names it and says what to do; a health path it excludes passes', { timeout: 300_000 }, async () => {
  const s = await site({ authentication: { unauthenticatedClientAction: 'RedirectToLoginPage', excludedPaths: ['/healthz'] } });
  const blocked = newCommit();
  const run = await deploy(s, blocked, { 'health-path': '/', 'verify-timeout-seconds': '60' });
  assert.equal(run.code, 1, run.stdout);
  const error = decodeURIComponent(run.errors.join('\n'));
  // Verify stops once the sign-in has answered three checks in a row, long before verify-timeout;
  // Kudu lists only the SCM site's and the site's w3wp: the app was never started.
  assert.match(
    error,
    new RegExp(`${stem(blocked)} was not healthy after \\d+\\.\\d s, when App Service Authentication's sign-in had answered 3 checks in a row \\(waiting longer cannot help.*\\(seen: w3wp, w3wp; / answered 302 to login\\.microsoftonline\\.com in \\d+ ms`),
  );
  const asked = s.internet.requests.filter((r) => r.host === 'health-site.azurewebsites.net' && r.path.split('?')[0] === '/');
  assert.equal(asked.length, 3, `three checks of /, each answered 302 by the sign-in: ${asked.map((r) => r.status).join(' ')}`);
  assert.match(error, /Things to check:\n {2}- the site answered with App Service Authentication's sign-in, not the app.*set health-path to a path Authentication lets through/);

  const passes = newCommit();
  const ok = await deploy(s, passes);
  assert.equal(ok.code, 0, ok.stdout);
  assert.match(ok.stdout, new RegExp(`${stem(passes)} is healthy \\(/healthz answered 200-299 3 times in a row\\)`));
});

test('a healthy release passes the gate; the summary shows what answered, the status, the latency and the time to healthy', { timeout: 240_000 }, async () => {
  const s = await site();
  const commit = newCommit();
  const run = await deploy(s, commit);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, new RegExp(`${stem(commit)} is healthy \\(/healthz answered 200-299 3 times in a row\\)`));
  assert.doesNotMatch(run.stdout, /carry no X-Goazure-Artifact header/);
  // The health path was what verify asked for, at the site's public name.
  assert.ok(s.internet.requests.some((r) => r.host === 'health-site.azurewebsites.net' && r.path === '/healthz' && r.status === 200));
  assert.match(run.summary, /\/healthz status/);
  assert.match(run.summary, new RegExp(`<tr><td>any</td><td>yes</td><td>${stem(commit)}</td><td>200</td><td>\\d+ ms</td><td>\\d+\\.\\d s</td>`), run.summary);
  assert.match(run.summary, /Preflight/);

  // The same build again: nothing to switch, no new process; verify still knows the running one by
  // the identity key it started with.
  const again = await deploy(s, commit);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /_artifact\.txt already names .*; nothing to switch/);
  assert.match(again.stdout, new RegExp(`${stem(commit)} is healthy \\(/healthz answered 200-299 3 times in a row\\)`));
  assert.doesNotMatch(again.stdout, /carry no X-Goazure-Artifact header/, 'identified by the header, not the process list');
});

test('a health-path with a token in its query: the requests carry it, the log, the summary, the record and Kudu\'s deployments show it redacted', { timeout: 240_000 }, async () => {
  const s = await site();
  const commit = newCommit();
  const secret = 'tok-7f3a9c2e51d84b06';
  const run = await deploy(s, commit, { 'health-path': `/healthz?token=${secret}&probe` });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.ok(s.internet.requests.some((r) => r.host === 'health-site.azurewebsites.net' && r.path === `/healthz?token=${secret}&probe` && r.status === 200), 'the request used the full path');
  assert.match(run.stdout, new RegExp(`${stem(commit)} is healthy \\(/healthz\\?token=\\*\\*\\*&probe answered 200-299 3 times in a row\\)`));
  assert.match(run.summary, /\/healthz\?token=\*\*\*&amp;probe status/);
  const record = fs.readFileSync(path.join(s.wwwroot, '_deploys.json'), 'utf8');
  assert.match(record, /\/healthz\?token=\*\*\*&probe answered/);
  const auth = `Basic ${Buffer.from(`${s.kudu.userName}:${s.kudu.password}`).toString('base64')}`;
  const deployments = await (await fetch(`${s.localKuduUrl}/api/deployments`, { headers: { authorization: auth } })).text();
  assert.match(deployments, /token=\*\*\*/);
  for (const [where, text] of Object.entries({ log: run.stdout + run.stderr, summary: run.summary, record, deployments })) {
    assert.ok(!text.includes(secret), `the ${where} shows the token`);
  }
});

test('a release whose health path answers 500 is rolled back, and the step fails with the answers seen', { timeout: 300_000 }, async () => {
  const s = await site();
  const good = newCommit();
  const bad = newCommit();
  assert.equal((await deploy(s, good)).code, 0);
  const run = await deploy(s, bad, { ldflags: '-X main.healthStatus=500', 'verify-timeout-seconds': '8' });
  assert.equal(run.code, 1, run.stdout);
  const error = decodeURIComponent(run.errors.join('\n'));
  assert.match(error, new RegExp(`The new version did not come up healthy: ${stem(bad)} was not healthy after 8 s`));
  // The new binary was running and answering: the answers name it and their status.
  assert.match(error, new RegExp(`/healthz answered .*500 from ${stem(bad)} in \\d+ ms \\(not 200-299\\)`));
  assert.match(error, new RegExp(`Rolled back: _artifact.txt names ${stem(good)} again and it is serving`));
  assert.equal(artifactTxt(s), `_target\\${stem(good)}\r\n`);
  const res = await fetch(`${s.localAppUrl}/healthz`, { headers: identityHeaders(s) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-goazure-artifact'), stem(good));
  // Any other visitor learns nothing about the version: no binary, no commit, no instance.
  const anyone = await fetch(`${s.localAppUrl}/healthz`);
  assert.equal(anyone.status, 200);
  for (const h of ['x-goazure-artifact', 'x-goazure-commit', 'x-goazure-instance']) assert.equal(anyone.headers.get(h), null, h);
});

test('a Kudu error the auto-rollback cannot get past does not leave the failed release live: the same way back as after the deadline', { timeout: 300_000 }, async () => {
  const s = await site();
  const good = newCommit();
  const bad = newCommit();
  assert.equal((await deploy(s, good)).code, 0);
  // The switch goes through; the auto-rollback's write of _artifact.txt gets a 400 it does not retry.
  s.kudu.fault({ route: '/api/vfs/site/wwwroot/_artifact.txt', method: 'PUT', skip: 1, times: 1, status: 400 });
  const run = await deploy(s, bad, { ldflags: '-X main.healthStatus=500', 'verify-timeout-seconds': '6' });
  s.kudu.clearFaults();
  assert.equal(run.code, 1, run.stdout);
  const error = decodeURIComponent(run.errors.join('\n'));
  assert.match(error, new RegExp(`It had switched to ${stem(bad)} without verifying it; auto-rollback within a 30 s grace period: rolled back: _artifact.txt names ${stem(good)} again`), error);
  assert.equal(artifactTxt(s), `_target\\${stem(good)}\r\n`);
});

test('a failed release that does not link goazure keeps running after the switch back: its process is stopped through Kudu, and the previous version serves', { timeout: 300_000 }, async () => {
  const s = await site();
  const good = newCommit();
  const stuck = newCommit();
  assert.equal((await deploy(s, good)).code, 0);
  const run = await deploy(s, stuck, { 'working-directory': 'test/fixtures/stuck', 'verify-timeout-seconds': '12' });
  assert.equal(run.code, 1, run.stdout);
  const error = decodeURIComponent(run.errors.join('\n'));
  assert.match(error, new RegExp(`The new version did not come up healthy: ${stem(stuck)} was not healthy after 12 s`));
  const stopped = new RegExp(`${stem(stuck)} kept running after the switch back \\(it does not link goazure, or it hangs\\): its process (\\d+) was stopped through Kudu's process API`);
  assert.match(error, new RegExp(`Rolled back: _artifact.txt names ${stem(good)} again and it is serving \\(${stopped.source}\\)`));
  assert.match(run.stdout, new RegExp(`::warning::${stopped.source}, so that IIS starts ${stem(good)}\\.`));
  const pid = Number(stopped.exec(error)![1]);
  assert.deepEqual(s.kudu.requests.filter((r) => r.method === 'DELETE' && r.path.startsWith('/api/processes/')).map((r) => `${r.path} ${r.status}`), [`/api/processes/${pid} 204`]);
  assert.equal(artifactTxt(s), `_target\\${stem(good)}\r\n`);
  const res = await fetch(`${s.localAppUrl}/healthz`, { headers: identityHeaders(s) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-goazure-artifact'), stem(good));
  assert.deepEqual(s.iis.processes().map((p) => p.name), [stem(good)]);
});

test('a release that crashes 10 s after it starts, once healthy, is rolled back when the watch window is on', { timeout: 300_000 }, async () => {
  const s = await site();
  const good = newCommit();
  const bad = newCommit();
  assert.equal((await deploy(s, good, { 'watch-seconds': '3' })).code, 0, 'a steady release passes a watch window');
  // The crash comes 10 s after the start, so even a loaded machine passes the gate (three checks
  // 500 ms apart) first; the 20 s watch window then catches it.
  const run = await deploy(s, bad, { ldflags: '-X main.crashAfter=10s', 'watch-seconds': '20' });
  assert.equal(run.code, 1, run.stdout);
  assert.match(run.stdout, new RegExp(`${stem(bad)} is healthy`), 'it passed the gate first');
  assert.match(run.stdout, /::group::Watch/);
  const error = decodeURIComponent(run.errors.join('\n'));
  assert.match(error, new RegExp(`${stem(bad)} (exited|restarted) \\(process id \\d+.*\\) [\\d.]+ s into the 20 s watch window`));
  assert.match(error, new RegExp(`Rolled back: _artifact.txt names ${stem(good)} again and it is serving`));
  assert.match(run.stdout, /::group::App log\n(.|\n)*crashing 10s after start/, 'the tail of the stdout log shows the crash');
  assert.equal(artifactTxt(s), `_target\\${stem(good)}\r\n`);
});

test('a scaled-out site signed in with Entra ID: the health check path comes from ARM and every instance is checked', { timeout: 300_000 }, async () => {
  const instances = ['4f2a9c0e1b3d5f7a9c0e1b3d5f7a9c0e1b3d5f7a9c0e1b3d5f7a9c0e1b3d5f7a', 'b81c3e5a7092b4d6f81c3e5a7092b4d6f81c3e5a7092b4d6f81c3e5a7092b4d6'];
  const scaled = await startScaledSite({ instances });
  cleanups.push(() => scaled.close());
  const s = scaled.site;
  const deployEntra = (commit: string, extra: Record<string, string> = {}): Promise<ActionRun> =>
    runAction({
      inputs: {
        'app-name': 'scaled',
        ...scaled.signIn,
        ...linuxBuildInputs(FIXTURE),
        commit,
        'verify-timeout-seconds': '20',
        ...extra,
      },
      env: { ...s.env, GITHUB_SHA: commit },
      toolCache: s.toolCache,
      cwd: repoRoot,
    });

  const good = newCommit();
  const run = await deployEntra(good);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /Health path: \/healthz, the site's health check path in ARM/);
  assert.match(run.stdout, /is healthy \(\/healthz answered 200-299 3 times in a row\) on all 2 instances/);
  // Each instance ran its own process of the new binary and was asked, pinned by its cookie.
  for (const { iis } of s.instances) assert.deepEqual(iis.processes().map((p) => p.name), [`scaled-${good.slice(0, 10)}`]);
  for (const id of instances) {
    assert.match(run.summary, new RegExp(`<tr><td>${id}</td><td>yes</td><td>scaled-${good.slice(0, 10)}</td><td>200</td><td>\\d+ ms</td><td>\\d+\\.\\d s</td>`), run.summary);
  }

  // A release whose health path answers 500: each instance is named with what it answered, and the
  // deploy is rolled back on both.
  const bad = newCommit();
  const failed = await deployEntra(bad, { ldflags: '-X main.healthStatus=500', 'verify-timeout-seconds': '6' });
  assert.equal(failed.code, 1, failed.stdout);
  const error = decodeURIComponent(failed.errors.join('\n'));
  // Kudu lists every process of the instance's sandbox (w3wp, cmd, conhost beside the app).
  assert.match(error, new RegExp(`instance ${instances[0]}: (?:[\\w-]+, )*scaled-${bad.slice(0, 10)}(?:, [\\w-]+)*; /healthz answered .*500 from scaled-${bad.slice(0, 10)}`));
  assert.match(error, new RegExp(`instance ${instances[1]}: `));
  assert.match(error, new RegExp(`Rolled back: _artifact.txt names scaled-${good.slice(0, 10)} again and it is serving`));
  // The rollback was verified on both instances: each runs the good binary again.
  for (const { iis } of s.instances) assert.deepEqual(iis.processes().map((p) => p.name), [`scaled-${good.slice(0, 10)}`]);
  assert.equal(fs.readFileSync(path.join(s.wwwroot, '_artifact.txt'), 'utf8'), `_target\\scaled-${good.slice(0, 10)}\r\n`);
});

test('a scaled-out site deployed with a publish profile: one Kudu instance serves the deploy, and process lists from the instances in turn pass the gate and the watch', { timeout: 300_000 }, async () => {
  // No ARM, so no instance ids: verify's process reads are unpinned, and the SCM host's front end
  // takes turns between the instances' Kudus, each listing its own copy of the app (its own pid).
  const s = await startAppService({ siteName: 'health-site', instances: ['inst-one', 'inst-two'] });
  cleanups.push(() => s.close());
  seedToolCache(s.toolCache);
  const commit = newCommit();
  const run = await deploy(s, commit, { 'watch-seconds': '3' });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, new RegExp(`${stem(commit)} is healthy \\(/healthz answered 200-299 3 times in a row\\)`));
  assert.match(run.stdout, new RegExp(`${stem(commit)} stayed healthy through the 3 s watch window`));
  const processReads = s.kudu.requests.filter((r) => r.path === '/api/processes');
  assert.deepEqual([...new Set(processReads.map((r) => r.instance))].sort(), ['inst-one', 'inst-two'], 'both instances listed their processes');
  const deployCalls = s.kudu.requests.filter((r) => r.path !== '/api/processes');
  assert.equal(new Set(deployCalls.map((r) => r.instance)).size, 1, `every other SCM request went to one instance: ${deployCalls.map((r) => `${r.method} ${r.path} ${r.instance}`).join('; ')}`);
});

test('under Wine (windows/amd64, the real go-azure.bat): a healthy release passes, one whose health path answers 500 is rolled back', { timeout: 480_000, skip: wineAvailable() ? false : 'wine is not installed (.ci/run installs it)' }, async () => {
  const s = await startAppService({ siteName: 'health-wine', launcher: 'wine' });
  cleanups.push(() => s.close());
  seedToolCache(s.toolCache);
  const windows = { goos: 'windows', goarch: 'amd64', 'verify-timeout-seconds': '60' };
  const exe = (commit: string): string => `health-wine-${commit.slice(0, 10)}.exe`;
  const good = newCommit();
  const bad = newCommit();
  const first = await deploy(s, good, windows);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, new RegExp(`${exe(good).replace('.', '\\.')} is healthy \\(/healthz answered 200-299 3 times in a row\\)`));

  const run = await deploy(s, bad, { ...windows, ldflags: '-X main.healthStatus=500', 'verify-timeout-seconds': '20' });
  assert.equal(run.code, 1, run.stdout);
  const error = decodeURIComponent(run.errors.join('\n'));
  assert.match(error, new RegExp(`/healthz answered .*500 from ${exe(bad).replace('.', '\\.')} in \\d+ ms \\(not 200-299\\)`));
  assert.match(error, new RegExp(`Rolled back: _artifact.txt names ${exe(good).replace('.', '\\.')} again and it is serving`));
  assert.equal(artifactTxt(s), `_target\\${exe(good)}\r\n`);
  const res = await fetch(`${s.localAppUrl}/healthz`, { headers: identityHeaders(s) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-goazure-artifact'), exe(good));
  assert.equal((await fetch(`${s.localAppUrl}/healthz`)).headers.get('x-goazure-commit'), null, 'a visitor learns no commit');
});
