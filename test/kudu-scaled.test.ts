// A scaled-out site's SCM host: one Kudu per instance over the shared D:\home, picked by the
// ARRAffinity cookie, each seeing the share through its own SMB cache (sandbox/kudu.ts,
// `instances`). The action's one Kudu client pins a deploy to the instance of its first answer;
// only the process reads verify makes choose their instance themselves.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startKudu, zipOfFiles, machineNameOf } from '../sandbox/kudu.ts';
import { clientFor } from '../sandbox/fixture.ts';

const never = new AbortController().signal;

async function scaled() {
  const kudu = await startKudu({
    siteName: 'scaled-scm',
    instances: ['inst-a', 'inst-b', 'inst-c'],
    processes: (instance) => [{ id: instance === 'inst-a' ? 10 : instance === 'inst-b' ? 20 : 30, name: 'scaled-scm-aaaaaaaaaa' }],
  });
  const auth = { Authorization: `Basic ${Buffer.from(`${kudu.userName}:${kudu.password}`).toString('base64')}` };
  return { kudu, auth };
}

test('the scaled-out SCM host takes turns for unpinned requests, sets ARRAffinity, and each instance lists through its own cache', { timeout: 30_000 }, async (t) => {
  const { kudu, auth } = await scaled();
  t.after(() => kudu.close());
  fs.mkdirSync(path.join(kudu.home, 'site/wwwroot/_target'), { recursive: true });
  const list = async (cookie?: string) => {
    const res = await fetch(`${kudu.url}/api/vfs/site/wwwroot/_target/`, { headers: { ...auth, ...(cookie ? { Cookie: `ARRAffinity=${cookie}` } : {}) } });
    return { names: ((await res.json()) as { name: string }[]).map((e) => e.name), cookie: res.headers.get('set-cookie') ?? '' };
  };
  const first = await list();
  assert.match(first.cookie, /^ARRAffinity=inst-a;/);
  assert.match((await list()).cookie, /^ARRAffinity=inst-b;/, 'the next unpinned request goes to the next instance');
  assert.equal((await list('inst-a')).cookie, '', 'a pinned request sets no cookie');
  // inst-b writes a file: its own listing shows it at once, inst-a's cached listing does not.
  const put = await fetch(`${kudu.url}/api/vfs/site/wwwroot/_target/new.txt`, { method: 'PUT', headers: { ...auth, Cookie: 'ARRAffinity=inst-b' }, body: 'x' });
  assert.equal(put.status, 201);
  assert.deepEqual((await list('inst-b')).names, ['new.txt']);
  assert.deepEqual((await list('inst-a')).names, [], 'another instance lists from its SMB cache');
  assert.deepEqual(kudu.requests.map((r) => r.instance), ['inst-a', 'inst-b', 'inst-a', 'inst-b', 'inst-b', 'inst-a']);
});

test('the Kudu client pins every request of a deploy to the instance of its first answer; process reads are not pinned', { timeout: 30_000 }, async (t) => {
  const { kudu } = await scaled();
  t.after(() => kudu.close());
  const client = clientFor(kudu, never);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kudu-scaled-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const zipPath = path.join(dir, 'p.zip');
  fs.writeFileSync(zipPath, await zipOfFiles({ 'scaled-scm-bbbbbbbbbb.exe': Buffer.alloc(2048, 1) }));

  // As the upload stage: a listing, the zip, and the listing that proves the binary landed.
  await client.putFile('site/wwwroot/_target/.keep', '');
  assert.deepEqual((await client.listDir('site/wwwroot/_target'))?.map((e) => e.name), ['.keep']);
  await client.putZip('site/wwwroot/_target', zipPath);
  const after = await client.listDir('site/wwwroot/_target');
  assert.deepEqual(after?.map((e) => [e.name, e.size]).sort(), [['.keep', 0], ['scaled-scm-bbbbbbbbbb.exe', 2048]], 'the listing after the upload shows the binary');
  const pinned = kudu.requests.map((r) => r.instance);
  assert.deepEqual(pinned, pinned.map(() => pinned[0]), `every request went to one instance: ${pinned.join(', ')}`);

  // Verify's process reads: unpinned, so the front end takes turns; each entry names its machine.
  const machines = new Set<string>();
  for (let i = 0; i < 3; i++) for (const p of await client.processes()) machines.add(p.machineName ?? '');
  assert.equal(machines.size, 3, `unpinned process reads reach every instance: ${[...machines].join(', ')}`);
  assert.deepEqual((await client.processes('inst-c')).map((p) => [p.id, p.machineName]), [[30, machineNameOf('inst-c')]]);
});

test('DELETE /api/processes/{id} ends the process on the instance the front end routed the request to, with or without a cookie', { timeout: 30_000 }, async (t) => {
  const killed: (string | undefined)[] = [];
  const kudu = await startKudu({ siteName: 'scaled-kill', instances: ['inst-a', 'inst-b'], killProcess: (_id, instance) => (killed.push(instance), instance === 'inst-b') });
  t.after(() => kudu.close());
  const auth = { Authorization: `Basic ${Buffer.from(`${kudu.userName}:${kudu.password}`).toString('base64')}` };
  const kill = (cookie?: string) => fetch(`${kudu.url}/api/processes/7`, { method: 'DELETE', headers: { ...auth, ...(cookie ? { Cookie: cookie } : {}) } });
  const unpinned = await kill();
  assert.match(unpinned.headers.get('set-cookie') ?? '', /^ARRAffinity=inst-a;/);
  assert.equal(unpinned.status, 404, 'inst-a, which the answer pins, runs no process 7');
  assert.equal((await kill('ARRAffinity=inst-b')).status, 204);
  const stale = await kill('ARRAffinity=inst-gone');
  assert.match(stale.headers.get('set-cookie') ?? '', /^ARRAffinity=inst-b;/, 'a cookie naming no instance is routed in turn');
  assert.equal(stale.status, 204);
  assert.deepEqual(killed, ['inst-a', 'inst-b', 'inst-b']);
});

test('an extraction that goes on after a 504 shows in its own instance\'s listings at once, and in another\'s only once its cache runs out', { timeout: 30_000 }, async (t) => {
  const { kudu, auth } = await scaled();
  t.after(() => kudu.close());
  fs.mkdirSync(path.join(kudu.home, 'site/wwwroot/_target'), { recursive: true });
  const names = async (instance: string) =>
    ((await (await fetch(`${kudu.url}/api/vfs/site/wwwroot/_target/`, { headers: { ...auth, Cookie: `ARRAffinity=${instance}` } })).json()) as { name: string }[]).map((e) => e.name);
  assert.deepEqual(await names('inst-a'), []);
  assert.deepEqual(await names('inst-b'), []);
  kudu.fault({ route: '/api/zip/', method: 'PUT', status: 504, keepExtracting: { msPerEntry: 80 } });
  const put = await fetch(`${kudu.url}/api/zip/site/wwwroot/_target/`, { method: 'PUT', headers: { ...auth, Cookie: 'ARRAffinity=inst-a' }, body: await zipOfFiles({ 'one.txt': '1', 'two.txt': '2' }) });
  assert.equal(put.status, 504);
  // The extraction takes about 160 ms; its instance lists each file as it lands.
  let listed: string[] = [];
  for (const until = Date.now() + 5000; listed.length < 2 && Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, 50));
    listed = (await names('inst-a')).sort();
  }
  assert.deepEqual(listed, ['one.txt', 'two.txt'], 'the extracting instance lists its own writes');
  assert.deepEqual(await names('inst-b'), [], 'another instance lists from its SMB cache');
});
