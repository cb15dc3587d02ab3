// End to end on the local App Service: the action, run as a runner runs it with its default
// inputs, builds the example app, deploys it through the Kudu emulator, and the IIS emulator serves
// it. The action reaches everything under the real names (go.dev, dl.google.com,
// <site>.scm.azurewebsites.net, <site>.azurewebsites.net) through the sandbox's internet.

import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startAppService, deployInputs, type AppService } from '../sandbox/appservice.ts';
import { seedToolCache, machineGoVersion } from '../sandbox/gomirror.ts';
import { startLoad } from '../sandbox/load.ts';
import { runAction, repoRoot, type ActionRun } from '../sandbox/runner.ts';

const sites: AppService[] = [];
after(async () => {
  await Promise.all(sites.map((s) => s.close()));
});

/** A site whose runner has Go in its tool cache already (`cold`: not, so it is downloaded). */
async function site(opts: { cold?: boolean; httpsOnly?: boolean } = {}): Promise<AppService> {
  const s = await startAppService({ siteName: 'e2e-site', env: { EXAMPLE_POLL_MS: '250' }, httpsOnly: opts.httpsOnly });
  sites.push(s);
  if (opts.cold !== true) seedToolCache(s.toolCache);
  return s;
}

const newCommit = (): string => randomBytes(20).toString('hex');

function deploy(s: AppService, commit: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  return runAction({
    inputs: deployInputs(s, commit, { 'verify-timeout-seconds': '30', 'timeout-seconds': '240', ...extra }),
    env: { ...s.env, GITHUB_SHA: commit },
    toolCache: s.toolCache,
    cwd: repoRoot,
    // A private repository: the app log's tail is shown (src/site/golive.ts, repositoryIsPublic).
    event: { repository: { full_name: 'octo/e2e', private: true, visibility: 'private' } },
  });
}

async function answer(url: string): Promise<string> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  return res.text();
}

function artifactTxt(s: AppService): string {
  return fs.readFileSync(path.join(s.wwwroot, '_artifact.txt'), 'utf8');
}

test('first deploy, Go not cached: downloaded from go.dev through its redirect, the site serves the new binary, outputs and the job summary are written', { timeout: 240_000 }, async () => {
  const s = await site({ cold: true });
  const commit = newCommit();
  const run = await deploy(s, commit);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const name = `e2e-site-${commit.slice(0, 10)}`;
  assert.equal(run.outputs['artifact-name'], name);
  assert.ok(fs.existsSync(run.outputs['artifact-path']), 'artifact-path is the local binary');
  assert.equal(run.outputs['webapp-url'], s.appUrl);
  assert.equal(run.outputs['go-version'], machineGoVersion());
  assert.equal(run.outputs['toolchain-cache-hit'], 'false');
  assert.equal(run.outputs['previous-artifact'], '');
  assert.equal(artifactTxt(s), `_target\\${name}\r\n`);
  assert.match(await answer(s.localAppUrl), new RegExp(`${commit} ${commit}`));

  // What went over the wire, as on a runner: the listing and a 302 from go.dev, the archive from
  // dl.google.com, Kudu over https under its SCM name, the site woken at the profile's http URL.
  const mirror = s.goMirror!;
  const seen = s.internet.requests.map((r) => `${r.scheme}://${r.host}${r.path.split('?')[0]} ${r.status}`);
  assert.ok(seen.includes('https://go.dev/dl/ 200'), seen.join('\n'));
  assert.ok(seen.includes(`https://go.dev/dl/${mirror.archiveName} 302`), seen.join('\n'));
  assert.ok(seen.includes(`https://dl.google.com/go/${mirror.archiveName} 200`), seen.join('\n'));
  assert.equal(mirror.archiveRequests(), 1);
  assert.ok(seen.some((l) => l.startsWith('https://e2e-site.scm.azurewebsites.net/api/zip/')), seen.join('\n'));
  assert.ok(seen.some((l) => l.startsWith('http://e2e-site.azurewebsites.net/')), 'verify woke the site at its http URL');
  assert.deepEqual(s.internet.refused, []);
  assert.deepEqual(s.kudu.requests.filter((r) => r.status === 401 || r.status === 412 || r.status >= 500), []);
  for (const fact of ['e2e-site', name, commit, machineGoVersion(), 'Stages', 'Verify', 'Upload']) {
    assert.ok(run.summary.includes(fact), `summary mentions ${fact}:\n${run.summary}`);
  }
  assert.match(run.stdout, /::group::Verify/);
  assert.match(run.stdout, new RegExp(`${name} is healthy \\(/ answered 200-299 3 times in a row\\)`));
});

test('second deploy under steady load: no 502 storm (at most the one request the hand-over can lose), and the new version serves', { timeout: 300_000 }, async () => {
  const s = await site();
  const first = newCommit();
  const second = newCommit();
  const run1 = await deploy(s, first);
  assert.equal(run1.code, 0, run1.stdout);
  const load = startLoad(s.localAppUrl, 100, 120);
  await new Promise((r) => setTimeout(r, 1000));
  const run2 = await deploy(s, second);
  await new Promise((r) => setTimeout(r, 1000));
  const result = await load.stop();
  assert.equal(run2.code, 0, run2.stdout);
  assert.equal(run2.outputs['previous-artifact'], `e2e-site-${first.slice(0, 10)}`);
  assert.ok(result.sent > 200, `load was sent (${result.sent})`);
  // With fast requests the one request that can fail is one that reaches the app's port in the
  // instant between its listener closing and the process ending, before IIS sees it has gone: a
  // refused connection, 502.3 (goazure/doc.go). On an idle machine that instant is well under a
  // millisecond; with every core busy, one deploy in a few dozen loses a request there. Anything
  // more, or any other failure, is a defect.
  const lost = JSON.stringify(result.failures.slice(0, 5));
  assert.ok(result.failures.length <= 1, `failed requests: ${lost}`);
  for (const f of result.failures) assert.match(`${f.status} ${f.error ?? ''}`, /^502 502\.3 .*\(ECONNREFUSED\)$/, `failed requests: ${lost}`);
  assert.ok(result.firstSeen(second.slice(0, 10)) !== undefined, 'the load saw the new version');
  assert.match(await answer(s.localAppUrl), new RegExp(second));
});

test('a site with HTTPS Only: the profile\'s http:// URL answers 301, verify follows it to https on the same host, and the deploy is verified', { timeout: 300_000 }, async () => {
  const s = await site({ httpsOnly: true });
  const commit = newCommit();
  const run = await deploy(s, commit);
  assert.equal(run.code, 0, run.stdout);
  assert.equal(run.outputs['webapp-url'], 'http://e2e-site.azurewebsites.net', 'the output is the profile\'s URL');
  const seen = s.internet.requests.filter((r) => r.host === 'e2e-site.azurewebsites.net').map((r) => `${r.scheme} ${r.status}`);
  assert.ok(seen.includes('http 301'), seen.join('\n'));
  assert.ok(seen.filter((l) => l === 'https 200').length >= 3, `three healthy answers over https: ${seen.join('\n')}`);
  assert.match(run.stdout, new RegExp(`e2e-site-${commit.slice(0, 10)} is healthy`));
  assert.match(await answer(s.localAppUrl), new RegExp(commit));
});

test('a crash-looping new version is rolled back: the old one serves again and the step fails', { timeout: 300_000 }, async () => {
  const s = await site();
  const good = newCommit();
  const bad = newCommit();
  const run1 = await deploy(s, good);
  assert.equal(run1.code, 0, run1.stdout);
  const run2 = await deploy(s, bad, { 'working-directory': 'test/fixtures/crashloop', 'verify-timeout-seconds': '8' });
  assert.equal(run2.code, 1, run2.stdout);
  const error = decodeURIComponent(run2.errors.join('\n'));
  assert.match(error, new RegExp(`The new version did not come up healthy: e2e-site-${bad.slice(0, 10)} was not healthy after 8 s`));
  assert.match(error, new RegExp(`Rolled back: _artifact.txt names e2e-site-${good.slice(0, 10)} again and it is serving`));
  assert.match(run2.stdout, /::group::App log\n(.|\n)*crashloop .*cannot open the database/, 'the tail of the stdout log is shown in its own group');
  assert.doesNotMatch(error, /cannot open the database/, 'and not in the error annotation');
  assert.equal(artifactTxt(s), `_target\\e2e-site-${good.slice(0, 10)}\r\n`);
  assert.match(await answer(s.localAppUrl), new RegExp(good));
  assert.ok(fs.existsSync(path.join(s.wwwroot, '_target', `e2e-site-${bad.slice(0, 10)}`)), 'the bad artifact is left for inspection');
});

test('verify timeout without auto-rollback: the step fails naming what was seen', { timeout: 300_000 }, async () => {
  const s = await site();
  const good = newCommit();
  const silent = newCommit();
  assert.equal((await deploy(s, good)).code, 0);
  const run = await deploy(s, silent, { 'working-directory': 'test/fixtures/noport', 'verify-timeout-seconds': '6', 'auto-rollback': 'false' });
  assert.equal(run.code, 1, run.stdout);
  const error = decodeURIComponent(run.errors.join('\n'));
  assert.match(error, new RegExp(`e2e-site-${silent.slice(0, 10)} was not healthy after 6 s`));
  assert.match(error, /Auto-rollback is off, so _artifact.txt still names the new artifact/);
  assert.match(error, /HTTP_PLATFORM_PORT/);
  assert.equal(artifactTxt(s), `_target\\e2e-site-${silent.slice(0, 10)}\r\n`);
  assert.match(run.summary, /failed/);
});
