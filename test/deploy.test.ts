// The deploy stages end to end against the Kudu emulator, with real windows/amd64 Go binaries
// packaged by the real package stage.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ActionError } from '../src/common/errors.ts';
import { KuduClient } from '../src/site/kudu.ts';
import { connectionFromPublishProfile } from '../src/signin/publishprofile.ts';
import { readLiveArtifact, switchArtifact, switchBack, SiteChangedError } from '../src/site/switch.ts';
import { rollbackArtifact } from '../src/site/rollback.ts';
import { planDeploy } from '../src/site/plan.ts';
import { appendEntry, emptyRecord } from '../src/site/record.ts';
import { templatesDir } from '../src/site/bootstrap.ts';
import { startKudu, type KuduEmulator } from '../sandbox/kudu.ts';
import {
  artifactTxt,
  buildArtifact,
  captureStdout,
  clientFor,
  commitOf,
  deployStages,
  makeApp,
  profileConfig,
  snapshotTree,
  type BuiltArtifact,
} from '../sandbox/fixture.ts';

const never = new AbortController().signal;
let A: BuiltArtifact, B: BuiltArtifact, C: BuiltArtifact, D: BuiltArtifact, E: BuiltArtifact;
const emulators: KuduEmulator[] = [];

before(async () => {
  const app = makeApp();
  // One build first warms the Go cache; the rest then link in parallel.
  A = await buildArtifact(app, commitOf(1));
  [B, C, D, E] = await Promise.all([2, 3, 4, 5].map((n) => buildArtifact(app, commitOf(n))));
}, { timeout: 300_000 });

after(async () => {
  await Promise.all(emulators.map((k) => k.close()));
});

async function site(): Promise<KuduEmulator> {
  const k = await startKudu({ siteName: 'go-sandbox' });
  emulators.push(k);
  return k;
}

const wwwroot = (k: KuduEmulator, ...p: string[]): string => path.join(k.home, 'site', 'wwwroot', ...p);

test('first deploy on an empty site: binary and assets uploaded, launcher files written, switched', { timeout: 60_000 }, async () => {
  const k = await site();
  const client = clientFor(k, never);
  const { value, out } = await captureStdout(() => deployStages(client, A, never));
  assert.equal(value?.previous, '');
  assert.equal(value?.upload.skipped, false);
  assert.deepEqual(fs.readFileSync(wwwroot(k, '_target', A.name)), fs.readFileSync(A.binaryPath));
  assert.equal(fs.readFileSync(wwwroot(k, '_target', A.name.replace(/\.exe$/, ''), 'static', 'app.css'), 'utf8'), 'body { color: #333; }\n');
  assert.equal(artifactTxt(k), `_target\\${A.name}\r\n`);
  for (const f of ['web.config', 'go-azure.bat']) {
    assert.deepEqual(fs.readFileSync(wwwroot(k, f)), fs.readFileSync(path.join(templatesDir(), f)), f);
  }
  assert.match(out, /Wrote site\/wwwroot\/web\.config/);
  // The binary travels compressed, once.
  const zipPuts = k.requests.filter((r) => r.path.startsWith('/api/zip/'));
  assert.equal(zipPuts.length, 1);
  assert.equal(zipPuts[0].bytesIn, A.pkg.zipSize);
});

test('bootstrap never overwrites the user\'s web.config and says so', { timeout: 60_000 }, async () => {
  const k = await site();
  fs.writeFileSync(wwwroot(k, 'web.config'), '<configuration><!-- mine --></configuration>');
  const { out } = await captureStdout(() => deployStages(clientFor(k, never), A, never));
  assert.equal(fs.readFileSync(wwwroot(k, 'web.config'), 'utf8'), '<configuration><!-- mine --></configuration>');
  assert.ok(fs.existsSync(wwwroot(k, 'go-azure.bat')));
  assert.match(out, /Kept your web\.config/);
});

test('a kept go-azure.bat: this version\'s is named as such, release 1.0.0\'s gets a warning saying how to replace it, the user\'s own is kept; none is touched', { timeout: 60_000 }, async () => {
  const released = fs.readFileSync(path.join(import.meta.dirname, 'fixtures', 'compat', 'go-azure-v1.0.0.bat'));
  const own = Buffer.from('@echo off\r\nrem mine\r\n"%~dp0app.exe" %*\r\n');
  const current = fs.readFileSync(path.join(templatesDir(), 'go-azure.bat'));
  const cases = [
    { content: current, says: /Kept site\/wwwroot\/go-azure\.bat: it is this version's launcher\./ },
    { content: released, says: /::warning::site\/wwwroot\/go-azure\.bat is the launcher go-azure-deploy 1\.0\.0 wrote, which starts whatever path _artifact\.txt names;.*put templates\/go-azure\.bat of this version of the action in its place.*then restart the site before the next deploy/ },
    { content: own, says: /Kept your go-azure\.bat: site\/wwwroot\/go-azure\.bat already exists and is never overwritten\./ },
  ];
  for (const c of cases) {
    const k = await site();
    fs.writeFileSync(wwwroot(k, 'go-azure.bat'), c.content);
    const { error, out } = await captureStdout(() => deployStages(clientFor(k, never), A, never));
    assert.equal(error, undefined);
    assert.match(out, c.says);
    assert.equal(out.includes('::warning::'), c.content === released, out);
    assert.deepEqual(fs.readFileSync(wwwroot(k, 'go-azure.bat')), c.content);
    assert.match(out, /Wrote site\/wwwroot\/web\.config/, 'the missing web.config is still written');
  }
});

test('the switch is a compare-and-swap: a stale ETag is refused with 412 and changes nothing; a switch whose answer was lost is resent and its 412 recognised as its own', { timeout: 60_000 }, async () => {
  const k = await site();
  const client = clientFor(k, never);
  await captureStdout(() => deployStages(client, A, never));
  const read = await readLiveArtifact(client);
  assert.equal(read.name, A.name);

  // Another deploy switches meanwhile: this run's switch is refused and the file stays as it set it.
  fs.writeFileSync(wwwroot(k, '_artifact.txt'), `_target\\${B.name}\r\n`);
  const { error } = await captureStdout(() => switchArtifact(client, C.name, read.etag));
  assert.ok(error instanceof SiteChangedError, String(error));
  assert.equal((error as SiteChangedError).status, 412);
  assert.equal(artifactTxt(k), `_target\\${B.name}\r\n`);

  // Kudu applies the write but the answer is lost: the client sends it again, gets 412 (the ETag
  // moved with its own write), and the file shows the switch took effect.
  const now = await readLiveArtifact(client);
  k.resetCounters();
  k.fault({ route: '/api/vfs/site/wwwroot/_artifact.txt', method: 'PUT', resetAfterResponseBytes: 0 });
  const { value: etag, error: lost, out } = await captureStdout(() => switchArtifact(client, C.name, now.etag));
  assert.equal(lost, undefined, String(lost));
  assert.equal(artifactTxt(k), `_target\\${C.name}\r\n`);
  assert.deepEqual(k.requests.filter((r) => r.method === 'PUT').map((r) => r.status), [-1, 412]);
  assert.equal(etag, (await readLiveArtifact(client)).etag);
  assert.match(out, /the write's answer was lost; the file shows it took effect/);
});

test('the switch meets a reader holding _artifact.txt (Kudu answers 409, as its FileShare.None write cannot open it): tried again, logged, and the compare-and-swap kept', { timeout: 60_000 }, async () => {
  const k = await site();
  const client = clientFor(k, never);
  await captureStdout(() => deployStages(client, A, never));
  const read = await readLiveArtifact(client);
  k.resetCounters();
  k.holdOpen('site/wwwroot/_artifact.txt', 700);
  const { value: etag, error, out } = await captureStdout(() => switchArtifact(client, B.name, read.etag));
  assert.equal(error, undefined, String(error));
  assert.equal(artifactTxt(k), `_target\\${B.name}\r\n`);
  const puts = k.requests.filter((r) => r.method === 'PUT').map((r) => r.status);
  assert.ok(puts.length >= 2 && puts.slice(0, -1).every((s) => s === 409) && puts.at(-1) === 204, `409s, then the write: ${puts.join(', ')}`);
  assert.match(out, /_artifact\.txt was briefly in use on the site \(Kudu answered 409 \d+ time\(s\)/);
  assert.equal(etag, (await readLiveArtifact(client)).etag);

  // Held while another deploy switches: the retry's If-Match still refuses it (412), nothing written.
  const now = await readLiveArtifact(client);
  k.holdOpen('site/wwwroot/_artifact.txt', 400);
  setTimeout(() => fs.writeFileSync(wwwroot(k, '_artifact.txt'), `_target\\${D.name}\r\n`), 100);
  const { error: refused } = await captureStdout(() => switchArtifact(client, C.name, now.etag));
  assert.ok(refused instanceof SiteChangedError, String(refused));
  assert.equal(artifactTxt(k), `_target\\${D.name}\r\n`);
});

test('a switch cut mid-body (Kudu has truncated the file before reading the body) is this run\'s own damage: written whole again over the new ETag', { timeout: 60_000 }, async () => {
  const k = await site();
  const client = clientFor(k, never);
  await captureStdout(() => deployStages(client, A, never));
  const read = await readLiveArtifact(client);
  k.resetCounters();
  k.fault({ route: '/api/vfs/site/wwwroot/_artifact.txt', method: 'PUT', resetAfterRequestBytes: 12 });
  const { error, out } = await captureStdout(() => switchArtifact(client, B.name, read.etag));
  assert.equal(error, undefined, String(error));
  assert.equal(artifactTxt(k), `_target\\${B.name}\r\n`);
  assert.deepEqual(k.requests.filter((r) => r.method === 'PUT').map((r) => r.status), [-1, 412, 204]);
  assert.match(out, /was left cut short by this run's own write \(it holds "_target\\\\go-s"\); writing it whole again/);
});

test('a switch that fails for good after cutting _artifact.txt short leaves it repaired to the version that was live, never unparseable', { timeout: 60_000 }, async () => {
  const k = await site();
  const client = clientFor(k, never, { attempts: 3 });
  await captureStdout(() => deployStages(client, A, never));
  const read = await readLiveArtifact(client);
  k.fault({ route: '/api/vfs/site/wwwroot/_artifact.txt', method: 'PUT', resetAfterRequestBytes: 12 });
  k.fault({ route: '/api/vfs/site/wwwroot/_artifact.txt', method: 'PUT', status: 500, times: 2 });
  const { error, out } = await captureStdout(() => switchArtifact(client, B.name, read.etag, { fallback: A.name }));
  assert.ok(error instanceof ActionError, String(error));
  assert.match(error.message, /HTTP 500/);
  assert.equal(artifactTxt(k), `_target\\${A.name}\r\n`, 'the previous version, whole');
  assert.match(out, /::warning::.*_artifact\.txt was left cut short by this run's failed write .*repaired to name /);
});

test('switching back: a 412 while _artifact.txt still names the failed build re-reads the ETag and switches back; a file naming another build is left alone', { timeout: 60_000 }, async () => {
  const k = await site();
  const client = clientFor(k, never);
  await captureStdout(() => deployStages(client, A, never));
  await captureStdout(() => deployStages(client, B, never));
  const stale = (await readLiveArtifact(client)).etag;
  // The same content written again (the ETag is the last-write time): the file still names B.
  await new Promise((r) => setTimeout(r, 20));
  fs.writeFileSync(wwwroot(k, '_artifact.txt'), `_target\\${B.name}\r\n`);
  const { error, out } = await captureStdout(() => switchBack(client, { from: B.name, to: A.name, etag: stale }));
  assert.equal(error, undefined, String(error));
  assert.equal(artifactTxt(k), `_target\\${A.name}\r\n`);
  assert.match(out, /still names .*, but its ETag moved \(Kudu answered 412\): reading it again and switching back/);

  // Another deploy switched to C meanwhile: nothing is written.
  fs.writeFileSync(wwwroot(k, '_artifact.txt'), `_target\\${C.name}\r\n`);
  const { error: other } = await captureStdout(() => switchBack(client, { from: A.name, to: B.name, etag: stale }));
  assert.ok(other instanceof SiteChangedError, String(other));
  assert.equal(artifactTxt(k), `_target\\${C.name}\r\n`);
});

test('redeploy while the old binary is locked: the new one lands beside it and is switched to', { timeout: 60_000 }, async () => {
  const k = await site();
  const client = clientFor(k, never);
  await captureStdout(() => deployStages(client, A, never));
  k.lock(`site/wwwroot/_target/${A.name}`);
  const { value, error } = await captureStdout(() => deployStages(client, B, never));
  assert.equal(error, undefined);
  assert.equal(value?.previous, A.name);
  assert.equal(artifactTxt(k), `_target\\${B.name}\r\n`);
  assert.ok(fs.existsSync(wwwroot(k, '_target', A.name)));
  assert.deepEqual(fs.readFileSync(wwwroot(k, '_target', B.name)), fs.readFileSync(B.binaryPath));
});

test('same-commit re-run: nothing uploaded, nothing switched', { timeout: 60_000 }, async () => {
  const k = await site();
  const client = clientFor(k, never);
  await captureStdout(() => deployStages(client, A, never));
  k.lock(`site/wwwroot/_target/${A.name}`);
  const etagBefore = fs.statSync(wwwroot(k, '_artifact.txt')).mtimeMs;
  k.resetCounters();
  const { value, out } = await captureStdout(() => deployStages(client, A, never));
  assert.equal(value?.upload.skipped, true);
  assert.match(out, /upload skipped/);
  assert.equal(k.requests.filter((r) => r.method !== 'GET').length, 0, 'only reads');
  assert.ok(k.bytesReceived === 0);
  assert.equal(fs.statSync(wwwroot(k, '_artifact.txt')).mtimeMs, etagBefore);
});

test('a binary the record vouches for but the site holds cut short is uploaded again before the switch', { timeout: 60_000 }, async () => {
  const k = await site();
  const client = clientFor(k, never);
  await captureStdout(() => deployStages(client, A, never));
  await captureStdout(() => deployStages(client, B, never));
  // A's file is cut short on the site (an upload that failed part-way, say), its name unchanged.
  fs.truncateSync(wwwroot(k, '_target', A.name), 1000);
  const { value, out } = await captureStdout(() => deployStages(client, A, never));
  assert.equal(value?.upload.skipped, false);
  assert.match(out, new RegExp(`${A.name} is already on the site with the same content, but site/wwwroot/_target/${A.name} is 1000 bytes, not ${A.pkg.binarySize}: uploading it again`));
  assert.deepEqual(fs.readFileSync(wwwroot(k, '_target', A.name)), fs.readFileSync(A.binaryPath));
  assert.equal(artifactTxt(k), `_target\\${A.name}\r\n`);
});

test('prune keeps the newest `keep` plus current and previous; a locked one is skipped with a notice, then deleted later', { timeout: 90_000 }, async () => {
  const k = await site();
  const client = clientFor(k, never);
  for (const art of [A, B, C]) await captureStdout(() => deployStages(client, art, never, 2));
  assert.ok(fs.existsSync(wwwroot(k, '_target', A.name)) === false, 'A pruned after C (keep 2)');
  assert.ok(!fs.existsSync(wwwroot(k, '_target', A.name.replace('.exe', ''))), 'with its folder');

  k.lock(`site/wwwroot/_target/${B.name}`);
  const d = await captureStdout(() => deployStages(client, D, never, 1));
  // keep 1 → D; current D, previous C; B is to go but is locked.
  assert.deepEqual(d.value?.pruned, { deleted: [], skipped: [B.name] });
  assert.match(d.out, /::notice::.*_target\/go-sandbox-0002c0ffee\.exe is in use/);
  assert.ok(fs.existsSync(wwwroot(k, '_target', B.name)));
  assert.ok(fs.existsSync(wwwroot(k, '_target', B.name.replace('.exe', ''), 'static', 'app.css')), 'a running binary keeps its assets');

  k.unlock(`site/wwwroot/_target/${B.name}`);
  const e = await captureStdout(() => deployStages(client, E, never, 1));
  assert.deepEqual(e.value?.pruned.deleted.sort(), [B.name, `${B.name.replace('.exe', '')}/`, C.name, `${C.name.replace('.exe', '')}/`].sort());
  const left = fs.readdirSync(wwwroot(k, '_target')).sort();
  assert.deepEqual(left, [D.name, D.name.replace('.exe', ''), E.name, E.name.replace('.exe', '')].sort());
});

test('rollback (verify off): back to the newest older version the record shows switched to and still present, until there is none', { timeout: 90_000 }, async () => {
  const k = await site();
  const client = clientFor(k, never);
  await assert.rejects(rollbackArtifact(client), (e: Error) => e instanceof ActionError && /nothing has been deployed/.test(e.message));
  for (const art of [A, B, C]) await captureStdout(() => deployStages(client, art, never, 5));
  fs.rmSync(wwwroot(k, '_target', B.name));
  const first = await captureStdout(() => rollbackArtifact(client));
  assert.deepEqual({ from: first.value?.from, to: first.value?.to }, { from: C.name, to: A.name }, 'B is gone, so A');
  assert.equal(artifactTxt(k), `_target\\${A.name}\r\n`);
  const second = await captureStdout(() => rollbackArtifact(client));
  assert.ok(second.error instanceof ActionError);
  assert.match((second.error as Error).message, /no older artifact/);
  assert.equal(artifactTxt(k), `_target\\${A.name}\r\n`, 'unchanged by the failed rollback');
});

test('dry run changes nothing (the tree compared byte for byte) and lists the plan', { timeout: 60_000 }, async () => {
  const k = await site();
  const client = clientFor(k, never);
  for (const art of [A, B]) await captureStdout(() => deployStages(client, art, never));
  fs.rmSync(wwwroot(k, 'go-azure.bat'));
  const before = snapshotTree(k.home);
  k.resetCounters();
  const previous = await captureStdout(() => readLiveArtifact(client));
  const plan = await planDeploy(client, { artifactName: C.name, pkg: C.pkg, previous: previous.value!.name, keep: 1, bootstrap: true, record: emptyRecord() });
  assert.deepEqual(snapshotTree(k.home), before);
  assert.deepEqual([...new Set(k.requests.map((r) => r.method))], ['GET']);
  assert.deepEqual(plan, [
    `upload ${C.name} (${C.pkg.zipSize} bytes zipped, ${C.pkg.binarySize} bytes unpacked, 2 file(s)) into site/wwwroot/_target/`,
    'keep your site/wwwroot/web.config',
    'write site/wwwroot/go-azure.bat from the template',
    `write site/wwwroot/_artifact.txt: _target\\${C.name} (now ${B.name})`,
    `delete site/wwwroot/_target/${A.name}`,
    `delete site/wwwroot/_target/${A.name.replace('.exe', '')}/`,
  ]);

  // Another run's upload of A in flight (the record says so): prune would keep it, so the plan does.
  const record = appendEntry(emptyRecord(), { id: 'other', kind: 'deploy', artifact: A.name, content: 'f'.repeat(64), commit: commitOf(1), from: B.name, run: { repository: 'o/r', runId: '2', runAttempt: '1', actor: 'other' }, at: new Date().toISOString(), outcome: 'uploading' });
  const withOther = await planDeploy(client, { artifactName: C.name, pkg: C.pkg, previous: B.name, keep: 1, bootstrap: false, record });
  assert.deepEqual(withOther.slice(-2), [`write site/wwwroot/_artifact.txt: _target\\${C.name} (now ${B.name})`, 'delete nothing (keep: 1)']);
  assert.deepEqual(snapshotTree(k.home), before);
});

test('a wrong password (401) changes nothing and says what to check', { timeout: 60_000 }, async () => {
  const k = await site();
  await captureStdout(() => deployStages(clientFor(k, never), A, never));
  const before = snapshotTree(k.home);
  const wrong = new KuduClient(connectionFromPublishProfile(profileConfig(k.siteName, 'production', k.url), k.publishProfileXml({ password: 'wrong-password' })), never, { retryBaseDelayMs: 5 });
  const { error } = await captureStdout(() => deployStages(wrong, B, never));
  assert.ok(error instanceof ActionError);
  assert.match(error.message, /401/);
  assert.match(error.message, /publish profile/);
  assert.deepEqual(snapshotTree(k.home), before);
  assert.deepEqual(k.requests.slice(-1).map((r) => r.status), [401]);
});
