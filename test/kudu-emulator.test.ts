// The Kudu emulator answers as Kudu does (docs/ARCHITECTURE.md, "Kudu"), checked with plain HTTP requests so the
// emulator is tested independently of the client that uses it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import yauzl from 'yauzl';
import { machineNameOf, startKudu, zipOfFiles, type KuduEmulator } from '../sandbox/kudu.ts';

let kudu: KuduEmulator;
let auth: string;

before(async () => {
  kudu = await startKudu({ siteName: 'emu-site', processes: () => [{ id: 42, name: 'emu-site-0123456789' }] });
  auth = `Basic ${Buffer.from(`${kudu.userName}:${kudu.password}`).toString('base64')}`;
});
after(() => kudu.close());

function call(method: string, p: string, init: { body?: Buffer | string; headers?: Record<string, string> } = {}): Promise<Response> {
  return fetch(kudu.url + p, { method, body: init.body, headers: { Authorization: auth, ...init.headers }, redirect: 'manual' });
}

test('site/wwwroot exists at start, and the user name is $site', async () => {
  assert.equal(kudu.userName, '$emu-site');
  assert.ok(fs.statSync(path.join(kudu.home, 'site', 'wwwroot')).isDirectory());
});

test('wrong or missing credentials → 401, and the log holds no credentials', async () => {
  const wrong = await fetch(`${kudu.url}/api/vfs/site/wwwroot/`, { headers: { Authorization: `Basic ${Buffer.from(`${kudu.userName}:nope`).toString('base64')}` } });
  assert.equal(wrong.status, 401);
  const none = await fetch(`${kudu.url}/api/vfs/site/wwwroot/`);
  assert.equal(none.status, 401);
  assert.ok(!JSON.stringify(kudu.requests).includes(kudu.password));
});

test('VFS file: PUT new → 201 with parents; GET → 200 + ETag; missing → 404', async () => {
  const put = await call('PUT', '/api/vfs/site/wwwroot/a/b/new.txt', { body: 'hello' });
  assert.equal(put.status, 201);
  const get = await call('GET', '/api/vfs/site/wwwroot/a/b/new.txt');
  assert.equal(get.status, 200);
  assert.match(get.headers.get('etag') ?? '', /^".+"$/);
  assert.equal(await get.text(), 'hello');
  assert.equal((await call('GET', '/api/vfs/site/wwwroot/a/b/nothing.txt')).status, 404);
});

test('VFS file over an existing one needs If-Match: none → 412, wrong → 412, * or the ETag → 204', async () => {
  await call('PUT', '/api/vfs/site/wwwroot/over.txt', { body: 'one' });
  assert.equal((await call('PUT', '/api/vfs/site/wwwroot/over.txt', { body: 'two' })).status, 412);
  assert.equal((await call('PUT', '/api/vfs/site/wwwroot/over.txt', { body: 'two', headers: { 'If-Match': '"nope"' } })).status, 412);
  assert.equal(fs.readFileSync(path.join(kudu.home, 'site/wwwroot/over.txt'), 'utf8'), 'one');
  assert.equal((await call('PUT', '/api/vfs/site/wwwroot/over.txt', { body: 'two', headers: { 'If-Match': '*' } })).status, 204);
  const etag = (await call('GET', '/api/vfs/site/wwwroot/over.txt')).headers.get('etag')!;
  assert.equal((await call('PUT', '/api/vfs/site/wwwroot/over.txt', { body: 'three', headers: { 'If-Match': etag } })).status, 204);
  assert.equal(fs.readFileSync(path.join(kudu.home, 'site/wwwroot/over.txt'), 'utf8'), 'three');
});

test('VFS: PUT or DELETE without If-Match over an existing file → 412 carrying the current ETag', async () => {
  await call('PUT', '/api/vfs/site/wwwroot/tagged.txt', { body: 'one' });
  const etag = (await call('GET', '/api/vfs/site/wwwroot/tagged.txt')).headers.get('etag');
  assert.match(etag ?? '', /^".+"$/);
  const put = await call('PUT', '/api/vfs/site/wwwroot/tagged.txt', { body: 'two' });
  assert.equal(put.status, 412);
  assert.equal(put.headers.get('etag'), etag);
  const del = await call('DELETE', '/api/vfs/site/wwwroot/tagged.txt');
  assert.equal(del.status, 412);
  assert.equal(del.headers.get('etag'), etag);
  // The ETag from the 412 is enough to write: the compare-and-swap a client retries with.
  assert.equal((await call('PUT', '/api/vfs/site/wwwroot/tagged.txt', { body: 'two', headers: { 'If-Match': etag! } })).status, 204);
  assert.equal(fs.readFileSync(path.join(kudu.home, 'site/wwwroot/tagged.txt'), 'utf8'), 'two');
});

test('VFS: a locked file cannot be written (409) and its DELETE answers 404; unlocked it deletes (200)', async () => {
  await call('PUT', '/api/vfs/site/wwwroot/run.exe', { body: 'MZ' });
  kudu.lock('site/wwwroot/run.exe');
  assert.equal((await call('PUT', '/api/vfs/site/wwwroot/run.exe', { body: 'MZ2', headers: { 'If-Match': '*' } })).status, 409);
  assert.equal((await call('DELETE', '/api/vfs/site/wwwroot/run.exe')).status, 412);
  assert.equal((await call('DELETE', '/api/vfs/site/wwwroot/run.exe', { headers: { 'If-Match': '*' } })).status, 404);
  assert.ok(fs.existsSync(path.join(kudu.home, 'site/wwwroot/run.exe')));
  kudu.unlock('site/wwwroot/run.exe');
  assert.equal((await call('DELETE', '/api/vfs/site/wwwroot/run.exe', { headers: { 'If-Match': '*' } })).status, 200);
  assert.ok(!fs.existsSync(path.join(kudu.home, 'site/wwwroot/run.exe')));
});

test('VFS directories: trailing-slash redirects, listing JSON, PUT dir/ → 201 then 409, recursive DELETE', async () => {
  assert.equal((await call('PUT', '/api/vfs/site/wwwroot/d1/')).status, 201);
  assert.equal((await call('PUT', '/api/vfs/site/wwwroot/d1/')).status, 409);
  const noSlash = await call('GET', '/api/vfs/site/wwwroot/d1');
  assert.equal(noSlash.status, 307);
  assert.equal(noSlash.headers.get('location'), `${kudu.url}/api/vfs/site/wwwroot/d1/`);
  await call('PUT', '/api/vfs/site/wwwroot/d1/f.txt', { body: '12345' });
  const fileSlash = await call('GET', '/api/vfs/site/wwwroot/d1/f.txt/');
  assert.equal(fileSlash.status, 307);
  assert.equal(fileSlash.headers.get('location'), `${kudu.url}/api/vfs/site/wwwroot/d1/f.txt`);

  const listing = (await (await call('GET', '/api/vfs/site/wwwroot/')).json()) as Record<string, unknown>[];
  const d1 = listing.find((e) => e.name === 'd1')!;
  assert.equal(d1.mime, 'inode/directory');
  assert.equal(d1.href, `${kudu.url}/api/vfs/site/wwwroot/d1/`);
  assert.deepEqual(Object.keys(d1).sort(), ['crtime', 'href', 'mime', 'mtime', 'name', 'path', 'size']);
  const inner = (await (await call('GET', '/api/vfs/site/wwwroot/d1/')).json()) as Record<string, unknown>[];
  assert.deepEqual(inner.map((e) => [e.name, e.size, e.path]), [['f.txt', 5, 'D:\\home\\site\\wwwroot\\d1\\f.txt']]);

  assert.equal((await call('DELETE', '/api/vfs/site/wwwroot/d1/')).status, 409, 'not empty, not recursive');
  kudu.lock('site/wwwroot/d1/f.txt');
  assert.equal((await call('DELETE', '/api/vfs/site/wwwroot/d1/?recursive=true')).status, 409, 'a file inside is locked');
  kudu.unlock('site/wwwroot/d1/f.txt');
  assert.equal((await call('DELETE', '/api/vfs/site/wwwroot/d1/?recursive=true')).status, 200);
  assert.ok(!fs.existsSync(path.join(kudu.home, 'site/wwwroot/d1')));
});

/**
 * A time whose local-time fields (what yazl writes into the DOS date and time) are 2001-02-03
 * 04:05:07 in every time zone, while its instant (what yazl writes into the extended timestamp
 * field) is a day later: a zip whose two times disagree, as one made in another time zone does.
 */
class DosFieldsDate extends Date {
  override getFullYear(): number { return 2001; }
  override getMonth(): number { return 1; }
  override getDate(): number { return 3; }
  override getHours(): number { return 4; }
  override getMinutes(): number { return 5; }
  override getSeconds(): number { return 7; }
}

test('zip API extracts over the folder deleting nothing (200); mtime from the entry\'s DOS time read as UTC; bytes counted', async () => {
  fs.mkdirSync(path.join(kudu.home, 'site/wwwroot/z'), { recursive: true });
  fs.writeFileSync(path.join(kudu.home, 'site/wwwroot/z/keep.txt'), 'kept');
  const body = await zipOfFiles({ 'a.exe': 'MZ-a', 'a/static/x.css': 'x' }, new DosFieldsDate(Date.UTC(2001, 1, 4, 4, 5, 7)));
  const before = kudu.bytesReceived;
  const res = await call('PUT', '/api/zip/site/wwwroot/z/', { body });
  assert.equal(res.status, 200);
  assert.equal(kudu.bytesReceived - before, body.length);
  assert.equal(fs.readFileSync(path.join(kudu.home, 'site/wwwroot/z/keep.txt'), 'utf8'), 'kept');
  assert.equal(fs.readFileSync(path.join(kudu.home, 'site/wwwroot/z/a.exe'), 'utf8'), 'MZ-a');
  assert.equal(fs.readFileSync(path.join(kudu.home, 'site/wwwroot/z/a/static/x.css'), 'utf8'), 'x');
  // Kudu keeps the entry's time as the modification time: .NET reads the DOS fields alone (even
  // seconds), as the site's local time, UTC. The creation time is the upload's.
  const listing = (await (await call('GET', '/api/vfs/site/wwwroot/z/')).json()) as { name: string; mtime: string; crtime: string }[];
  const a = listing.find((e) => e.name === 'a.exe')!;
  assert.equal(a.mtime, new Date(Date.UTC(2001, 1, 3, 4, 5, 6)).toISOString());
  assert.equal(fs.statSync(path.join(kudu.home, 'site/wwwroot/z/a/static/x.css')).mtimeMs, Date.UTC(2001, 1, 3, 4, 5, 6));
  assert.ok(Date.now() - new Date(a.crtime).getTime() < 60_000);
});

test('zip API GET: a folder comes back as a zip; a file or a missing path → 404', async () => {
  await call('PUT', '/api/vfs/site/wwwroot/zget/inner/a.txt', { body: 'aaa' });
  await call('PUT', '/api/vfs/site/wwwroot/zget/b.txt', { body: 'bb' });
  assert.equal((await call('GET', '/api/zip/site/wwwroot/zget/b.txt')).status, 404);
  assert.equal((await call('GET', '/api/zip/site/wwwroot/nothing-here/')).status, 404);
  const res = await call('GET', '/api/zip/site/wwwroot/zget/');
  assert.equal(res.status, 200);
  const zip = Buffer.from(await res.arrayBuffer());
  const names = await new Promise<string[]>((resolve, reject) =>
    yauzl.fromBuffer(zip, {}, (err, z) => {
      if (err) return reject(err);
      const found: string[] = [];
      z.on('entry', (e: yauzl.Entry) => found.push(e.fileName));
      z.on('end', () => resolve(found.sort()));
      z.on('error', reject);
    }),
  );
  assert.deepEqual(names, ['b.txt', 'inner/', 'inner/a.txt']);
});

test('zip API: a corrupt zip → 400; a locked file inside → 400 and that file untouched', async () => {
  assert.equal((await call('PUT', '/api/zip/site/wwwroot/z/', { body: Buffer.from('PK\x03\x04 not really a zip') })).status, 400);
  kudu.lock('site/wwwroot/z/a.exe');
  const res = await call('PUT', '/api/zip/site/wwwroot/z/', { body: await zipOfFiles({ 'a.exe': 'MZ-new' }) });
  assert.equal(res.status, 400);
  assert.equal(fs.readFileSync(path.join(kudu.home, 'site/wwwroot/z/a.exe'), 'utf8'), 'MZ-a');
  kudu.unlock('site/wwwroot/z/a.exe');
});

test('zip API over a file whose name differs only in case: the file keeps its name, as on NTFS; a lock holds under either case', async () => {
  fs.mkdirSync(path.join(kudu.home, 'site/wwwroot/zc/Assets'), { recursive: true });
  fs.writeFileSync(path.join(kudu.home, 'site/wwwroot/zc/app.exe'), 'MZ-old');
  fs.writeFileSync(path.join(kudu.home, 'site/wwwroot/zc/Assets/Site.css'), 'old');
  const res = await call('PUT', '/api/zip/site/wwwroot/zc/', { body: await zipOfFiles({ 'APP.exe': 'MZ-new', 'assets/site.css': 'new', 'assets/more.css': 'more' }) });
  assert.equal(res.status, 200);
  assert.deepEqual(fs.readdirSync(path.join(kudu.home, 'site/wwwroot/zc')).sort(), ['Assets', 'app.exe']);
  assert.equal(fs.readFileSync(path.join(kudu.home, 'site/wwwroot/zc/app.exe'), 'utf8'), 'MZ-new');
  assert.deepEqual(fs.readdirSync(path.join(kudu.home, 'site/wwwroot/zc/Assets')).sort(), ['Site.css', 'more.css']);
  assert.equal(fs.readFileSync(path.join(kudu.home, 'site/wwwroot/zc/Assets/Site.css'), 'utf8'), 'new');
  kudu.lock('site/wwwroot/zc/app.exe');
  assert.equal((await call('PUT', '/api/zip/site/wwwroot/zc/', { body: await zipOfFiles({ 'App.EXE': 'MZ-newer' }) })).status, 400);
  assert.equal(fs.readFileSync(path.join(kudu.home, 'site/wwwroot/zc/app.exe'), 'utf8'), 'MZ-new');
  kudu.unlock('site/wwwroot/zc/app.exe');
});

test('processes: JSON array of {id, name, machineName, href}', async () => {
  const res = await call('GET', '/api/processes');
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), [{ id: 42, name: 'emu-site-0123456789', machineName: machineNameOf(''), href: `${kudu.url}/api/processes/42`, user_name: 'IIS APPPOOL\\emu-site' }]);
});

test('faults: fail the next N with a status and Retry-After, then answer normally', async () => {
  kudu.fault({ route: '/api/processes', times: 2, status: 503, retryAfter: '1' });
  const first = await call('GET', '/api/processes');
  assert.equal(first.status, 503);
  assert.equal(first.headers.get('retry-after'), '1');
  assert.equal((await call('GET', '/api/processes')).status, 503);
  assert.equal((await call('GET', '/api/processes')).status, 200);
});

test('faults: reset mid-request-body, reset mid-answer, and a slow answer', async () => {
  kudu.fault({ route: '/api/zip/', resetAfterRequestBytes: 10 });
  await assert.rejects(call('PUT', '/api/zip/site/wwwroot/z/', { body: await zipOfFiles({ 'b.txt': 'b'.repeat(5000) }) }));
  assert.ok(!fs.existsSync(path.join(kudu.home, 'site/wwwroot/z/b.txt')));

  await call('PUT', '/api/vfs/site/wwwroot/long.txt', { body: 'x'.repeat(100_000) });
  kudu.fault({ route: '/api/vfs/site/wwwroot/long.txt', method: 'GET', resetAfterResponseBytes: 1000 });
  await assert.rejects(async () => {
    const res = await call('GET', '/api/vfs/site/wwwroot/long.txt');
    await res.arrayBuffer();
  });

  kudu.fault({ route: '/api/processes', delayMs: 300 });
  const started = performance.now();
  assert.equal((await call('GET', '/api/processes')).status, 200);
  assert.ok(performance.now() - started >= 290);
});

test('bearer tokens are accepted only through acceptBearer', async () => {
  const k2 = await startKudu({ acceptBearer: (t) => t === 'good-token' });
  try {
    assert.equal((await fetch(`${k2.url}/api/processes`, { headers: { Authorization: 'Bearer good-token' } })).status, 200);
    assert.equal((await fetch(`${k2.url}/api/processes`, { headers: { Authorization: 'Bearer bad' } })).status, 401);
  } finally {
    await k2.close();
  }
});

test('publish profile XML carries MSDeploy and ZipDeploy profiles for the site or slot', async () => {
  const k3 = await startKudu({ siteName: 'pp', slot: 'staging' });
  try {
    assert.equal(k3.userName, '$pp__staging');
    // As the portal writes it: host:443 without a scheme, the site's http URL, three methods.
    const xml = k3.publishProfileXml();
    assert.match(xml, /publishMethod="MSDeploy" publishUrl="pp-staging\.scm\.azurewebsites\.net:443"/);
    assert.match(xml, /publishMethod="ZipDeploy"/);
    assert.match(xml, /userName="\$pp__staging"/);
    assert.match(xml, /destinationAppUrl="http:\/\/pp-staging\.azurewebsites\.net"/);
    assert.match(xml, /publishMethod="ZipDeploy" publishUrl="pp-staging\.scm\.azurewebsites\.net:443"/);
    assert.match(xml, /publishMethod="FTP"/);
    assert.doesNotMatch(xml, /127\.0\.0\.1/);
  } finally {
    await k3.close();
  }
});

test('links and redirects carry the public name and scheme the request came with', async () => {
  await call('PUT', '/api/vfs/site/wwwroot/pub/f.txt', { body: 'x' });
  // fetch() sets Host itself, so these requests go out through node:http, as the proxy sends them.
  const viaProxy = (p: string): Promise<{ status: number; location?: string; body: string }> =>
    new Promise((resolve, reject) => {
      const req = http.request(`${kudu.url}${p}`, { headers: { Authorization: auth, Host: 'emu-site.scm.azurewebsites.net', 'X-Forwarded-Proto': 'https' } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }));
      });
      req.on('error', reject);
      req.end();
    });
  const redirect = await viaProxy('/api/vfs/site/wwwroot/pub');
  assert.equal(redirect.status, 307);
  assert.equal(redirect.location, 'https://emu-site.scm.azurewebsites.net/api/vfs/site/wwwroot/pub/');
  const listing = JSON.parse((await viaProxy('/api/vfs/site/wwwroot/pub/')).body) as { href: string }[];
  assert.deepEqual(listing.map((e) => e.href), ['https://emu-site.scm.azurewebsites.net/api/vfs/site/wwwroot/pub/f.txt']);
});

/** A PUT over a raw socket: the head, then `first` of the body; the rest when `more()` is called. */
function rawPut(p: string, body: Buffer, headers: Record<string, string>, first: number): { more: () => void; cut: () => void; status: Promise<number> } {
  const u = new URL(kudu.url);
  const req = http.request({ host: u.hostname, port: u.port, method: 'PUT', path: p, headers: { Authorization: auth, 'Content-Length': String(body.length), ...headers } });
  const status = new Promise<number>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(-1));
  });
  req.flushHeaders();
  req.write(body.subarray(0, first));
  return { more: () => req.end(body.subarray(first)), cut: () => req.destroy(), status };
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (const end = Date.now() + 5000; !cond(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('VFS PUT is written as the body arrives (Kudu opens the file with FileMode.Create first): a cut mid-body leaves it truncated with a new ETag', async () => {
  const file = path.join(kudu.home, 'site/wwwroot/streamed.txt');
  await call('PUT', '/api/vfs/site/wwwroot/streamed.txt', { body: 'the old content, whole\r\n' });
  const etag = (await call('GET', '/api/vfs/site/wwwroot/streamed.txt')).headers.get('etag')!;
  const put = rawPut('/api/vfs/site/wwwroot/streamed.txt', Buffer.from('the new content, in two parts\r\n'), { 'If-Match': etag }, 8);
  await until('the first part on disk', () => fs.readFileSync(file, 'utf8') === 'the new ');
  // While the writer holds the file: a GET answers 404 (Kudu cannot open it to read) though the
  // listing shows it, and another PUT answers 409.
  assert.equal((await call('GET', '/api/vfs/site/wwwroot/streamed.txt')).status, 404);
  const listed = (await (await call('GET', '/api/vfs/site/wwwroot/')).json()) as { name: string }[];
  assert.ok(listed.some((e) => e.name === 'streamed.txt'));
  assert.equal((await call('PUT', '/api/vfs/site/wwwroot/streamed.txt', { body: 'x', headers: { 'If-Match': '*' } })).status, 409);
  put.cut();
  assert.equal(await put.status, -1);
  await until('the writer to let go', () => kudu.requests.at(-1)?.status !== 0 && kudu.requests.some((r) => r.method === 'PUT' && r.status === -1));
  const after = await call('GET', '/api/vfs/site/wwwroot/streamed.txt');
  assert.equal(after.status, 200);
  assert.equal(await after.text(), 'the new ', 'truncated to what arrived');
  assert.notEqual(after.headers.get('etag'), etag, 'a new ETag');

  // The reset fault cuts at a byte count, and the bytes before it are written.
  const now = (await call('GET', '/api/vfs/site/wwwroot/streamed.txt')).headers.get('etag')!;
  kudu.fault({ route: '/api/vfs/site/wwwroot/streamed.txt', method: 'PUT', resetAfterRequestBytes: 5 });
  await assert.rejects(call('PUT', '/api/vfs/site/wwwroot/streamed.txt', { body: 'cut after five', headers: { 'If-Match': now } }));
  assert.equal(fs.readFileSync(file, 'utf8'), 'cut a');
  // Whole, it is written and answered 204 with the new ETag.
  const whole = await call('PUT', '/api/vfs/site/wwwroot/streamed.txt', { body: 'whole', headers: { 'If-Match': '*' } });
  assert.equal(whole.status, 204);
  assert.equal(whole.headers.get('etag'), (await call('GET', '/api/vfs/site/wwwroot/streamed.txt')).headers.get('etag'));
});

test('VFS PUT of a file a reader holds open → 409 and nothing written (Kudu writes with FileShare.None); GET still reads it', async () => {
  await call('PUT', '/api/vfs/site/wwwroot/held.txt', { body: 'one' });
  kudu.holdOpen('site/wwwroot/held.txt', 300);
  const refused = await call('PUT', '/api/vfs/site/wwwroot/held.txt', { body: 'two', headers: { 'If-Match': '*' } });
  assert.equal(refused.status, 409);
  assert.match(await refused.text(), /being used by another process/);
  assert.equal(await (await call('GET', '/api/vfs/site/wwwroot/held.txt')).text(), 'one');
  await new Promise((r) => setTimeout(r, 350));
  assert.equal((await call('PUT', '/api/vfs/site/wwwroot/held.txt', { body: 'two', headers: { 'If-Match': '*' } })).status, 204);
});

test('VFS DELETE of a file a reader holds open → 404 and the file stays (Kudu\'s FileInfo.Delete needs the reader to share delete); released, it deletes', async () => {
  await call('PUT', '/api/vfs/site/wwwroot/polled.txt', { body: 'one' });
  kudu.holdOpen('site/wwwroot/polled.txt', 300);
  assert.equal((await call('DELETE', '/api/vfs/site/wwwroot/polled.txt', { headers: { 'If-Match': '*' } })).status, 404);
  assert.ok(fs.existsSync(path.join(kudu.home, 'site/wwwroot/polled.txt')));
  await new Promise((r) => setTimeout(r, 350));
  assert.equal((await call('DELETE', '/api/vfs/site/wwwroot/polled.txt', { headers: { 'If-Match': '*' } })).status, 200);
  assert.ok(!fs.existsSync(path.join(kudu.home, 'site/wwwroot/polled.txt')));
});

test('zip API over a file a reader holds open → 400 and the file untouched (FileInfo.Open with FileMode.Create shares nothing); a new file beside it is no conflict', async () => {
  await call('PUT', '/api/vfs/site/wwwroot/zr/read.txt', { body: 'old' });
  kudu.holdOpen('site/wwwroot/zr/read.txt', 300);
  const res = await call('PUT', '/api/zip/site/wwwroot/zr/', { body: await zipOfFiles({ 'read.txt': 'new' }) });
  assert.equal(res.status, 400);
  assert.match(await res.text(), /being used by another process/);
  assert.equal(fs.readFileSync(path.join(kudu.home, 'site/wwwroot/zr/read.txt'), 'utf8'), 'old');
  kudu.holdOpen('site/wwwroot/zr/fresh.txt', 300);
  assert.equal((await call('PUT', '/api/zip/site/wwwroot/zr/', { body: await zipOfFiles({ 'fresh.txt': 'x' }) })).status, 200, 'no reader holds a file that does not exist');
});
