// The Kudu client against the emulator: the VFS/zip/processes contract, the retry policy, and the
// messages for answers that retrying cannot fix.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { ActionError } from '../src/common/errors.ts';
import { KuduClient, PROFILE_REFUSED, SITE_STOPPED, encodePath } from '../src/site/kudu.ts';
import { uploadArtifact } from '../src/site/upload.ts';
import { USER_AGENT } from '../src/common/http.ts';
import { connectionFromPublishProfile } from '../src/signin/publishprofile.ts';
import { startKudu, zipOfFiles, type KuduEmulator } from '../sandbox/kudu.ts';
import { captureStdout, clientFor, profileConfig } from '../sandbox/fixture.ts';
import { readLiveArtifact } from '../src/site/switch.ts';

let kudu: KuduEmulator;
let client: KuduClient;
const never = new AbortController().signal;

before(async () => {
  kudu = await startKudu({
    siteName: 'client-site',
    processes: (instance) => (instance === undefined ? [{ id: 7, name: 'client-site-aaaaaaaaaa' }] : [{ id: 8, name: `on-${instance}` }]),
  });
  client = clientFor(kudu, never);
});
after(() => kudu.close());

async function writeZip(files: Record<string, Buffer | string>): Promise<string> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kudu-client-')), 'p.zip');
  fs.writeFileSync(file, await zipOfFiles(files));
  return file;
}

test('getFile / putFile / listDir / deletePath / processes follow the contract', async () => {
  assert.equal(await client.getFile('site/wwwroot/none.txt'), null);
  await client.putFile('site/wwwroot/c/one.txt', 'one');
  const got = await client.getFile('site/wwwroot/c/one.txt');
  assert.equal(got?.body.toString(), 'one');
  assert.match(got?.etag ?? '', /^".+"$/);
  await assert.rejects(client.putFile('site/wwwroot/c/one.txt', 'two'), (e: Error) => e instanceof ActionError && /already exists/.test(e.message));
  await client.putFile('site/wwwroot/c/one.txt', 'two', { ifMatch: got!.etag });
  assert.equal((await client.getFile('site/wwwroot/c/one.txt'))?.body.toString(), 'two');

  const listing = await client.listDir('site/wwwroot/c');
  assert.deepEqual(listing?.map((e) => [e.name, e.size]), [['one.txt', 3]]);
  assert.equal(await client.listDir('site/wwwroot/nothing'), null);

  assert.equal(await client.deletePath('site/wwwroot/c/none.txt'), 'missing');
  kudu.lock('site/wwwroot/c/one.txt');
  assert.equal(await client.deletePath('site/wwwroot/c/one.txt'), 'locked');
  kudu.unlock('site/wwwroot/c/one.txt');
  assert.equal(await client.deletePath('site/wwwroot/c/one.txt'), 'deleted');
  await client.putFile('site/wwwroot/c/sub/x.txt', 'x');
  assert.equal(await client.deletePath('site/wwwroot/c/sub/', { recursive: true }), 'deleted');
  assert.ok(!fs.existsSync(path.join(kudu.home, 'site/wwwroot/c/sub')));

  assert.deepEqual((await client.processes()).map((p) => [p.id, p.name]), [[7, 'client-site-aaaaaaaaaa']]);
  // One instance of a scaled-out site, pinned with the ARRAffinity cookie.
  assert.deepEqual((await client.processes('0a1b2c')).map((p) => [p.id, p.name]), [[8, 'on-0a1b2c']]);
});

test('paths with spaces and non-ASCII names are encoded per segment', async () => {
  await client.putFile('site/wwwroot/with space/naïve #1.txt', 'ok');
  assert.equal(fs.readFileSync(path.join(kudu.home, 'site/wwwroot/with space/naïve #1.txt'), 'utf8'), 'ok');
  assert.deepEqual((await client.listDir('site/wwwroot/with space'))?.map((e) => e.name), ['naïve #1.txt']);
});

test('putZip streams the file, reports progress, sends the User-Agent', async () => {
  const big = crypto.randomBytes(3 * 1024 * 1024);
  const zipPath = await writeZip({ 'big.bin': big });
  const seen: number[] = [];
  const before = kudu.bytesReceived;
  const { bytesSent } = await client.putZip('site/wwwroot/zipdir', zipPath, { onProgress: (n) => seen.push(n) });
  assert.equal(bytesSent, fs.statSync(zipPath).size);
  assert.equal(kudu.bytesReceived - before, bytesSent);
  assert.ok(seen.length > 1, 'progress reported more than once');
  assert.equal(seen.at(-1), bytesSent);
  assert.deepEqual(fs.readFileSync(path.join(kudu.home, 'site/wwwroot/zipdir/big.bin')), big);
  const version = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
  assert.equal(USER_AGENT, `go-azure-deploy/${version}`);
  assert.equal(kudu.requests.at(-1)?.userAgent, USER_AGENT);
});

test('transient answers are retried: 503 with Retry-After, 429, 500, then success', async () => {
  kudu.fault({ route: '/api/processes', times: 1, status: 503, retryAfter: '0' });
  kudu.fault({ route: '/api/processes', times: 1, status: 429 });
  kudu.fault({ route: '/api/processes', times: 1, status: 500 });
  const before = kudu.requests.length;
  await client.processes();
  assert.deepEqual(kudu.requests.slice(before).map((r) => r.status), [503, 429, 500, 200]);
});

test('an upload cut mid-body is retried from the start, the file re-opened', async () => {
  const zipPath = await writeZip({ 'cut.bin': crypto.randomBytes(2 * 1024 * 1024) });
  kudu.fault({ route: '/api/zip/', resetAfterRequestBytes: 256 * 1024 });
  const before = kudu.requests.length;
  await client.putZip('site/wwwroot/cutdir', zipPath);
  const zipCalls = kudu.requests.slice(before).filter((r) => r.path.startsWith('/api/zip/'));
  assert.deepEqual(zipCalls.map((r) => r.status), [-1, 200]);
  assert.equal(zipCalls[1].bytesIn, fs.statSync(zipPath).size);
  assert.equal(fs.statSync(path.join(kudu.home, 'site/wwwroot/cutdir/cut.bin')).size, 2 * 1024 * 1024);
});

test('an answer cut mid-body is retried', async () => {
  await client.putFile('site/wwwroot/cutanswer.txt', 'y'.repeat(50_000));
  kudu.fault({ route: '/api/vfs/site/wwwroot/cutanswer.txt', method: 'GET', resetAfterResponseBytes: 100 });
  assert.equal((await client.getFile('site/wwwroot/cutanswer.txt'))?.body.length, 50_000);
});

test('a permanent 5xx ends in a clear ActionError after the attempts run out', async () => {
  kudu.fault({ route: '/api/processes', times: 10, status: 502 });
  await assert.rejects(client.processes(), (e: Error) => e instanceof ActionError && /answered HTTP 502/.test(e.message) && /5 times/.test(e.message));
  kudu.clearFaults();
});

test('401, 403 and 404 are not retried and say what to check', async () => {
  for (const [status, re] of [
    [401, /refused the credentials.*publish profile.*basic auth/s],
    [403, /forbade .*\(403\)\. Access restrictions or a private endpoint on the SCM site answer 403 to runners outside the allowed network/s],
    [404, /app-name and slot-name/],
  ] as const) {
    kudu.fault({ route: '/api/processes', status });
    const before = kudu.requests.length;
    await assert.rejects(client.processes(), (e: Error) => e instanceof ActionError && re.test(e.message) && (status !== 401 || e.message.includes(PROFILE_REFUSED)));
    assert.equal(kudu.requests.length - before, 1, `${status} tried once`);
  }
});

test('a stopped site: Kudu\'s 403 "This web app is stopped" is named as such and not retried', async () => {
  let stopped = true;
  const k = await startKudu({ siteName: 'stopped-site', stopped: () => stopped });
  try {
    const c = new KuduClient(connectionFromPublishProfile(profileConfig('stopped-site', 'production', k.url), k.publishProfileXml()), never, { retryBaseDelayMs: 5 });
    await assert.rejects(c.processes(), (e: Error) => e instanceof ActionError && /^The site is stopped: Kudu at .* answered .* with 403 "This web app is stopped"\..*Start it \(az webapp start/s.test(e.message) && !/Access restrictions/.test(e.message) && e.message.includes(SITE_STOPPED));
    assert.deepEqual(k.requests.map((r) => r.status), [403]);
    stopped = false;
    assert.ok(Array.isArray(await c.processes()), 'a started site answers');
  } finally {
    await k.close();
  }
});

test('a wrong password: 401 with a message, and the password is never in it', async () => {
  const target = connectionFromPublishProfile(profileConfig(kudu.siteName, 'production', kudu.url), kudu.publishProfileXml({ password: 'not-the-password' }));
  const wrong = new KuduClient(target, never, { retryBaseDelayMs: 5 });
  await assert.rejects(wrong.getFile('site/wwwroot/x'), (e: Error) => e instanceof ActionError && /401/.test(e.message) && !e.message.includes('not-the-password'));
});

test('an unreachable host fails with a message naming the host, network and proxy', async () => {
  const gone = await startKudu({ siteName: 'gone' });
  const xml = gone.publishProfileXml();
  const url = gone.url;
  await gone.close();
  const c = new KuduClient(connectionFromPublishProfile(profileConfig('gone', 'production', url), xml), never, { retryBaseDelayMs: 5, attempts: 2 });
  await assert.rejects(c.processes(), (e: Error) => e instanceof ActionError && e.message.includes(new URL(url).host) && /private endpoint/.test(e.message) && /HTTPS_PROXY/.test(e.message));
});

test('every request and every wait stops on the abort signal', async () => {
  const controller = new AbortController();
  const c = clientFor(kudu, controller.signal);
  kudu.fault({ route: '/api/processes', delayMs: 5000 });
  const started = performance.now();
  setTimeout(() => controller.abort(new ActionError('deadline')), 100);
  await assert.rejects(c.processes(), (e: Error) => e.message === 'deadline');
  assert.ok(performance.now() - started < 2000);

  const c2 = new KuduClient(connectionFromPublishProfile(profileConfig(kudu.siteName, 'production', kudu.url), kudu.publishProfileXml()), AbortSignal.timeout(200), { retryBaseDelayMs: 10_000 });
  kudu.fault({ route: '/api/processes', times: 3, status: 503 });
  const started2 = performance.now();
  await assert.rejects(c2.processes());
  assert.ok(performance.now() - started2 < 2000, 'the wait between retries is cut too');
  kudu.clearFaults();
});

test('VFS paths are encoded per segment, backslashes made slashes', () => {
  assert.equal(encodePath('site/wwwroot/_target/a b#?.exe'), 'site/wwwroot/_target/a%20b%23%3F.exe');
  assert.equal(encodePath('site\\wwwroot\\x'), 'site/wwwroot/x');
  assert.equal(encodePath('/site//wwwroot/'), 'site/wwwroot');
});

test('a file another writer holds exclusively answers 404 on Kudu, yet its folder lists it: read as busy and read again, never as absent', async () => {
  await client.putFile('site/wwwroot/_artifact.txt', '_target\\client-site-aaaaaaaaaa.exe\r\n');
  const now = await client.getFile('site/wwwroot/_artifact.txt');
  // Another writer's PUT: its head and the first bytes, the rest 700 ms later. Kudu has opened
  // the file with FileShare.None (and truncated it) before reading the body.
  const u = new URL(kudu.url);
  const body = Buffer.from('_target\\client-site-bbbbbbbbbb.exe\r\n');
  const writer = http.request({
    host: u.hostname,
    port: u.port,
    method: 'PUT',
    path: '/api/vfs/site/wwwroot/_artifact.txt',
    headers: { Authorization: `Basic ${Buffer.from(`${kudu.userName}:${kudu.password}`).toString('base64')}`, 'If-Match': now!.etag, 'Content-Length': String(body.length) },
  });
  const answered = new Promise<number>((resolve) => writer.on('response', (r) => (r.resume(), resolve(r.statusCode ?? 0))));
  writer.write(body.subarray(0, 8));
  const file = path.join(kudu.home, 'site/wwwroot/_artifact.txt');
  for (const end = Date.now() + 5000; fs.readFileSync(file, 'utf8') !== '_target\\'; ) {
    if (Date.now() > end) assert.fail('the other writer never started writing');
    await new Promise((r) => setTimeout(r, 5));
  }
  // The writer lets go only once the client's read has met the file it holds (404).
  const heldBy = kudu.requests.length;
  const letGo = setInterval(() => {
    if (kudu.requests.slice(heldBy).some((r) => r.method === 'GET' && r.path.endsWith('_artifact.txt') && r.status === 404)) {
      clearInterval(letGo);
      writer.end(body.subarray(8));
    }
  }, 5);
  const { value: live, error, out } = await captureStdout(() => readLiveArtifact(client));
  clearInterval(letGo);
  assert.equal(error, undefined, String(error));
  assert.equal(await answered, 204);
  assert.equal(live?.name, 'client-site-bbbbbbbbbb.exe', 'read once the writer let go, not "first deploy"');
  assert.match(out, /is busy: the folder lists it, but Kudu answered 404 to reading it/);
  assert.doesNotMatch(out, /first deploy/);
  // A file that is really missing is still missing.
  assert.equal(await client.getFile('site/wwwroot/never.txt'), null);
});

test('the upload stage over a file whose name differs only in case: Windows keeps the old name, and the check still finds the binary', async () => {
  // NTFS compares names without case: the file on the site keeps the case it had (an earlier
  // deploy with artifact-prefix "shop"), and the upload under "Shop-…" overwrites it.
  fs.mkdirSync(path.join(kudu.home, 'site/wwwroot/_target'), { recursive: true });
  fs.writeFileSync(path.join(kudu.home, 'site/wwwroot/_target/shop-0123456789.exe'), 'MZ-old');
  const binary = Buffer.from('MZ-new-build');
  const zipPath = await writeZip({ 'Shop-0123456789.exe': binary, 'Shop-0123456789/static/a.css': 'a' });
  const pkg = { zipPath, zipSize: fs.statSync(zipPath).size, binarySize: binary.length, entries: [] };
  const result = await uploadArtifact(client, pkg, 'Shop-0123456789.exe');
  assert.equal(result.skipped, false);
  const listed = fs.readdirSync(path.join(kudu.home, 'site/wwwroot/_target')).sort();
  assert.ok(listed.includes('shop-0123456789.exe') && !listed.includes('Shop-0123456789.exe'), `the existing name is kept: ${listed.join(', ')}`);
  assert.equal(fs.readFileSync(path.join(kudu.home, 'site/wwwroot/_target/shop-0123456789.exe'), 'utf8'), 'MZ-new-build');
  // The record vouching for the content: the listing under the other case still proves the whole binary.
  const again = await uploadArtifact(client, pkg, 'Shop-0123456789.exe', { alreadyThere: 'Shop-0123456789.exe is already on the site' });
  assert.equal(again.skipped, true);
});

test('killProcess: DELETE /api/processes/{id} on the pinned instance; 204 is killed, 404 (no such process) is gone', async () => {
  const killed: string[] = [];
  const k = await startKudu({ siteName: 'kill-site', killProcess: (id, instance) => (id === 7 ? (killed.push(`${id}@${instance ?? ''}`), true) : false) });
  try {
    const c = clientFor(k, never);
    assert.equal(await c.killProcess(7, 'inst-b'), 'killed');
    assert.equal(await c.killProcess(8), 'gone');
    assert.deepEqual(killed, ['7@inst-b']);
    assert.deepEqual(k.requests.filter((r) => r.method === 'DELETE').map((r) => `${r.path} ${r.status}`), ['/api/processes/7 204', '/api/processes/8 404']);
  } finally {
    await k.close();
  }
});
