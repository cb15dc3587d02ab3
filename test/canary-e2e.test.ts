// A canary release end to end: the action, run as a runner runs it and signed in with Entra ID,
// deploys test/fixtures/health to the sandbox's scaled-out site (two instances on one D:\home
// behind the ARR front end, routing by ARRAffinity; ARM lists the instances). Most of it is Linux
// builds through the shell launcher (sandbox/go-azure.sh, which reads the instance's own pointer
// as templates/go-azure.bat does); one case runs windows/amd64 builds through the real
// go-azure.bat under Wine on each instance.

import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { linuxBuildInputs, type AppService } from '../sandbox/appservice.ts';
import { startScaledSite } from '../sandbox/scaled.ts';
import { wineAvailable } from '../sandbox/wine.ts';
import { cancelAsGitHubDoes, repoRoot, startAction, type ActionRun, type RunActionOptions } from '../sandbox/runner.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const FIXTURE = 'test/fixtures/health';
/** The sign-in inputs of the site scaledSite started last. */
let signIn: Record<string, string> = {};
// App Service's instance ids are 64 hexadecimal digits; the canary is the first in order.
const CANARY = '4f2a9c0e1b3d5f7a9c0e1b3d5f7a9c0e1b3d5f7a9c0e1b3d5f7a9c0e1b3d5f7a';
const OTHER = 'b81c3e5a7092b4d6f81c3e5a7092b4d6f81c3e5a7092b4d6f81c3e5a7092b4d6';
const newCommit = (): string => randomBytes(20).toString('hex');
const stem = (commit: string): string => `scaled-${commit.slice(0, 10)}`;

async function scaledSite(launcher?: 'wine', instances = [OTHER, CANARY]): Promise<AppService> {
  const scaled = await startScaledSite({ instances, launcher });
  cleanups.push(() => scaled.close());
  signIn = scaled.signIn;
  return scaled.site;
}

function options(s: AppService, commit: string, extra: Record<string, string> = {}): RunActionOptions {
  return {
    inputs: {
      'app-name': 'scaled',
      ...signIn,
      ...linuxBuildInputs(FIXTURE),
      commit,
      'verify-timeout-seconds': '20',
      'timeout-seconds': '240',
      canary: 'true',
      'canary-seconds': '3',
      ...extra,
    },
    env: { ...s.env, GITHUB_SHA: commit },
    toolCache: s.toolCache,
    cwd: repoRoot,
  };
}

const deploy = (s: AppService, commit: string, extra: Record<string, string> = {}): Promise<ActionRun> => startAction(options(s, commit, extra)).result;

const pointers = (s: AppService): string[] => fs.readdirSync(s.wwwroot).filter((f) => /^_artifact\..+\.txt$/i.test(f));
const artifactTxt = (s: AppService): string => fs.readFileSync(path.join(s.wwwroot, '_artifact.txt'), 'utf8');
const running = (s: AppService, id: string): string[] => s.instances.find((i) => i.id === id)!.iis.processes().map((p) => p.name);

/**
 * A user pinned to one instance by its ARRAffinity cookie, asking for / every 20 ms until stopped:
 * the status of every answer, and the processes the instance ran meanwhile.
 */
function loadOn(s: AppService, id: string): { stop: () => Promise<{ statuses: number[]; ran: Set<string> }> } {
  const statuses: number[] = [];
  const ran = new Set<string>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const res = await fetch(`${s.localAppUrl}/`, { headers: { cookie: `ARRAffinity=${id}` } });
        await res.arrayBuffer();
        statuses.push(res.status);
      } catch {
        statuses.push(0);
      }
      for (const name of running(s, id)) ran.add(name);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return { statuses, ran };
    },
  };
}

test('canary on a scaled-out site with Entra ID: a good release goes canary → all; one that fails 20 % of / is stopped on the canary alone; a cancel leaves no pointer', { timeout: 600_000 }, async () => {
  const s = await scaledSite();

  // A first deploy has no previous version to keep on the other instances: deployed as usual.
  const first = newCommit();
  const one = await deploy(s, first);
  assert.equal(one.code, 0, one.stdout + one.stderr);
  assert.match(one.stdout, /canary: first deploy: there is no previous version to keep on the other instances; deploying to every instance at once\./);
  assert.match(one.summary, /Canary<\/td><td>not run: first deploy/);

  // A site whose launcher is release 1.0.0's, which reads _artifact.txt alone: refused before
  // anything changes.
  const launcher = path.join(s.wwwroot, 'go-azure.bat');
  const current = fs.readFileSync(launcher);
  fs.copyFileSync(path.join(repoRoot, 'test/fixtures/compat/go-azure-v1.0.0.bat'), launcher);
  const refused = await deploy(s, newCommit());
  fs.writeFileSync(launcher, current);
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(
    decodeURIComponent(refused.errors.join('\n')),
    new RegExp(`canary: site/wwwroot/go-azure\\.bat is not this version's launcher, so it may not read an instance's own pointer .*Nothing on the site was changed; site/wwwroot/_artifact\\.txt still names ${stem(first)}\\.`),
  );
  assert.deepEqual(pointers(s), []);

  // A good release: on the canary first, then on every instance.
  const good = newCommit();
  const run = await deploy(s, good);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, new RegExp(`canary: instance ${CANARY} runs ${stem(good)} \\(site/wwwroot/_artifact\\.${CANARY}\\.txt\\); the other 1 keep ${stem(first)}\\.`));
  assert.match(run.stdout, new RegExp(`${stem(good)} stayed healthy through the 3 s watch window`));
  assert.match(run.stdout, /canary: passed after [\d.]+ s; site\/wwwroot\/_artifact\.txt names/);
  assert.match(run.stdout, /is healthy \(\/healthz answered 200-299 3 times in a row\) on all 2 instances/);
  // The canary ran before the switch of _artifact.txt, the gate on every instance after it.
  const order = ['::group::Canary watch', '::group::Switch', '::group::Verify'].map((g) => run.stdout.indexOf(g));
  assert.ok(order[0] >= 0 && order[0] < order[1] && order[1] < order[2], `stage order ${order.join(', ')}`);
  assert.match(run.summary, new RegExp(`Canary instance</td><td>${CANARY}`));
  assert.match(run.summary, /Canary served<\/td><td>\d+ requests, 0 5xx/);
  assert.match(run.summary, /Rest of the instances followed<\/td><td>[\d.]+ s after the canary started/);
  assert.deepEqual(pointers(s), [], 'the promotion removed the pointer');
  assert.equal(artifactTxt(s), `_target\\${stem(good)}\r\n`);
  for (const id of [CANARY, OTHER]) assert.deepEqual(running(s, id), [stem(good)]);

  // A release whose / answers 500 to one request in five, under traffic on both instances.
  const bad = newCommit();
  const onCanary = loadOn(s, CANARY);
  const onOther = loadOn(s, OTHER);
  const identity = (): string => fs.readFileSync(path.join(s.wwwroot, '_identity.txt'), 'utf8');
  const keyOfGood = identity();
  const failed = await deploy(s, bad, { ldflags: '-X main.failEvery=5', 'canary-seconds': '60' });
  const canaryLoad = await onCanary.stop();
  const otherLoad = await onOther.stop();
  assert.equal(failed.code, 1, failed.stdout);
  const error = decodeURIComponent(failed.errors.join('\n'));
  assert.match(error, new RegExp(`The canary failed on instance ${CANARY} after [\\d.]+ s: its 5xx rate was [\\d.]+ % \\(\\d+ of \\d+ requests\\) against 0\\.0 % on the other instances`));
  assert.match(error, new RegExp(`Removed site/wwwroot/_artifact\\.${CANARY}\\.txt: instance ${CANARY} serves ${stem(good)} again`));
  assert.match(error, new RegExp(`The other instances never ran ${stem(bad)}`));
  // It was stopped early, long before the 60 s window's end.
  const ranFor = Number(new RegExp(`The canary failed on instance ${CANARY} after ([\\d.]+) s`).exec(error)?.[1]);
  assert.ok(ranFor < 30, `the canary ran ${ranFor} s`);
  assert.ok(failed.stdout.indexOf('::group::Switch') < 0, 'no switch of _artifact.txt');
  assert.ok(canaryLoad.statuses.includes(500), 'the canary served the bad release to its users');
  assert.ok(canaryLoad.ran.has(stem(bad)));
  assert.ok(otherLoad.statuses.length > 20, `the other instance was under load (${otherLoad.statuses.length} requests)`);
  assert.deepEqual([...new Set(otherLoad.statuses)], [200], 'the other instance answered every request well');
  assert.ok(!otherLoad.ran.has(stem(bad)), `the other instance never ran ${stem(bad)}: ${[...otherLoad.ran].join(', ')}`);
  assert.deepEqual(pointers(s), []);
  assert.equal(artifactTxt(s), `_target\\${stem(good)}\r\n`);
  for (const id of [CANARY, OTHER]) assert.deepEqual(running(s, id), [stem(good)]);
  assert.match(failed.summary, /Canary outcome<\/td><td>failed: its 5xx rate/);
  // The other instance never restarted: the key it read, which goazure reads once, is the site's again.
  assert.equal(identity(), keyOfGood, 'the identity key the running version read is back');

  // Cancelled in the canary window: the pointer is removed before the runner's SIGTERM.
  const cancelled = newCommit();
  const keyBeforeCancel = identity();
  const started = startAction(options(s, cancelled, { 'canary-seconds': '120' }));
  await started.process.waitForOutput(/::group::Canary watch\n/);
  assert.deepEqual(pointers(s), [`_artifact.${CANARY}.txt`]);
  const sent = await cancelAsGitHubDoes(started.process);
  const c = await started.result;
  assert.ok(!sent.includes('SIGTERM'), `it ended on SIGINT: ${sent.join(', ')}\n${c.stdout}`);
  assert.equal(c.code, 1, c.stdout);
  assert.ok(c.stdout.includes(`Cancelled during the canary: removed site/wwwroot/_artifact.${CANARY}.txt, so instance ${CANARY} runs ${stem(good)} again`), c.stdout);
  assert.deepEqual(pointers(s), [], 'no pointer is left behind');
  assert.equal(artifactTxt(s), `_target\\${stem(good)}\r\n`);
  assert.equal(identity(), keyBeforeCancel, 'the identity key the running version read is back');

  // Killed during the canary (no time to undo it): the post entry removes the pointer from the
  // state the step saved.
  const killed = newCommit();
  const dying = startAction(options(s, killed, { 'canary-seconds': '120' }));
  await dying.process.waitForOutput(/::group::Canary watch\n/);
  dying.process.killTree();
  const k = await dying.result;
  assert.equal(k.signal, 'SIGKILL');
  assert.deepEqual(pointers(s), [`_artifact.${CANARY}.txt`], 'the killed step left its pointer');
  const post = await startAction({ ...options(s, killed, { 'canary-seconds': '120' }), postState: k.state }).result;
  assert.equal(post.code, 0, post.stdout + post.stderr);
  assert.match(post.stdout, new RegExp(`The deploy step was stopped during the canary of ${stem(killed)} on instance ${CANARY}: removing that instance's own pointer\\.`));
  assert.ok(post.stdout.includes(`Cancelled during the canary: removed site/wwwroot/_artifact.${CANARY}.txt, so instance ${CANARY} runs ${stem(good)} again`), post.stdout);
  assert.deepEqual(pointers(s), []);
  assert.equal(artifactTxt(s), `_target\\${stem(good)}\r\n`);

  // A pointer left by a run that was killed outright is removed by the next deploy, which says so.
  fs.writeFileSync(path.join(s.wwwroot, `_artifact.${CANARY}.txt`), `_target\\${stem(cancelled)}\r\n`);
  const next = newCommit();
  const cleaned = await deploy(s, next, { canary: 'false' });
  assert.equal(cleaned.code, 0, cleaned.stdout + cleaned.stderr);
  assert.match(cleaned.stdout, new RegExp(`::warning::Removed site/wwwroot/_artifact\\.${CANARY}\\.txt, an instance's own pointer a canary release left behind \\(it named _target\\\\${stem(cancelled)}\\)`));
  assert.deepEqual(pointers(s), []);
  for (const id of [CANARY, OTHER]) assert.deepEqual(running(s, id), [stem(next)]);

  // A running version that links goazure as release 1.0.0 shipped it ignores an instance's own
  // pointer: the canary is refused before anything changes.
  const old = newCommit();
  const compat = await deploy(s, old, { canary: 'false', 'working-directory': 'test/fixtures/compat/app', 'health-path': '/' });
  assert.equal(compat.code, 0, compat.stdout + compat.stderr);
  const notOnOld = await deploy(s, newCommit());
  assert.equal(notOnOld.code, 1, notOnOld.stdout);
  assert.match(
    decodeURIComponent(notOnOld.errors.join('\n')),
    new RegExp(`canary: the version running now on instance ${CANARY} does not say it reads an instance's own pointer .*it links a goazure release from before canary support, or none.*Nothing on the site was changed`),
  );
  assert.deepEqual(pointers(s), []);
  assert.equal(artifactTxt(s), `_target\\${stem(old)}\r\n`);
});

test('under Wine (windows/amd64, the real go-azure.bat on each instance): the launcher starts the canary from its own pointer, then the release goes to every instance', { timeout: 600_000, skip: wineAvailable() ? false : 'wine is not installed (.ci/run installs it)' }, async () => {
  const s = await scaledSite('wine');
  const windows = { goos: 'windows', goarch: 'amd64', 'verify-timeout-seconds': '90' };
  const exe = (commit: string): string => `${stem(commit)}.exe`;
  const first = newCommit();
  const one = await deploy(s, first, windows);
  assert.equal(one.code, 0, one.stdout + one.stderr);
  const good = newCommit();
  const started = startAction(options(s, good, { ...windows, 'canary-seconds': '5' }));
  // During the window the canary instance runs the new binary, which its launcher started from
  // the instance's own pointer, and the other one the previous binary.
  await started.process.waitForOutput(/::group::Canary watch\n/);
  assert.deepEqual(pointers(s), [`_artifact.${CANARY}.txt`]);
  assert.deepEqual(running(s, CANARY), [stem(good)]);
  assert.deepEqual(running(s, OTHER), [stem(first)]);
  const run = await started.result;
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, new RegExp(`canary: passed after [\\d.]+ s; site/wwwroot/_artifact\\.txt names ${exe(good).replace('.', '\\.')}`));
  assert.deepEqual(pointers(s), []);
  assert.equal(artifactTxt(s), `_target\\${exe(good)}\r\n`);
  for (const id of [CANARY, OTHER]) assert.deepEqual(running(s, id), [stem(good)]);
});

test('canary on a site with one instance says so and deploys as usual', { timeout: 300_000 }, async () => {
  const s = await scaledSite(undefined, [CANARY]);
  assert.equal((await deploy(s, newCommit(), { canary: 'false' })).code, 0);
  const commit = newCommit();
  const run = await deploy(s, commit);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /canary: the site runs on one instance, so there is no other instance to keep on the previous version; deploying as usual\./);
  assert.doesNotMatch(run.stdout, /::group::Canary/);
  assert.match(run.summary, /Canary<\/td><td>not run: the site runs on one instance/);
  assert.equal(artifactTxt(s), `_target\\${stem(commit)}\r\n`);
});

test('the deadline between the promotion and the pointer\'s removal: the promotion\'s switch is undone too, and no pointer is left', { timeout: 400_000 }, async () => {
  const s = await scaledSite();
  const good = newCommit();
  assert.equal((await deploy(s, good, { canary: 'false' })).code, 0);
  // The promotion's removal of the canary's pointer hangs until the deadline has fired.
  let release = (): void => {};
  const released = new Promise<void>((r) => (release = r));
  s.kudu.fault({ route: `/api/vfs/site/wwwroot/_artifact.${CANARY}.txt`, method: 'DELETE', hold: () => released });
  try {
    const late = newCommit();
    const run = await deploy(s, late, { 'timeout-seconds': '100' });
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stdout, /::group::Switch\n/, 'the deadline came after the promotion\'s switch');
    const error = decodeURIComponent(run.errors.join('\n'));
    assert.match(error, /The deploy took longer than timeout-seconds \(100 s\)/);
    assert.match(error, new RegExp(`auto-rollback within a 30 s grace period: rolled back: _artifact.txt names ${stem(good)} again`));
    assert.equal(artifactTxt(s), `_target\\${stem(good)}\r\n`, 'the unpromoted release is not left live on every instance');
    assert.deepEqual(pointers(s), []);
    assert.equal(run.state.switch, '', 'nothing left for the post entry');
  } finally {
    release();
    s.kudu.clearFaults();
  }
});
