// The deploy record end to end: the action run as a runner runs it (sandbox/runner.ts), against the
// emulated site. Overlapping runs, a rebuild of one commit, going backwards, rollback to a version
// that served, and the deadline's rollback reserve.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { runAction, repoRoot, type ActionRun } from '../sandbox/runner.ts';
import { startKudu, type KuduEmulator } from '../sandbox/kudu.ts';
import { startAppService, deployInputs, type AppService } from '../sandbox/appservice.ts';
import { machineGoVersion, seedToolCache } from '../sandbox/gomirror.ts';
import { makeApp } from '../sandbox/fixture.ts';
import { parseRecord, type DeployEntry } from '../src/site/record.ts';

const toolCache = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-history-toolcache-'));
seedToolCache(toolCache);
const closers: (() => Promise<void>)[] = [];
after(async () => {
  await Promise.all(closers.map((c) => c()));
  fs.rmSync(toolCache, { recursive: true, force: true });
});

const newCommit = (): string => randomBytes(20).toString('hex');
const runEnv = (commit: string, runId: string, actor = 'alice'): Record<string, string> => ({
  GITHUB_SHA: commit,
  GITHUB_REPOSITORY: 'octo/shop',
  GITHUB_RUN_ID: runId,
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_ACTOR: actor,
});

function recordOn(home: string): DeployEntry[] {
  const file = path.join(home, 'site', 'wwwroot', '_deploys.json');
  return parseRecord(fs.readFileSync(file, 'utf8')).record.entries;
}
const artifactTxt = (home: string): string => fs.readFileSync(path.join(home, 'site', 'wwwroot', '_artifact.txt'), 'utf8');
const log = (r: ActionRun): string => `${r.stdout}\n${r.stderr}`;

async function kuduSite(): Promise<{ kudu: KuduEmulator; app: string }> {
  const kudu = await startKudu({ siteName: 'shop' });
  closers.push(() => kudu.close());
  const app = makeApp();
  closers.push(async () => fs.rmSync(app, { recursive: true, force: true }));
  return { kudu, app };
}

function deployTo(kudu: KuduEmulator, app: string, commit: string, runId: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  return runAction({
    inputs: {
      'app-name': 'shop',
      'publish-profile': kudu.publishProfileXml(),
      // The emulator on 127.0.0.1, not the profile's public SCM host: this test needs no internet.
      'kudu-url': kudu.url,
      'working-directory': app,
      'go-version': machineGoVersion().replace(/^go/, ''),
      include: 'static/**',
      verify: 'false',
      ...extra,
    },
    toolCache,
    cwd: app,
    env: runEnv(commit, runId, `actor${runId}`),
    timeoutMs: 240_000,
  });
}

test('two overlapping runs: the one that switches second fails naming the live version and its run, and changes nothing more', { timeout: 400_000 }, async () => {
  const { kudu, app } = await kuduSite();
  const base = newCommit();
  assert.equal((await deployTo(kudu, app, base, '100')).code, 0);
  const baseName = `shop-${base.slice(0, 10)}.exe`;

  // Both uploads are held until both have arrived, so both runs have read _artifact.txt (that
  // comes before the upload); then one goes on, and the other only once the first has switched.
  const before = kudu.requests.length;
  let arrived = 0;
  let release!: () => void;
  const bothArrived = new Promise<void>((resolve) => (release = resolve));
  const arrive = async (): Promise<void> => {
    if (++arrived === 2) release();
    await bothArrived;
  };
  const switched = async (): Promise<void> => {
    const done = () => kudu.requests.slice(before).some((r) => r.method === 'PUT' && r.path.includes('_artifact.txt') && r.status >= 200 && r.status < 300);
    for (const until = Date.now() + 120_000; !done() && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
  };
  kudu.fault({ route: '/api/zip/', hold: arrive });
  kudu.fault({ route: '/api/zip/', hold: async () => (await arrive(), await switched()) });
  const [c1, c2] = [newCommit(), newCommit()];
  const [r1, r2] = await Promise.all([deployTo(kudu, app, c1, '101', { keep: '0' }), deployTo(kudu, app, c2, '102', { keep: '0' })]);
  assert.equal(r1.outputs['previous-artifact'], baseName);
  assert.equal(r2.outputs['previous-artifact'], baseName);
  const codes = [r1.code, r2.code].sort();
  assert.deepEqual(codes, [0, 1], `exactly one run succeeds:\n${log(r1)}\n${log(r2)}`);
  const [won, lost] = r1.code === 0 ? [r1, r2] : [r2, r1];
  const wonName = won.outputs['artifact-name'];
  const wonRun = won === r1 ? '101' : '102';
  assert.equal(artifactTxt(kudu.home), `_target\\${wonName}\r\n`, 'the winner serves');
  const error = decodeURIComponent(lost.errors.join('\n'));
  assert.match(error, new RegExp(`Another deploy changed the site while this one ran: .* names ${wonName.replace(/\./g, '\\.')} now, put there by octo/shop run ${wonRun} attempt 1 by actor${wonRun}`));
  assert.match(error, /no prune, no rollback/);
  assert.doesNotMatch(lost.stdout, /::group::Prune/, 'the losing run prunes nothing');
  assert.ok(fs.existsSync(path.join(kudu.home, 'site/wwwroot/_target', wonName)), "the winner's artifact is still there");
  const entries = recordOn(kudu.home);
  assert.deepEqual(entries.map((e) => e.run.runId).sort(), ['100', '101', '102']);
  const lostEntry = entries.find((e) => e.artifact === lost.outputs['artifact-name']);
  assert.equal(lostEntry?.outcome, 'failed');
  assert.match(lostEntry?.detail ?? '', /switch refused/);
});

test('a rebuild of the same commit with another ldflags (same size) replaces the binary; a re-run of the same build skips the upload; include files count', { timeout: 400_000 }, async () => {
  const { kudu, app } = await kuduSite();
  const commit = newCommit();
  const name = `shop-${commit.slice(0, 10)}.exe`;
  const first = await deployTo(kudu, app, commit, '200', { ldflags: '-X main.version=flavor-a' });
  assert.equal(first.code, 0, log(first));
  assert.equal(first.outputs['artifact-name'], name);
  const second = await deployTo(kudu, app, commit, '201', { ldflags: '-X main.version=flavor-b' });
  assert.equal(second.code, 0, log(second));
  const site = (n: string): Buffer => fs.readFileSync(path.join(kudu.home, 'site/wwwroot/_target', n));
  assert.equal(fs.statSync(first.outputs['artifact-path']).size, fs.statSync(second.outputs['artifact-path']).size, 'PE padding: the same size');
  const live = second.outputs['artifact-name'];
  assert.match(live, new RegExp(`^shop-${commit.slice(0, 10)}-[0-9a-f]{6}\\.exe$`));
  assert.equal(artifactTxt(kudu.home), `_target\\${live}\r\n`);
  assert.deepEqual(site(live), fs.readFileSync(second.outputs['artifact-path']), 'the site runs the new build');

  const again = await deployTo(kudu, app, commit, '202', { ldflags: '-X main.version=flavor-b' });
  assert.equal(again.code, 0, log(again));
  assert.equal(again.outputs['artifact-name'], live);
  assert.match(again.stdout, /already on the site with the same content .*upload skipped/);

  fs.writeFileSync(path.join(app, 'static', 'app.css'), 'body { color: red; }\n');
  const css = await deployTo(kudu, app, commit, '203', { ldflags: '-X main.version=flavor-b' });
  assert.equal(css.code, 0, log(css));
  const cssName = css.outputs['artifact-name'];
  assert.notEqual(cssName, live, 'a changed include file is another build');
  assert.equal(fs.readFileSync(path.join(kudu.home, 'site/wwwroot/_target', cssName.replace('.exe', ''), 'static', 'app.css'), 'utf8'), 'body { color: red; }\n');
});

test('an older commit over a newer one is refused unless allow-older; Kudu lists every deploy', { timeout: 400_000 }, async () => {
  const { kudu, app } = await kuduSite();
  const [old, fresh] = [newCommit(), newCommit()];
  assert.equal((await deployTo(kudu, app, old, '300')).code, 0);
  assert.equal((await deployTo(kudu, app, fresh, '301')).code, 0);
  const rerun = await deployTo(kudu, app, old, '300');
  assert.equal(rerun.code, 1);
  assert.match(decodeURIComponent(rerun.errors.join('\n')), /Refusing to deploy commit .*older version.*allow-older: true; to go back to a version that served, use rollback: previous, or rollback: <version> to name one\./);
  assert.doesNotMatch(decodeURIComponent(rerun.errors.join('\n')), /rollback-to/, 'the input was renamed');
  assert.equal(artifactTxt(kudu.home), `_target\\shop-${fresh.slice(0, 10)}.exe\r\n`, 'nothing changed');
  const forced = await deployTo(kudu, app, old, '300', { 'allow-older': 'true' });
  assert.equal(forced.code, 0, log(forced));
  assert.equal(artifactTxt(kudu.home), `_target\\shop-${old.slice(0, 10)}.exe\r\n`);

  const auth = { Authorization: `Basic ${Buffer.from(`${kudu.userName}:${kudu.password}`).toString('base64')}` };
  const deployments = (await (await fetch(`${kudu.url}/api/deployments`, { headers: auth })).json()) as { id: string; message: string; author: string; active: boolean; status: number }[];
  assert.equal(deployments.length, 3, JSON.stringify(deployments));
  assert.match(deployments[0].message, new RegExp(`Deployed shop-${old.slice(0, 10)}\\.exe \\(commit ${old.slice(0, 10)}\\): switched`));
  assert.equal(deployments[0].author, 'actor300');
  assert.deepEqual(new Set(recordOn(kudu.home).map((e) => e.id)), new Set(deployments.map((d) => d.id)), 'one Kudu deployment per record entry');
});

// On the local App Service with Linux builds run by the shell launcher (the same flow under Wine
// takes minutes per deploy on two cores): the example app serves, the crashloop fixture exits.
async function appService(): Promise<AppService> {
  const s = await startAppService({ siteName: 'hist-site', env: { EXAMPLE_POLL_MS: '250' } });
  closers.push(() => s.close());
  return s;
}
function deploySite(s: AppService, commit: string, runId: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  return runAction({
    inputs: deployInputs(s, commit, { 'verify-timeout-seconds': '30', 'timeout-seconds': '240', ...extra }),
    env: { ...s.env, ...runEnv(commit, runId) },
    toolCache,
    cwd: repoRoot,
    // A private repository: the app log's tail is shown (src/site/golive.ts, repositoryIsPublic).
    event: { repository: { full_name: 'octo/shop', private: true, visibility: 'private' } },
  });
}
const crash = { 'working-directory': 'test/fixtures/crashloop', 'verify-timeout-seconds': '8' };

test('good E, crashing D (auto-rollback), good F, then rollback: true serves E; a named rollback that does not come up goes back', { timeout: 600_000 }, async () => {
  const s = await appService();
  const [e, d, f] = [newCommit(), newCommit(), newCommit()];
  const name = (c: string): string => `hist-site-${c.slice(0, 10)}`;
  assert.equal((await deploySite(s, e, '400')).code, 0);
  const crashed = await deploySite(s, d, '401', crash);
  assert.equal(crashed.code, 1, log(crashed));
  assert.match(crashed.stdout, /::group::App log\n(.|\n)*cannot open the database/, 'the log tail is in its own group');
  assert.doesNotMatch(decodeURIComponent(crashed.errors.join('\n')), /cannot open the database/, 'and not in the annotation');
  assert.equal((await deploySite(s, f, '402')).code, 0);

  const back = await deploySite(s, f, '403', { rollback: 'previous' });
  assert.equal(back.code, 0, log(back));
  assert.equal(back.outputs['artifact-name'], name(e));
  assert.equal(artifactTxt(s.home), `_target\\${name(e)}\r\n`);
  assert.match(await (await fetch(s.localAppUrl)).text(), new RegExp(e));

  const named = await deploySite(s, f, '404', { rollback: d.slice(0, 8) });
  assert.equal(named.code, 1, log(named));
  assert.match(decodeURIComponent(named.errors.join('\n')), new RegExp(`The rolled-back version did not come up: ${name(d)}.*\\n.*Rolled back: _artifact.txt names ${name(e)} again and it is serving`));
  assert.equal(artifactTxt(s.home), `_target\\${name(e)}\r\n`);
  assert.match(await (await fetch(s.localAppUrl)).text(), new RegExp(e));

  // A rollback refused before its switch leaves the identity key the running version read (goazure
  // reads it once, when it starts): a key it never read would hide which binary answers.
  const identity = (): string => fs.readFileSync(path.join(s.home, 'site/wwwroot/_identity.txt'), 'utf8');
  const key = identity();
  const refused = await deploySite(s, f, '405', { rollback: e.slice(0, 8) });
  assert.equal(refused.code, 1, log(refused));
  assert.match(decodeURIComponent(refused.errors.join('\n')), new RegExp(`rollback: ${name(e)} is already what site/wwwroot/_artifact.txt names`));
  assert.equal(identity(), key, 'the identity key is unchanged');

  const entries = recordOn(s.home).map((x) => [x.kind, x.artifact.slice(0, 20), x.outcome]);
  assert.deepEqual(entries, [
    ['deploy', name(e), 'verified'],
    ['deploy', name(d), 'rolled-back'],
    ['auto-rollback', name(e), 'verified'],
    ['deploy', name(f), 'verified'],
    ['rollback', name(e), 'verified'],
    ['rollback', name(d), 'rolled-back'],
    ['auto-rollback', name(e), 'verified'],
  ]);
});

test('the deadline keeps time for auto-rollback: a crashing version under a short timeout is rolled back, not left live', { timeout: 400_000 }, async () => {
  const s = await appService();
  const [good, bad] = [newCommit(), newCommit()];
  assert.equal((await deploySite(s, good, '500')).code, 0);
  // verify-timeout (120 s) is far beyond timeout: verify must stop early enough for the rollback.
  const run = await deploySite(s, bad, '501', { 'working-directory': 'test/fixtures/crashloop', 'verify-timeout-seconds': '120', 'timeout-seconds': '45' });
  assert.equal(run.code, 1, log(run));
  assert.match(run.stdout, /Verify waits at most \d+ s: the rest of timeout-seconds is kept for auto-rollback/);
  const error = decodeURIComponent(run.errors.join('\n'));
  assert.doesNotMatch(error, /took longer than timeout/, 'verify ended before the deadline');
  // After half a minute of crash-looping, HttpPlatformHandler's rapid-fails protection may still
  // answer 503 for the old version for a while: what counts is that _artifact.txt names it again.
  assert.match(error, new RegExp(`Rolled back(: _artifact.txt names| _artifact.txt to) hist-site-${good.slice(0, 10)}`));
  assert.equal(artifactTxt(s.home), `_target\\hist-site-${good.slice(0, 10)}\r\n`);
  assert.equal(recordOn(s.home).find((e) => e.artifact === `hist-site-${bad.slice(0, 10)}`)?.outcome, 'rolled-back');
});

test('"Re-run failed jobs" after an auto-rollback (same commit, same run, next attempt) deploys without allow-older; an older run re-run after it is refused, naming the deploy that is newer', { timeout: 600_000 }, async () => {
  const s = await appService();
  const [good, fixed] = [newCommit(), newCommit()];
  const name = (c: string): string => `hist-site-${c.slice(0, 10)}`;
  const health = { 'working-directory': 'test/fixtures/health', 'health-path': '/healthz' };
  const attempt = (commit: string, runId: string, n: string, extra: Record<string, string>): Promise<ActionRun> =>
    runAction({
      inputs: deployInputs(s, commit, { 'verify-timeout-seconds': '20', 'timeout-seconds': '240', ...health, ...extra }),
      env: { ...s.env, ...runEnv(commit, runId), GITHUB_RUN_ATTEMPT: n },
      toolCache,
      cwd: repoRoot,
    });
  assert.equal((await attempt(good, '700', '1', {})).code, 0);
  // The release fails its health gate (the site lacked what it needs) and is rolled back.
  const failed = await attempt(fixed, '701', '1', { ldflags: '-X main.healthStatus=500', 'verify-timeout-seconds': '8' });
  assert.equal(failed.code, 1, log(failed));
  assert.equal(artifactTxt(s.home), `_target\\${name(good)}\r\n`);
  // The site is fixed and the failed job re-run: same commit, same run id, attempt 2.
  const rerun = await attempt(fixed, '701', '2', {});
  assert.equal(rerun.code, 0, log(rerun));
  assert.doesNotMatch(log(rerun), /older version/);
  assert.match(artifactTxt(s.home), new RegExp(`^_target\\\\${name(fixed)}(-[0-9a-f]{6})?\\r\\n$`));
  // The real backwards case: the older run re-run now, after the newer one deployed.
  const old = await attempt(good, '700', '2', {});
  assert.equal(old.code, 1, log(old));
  assert.match(
    decodeURIComponent(old.errors.join('\n')),
    new RegExp(`Refusing to deploy commit ${good.slice(0, 10)}: it would take the site back to an older version\\. ${name(fixed)}(-[0-9a-f]{6})? \\(commit ${fixed.slice(0, 10)}\\) was deployed at .*, after commit ${good.slice(0, 10)} was deployed at`),
  );

  // The running app polls _artifact.txt (every 250 ms here), holding it open a moment each time:
  // Kudu's write meets it now and then with 409, as on App Service.
  const auth = { Authorization: `Basic ${Buffer.from(`${s.kudu.userName}:${s.kudu.password}`).toString('base64')}` };
  const content = fs.readFileSync(path.join(s.wwwroot, '_artifact.txt'));
  const statuses: number[] = [];
  // The app holds it about 5 ms of every 250 ms: keep writing (for at most 20 s) until a write met it.
  for (const until = Date.now() + 20_000; Date.now() < until && !(statuses.includes(409) && statuses.includes(204)); ) {
    const res = await fetch(`${s.localKuduUrl}/api/vfs/site/wwwroot/_artifact.txt`, { method: 'PUT', body: content, headers: { ...auth, 'If-Match': '*' } });
    statuses.push(res.status);
  }
  assert.ok(statuses.includes(409) && statuses.includes(204), `some writes met the app's reads: ${statuses.filter((x) => x === 409).length} of ${statuses.length}`);
});

test("the auto-rollback's write meets a reader holding _artifact.txt (409): it is tried again, and the release that failed is not left live", { timeout: 400_000 }, async () => {
  const s = await appService();
  const [good, bad] = [newCommit(), newCommit()];
  const name = (c: string): string => `hist-site-${c.slice(0, 10)}`;
  const health = { 'working-directory': 'test/fixtures/health', 'health-path': '/healthz' };
  assert.equal((await deploySite(s, good, '800', health)).code, 0);
  // The second write of _artifact.txt in the next run is the rollback's: the launcher, starting
  // the failed release again, holds the file for a second just then.
  s.kudu.fault({ route: '/api/vfs/site/wwwroot/_artifact.txt', method: 'PUT', skip: 1, hold: async () => s.kudu.holdOpen('site/wwwroot/_artifact.txt', 1000) });
  const run = await deploySite(s, bad, '801', { ...health, ldflags: '-X main.healthStatus=500', 'verify-timeout-seconds': '8' });
  assert.equal(run.code, 1, log(run));
  assert.match(run.stdout, /_artifact\.txt was briefly in use on the site \(Kudu answered 409 \d+ time\(s\)/);
  assert.match(decodeURIComponent(run.errors.join('\n')), new RegExp(`Rolled back: _artifact.txt names ${name(good)} again and it is serving`));
  assert.equal(artifactTxt(s.home), `_target\\${name(good)}\r\n`);
  assert.equal(recordOn(s.home).find((e) => e.artifact === name(bad))?.outcome, 'rolled-back');
});
