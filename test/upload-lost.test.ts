// The zip upload whose answer is lost while Kudu keeps extracting (sandbox/kudu.ts, the
// keepExtracting fault: 504 from the front end, the extraction going on with each file held). The
// upload stage looks at what landed, waits for the extraction to end, and sends again only what
// is missing: a blind re-send would fail on the held files.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startKudu } from '../sandbox/kudu.ts';
import { clientFor } from '../sandbox/fixture.ts';
import { packageArtifact } from '../src/artifact/pack.ts';
import { uploadArtifact } from '../src/site/upload.ts';

const never = new AbortController().signal;

async function setup(t: { after: (f: () => unknown) => void }) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'upload-lost-'));
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));
  const app = path.join(work, 'app');
  fs.mkdirSync(path.join(app, 'static'), { recursive: true });
  const binary = path.join(work, 'site.exe');
  fs.writeFileSync(binary, crypto.randomBytes(300_000));
  fs.writeFileSync(path.join(app, 'static', 'a.css'), 'body{}');
  fs.writeFileSync(path.join(app, 'static', 'b.js'), 'let b = 1;');
  const artifactName = 'lost-0123456789.exe';
  const pkg = await packageArtifact({ binaryPath: binary, artifactName, workingDirectory: app, include: ['static/**'], mtime: new Date('2026-04-01T10:00:00Z'), outputPath: path.join(work, 'pkg.zip') });
  const kudu = await startKudu({ siteName: 'lost' });
  t.after(() => kudu.close());
  return { kudu, client: clientFor(kudu, never), pkg, artifactName, binary, app };
}

test('a 504 while Kudu keeps extracting: the upload waits for the extraction and sends nothing again', { timeout: 30_000 }, async (t) => {
  const { kudu, client, pkg, artifactName, binary } = await setup(t);
  kudu.fault({ route: '/api/zip/', method: 'PUT', status: 504, keepExtracting: { msPerEntry: 400 } });
  const result = await uploadArtifact(client, pkg, artifactName, { settle: { quietMs: 250, timeoutMs: 10_000 } });
  assert.equal(result.skipped, false);
  const target = path.join(kudu.home, 'site/wwwroot/_target');
  assert.ok(fs.readFileSync(path.join(target, artifactName)).equals(fs.readFileSync(binary)), 'the binary landed whole');
  assert.equal(fs.readFileSync(path.join(target, 'lost-0123456789/static/b.js'), 'utf8'), 'let b = 1;');
  assert.equal(kudu.requests.filter((r) => r.method === 'PUT' && r.path.startsWith('/api/zip/')).length, 1, 'the zip was sent once');
});

test('an extraction that stopped part-way: only the entries that did not land are sent again', { timeout: 30_000 }, async (t) => {
  const { kudu, client, pkg, artifactName, app } = await setup(t);
  kudu.fault({ route: '/api/zip/', method: 'PUT', status: 502, keepExtracting: { msPerEntry: 200, stopAfterEntries: 1 } });
  await uploadArtifact(client, pkg, artifactName, { settle: { quietMs: 250, timeoutMs: 10_000 } });
  const zips = kudu.requests.filter((r) => r.method === 'PUT' && r.path.startsWith('/api/zip/'));
  assert.deepEqual(zips.map((r) => r.status), [502, 200]);
  assert.ok(zips[1]!.bytesIn < 2000, `the second zip holds only the two small files (${zips[1]!.bytesIn} bytes)`);
  for (const f of ['a.css', 'b.js']) {
    assert.equal(fs.readFileSync(path.join(kudu.home, 'site/wwwroot/_target/lost-0123456789/static', f), 'utf8'), fs.readFileSync(path.join(app, 'static', f), 'utf8'));
  }
});

test('while the extraction runs, its files are held: a VFS GET answers 404, a VFS PUT 409 and a zip that writes them again 400', { timeout: 30_000 }, async (t) => {
  const { kudu, client, pkg, artifactName } = await setup(t);
  kudu.fault({ route: '/api/zip/', method: 'PUT', status: 504, keepExtracting: { msPerEntry: 2000 } });
  await assert.rejects(client.putZip('site/wwwroot/_target', pkg.zipPath, { lostAnswer: 'throw' }), (e: Error) => e.name === 'ZipAnswerLostError' && /504/.test(e.message));
  await new Promise((r) => setTimeout(r, 300));
  const put = await fetch(`${kudu.url}/api/vfs/site/wwwroot/_target/${artifactName}`, {
    method: 'PUT',
    headers: { Authorization: `Basic ${Buffer.from(`${kudu.userName}:${kudu.password}`).toString('base64')}`, 'If-Match': '*' },
    body: 'x',
  });
  assert.equal(put.status, 409);
  // Kudu's read (VfsControllerBase.GetFileReadStream) cannot open a file written with FileShare.None.
  const get = await fetch(`${kudu.url}/api/vfs/site/wwwroot/_target/${artifactName}`, { headers: { Authorization: `Basic ${Buffer.from(`${kudu.userName}:${kudu.password}`).toString('base64')}` } });
  assert.equal(get.status, 404);
  await assert.rejects(client.putZip('site/wwwroot/_target', pkg.zipPath), (e: Error & { status?: number }) => e.status === 400 && /in use/.test(e.message));
});
