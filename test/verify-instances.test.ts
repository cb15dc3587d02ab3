// Verification of a scaled-out site: every instance is checked, each pinned with the ARRAffinity
// cookie, through the real Kudu client against the Kudu emulator.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startKudu } from '../sandbox/kudu.ts';
import { KuduClient } from '../src/site/kudu.ts';
import { verifyDeployment } from '../src/site/verify.ts';
import type { SiteConnection } from '../src/signin/connection.ts';

/** A site that answers 200 and records the instance each request was pinned to. */
async function startSite(): Promise<{ url: string; pinned: string[]; close: () => Promise<void> }> {
  const pinned: string[] = [];
  const server = http.createServer((req, res) => {
    pinned.push(/ARRAffinity=([^;]+)/.exec(req.headers.cookie ?? '')?.[1] ?? '');
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    pinned,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function setup(serving: (instance: string | undefined) => string) {
  const site = await startSite();
  const kudu = await startKudu({ siteName: 'scaled', processes: (instance) => [{ id: 1, name: 'w3wp' }, { id: 2, name: serving(instance) }] });
  const target: SiteConnection = {
    kuduUrl: kudu.url,
    webappUrl: site.url,
    authKind: 'basic',
    authorization: async () => `Basic ${Buffer.from(`${kudu.userName}:${kudu.password}`).toString('base64')}`,
  };
  const client = new KuduClient(target, new AbortController().signal, { attempts: 1 });
  return { site, kudu, target, client, close: async () => (await site.close(), await kudu.close()) };
}

test('every instance must serve the new artifact; each is pinned with ARRAffinity', { timeout: 30_000 }, async () => {
  // Instance b keeps the old process for a second from the start of verification, as a slower
  // instance does.
  let started = Number.POSITIVE_INFINITY;
  const env = await setup((instance) => (instance === 'b' && Date.now() - started < 1000 ? 'site-aaaaaaaaaa' : 'site-bbbbbbbbbb'));
  try {
    started = Date.now();
    const result = await verifyDeployment(
      env.client,
      env.target,
      { artifactName: 'site-bbbbbbbbbb.exe', previous: 'site-aaaaaaaaaa.exe', timeoutSeconds: 10, instances: ['a', 'b'], pollIntervalMs: 100 },
      new AbortController().signal,
    );
    assert.equal(result.ok, true, result.detail);
    assert.match(result.detail, /serving on all 2 instances/);
    assert.deepEqual(result.instances.map((i) => [i.instance, i.ok]), [['a', true], ['b', true]]);
    assert.ok(result.seconds >= 0.9, `waited for instance b (${result.seconds} s)`);
    assert.ok(env.site.pinned.includes('a') && env.site.pinned.includes('b'), `pinned: ${env.site.pinned.join(',')}`);
    const pinnedKudu = env.kudu.requests.filter((r) => r.path === '/api/processes');
    assert.ok(pinnedKudu.length >= 3, 'polled the processes of each instance');
  } finally {
    await env.close();
  }
});

test('an instance that never switches fails verification and is named', { timeout: 30_000 }, async () => {
  const env = await setup((instance) => (instance === 'b' ? 'site-aaaaaaaaaa' : 'site-bbbbbbbbbb'));
  try {
    const result = await verifyDeployment(
      env.client,
      env.target,
      { artifactName: 'site-bbbbbbbbbb.exe', previous: 'site-aaaaaaaaaa.exe', timeoutSeconds: 1.5, instances: ['a', 'b'], pollIntervalMs: 200 },
      new AbortController().signal,
    );
    assert.equal(result.ok, false);
    assert.match(result.detail, /was not serving after 1.5 s \(seen: instance b: w3wp, site-aaaaaaaaaa, site answered 200\)/);
    assert.deepEqual(result.instances.map((i) => [i.instance, i.ok]), [['a', true], ['b', false]]);
  } finally {
    await env.close();
  }
});
