// A cancelled run, end to end: the action, run from its sources as a runner runs it, against the
// local App Service, is cancelled as GitHub's runner cancels a step (SIGINT, SIGTERM 7.5 s later,
// then the kill: sandbox/runner.ts, cancelAsGitHubDoes) at each stage of a deploy, and then its
// post entry runs as the runner runs it (STATE_* from the step's state file, the same inputs).
// Before the switch nothing on the site changes; after the switch and before verification the
// switch is undone; a verified version stays. One site serves all the cases in turn, each leaving
// it serving a verified version: Linux builds of test/fixtures/health through the shell launcher.

import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startAppService, deployInputs, identityHeaders, type AppService } from '../sandbox/appservice.ts';
import { seedToolCache } from '../sandbox/gomirror.ts';
import { cancelAsGitHubDoes, runAction, startAction, repoRoot, type ActionRun, type RunActionOptions } from '../sandbox/runner.ts';
import { startProcess } from '../sandbox/process.ts';
import { parseRecord, type DeployEntry } from '../src/site/record.ts';

const FIXTURE = 'test/fixtures/health';
const newCommit = (): string => randomBytes(20).toString('hex');
const stem = (commit: string): string => `cancel-site-${commit.slice(0, 10)}`;

let s: AppService;
/** The verified version the site serves before each case. */
let good = '';

function options(commit: string, extra: Record<string, string> = {}): RunActionOptions {
  return {
    inputs: deployInputs(s, commit, { 'working-directory': FIXTURE, 'health-path': '/healthz', 'verify-timeout-seconds': '60', 'timeout-seconds': '240', ...extra }),
    env: { ...s.env, GITHUB_SHA: commit, GITHUB_REPOSITORY: 'octo/shop', GITHUB_RUN_ID: '4242', GITHUB_RUN_ATTEMPT: '1' },
    toolCache: s.toolCache,
    cwd: repoRoot,
  };
}

/** The post entry of a step, run as the runner runs it: the same inputs, the step's state as STATE_*. */
function runPost(commit: string, main: ActionRun, extra: Record<string, string> = {}): Promise<ActionRun> {
  return runAction({ ...options(commit, extra), postState: main.state });
}

const artifactTxt = (): string => fs.readFileSync(path.join(s.wwwroot, '_artifact.txt'), 'utf8');
const names = (commit: string): string => `_target\\${stem(commit)}\r\n`;

function entriesFor(commit: string): DeployEntry[] {
  const { record } = parseRecord(fs.readFileSync(path.join(s.wwwroot, '_deploys.json'), 'utf8'));
  return record.entries.filter((e) => e.commit === commit);
}

/**
 * Identity keys the deploys of these tests wrote. A switch writes a new key first, and a process
 * reads it when it starts: a version that never stopped (a switch undone before it noticed) still
 * knows an earlier one, so each is tried.
 */
const identityKeys = new Set<string>();

function rememberIdentityKey(): void {
  const key = identityHeaders(s)['X-Goazure-Identity-Key'];
  if (key !== undefined) identityKeys.add(key);
}

/** The app's answer to /healthz, waiting up to `ms` for `artifact` to give it. */
async function servedBy(artifact: string, ms = 15_000): Promise<{ status: number; artifact: string | null }> {
  rememberIdentityKey();
  const until = Date.now() + ms;
  let last = { status: 0, artifact: null as string | null };
  while (Date.now() < until) {
    for (const key of [...identityKeys].reverse()) {
      // The identity goazure gives only to requests carrying the key on the site, as verify asks.
      const res = await fetch(`${s.localAppUrl}/healthz`, { headers: { 'X-Goazure-Identity-Key': key } }).catch(() => undefined);
      if (res === undefined) continue;
      await res.arrayBuffer();
      last = { status: res.status, artifact: res.headers.get('x-goazure-artifact') };
      if (last.artifact === artifact) return last;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return last;
}

/** A gate for a Kudu request: `reached` resolves when the request arrives, `release` lets it go on. */
function gate(): { hold: () => Promise<void>; reached: Promise<void>; release: () => void } {
  let onReached = (): void => {};
  let release = (): void => {};
  const reached = new Promise<void>((r) => (onReached = r));
  const released = new Promise<void>((r) => (release = r));
  return {
    hold: () => {
      onReached();
      return released;
    },
    reached,
    release,
  };
}

/** What the post entry says when the main step finished by itself. */
async function postDoesNothing(commit: string, main: ActionRun): Promise<void> {
  assert.equal(main.state.isPost, 'true', 'the main step saved isPost first');
  assert.equal(main.state.done, 'true', 'the main step finished and said so');
  const before = artifactTxt();
  const requests = s.kudu.requests.length;
  const post = await runPost(commit, main);
  assert.equal(post.code, 0, post.stdout + post.stderr);
  assert.match(post.stdout, /The deploy step finished: nothing to do\./);
  assert.equal(artifactTxt(), before);
  assert.equal(s.kudu.requests.length, requests, 'the post entry did not reach Kudu');
}

test('the sandbox cancels a step as the runner does: SIGINT, SIGTERM 7.5 s later, then the process tree killed 2.5 s after, children in other groups too', { timeout: 60_000 }, async () => {
  // A step that ignores both signals and started a child in a process group of its own.
  const script = `
    const { spawn } = require('node:child_process');
    const t0 = Date.now();
    for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => console.log(sig + ' ' + (Date.now() - t0)));
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { detached: true, stdio: 'ignore' });
    console.log('child ' + child.pid);
    setInterval(() => {}, 1000);`;
  const p = startProcess(process.execPath, ['-e', script], { timeoutMs: 60_000 });
  await p.waitForOutput(/child \d+\n/);
  const child = Number(/child (\d+)/.exec(p.output())?.[1]);
  const sent = await cancelAsGitHubDoes(p);
  const run = await p.done;
  assert.deepEqual(sent, ['SIGINT', 'SIGTERM', 'SIGKILL']);
  assert.equal(run.signal, 'SIGKILL');
  const at = (sig: string): number => Number(new RegExp(`${sig} (\\d+)`).exec(run.stdout)?.[1]);
  assert.ok(at('SIGTERM') - at('SIGINT') >= 7400, `SIGTERM came ${at('SIGTERM') - at('SIGINT')} ms after SIGINT:\n${run.stdout}`);
  // Killed: gone, or a zombie until whatever adopted it reaps it. SIGKILL is delivered
  // asynchronously: on a busy machine the child may still be scheduled for a moment after kill().
  const stateOf = (): string => {
    try {
      const stat = fs.readFileSync(`/proc/${child}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    } catch {
      return 'gone';
    }
  };
  let state = stateOf();
  for (const until = Date.now() + 3000; state !== 'gone' && state !== 'Z' && Date.now() < until; state = stateOf()) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(state === 'gone' || state === 'Z', `the child in its own group was killed with the step (state ${state})`);
});

before(async () => {
  s = await startAppService({ siteName: 'cancel-site' });
  seedToolCache(s.toolCache);
  good = newCommit();
  const first = await runAction(options(good));
  assert.equal(first.code, 0, first.stdout + first.stderr);
  rememberIdentityKey();
});

after(async () => {
  await s?.close();
});

test('cancelled during the build: the step stops at the SIGINT, nothing on the site changes, and the post entry has nothing to do', { timeout: 180_000 }, async () => {
  const commit = newCommit();
  const before = artifactTxt();
  const requests = s.kudu.requests.length;
  // An empty build cache, so the build compiles the standard library and is still running when cancelled.
  const opts = options(commit);
  const started = startAction({ ...opts, env: { ...opts.env, GOCACHE: fs.mkdtempSync(path.join(os.tmpdir(), 'gad-gocache-')) } });
  await started.process.waitForOutput(/::group::Build\n/);
  const sent = await cancelAsGitHubDoes(started.process);
  const run = await started.result;
  assert.deepEqual(sent, ['SIGINT'], 'it ended on the SIGINT, long before SIGTERM');
  assert.equal(run.signal, null, `the action ended by itself, not by the signal:\n${run.stdout}`);
  assert.equal(run.code, 1, run.stdout);
  assert.match(run.stdout, /Received SIGINT: the run was cancelled/);
  assert.match(run.stdout, /Build: failed in/);
  assert.match(run.stdout, /Cancelled before the switch: nothing on the site was changed\./);
  assert.match(decodeURIComponent(run.errors.join('\n')), /The run was cancelled \(SIGINT\)\. Cancelled before the switch: nothing on the site was changed\./);
  assert.match(run.summary, /go-azure-deploy: cancelled/);
  assert.equal(artifactTxt(), before);
  assert.equal(s.kudu.requests.length, requests, 'the site was never reached');
  assert.equal(run.state.switch ?? '', '', 'no switch was saved for the post entry');
  await postDoesNothing(commit, run);
});

test('cancelled during the upload: the held zip is abandoned, _artifact.txt is not touched, and the record only says the upload started', { timeout: 180_000 }, async () => {
  const commit = newCommit();
  const before = artifactTxt();
  const requests = s.kudu.requests.length;
  const zip = gate();
  s.kudu.fault({ route: '/api/zip/', method: 'PUT', hold: zip.hold });
  try {
    const started = startAction(options(commit));
    await zip.reached;
    const sent = await cancelAsGitHubDoes(started.process);
    const run = await started.result;
    assert.deepEqual(sent, ['SIGINT']);
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stdout, /Upload: failed in/);
    assert.match(run.stdout, /Cancelled before the switch: nothing on the site was changed\./);
    assert.equal(artifactTxt(), before);
    // The entry written before the first byte was sent (outcome uploading) vouches for no content:
    // the next run uploads again, and prune removes the name once it is no longer in flight.
    assert.deepEqual(entriesFor(commit).map((e) => e.outcome), ['uploading']);
    assert.ok(!s.kudu.requests.slice(requests).some((r) => r.method === 'PUT' && r.path.includes('_artifact.txt')), 'no switch');
    await postDoesNothing(commit, run);
  } finally {
    zip.release();
    s.kudu.clearFaults();
  }
});

test('killed during the upload (before the switch): the post entry changes nothing and says so', { timeout: 180_000 }, async () => {
  const commit = newCommit();
  const before = artifactTxt();
  const zip = gate();
  s.kudu.fault({ route: '/api/zip/', method: 'PUT', hold: zip.hold });
  try {
    const started = startAction(options(commit));
    await zip.reached;
    started.process.killTree();
    const run = await started.result;
    assert.equal(run.signal, 'SIGKILL');
    assert.equal(run.state.isPost, 'true');
    assert.equal(run.state.done, undefined);
    const requests = s.kudu.requests.length;
    const post = await runPost(commit, run);
    assert.equal(post.code, 0, post.stdout + post.stderr);
    assert.match(post.stdout, /The deploy step was stopped before it switched site\/wwwroot\/_artifact\.txt: nothing on the site was changed by it\./);
    assert.equal(s.kudu.requests.length, requests, 'the post entry did not reach Kudu');
    assert.equal(artifactTxt(), before);
  } finally {
    zip.release();
    s.kudu.clearFaults();
  }
});

test('cancelled after the switch while verify waits for a release that answers 500: switched back before SIGTERM, recorded as cancelled, and said so', { timeout: 240_000 }, async () => {
  const bad = newCommit();
  const started = startAction(options(bad, { ldflags: '-X main.healthStatus=500' }));
  await started.process.waitForOutput(/::group::Verify\n/);
  assert.equal(artifactTxt(), names(bad), 'switched to the release under test');
  const sent = await cancelAsGitHubDoes(started.process);
  const run = await started.result;
  assert.ok(!sent.includes('SIGKILL'), `it ended before the kill: ${sent.join(', ')}\n${run.stdout}`);
  assert.equal(run.code, 1, run.stdout);
  // The switch back is the first thing the cancel does, well within the 7.5 s before SIGTERM.
  const lines = run.stdout.split('\n');
  const cancelAt = lines.findIndex((l) => /Received SIGINT/.test(l));
  const backAt = lines.findIndex((l) => l.includes(`Switched: site/wwwroot/_artifact.txt now names _target\\${stem(good)}`));
  assert.ok(cancelAt >= 0 && backAt > cancelAt, run.stdout);
  assert.ok(!lines.slice(cancelAt, backAt).some((l) => /Received SIGTERM/.test(l)), 'switched back before SIGTERM');
  const line = `Cancelled after the switch: switched back to ${stem(good)} (${stem(bad)} was not verified)`;
  assert.ok(run.stdout.includes(line), run.stdout);
  assert.ok(run.summary.includes(line), run.summary);
  assert.match(run.summary, /go-azure-deploy: cancelled/);
  assert.equal(artifactTxt(), names(good));
  const answer = await servedBy(stem(good));
  assert.deepEqual(answer, { status: 200, artifact: stem(good) });
  const deploy = entriesFor(bad).find((e) => e.kind === 'deploy');
  assert.equal(deploy?.outcome, 'cancelled');
  assert.match(deploy?.detail ?? '', new RegExp(`switched back to ${stem(good)}`));
  assert.equal(run.state.switch, '', 'the switch back cleared what the post entry would undo');
  await postDoesNothing(bad, run);
});

test('killed right after the switch (no time to undo it): the post entry reads the saved switch, signs in again and switches back', { timeout: 240_000 }, async () => {
  const bad = newCommit();
  const started = startAction(options(bad, { ldflags: '-X main.healthStatus=500' }));
  await started.process.waitForOutput(/Switched: site\/wwwroot\/_artifact\.txt now names/);
  started.process.killTree();
  const run = await started.result;
  assert.equal(run.signal, 'SIGKILL');
  assert.equal(artifactTxt(), names(bad), 'the killed step left the unverified release live');
  assert.equal(run.state.isPost, 'true');
  assert.equal(run.state.done, undefined, 'the main step did not finish');
  const saved = JSON.parse(run.state.switch) as { artifact: string; previous: string; kuduUrl: string };
  assert.equal(saved.artifact, stem(bad));
  assert.equal(saved.previous, stem(good));
  // The state file is plain text on the runner, and the runner logs it: no credential in it.
  const stateText = fs.readFileSync(path.join(run.runnerTemp, 'github_state'), 'utf8');
  assert.ok(!stateText.includes(s.kudu.password), 'the publish profile password is not in the state file');
  assert.doesNotMatch(stateText, /userPWD|publishProfile|Authorization/i);

  const post = await runPost(bad, run);
  assert.equal(post.code, 0, post.stdout + post.stderr);
  assert.match(post.stdout, new RegExp(`stopped after it switched site/wwwroot/_artifact\\.txt to ${stem(bad)} and before it verified it: switching back to ${stem(good)}`));
  const line = `Cancelled after the switch: switched back to ${stem(good)} (${stem(bad)} was not verified)`;
  assert.ok(post.stdout.includes(line), post.stdout);
  assert.ok(post.summary.includes(line), post.summary);
  // ::add-mask:: is how it tells the runner to hide the secret; the runner never prints that line.
  const printed = (post.stdout + post.stderr).split('\n').filter((l) => !l.startsWith('::add-mask::'));
  assert.ok(!printed.some((l) => l.includes(s.kudu.password)), 'no secret printed');
  assert.equal(artifactTxt(), names(good));
  assert.deepEqual(await servedBy(stem(good)), { status: 200, artifact: stem(good) });
  assert.equal(entriesFor(bad).find((e) => e.kind === 'deploy')?.outcome, 'cancelled');
  // Run again (a runner never does), the post finds nothing of this run's to undo.
  const again = await runPost(bad, run);
  assert.equal(again.code, 0, again.stdout);
  assert.match(again.stdout, /this run had already switched back|nothing to switch back/);
  assert.equal(artifactTxt(), names(good));
});

test('the deadline takes the same way back: a Kudu request that hangs in verify until timeout fires, and the unverified switch is undone as auto-rollback', { timeout: 240_000 }, async () => {
  const slow = newCommit();
  const processes = gate();
  s.kudu.fault({ route: '/api/processes', method: 'GET', hold: processes.hold });
  try {
    const run = await runAction(options(slow, { 'timeout-seconds': '30' }));
    assert.equal(run.code, 1, run.stdout);
    const error = decodeURIComponent(run.errors.join('\n'));
    assert.match(error, /The deploy took longer than timeout-seconds \(30 s\) and was stopped during Verify/);
    assert.match(error, new RegExp(`It had switched to ${stem(slow)} without verifying it; auto-rollback within a 30 s grace period: rolled back: _artifact.txt names ${stem(good)} again and it is serving`));
    assert.equal(artifactTxt(), names(good));
    assert.equal(entriesFor(slow).find((e) => e.kind === 'deploy')?.outcome, 'rolled-back', 'the deadline is not a cancel');
    assert.equal(run.state.switch, '', 'nothing left for the post entry');
  } finally {
    processes.release();
    s.kudu.clearFaults();
  }
});

test('cancelled after verification: the verified release stays live, the record says verified, and the post entry has nothing to do', { timeout: 240_000 }, async () => {
  const next = newCommit();
  // Kudu's deployment history is written after verify passed: hold it there.
  const history = gate();
  s.kudu.fault({ route: '/api/deployments/', method: 'PUT', hold: history.hold });
  try {
    const started = startAction(options(next));
    await history.reached;
    assert.match(started.process.output(), new RegExp(`${stem(next)} is healthy`));
    const sent = await cancelAsGitHubDoes(started.process);
    const run = await started.result;
    assert.deepEqual(sent, ['SIGINT']);
    assert.equal(run.code, 1, run.stdout);
    assert.ok(run.stdout.includes(`Cancelled after ${stem(next)} was verified: ${stem(next)} stays live; nothing was undone.`), run.stdout);
    assert.equal(artifactTxt(), names(next));
    assert.equal(entriesFor(next).find((e) => e.kind === 'deploy')?.outcome, 'verified');
    assert.equal(run.state.switch, '', 'verification cleared the switch the post entry would undo');
    await postDoesNothing(next, run);
    rememberIdentityKey();
    good = next;
  } finally {
    history.release();
    s.kudu.clearFaults();
  }
});
