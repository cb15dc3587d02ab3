// The deploy record: its pure logic (bound, queries, naming by content, the verify budget), its
// compare-and-swap writes against the Kudu emulator with many writers at once, and the emulator's
// deployments API and Range answers that the action relies on.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  RECORD_LIMIT, appendEntry, chooseArtifactName, choosePackagedName, knownContent, emptyRecord, formatRecord, goingBackwards, inFlight, parseRecord,
  resolveNamedVersion, rollbackCandidates, withContentSuffix, whoSwitchedTo, kuduDeployment, type DeployEntry, type DeployRecord, type Outcome,
} from '../src/site/record.ts';
import { changeRecord, readRecord, RecordWriter } from '../src/site/history.ts';
import { Release } from '../src/site/release.ts';
import type { SiteState } from '../src/context.ts';
import { rollbackReserveSeconds, verifyBudgetSeconds } from '../src/common/deadline.ts';
import { startKudu, type KuduEmulator } from '../sandbox/kudu.ts';
import { captureStdout, clientFor } from '../sandbox/fixture.ts';

const never = new AbortController().signal;
const emulators: KuduEmulator[] = [];
after(async () => {
  await Promise.all(emulators.map((k) => k.close()));
});

let clock = Date.parse('2025-01-01T00:00:00Z');
function entry(artifact: string, outcome: Outcome, extra: Partial<DeployEntry> = {}): DeployEntry {
  clock += 60_000;
  return {
    id: `e${clock}`,
    kind: 'deploy',
    artifact,
    content: `${artifact}-content`,
    commit: artifact.replace(/^site-|\.exe$/g, '').padEnd(40, '0'),
    from: '',
    run: { repository: 'octo/shop', runId: String(clock / 1000), runAttempt: '1', actor: 'alice' },
    at: new Date(clock).toISOString(),
    outcome,
    ...extra,
  };
}
const recordOf = (...entries: DeployEntry[]): DeployRecord => entries.reduce((r, e) => appendEntry(r, e), emptyRecord());

test(`the record keeps the newest ${RECORD_LIMIT} entries and survives a round trip`, () => {
  let r = emptyRecord();
  for (let i = 0; i < RECORD_LIMIT + 7; i++) r = appendEntry(r, entry(`site-${String(i).padStart(10, '0')}.exe`, 'verified'));
  assert.equal(r.entries.length, RECORD_LIMIT);
  assert.equal(r.entries[0].artifact, 'site-0000000007.exe');
  const text = formatRecord(r);
  assert.deepEqual(parseRecord(text).record, r);
  assert.ok(Buffer.byteLength(text) < 32 * 1024, `50 entries stay small (${Buffer.byteLength(text)} bytes)`);
});

test('a damaged record reads as empty with a problem, never an exception', () => {
  assert.match(parseRecord('{"entries": [').problem ?? '', /not JSON/);
  assert.match(parseRecord('[]').problem ?? '', /no "entries"/);
  const partly = parseRecord(JSON.stringify({ version: 1, entries: [entry('site-a.exe', 'verified'), { id: 1 }] }));
  assert.equal(partly.record.entries.length, 1);
  assert.match(partly.problem ?? '', /1 entr/);
});

test('rollback candidates: verified versions before the live one, never one that was rolled back', () => {
  // good E, crashing D (auto-rollback to E), good F: from F, rollback goes to E, not D.
  const r = recordOf(
    entry('site-e.exe', 'verified'),
    entry('site-d.exe', 'rolled-back', { from: 'site-e.exe' }),
    entry('site-e.exe', 'verified', { kind: 'auto-rollback' }),
    entry('site-f.exe', 'verified', { from: 'site-e.exe' }),
  );
  assert.deepEqual(rollbackCandidates(r, 'site-f.exe').map((c) => c.artifact), ['site-e.exe']);
  // After rolling back to E, another rollback goes further back, not forward to F.
  const after = appendEntry(r, entry('site-e.exe', 'verified', { kind: 'rollback', from: 'site-f.exe' }));
  assert.deepEqual(rollbackCandidates(after, 'site-e.exe'), []);
  // With verify off nothing is verified: switched versions count, those that failed never.
  const unverified = recordOf(entry('site-a.exe', 'switched'), entry('site-b.exe', 'failed'), entry('site-c.exe', 'switched'));
  assert.deepEqual(rollbackCandidates(unverified, 'site-c.exe'), [{ artifact: 'site-a.exe', verified: false }]);
});

test('rollback-to finds a version by artifact name (with or without .exe) or commit prefix', () => {
  const r = recordOf(entry('site-aaaaaaaaaa.exe', 'verified'), entry('site-bbbbbbbbbb.exe', 'failed'), entry('site-aaaaaaaaaa-123456.exe', 'rolled-back'));
  assert.equal(resolveNamedVersion(r, 'site-bbbbbbbbbb')?.artifact, 'site-bbbbbbbbbb.exe');
  assert.equal(resolveNamedVersion(r, 'SITE-BBBBBBBBBB.EXE')?.artifact, 'site-bbbbbbbbbb.exe');
  assert.equal(resolveNamedVersion(r, 'aaaaaaa')?.artifact, 'site-aaaaaaaaaa.exe', 'the verified build of the commit');
  assert.equal(resolveNamedVersion(r, 'abc'), undefined, 'too short for a commit');
  assert.equal(resolveNamedVersion(r, 'cccccccc'), undefined);
});

test('going backwards: the live version was deployed after this commit was, or by a later run', () => {
  const a = entry('site-aaaaaaaaaa.exe', 'verified');
  const b = entry('site-bbbbbbbbbb.exe', 'verified');
  const r = recordOf(a, b);
  const runOf = (runId: string) => ({ repository: 'octo/shop', runId, runAttempt: '2', actor: 'bob' });
  assert.match(goingBackwards(r, b.artifact, a.commit, runOf('1')) ?? '', /was deployed at .* after commit aaaaaaaaaa/);
  assert.match(goingBackwards(r, b.artifact, 'c'.repeat(40), runOf('1')) ?? '', /deployed by run \d+, which started after this run \(1\)/);
  assert.equal(goingBackwards(r, b.artifact, 'c'.repeat(40), runOf('99999999999')), undefined, 'a newer run with a new commit');
  assert.equal(goingBackwards(r, b.artifact, b.commit, runOf('1')), undefined, 'the same commit again');
  assert.equal(goingBackwards(r, 'site-unknown.exe', a.commit, runOf('1')), undefined, 'no record of the live version');
  assert.equal(goingBackwards(emptyRecord(), '', a.commit, runOf('1')), undefined);
});

test('going backwards: a rollback, an auto-rollback or a cancel does not make the version it went back to newer; a re-run of the failed deploy goes forward', () => {
  const runOf = (runId: string, attempt = '2') => ({ repository: 'octo/shop', runId, runAttempt: attempt, actor: 'bob' });
  const older = entry('site-0000000000.exe', 'verified');
  // E served; D (a later run) failed its health gate and was rolled back to E by that run.
  const e = entry('site-eeeeeeeeee.exe', 'verified');
  const d = entry('site-dddddddddd.exe', 'rolled-back', { from: e.artifact });
  const back = entry(e.artifact, 'verified', { kind: 'auto-rollback', commit: e.commit, from: d.artifact, run: d.run });
  const r = recordOf(e, d, back);
  assert.equal(goingBackwards(r, e.artifact, d.commit, runOf(d.run.runId)), undefined, 're-running the failed run (next attempt)');
  assert.equal(goingBackwards(r, e.artifact, d.commit, runOf('99999999999', '1')), undefined, 'a new run of the failed commit');
  // The same after a manual rollback by a later run, and after a cancel.
  const manual = recordOf(e, entry(d.artifact, 'verified', { commit: d.commit, from: e.artifact }), entry(e.artifact, 'verified', { kind: 'rollback', commit: e.commit, from: d.artifact, run: runOf('99999999999', '1') }));
  assert.equal(goingBackwards(manual, e.artifact, d.commit, runOf(d.run.runId)), undefined, 're-running the run whose version was rolled back by hand');
  const cancelled = recordOf(e, entry(d.artifact, 'cancelled', { commit: d.commit, from: e.artifact }));
  const cancelledRun = cancelled.entries[1].run.runId;
  assert.equal(goingBackwards(cancelled, e.artifact, d.commit, runOf(cancelledRun)), undefined, 're-running a cancelled deploy');
  // The real backwards case keeps its message, naming the deploy of the live version, not the
  // auto-rollback that went back to it: an older run re-run after a newer one deployed.
  const withOlder = recordOf(older, e, d, back);
  assert.match(
    goingBackwards(withOlder, e.artifact, older.commit, runOf(older.run.runId)) ?? '',
    new RegExp(`site-eeeeeeeeee\\.exe \\(commit eeeeeeeeee\\) was deployed at ${e.at.replace(/\./g, '\\.')}, after commit 0000000000 was deployed at`),
  );
  assert.match(goingBackwards(recordOf(e, d, back), e.artifact, 'c'.repeat(40), runOf('1')) ?? '', new RegExp(`deployed by run ${e.run.runId}, which started after this run \\(1\\)`));
});

test('the name follows the content: the same build reuses its name, another build of the commit gets a suffix', () => {
  const base = 'site-0123456789.exe';
  const c1 = 'a'.repeat(64);
  const c2 = 'b'.repeat(64);
  const onSite = new Set<string>();
  const present = (n: string): boolean => onSite.has(n);
  assert.deepEqual(chooseArtifactName(emptyRecord(), present, base, c1).name, base);
  onSite.add(base);
  const r = recordOf(entry(base, 'verified', { content: c1 }));
  assert.deepEqual(chooseArtifactName(r, present, base, c1), { name: base, upload: false, reason: `${base} is already on the site with the same content (sha256 ${c1.slice(0, 12)}…)` });
  const other = chooseArtifactName(r, present, base, c2);
  assert.equal(other.name, 'site-0123456789-bbbbbb.exe');
  assert.equal(other.upload, true);
  assert.equal(chooseArtifactName(emptyRecord(), present, base, c1).upload, true, 'unknown content on the site is never taken for ours');
  assert.equal(withContentSuffix('site-0123456789', c2), 'site-0123456789-bbbbbb', 'no .exe for other targets');
});

test('a cancelled deploy is never a version to go back to, nor in flight, and Kudu shows it failed; it did name the file for a while', () => {
  // B went live with verify off, then a later run of B was cancelled before B was verified.
  const r = recordOf(
    entry('site-a.exe', 'switched'),
    entry('site-b.exe', 'switched', { from: 'site-a.exe' }),
    entry('site-b.exe', 'cancelled', { from: 'site-a.exe', detail: 'cancelled before it was verified; switched back to site-a.exe' }),
    entry('site-c.exe', 'switched', { from: 'site-a.exe' }),
  );
  assert.deepEqual(rollbackCandidates(r, 'site-c.exe'), [{ artifact: 'site-a.exe', verified: false }]);
  const cancelled = recordOf(entry('site-x.exe', 'verified'), entry('site-y.exe', 'cancelled', { from: 'site-x.exe' }));
  assert.deepEqual(inFlight(cancelled, clock + 60_000), [], 'prune may remove a cancelled upload');
  assert.equal(whoSwitchedTo(cancelled, 'site-y.exe')?.outcome, 'cancelled', 'a cancel whose switch back failed leaves its version named: the record says who put it there');
  const kudu = kuduDeployment(cancelled.entries[1], '');
  assert.equal(kudu.status, 3);
  assert.equal(kudu.active, false);
  assert.match(String(kudu.message), /site-y\.exe .*: cancelled before it was verified/);
});

test('in-flight uploads of the last hour are protected from prune', () => {
  const now = clock + 60_000;
  const r = recordOf(entry('site-old.exe', 'uploaded', { at: new Date(now - 7_200_000).toISOString() }), entry('site-new.exe', 'uploaded'), entry('site-done.exe', 'verified'));
  assert.deepEqual(inFlight(r, now), ['site-new.exe']);
});

test('with verify off every entry stays switched: only the newest switch, and uploads not switched yet, are in flight', () => {
  const now = clock + 600_000;
  // Four deploys with verify off in the last hour, then another run's upload under way.
  const r = recordOf(
    entry('site-a.exe', 'switched'),
    entry('site-b.exe', 'switched'),
    entry('site-c.exe', 'switched'),
    entry('site-d.exe', 'switched'),
    entry('site-e.exe', 'uploading'),
  );
  assert.deepEqual(inFlight(r, now), ['site-d.exe', 'site-e.exe']);
  // A switched entry is superseded by a later verified deploy and by an auto-rollback, whatever its outcome.
  assert.deepEqual(inFlight(recordOf(entry('site-f.exe', 'switched'), entry('site-g.exe', 'verified')), now), []);
  assert.deepEqual(inFlight(recordOf(entry('site-h.exe', 'switched'), entry('site-i.exe', 'failed', { kind: 'auto-rollback' })), now), []);
  // A failed switch supersedes nothing.
  assert.deepEqual(inFlight(recordOf(entry('site-j.exe', 'switched'), entry('site-k.exe', 'failed')), now), ['site-j.exe']);
});

test('an upload cut short is recorded as uploading: the next run with the same content uploads it again under its name', () => {
  const name = 'shop-0123456789.exe';
  const mine = 'c'.repeat(64);
  const other = 'd'.repeat(64);
  const present = (n: string): boolean => n === name;
  const cut = recordOf(entry(name, 'uploading', { content: mine }));
  // A package keeps its name: the same package finishes the upload.
  const again = choosePackagedName(cut, present, name, mine);
  assert.equal(again.name, name);
  assert.equal(again.upload, true);
  assert.match(again.reason, /from an upload of this same content that did not finish \(octo\/shop run \d+/);
  // Another package under that name: refused while that upload may still be running, replaced once
  // it is over an hour old and the name never went live.
  const at = Date.parse(cut.entries[0].at);
  assert.throws(() => choosePackagedName(cut, present, name, other, at + 60_000), /from an upload of another build \(sha256 cccccccccccc…\) that has not finished: .*Deploy again once that run is over/);
  const replaced = choosePackagedName(cut, present, name, other, at + 3_700_000);
  assert.equal(replaced.upload, true);
  assert.match(replaced.reason, /did not finish over an hour ago .* and never went live, so this package replaces it/);
  const live = recordOf(entry(name, 'verified', { content: mine }), entry(name, 'uploading', { content: mine }));
  assert.throws(() => choosePackagedName(live, present, name, other, Date.parse(live.entries[1].at) + 3_700_000), /build the package with another artifact-prefix/);
  // A build of this run takes the name too, and the unfinished upload vouches for nothing.
  assert.deepEqual(chooseArtifactName(cut, present, name, mine), { name, upload: true, reason: again.reason });
  assert.equal(chooseArtifactName(cut, present, name, other).name, withContentSuffix(name, other));
  // An unfinished re-upload over a verified file: the file may be cut short, so it is sent again.
  const over = recordOf(entry(name, 'verified', { content: mine }), entry(name, 'uploading', { content: mine }));
  assert.equal(knownContent(over, name), '');
  assert.equal(choosePackagedName(over, present, name, mine).upload, true);
  // Once the upload finished, the same content is not sent again.
  const done = recordOf(entry(name, 'uploaded', { content: mine }));
  assert.equal(choosePackagedName(done, present, name, mine).upload, false);
});

test('verify gets the time left minus the rollback reserve, at most verify-timeout', () => {
  assert.equal(rollbackReserveSeconds(600), 60);
  assert.equal(rollbackReserveSeconds(30), 10);
  assert.equal(verifyBudgetSeconds(120, 550, 60), 120);
  assert.equal(verifyBudgetSeconds(120, 40, 10), 30);
  assert.equal(verifyBudgetSeconds(120, 5, 10), 1);
});

test('concurrent writers never lose an entry: each write is a compare-and-swap on the ETag', { timeout: 60_000 }, async () => {
  const k = await startKudu();
  emulators.push(k);
  const client = clientFor(k, never);
  const writers = Array.from({ length: 8 }, (_, i) => new RecordWriter(client, entry(`site-${i}.exe`, 'uploaded')));
  await Promise.all(writers.map((w) => w.save()));
  await Promise.all(writers.map((w) => w.save({ outcome: 'verified', instances: 1 })));
  const { record } = await readRecord(client);
  assert.deepEqual(record.entries.map((e) => e.artifact).sort(), writers.map((w) => w.entry.artifact).sort());
  assert.ok(record.entries.every((e) => e.outcome === 'verified'));
  assert.ok(k.requests.some((r) => r.method === 'PUT' && r.status === 412), 'writers did collide and re-read');
  // The record sits beside _artifact.txt, outside _target where prune and the launcher look.
  assert.ok(fs.existsSync(path.join(k.home, 'site', 'wwwroot', '_deploys.json')));
  // A change that changes nothing still writes the same record back, with If-Match.
  const put = k.requests.length;
  assert.deepEqual(await changeRecord(client, (r) => r), record);
  assert.deepEqual(k.requests.slice(put).filter((r) => r.method === 'PUT').map((r) => r.status), [204]);
  assert.deepEqual((await readRecord(client)).record, record);
});

test('a release moves uploading, uploaded, switched, verified, each written to the record; a move it does not have is refused before any write', { timeout: 60_000 }, async () => {
  const k = await startKudu();
  emulators.push(k);
  const client = clientFor(k, never);
  const state: SiteState = {};
  const release = new Release(new RecordWriter(client, entry('site-rel1.exe', 'uploading', { from: 'site-rel0.exe' })), state);
  const outcome = async (): Promise<string | undefined> => (await readRecord(client)).record.entries.find((e) => e.id === release.entry.id)?.outcome;
  await release.begin();
  assert.equal(await outcome(), 'uploading');
  await release.uploaded();
  assert.equal(await outcome(), 'uploaded');
  release.unverified('site-rel0.exe');
  assert.deepEqual({ ...state.unverified, release: undefined }, { artifact: 'site-rel1.exe', previous: 'site-rel0.exe', release: undefined });
  await release.switched({ name: 'site-rel1.exe', etag: '"e1"' });
  assert.deepEqual(state.live, { name: 'site-rel1.exe', etag: '"e1"' });
  assert.equal(await outcome(), 'switched');
  await release.verified('healthy', 2);
  assert.equal(state.unverified, undefined, 'a verified release has nothing left to undo');
  assert.equal(await outcome(), 'verified');
  const writes = k.requests.filter((r) => r.method === 'PUT').length;
  await assert.rejects(release.cancelled('too late'), /cannot go from verified to cancelled/);
  await assert.rejects(release.uploaded(), /cannot go from verified to uploaded/);
  assert.equal(k.requests.filter((r) => r.method === 'PUT').length, writes, 'nothing written');
  assert.equal(await outcome(), 'verified');
});

test('a record write cut mid-body (Kudu truncates the file first) is the writer\'s own damage: no entry is dropped; a truncated file is read line by line', { timeout: 60_000 }, async () => {
  const k = await startKudu();
  emulators.push(k);
  const client = clientFor(k, never);
  const earlier = Array.from({ length: 6 }, (_, i) => entry(`site-cut${i}.exe`, 'verified'));
  for (const e of earlier) await new RecordWriter(client, e).save();
  const file = path.join(k.home, 'site', 'wwwroot', '_deploys.json');
  const size = fs.statSync(file).size;
  k.resetCounters();
  k.fault({ route: '/api/vfs/site/wwwroot/_deploys.json', method: 'PUT', resetAfterRequestBytes: Math.floor(size * 0.4) });
  const added = entry('site-cut6.exe', 'uploaded');
  const { out } = await captureStdout(() => new RecordWriter(client, added).save());
  assert.deepEqual(k.requests.filter((r) => r.method === 'PUT').map((r) => r.status), [-1, 412, 204], 'cut, then the resend meets the new ETag, then written whole');
  const { record, problem } = parseRecord(fs.readFileSync(file, 'utf8'));
  assert.equal(problem, undefined);
  assert.deepEqual(record.entries.map((e) => e.artifact), [...earlier, added].map((e) => e.artifact), 'every entry kept, in order');
  assert.match(out, /could not be read whole .*rebuilt from what could be read and what this run read or wrote last \(7 entries\)/);
  assert.doesNotMatch(out, /::warning::/);

  // Read by a process that knows nothing of it, a truncated record gives its whole lines.
  const text = formatRecord(record);
  const cut = parseRecord(text.slice(0, text.indexOf(added.id) - 5));
  assert.match(cut.problem ?? '', /not JSON.*6 whole entr\(ies\) were read line by line/);
  assert.deepEqual(cut.record.entries.map((e) => e.artifact), earlier.map((e) => e.artifact));
});

test("the emulator's deployments API as Kudu's DeploymentController: PUT creates once, GET lists and shows", { timeout: 30_000 }, async () => {
  const k = await startKudu();
  emulators.push(k);
  const client = clientFor(k, never);
  const auth = { Authorization: `Basic ${Buffer.from(`${k.userName}:${k.password}`).toString('base64')}` };
  await client.putDeployment('d1', { status: 4, message: 'Deployed site-a.exe', author: 'alice', deployer: 'go-azure-deploy', start_time: '2025-01-01T00:00:00Z' });
  await client.putDeployment('d2', { status: 3, message: 'site-b.exe failed', author: 'alice', deployer: 'go-azure-deploy', active: false, start_time: '2025-01-02T00:00:00Z' });
  await assert.rejects(client.putDeployment('d1', { status: 4, message: 'again', author: 'a', deployer: 'b' }), /409/);
  await assert.rejects(client.putDeployment('d3', { status: 3, message: 'x', author: 'a', deployer: 'b', active: true }), /400/);
  const list = (await (await fetch(`${k.url}/api/deployments`, { headers: auth })).json()) as { id: string; status: number; active: boolean; message: string }[];
  assert.deepEqual(list.map((d) => [d.id, d.status, d.active]), [['d2', 3, false], ['d1', 4, true]]);
  const one = await fetch(`${k.url}/api/deployments/d1`, { headers: auth });
  assert.equal(((await one.json()) as { message: string }).message, 'Deployed site-a.exe');
  assert.equal((await fetch(`${k.url}/api/deployments/nope`, { headers: auth })).status, 404);
});

test('the stdout log tail is fetched with a Range request: 206 and only the last bytes', { timeout: 30_000 }, async () => {
  const k = await startKudu();
  emulators.push(k);
  const client = clientFor(k, never);
  fs.mkdirSync(path.join(k.home, 'LogFiles'), { recursive: true });
  const big = Array.from({ length: 20_000 }, (_, i) => `line ${i}`).join('\n') + '\n';
  fs.writeFileSync(path.join(k.home, 'LogFiles', 'go-azure-stdout_1.log'), big);
  const tail = await client.getFileTail('LogFiles/go-azure-stdout_1.log', 100);
  assert.equal(tail?.toString(), big.slice(-100));
  const req = k.requests.at(-1);
  assert.equal(req?.status, 206);
  const { tailOfStdoutLog } = await import('../src/site/verify.ts');
  const shown = await tailOfStdoutLog(client, 3);
  assert.equal(shown, 'LogFiles/go-azure-stdout_1.log:\nline 19997\nline 19998\nline 19999');
  assert.equal(k.requests.at(-1)?.status, 206, 'never the whole file');
  assert.equal(await client.getFileTail('LogFiles/none.log', 10), null);
});
