// The watch window against the sandbox's busy process list (sandbox/iis.ts, kuduProcesses): an
// overlapped recycle by the platform runs a second copy of the app with a new pid in a new worker,
// and is no reason to roll back; a crash (the process gone, then started again by the same worker)
// still is. The real example app behind the IIS emulator, the real Kudu client.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startAppService, type AppService } from '../sandbox/appservice.ts';
import { buildExampleApp, installTemplates, writeArtifact } from '../sandbox/iis.ts';
import { KuduClient } from '../src/site/kudu.ts';
import { verifyDeployment, watchDeployment, type HealthCheck } from '../src/site/verify.ts';
import { parseStatusSet } from '../src/common/inputs.ts';
import type { SiteConnection } from '../src/signin/connection.ts';

let work: string;
let binary: string;
const artifact = 'recycled-aaaaaaaaaa.exe';
const health: HealthCheck = { path: '/', statuses: parseStatusSet('200-299')!, stableChecks: 2 };

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-recycle-'));
  binary = await buildExampleApp({ outPath: path.join(work, 'app'), version: 'v1', commit: 'aaaaaaaaaa' });
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

async function site(): Promise<{ s: AppService; client: KuduClient; connection: SiteConnection }> {
  const s = await startAppService({ siteName: 'recycled', goMirror: false, env: { EXAMPLE_POLL_MS: '100' }, webJobs: ['ReportMailer'] });
  installTemplates(s.wwwroot);
  fs.mkdirSync(path.join(s.wwwroot, '_target'), { recursive: true });
  fs.copyFileSync(binary, path.join(s.wwwroot, '_target', artifact));
  writeArtifact(s.wwwroot, artifact);
  const connection: SiteConnection = {
    kuduUrl: s.localKuduUrl,
    webappUrl: s.localAppUrl,
    authKind: 'basic',
    authorization: async () => `Basic ${Buffer.from(`${s.kudu.userName}:${s.kudu.password}`).toString('base64')}`,
  };
  return { s, client: new KuduClient(connection, new AbortController().signal, { attempts: 2, retryBaseDelayMs: 50 }), connection };
}

async function gate(env: Awaited<ReturnType<typeof site>>) {
  const verified = await verifyDeployment(env.client, env.connection, { artifactName: artifact, previous: '', timeoutSeconds: 20, pollIntervalMs: 150, health }, new AbortController().signal);
  assert.equal(verified.ok, true, verified.detail);
  return verified;
}

test('Kudu lists the whole sandbox: w3wp, cmd, conhost, WebJobs and the app, by name, with the machine', { timeout: 60_000 }, async (t) => {
  const env = await site();
  t.after(() => env.s.close());
  await gate(env);
  const listed = await env.client.processes();
  assert.deepEqual(listed.map((p) => p.name), ['cmd', 'conhost', 'recycled-aaaaaaaaaa', 'ReportMailer', 'w3wp', 'w3wp']);
  assert.ok(listed.every((p) => /^RD[0-9A-F]{12}$/.test(p.machineName ?? '')), 'each entry names the machine');
});

test('an overlapped recycle during the watch window is followed, not rolled back', { timeout: 90_000 }, async (t) => {
  const env = await site();
  t.after(() => env.s.close());
  const verified = await gate(env);
  const before = verified.instances[0]!.pid;
  const watching = watchDeployment(env.client, env.connection, { artifactName: artifact, instances: verified.instances, health, seconds: 5, pollIntervalMs: 150 }, new AbortController().signal);
  await new Promise((r) => setTimeout(r, 800));
  await env.s.iis.recycle({ overlapMs: 600 });
  // During the overlap both copies run, each listed once.
  assert.equal(env.s.iis.processes().length, 2, 'two copies of the app run during the overlap');
  const watched = await watching;
  assert.equal(watched.ok, true, watched.detail);
  assert.match(watched.detail, /recycled it once, each time healthy/);
  assert.notEqual(verified.instances[0]!.pid, before, 'the watch follows the new process');
  assert.equal(env.s.iis.processes().length, 1, 'the old copy was stopped after the overlap');
});

test('a crash during the watch window still ends it as failed', { timeout: 90_000 }, async (t) => {
  const env = await site();
  t.after(() => env.s.close());
  const verified = await gate(env);
  const watching = watchDeployment(env.client, env.connection, { artifactName: artifact, instances: verified.instances, health, seconds: 8, pollIntervalMs: 150 }, new AbortController().signal);
  await new Promise((r) => setTimeout(r, 800));
  process.kill(env.s.iis.processes()[0]!.id, 'SIGKILL');
  const watched = await watching;
  assert.equal(watched.ok, false);
  assert.match(watched.detail, /recycled-aaaaaaaaaa\.exe (exited|restarted) \(process id \d+/);
});
