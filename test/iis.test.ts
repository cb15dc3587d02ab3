// The IIS emulator with the real example app behind it (a Linux build, the shell launcher): the
// HttpPlatformHandler behaviour of docs/ARCHITECTURE.md, "HttpPlatformHandler" and the hand-over of a switch of _artifact.txt.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildExampleApp, installTemplates, startIis, writeArtifact, type Iis } from '../sandbox/iis.ts';

let work: string;
let v1: string;
let v2: string;

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'iis-test-'));
  [v1, v2] = await Promise.all([
    buildExampleApp({ outPath: path.join(work, 'bin', 'v1'), version: 'v1', commit: 'aaaaaaaaaa' }),
    buildExampleApp({ outPath: path.join(work, 'bin', 'v2'), version: 'v2', commit: 'bbbbbbbbbb' }),
  ]);
});

after(() => fs.rmSync(work, { recursive: true, force: true }));

/** A site folder with the templates, v1 deployed as site-aaaaaaaaaa.exe and named in _artifact.txt. */
function newSite(): { home: string; wwwroot: string } {
  const home = fs.mkdtempSync(path.join(work, 'home-'));
  const wwwroot = path.join(home, 'site', 'wwwroot');
  installTemplates(wwwroot);
  fs.mkdirSync(path.join(wwwroot, '_target'));
  fs.copyFileSync(v1, path.join(wwwroot, '_target', 'site-aaaaaaaaaa.exe'));
  writeArtifact(wwwroot, 'site-aaaaaaaaaa.exe');
  return { home, wwwroot };
}

/** A keep-alive client, as a browser or a load balancer talks to IIS. */
const agent = new http.Agent({ keepAlive: true });
after(() => agent.destroy());

function get(iis: Iis, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${iis.url}${p}`, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('starts the process on the first request, reports it, locks its binary, and hands over on a switch', { timeout: 60_000 }, async (t) => {
  const { home, wwwroot } = newSite();
  const iis = await startIis({ home, launcher: 'shell', env: { EXAMPLE_POLL_MS: '100' } });
  t.after(() => iis.close());
  assert.deepEqual(iis.processes(), [], 'nothing runs before the first request');

  const first = await get(iis, '/');
  assert.equal(first.status, 200);
  assert.equal(first.body, 'v1 aaaaaaaaaa\n');
  const [proc] = iis.processes();
  assert.equal(proc?.name, 'site-aaaaaaaaaa');
  assert.equal(iis.isLocked('site/wwwroot/_target/site-aaaaaaaaaa.exe'), true);
  assert.equal(iis.isLocked('site\\wwwroot\\_target\\SITE-AAAAAAAAAA.EXE'), true, 'Windows paths compare case-insensitively');
  assert.equal(iis.isLocked('site/wwwroot/_target/site-bbbbbbbbbb.exe'), false);

  fs.copyFileSync(v2, path.join(wwwroot, '_target', 'site-bbbbbbbbbb.exe'));
  writeArtifact(wwwroot, 'site-bbbbbbbbbb.exe');
  const switched = await until('the new version answering', 10_000, async () => {
    const r = await get(iis, '/');
    return r.body.startsWith('v2') ? r : undefined;
  });
  assert.equal(switched.body, 'v2 bbbbbbbbbb\n');
  assert.equal(iis.processes()[0]?.name, 'site-bbbbbbbbbb');
  assert.equal(iis.isLocked('site/wwwroot/_target/site-aaaaaaaaaa.exe'), false, 'the old binary is free once its process exited');
  assert.equal(iis.stats().starts, 2);

  const logs = fs.readdirSync(path.join(home, 'LogFiles')).filter((f) => f.startsWith('go-azure-stdout_'));
  assert.equal(logs.length, 2, 'one stdout log per process');
  const firstLog = fs.readFileSync(path.join(home, 'LogFiles', logs.sort()[0]!), 'utf8');
  assert.match(firstLog, /handing over.*site-bbbbbbbbbb\.exe/);
});

test('answers 502.3 while the process is alive but refuses connections, without retrying', { timeout: 60_000 }, async (t) => {
  const { home, wwwroot } = newSite();
  const iis = await startIis({ home, launcher: 'shell', env: { EXAMPLE_POLL_MS: '50' } });
  t.after(() => iis.close());
  assert.equal((await get(iis, '/')).status, 200);
  // A slow request keeps the old process alive after it has closed its listener.
  const slow = get(iis, '/slow?ms=1500');
  await new Promise((r) => setTimeout(r, 200));
  fs.copyFileSync(v2, path.join(wwwroot, '_target', 'site-bbbbbbbbbb.exe'));
  writeArtifact(wwwroot, 'site-bbbbbbbbbb.exe');
  await new Promise((r) => setTimeout(r, 400));
  // The emulator's only pooled connection to the process carries the slow request, so this one
  // needs a new connection, which the draining process refuses.
  const refused = await get(iis, '/');
  assert.equal(refused.status, 502);
  assert.match(refused.body, /502\.3/);
  assert.equal(iis.stats().badGateway, 1);
  assert.equal(iis.stats().starts, 1, 'a refused connection neither retries nor starts another process');
  const s = await slow;
  assert.equal(s.status, 200, 'the request in flight completes');
  assert.equal(s.body, 'v1 aaaaaaaaaa\n');
  await iis.backendExited();
  assert.equal((await get(iis, '/')).body, 'v2 bbbbbbbbbb\n', 'the next request after the exit starts the new version');
});

test('starts the process again on the next request after it exits', { timeout: 60_000 }, async (t) => {
  const { home } = newSite();
  const iis = await startIis({ home, launcher: 'shell' });
  t.after(() => iis.close());
  assert.equal((await get(iis, '/')).status, 200);
  const [proc] = iis.processes();
  assert.ok(proc !== undefined);
  const exited = iis.backendExited();
  process.kill(proc.id, 'SIGTERM');
  await exited;
  assert.deepEqual(iis.processes(), []);
  assert.equal((await get(iis, '/')).body, 'v1 aaaaaaaaaa\n');
  assert.equal(iis.stats().starts, 2);
  assert.notEqual(iis.processes()[0]?.id, proc.id);
});

test('a launcher that cannot start logs why, answers 502.5, and rapid fails end in 503', { timeout: 60_000 }, async (t) => {
  const { home, wwwroot } = newSite();
  writeArtifact(wwwroot, 'site-cccccccccc.exe'); // never uploaded
  const iis = await startIis({ home, launcher: 'shell', startupRetryCount: 1, rapidFailsPerMinute: 3 });
  t.after(() => iis.close());
  const failed = await get(iis, '/');
  assert.equal(failed.status, 502);
  assert.match(failed.body, /502\.5/);
  const logDir = path.join(home, 'LogFiles');
  const log = fs.readdirSync(logDir).filter((f) => f.startsWith('go-azure-stdout_')).map((f) => fs.readFileSync(path.join(logDir, f), 'utf8')).join('');
  assert.match(log, /site-cccccccccc\.exe.*does not exist/);
  await get(iis, '/');
  await get(iis, '/');
  const unavailable = await get(iis, '/');
  assert.equal(unavailable.status, 503, 'the fourth exit within a minute exceeds rapidFailsPerMinute=3');
  assert.equal(iis.stats().starts, 3);
});

test('reads startupTimeLimit and rapidFailsPerMinute from the template web.config', async () => {
  const { readWebConfig } = await import('../sandbox/iis.ts');
  const { wwwroot } = newSite();
  const cfg = readWebConfig(wwwroot);
  assert.ok((cfg.rapidFailsPerMinute ?? 0) >= 100, 'every deploy is a process exit: the template raises rapidFailsPerMinute');
  assert.ok((cfg.startupTimeLimit ?? 0) >= 10);
  assert.equal(cfg.stdoutLogFile, 'LogFiles/go-azure-stdout');
});
