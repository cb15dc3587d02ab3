// Faults at every step of a deploy. Transient ones recover; permanent ones fail the deploy with
// _artifact.txt still naming the old, complete binary; a stalled deploy stops at the deadline.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ActionError } from '../src/common/errors.ts';
import { startKudu, type FaultSpec, type KuduEmulator } from '../sandbox/kudu.ts';
import { artifactTxt, buildArtifact, captureStdout, clientFor, commitOf, deployStages, makeApp, type BuiltArtifact } from '../sandbox/fixture.ts';

const never = new AbortController().signal;
let OLD: BuiltArtifact, NEW: BuiltArtifact;
const emulators: KuduEmulator[] = [];

before(async () => {
  const app = makeApp();
  OLD = await buildArtifact(app, commitOf(0x10));
  NEW = await buildArtifact(app, commitOf(0x11));
}, { timeout: 300_000 });

after(async () => {
  await Promise.all(emulators.map((k) => k.close()));
});

/** A site already running OLD, its binary locked as a running exe is. */
async function runningSite(): Promise<KuduEmulator> {
  const k = await startKudu({ siteName: 'go-sandbox' });
  emulators.push(k);
  await captureStdout(() => deployStages(clientFor(k, never), OLD, never));
  k.lock(`site/wwwroot/_target/${OLD.name}`);
  k.resetCounters();
  return k;
}

const T = '/api/vfs/site/wwwroot/_target/';
/** Each step of a deploy, as the request that carries it. `skip` passes earlier requests on the same route. */
const STEPS: { step: string; fault: Omit<FaultSpec, 'times' | 'status'>; beforeSwitch: boolean }[] = [
  { step: 'read _artifact.txt', fault: { route: '/api/vfs/site/wwwroot/_artifact.txt', method: 'GET' }, beforeSwitch: true },
  { step: 'list _target before the upload', fault: { route: T, method: 'GET' }, beforeSwitch: true },
  { step: 'upload the zip', fault: { route: '/api/zip/', method: 'PUT' }, beforeSwitch: true },
  { step: 'list _target after the upload', fault: { route: T, method: 'GET', skip: 1 }, beforeSwitch: true },
  { step: 'list site/wwwroot for bootstrap', fault: { route: '/api/vfs/site/wwwroot/', method: 'GET', skip: 5 }, beforeSwitch: true },
  { step: 'write _artifact.txt', fault: { route: '/api/vfs/site/wwwroot/_artifact.txt', method: 'PUT' }, beforeSwitch: true },
  { step: 'list _target for prune', fault: { route: T, method: 'GET', skip: 2 }, beforeSwitch: false },
];

for (const s of STEPS) {
  test(`transient faults recover: 503, 429 with Retry-After, a reset connection at "${s.step}"`, { timeout: 60_000 }, async () => {
    const k = await runningSite();
    k.fault({ ...s.fault, status: 503 });
    k.fault({ ...s.fault, status: 429, retryAfter: '0' });
    k.fault({ ...s.fault, resetAfterRequestBytes: s.fault.method === 'PUT' ? 10 : undefined, resetAfterResponseBytes: s.fault.method === 'GET' ? 10 : undefined });
    const { error } = await captureStdout(() => deployStages(clientFor(k, never), NEW, never));
    assert.equal(error, undefined, String(error));
    assert.equal(artifactTxt(k), `_target\\${NEW.name}\r\n`);
    assert.deepEqual(fs.readFileSync(path.join(k.home, 'site/wwwroot/_target', NEW.name)), fs.readFileSync(NEW.binaryPath));
    assert.ok(k.requests.filter((r) => r.status === -1 || r.status >= 400).length >= 3, 'the faults were hit');
  });

  test(`a permanent fault at "${s.step}" ${s.beforeSwitch ? 'fails with _artifact.txt still naming the old binary' : 'after the switch is a warning; the new binary is live'}`, { timeout: 60_000 }, async () => {
    const k = await runningSite();
    k.fault({ ...s.fault, status: 500, times: 100 });
    const { error, out } = await captureStdout(() => deployStages(clientFor(k, never, { attempts: 3 }), NEW, never));
    if (s.beforeSwitch) {
      assert.ok(error instanceof ActionError, String(error));
      assert.match(error.message, /HTTP 500/);
    } else {
      assert.equal(error, undefined, String(error));
      assert.match(out, /::warning::Pruning old artifacts stopped: .*HTTP 500/);
    }
    const named = s.beforeSwitch ? OLD : NEW;
    assert.equal(artifactTxt(k), `_target\\${named.name}\r\n`);
    assert.deepEqual(fs.readFileSync(path.join(k.home, 'site/wwwroot/_target', named.name)), fs.readFileSync(named.binaryPath));
  });
}

test('Kudu answers 200 to the zip but the binary is not there: fail before the switch', { timeout: 60_000 }, async () => {
  const k = await runningSite();
  k.fault({ route: '/api/zip/', status: 200 });
  const { error } = await captureStdout(() => deployStages(clientFor(k, never), NEW, never));
  assert.ok(error instanceof ActionError);
  assert.match(error.message, /is missing in Kudu's listing\. Nothing was switched/);
  assert.equal(artifactTxt(k), `_target\\${OLD.name}\r\n`);
});

test('a zip Kudu cannot extract (a file in it is locked) → 400, clear message, nothing switched', { timeout: 60_000 }, async () => {
  const k = await runningSite();
  // A truncated earlier upload of the same name, held open: its size is wrong, so the upload runs and fails.
  fs.writeFileSync(path.join(k.home, 'site/wwwroot/_target', NEW.name), 'MZ-partial');
  k.lock(`site/wwwroot/_target/${NEW.name}`);
  const { error } = await captureStdout(() => deployStages(clientFor(k, never), NEW, never));
  assert.ok(error instanceof ActionError);
  assert.match(error.message, /HTTP 400.*in use/s);
  assert.equal(artifactTxt(k), `_target\\${OLD.name}\r\n`);
  assert.equal(k.requests.filter((r) => r.path.startsWith('/api/zip/')).length, 1, '400 is not retried');
});

test('an upload cut mid-body is retried and the deploy completes', { timeout: 60_000 }, async () => {
  const k = await runningSite();
  k.fault({ route: '/api/zip/', resetAfterRequestBytes: Math.floor(NEW.pkg.zipSize / 2) });
  const { error, out } = await captureStdout(() => deployStages(clientFor(k, never), NEW, never));
  assert.equal(error, undefined, String(error));
  const zips = k.requests.filter((r) => r.path.startsWith('/api/zip/'));
  assert.deepEqual(zips.map((r) => r.status), [-1, 200]);
  assert.equal(zips[1].bytesIn, NEW.pkg.zipSize);
  assert.match(out, /retrying/);
  assert.equal(artifactTxt(k), `_target\\${NEW.name}\r\n`);
});

test('the timeout stops a stalled deploy: the upload hangs, the deadline fires, nothing switched', { timeout: 60_000 }, async () => {
  const k = await runningSite();
  k.fault({ route: '/api/zip/', delayMs: 600_000 });
  // As main.ts's Deadline.run does: abort the deploy's signal with the timeout error.
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(new ActionError('The deploy took longer than timeout (1 s)')), 1000);
  const started = performance.now();
  const { error } = await captureStdout(() => deployStages(clientFor(k, controller.signal), NEW, controller.signal));
  clearTimeout(deadline);
  assert.ok(error instanceof ActionError);
  assert.match(error.message, /longer than timeout/);
  assert.ok(performance.now() - started < 5000, 'stopped promptly');
  assert.equal(artifactTxt(k), `_target\\${OLD.name}\r\n`);
});
