// Verification of a scaled-out site: every instance is checked, each pinned with the ARRAffinity
// cookie, through the real Kudu client against the Kudu emulator; and the health gate's decisions.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startKudu } from '../sandbox/kudu.ts';
import { KuduClient } from '../src/site/kudu.ts';
import { verifyDeployment, watchDeployment, judgeCheck } from '../src/site/verify.ts';
import { parseStatusSet, statusAllowed } from '../src/common/inputs.ts';
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

/** The site as a publish profile reaches it: Basic auth to the Kudu emulator, the site at `webappUrl`. */
function basicTarget(kudu: { url: string; userName: string; password: string }, webappUrl: string): SiteConnection {
  return {
    kuduUrl: kudu.url,
    webappUrl,
    authKind: 'basic',
    authorization: async () => `Basic ${Buffer.from(`${kudu.userName}:${kudu.password}`).toString('base64')}`,
  };
}

async function setup(serving: (instance: string | undefined) => string) {
  const site = await startSite();
  const kudu = await startKudu({ siteName: 'scaled', processes: (instance) => [{ id: 1, name: 'w3wp' }, { id: 2, name: serving(instance) }] });
  const target = basicTarget(kudu, site.url);
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
    assert.match(result.detail, /was not serving after 1.5 s \(seen: instance b: site-aaaaaaaaaa, w3wp; \/ answered (200 in \d+ ms, )*200 in \d+ ms \(Kudu lists site-aaaaaaaaaa, w3wp\)\)/);
    assert.deepEqual(result.instances.map((i) => [i.instance, i.ok]), [['a', true], ['b', false]]);
  } finally {
    await env.close();
  }
});

/** A goazure-like site: each instance's answer to /healthz names its binary and has its own status. */
async function startHealthSite(answer: (instance: string) => { status: number; artifact: string }) {
  const server = http.createServer((req, res) => {
    const instance = /ARRAffinity=([^;]+)/.exec(req.headers.cookie ?? '')?.[1] ?? '';
    const a = answer(instance);
    res.writeHead(req.url === '/healthz' ? a.status : 200, { 'X-Goazure-Artifact': a.artifact }).end('x');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const gate = { path: '/healthz', statuses: parseStatusSet('200-299')!, stableChecks: 3 };

test('health gate: an instance whose health path answers 500 from the new binary is not healthy, and its answers are named', { timeout: 30_000 }, async () => {
  const site = await startHealthSite((i) => ({ status: i === 'b' ? 500 : 200, artifact: 'site-bbbbbbbbbb.exe' }));
  const env = await setup(() => 'site-bbbbbbbbbb');
  try {
    const result = await verifyDeployment(
      env.client,
      { ...env.target, webappUrl: site.url },
      { artifactName: 'site-bbbbbbbbbb.exe', previous: 'site-aaaaaaaaaa.exe', timeoutSeconds: 2, instances: ['a', 'b'], pollIntervalMs: 100, health: gate },
      new AbortController().signal,
    );
    assert.equal(result.ok, false);
    assert.deepEqual(result.instances.map((i) => [i.instance, i.ok, i.lastStatus, i.artifact]), [['a', true, 200, 'site-bbbbbbbbbb.exe'], ['b', false, 500, 'site-bbbbbbbbbb.exe']]);
    assert.match(result.detail, /site-bbbbbbbbbb\.exe was not healthy after 2 s \(seen: instance b: site-bbbbbbbbbb, w3wp; \/healthz answered (500 from site-bbbbbbbbbb\.exe in \d+ ms, )*500 from site-bbbbbbbbbb\.exe in \d+ ms \(not 200-299\)\)/);
    assert.equal(result.identifiedBy, 'header');
    assert.ok((result.instances[0].secondsToHealthy ?? 0) > 0.15, 'three checks in a row took at least two poll intervals');
  } finally {
    await site.close();
    await env.close();
  }
});

test('health gate: answers from the old binary do not count, even when Kudu already lists the new one', { timeout: 30_000 }, async () => {
  // The old process still answers for a second from the start of verification (draining), then
  // the new one does.
  let started = Number.POSITIVE_INFINITY;
  const answered: string[] = [];
  const site = await startHealthSite(() => {
    const artifact = Date.now() - started < 1000 ? 'site-aaaaaaaaaa.exe' : 'site-bbbbbbbbbb.exe';
    answered.push(artifact);
    return { status: 200, artifact };
  });
  const env = await setup(() => 'site-bbbbbbbbbb');
  try {
    started = Date.now();
    const result = await verifyDeployment(
      env.client,
      { ...env.target, webappUrl: site.url },
      { artifactName: 'site-bbbbbbbbbb.exe', previous: 'site-aaaaaaaaaa.exe', timeoutSeconds: 10, pollIntervalMs: 100, health: gate },
      new AbortController().signal,
    );
    assert.equal(result.ok, true, result.detail);
    // The old binary answered first, and only the three answers of the new one after it counted.
    assert.equal(answered[0], 'site-aaaaaaaaaa.exe');
    assert.deepEqual(answered.slice(-3), ['site-bbbbbbbbbb.exe', 'site-bbbbbbbbbb.exe', 'site-bbbbbbbbbb.exe']);
    assert.ok(answered.filter((a) => a === 'site-aaaaaaaaaa.exe').length >= 3, `old answers were not counted: ${answered.join(' ')}`);
  } finally {
    await site.close();
    await env.close();
  }
});

test('with a publish profile (no instance ids), unpinned process lists from the instances in turn do not reset the streak or end the watch', { timeout: 30_000 }, async () => {
  // The SCM host takes turns between the instances' Kudus; each runs its own copy of the new
  // binary with its own pid, and each list names its machine.
  const site = await startHealthSite(() => ({ status: 200, artifact: 'site-bbbbbbbbbb.exe' }));
  const kudu = await startKudu({
    siteName: 'scaled',
    instances: ['a', 'b'],
    processes: (instance) => [{ id: 1, name: 'w3wp' }, { id: instance === 'a' ? 10 : 20, name: 'site-bbbbbbbbbb' }],
  });
  const target = basicTarget(kudu, site.url);
  const client = new KuduClient(target, new AbortController().signal, { attempts: 1 });
  try {
    const result = await verifyDeployment(client, target, { artifactName: 'site-bbbbbbbbbb.exe', previous: 'site-aaaaaaaaaa.exe', timeoutSeconds: 3, pollIntervalMs: 100, health: gate }, new AbortController().signal);
    assert.equal(result.ok, true, result.detail);
    assert.deepEqual(Object.values(result.instances[0]!.tracked ?? {}).map((t) => t.pid).sort(), [10, 20], 'each machine\'s process is followed on its own');
    const watched = await watchDeployment(client, target, { artifactName: 'site-bbbbbbbbbb.exe', instances: result.instances, health: gate, seconds: 1, pollIntervalMs: 100 }, new AbortController().signal);
    assert.equal(watched.ok, true, watched.detail);
    assert.ok(new Set(kudu.requests.filter((r) => r.path === '/api/processes').map((r) => r.instance)).size === 2, 'both instances answered');
  } finally {
    await site.close();
    await kudu.close();
  }
});

test('judgeCheck: the process list, the answering binary and the status each decide', () => {
  const procs = [{ id: 7, name: 'site-bbbbbbbbbb' }];
  const req = { artifactName: 'site-bbbbbbbbbb.exe', previous: 'site-aaaaaaaaaa.exe', health: gate };
  assert.deepEqual(judgeCheck(procs, { status: 200, artifact: 'SITE-bbbbbbbbbb.exe', latencyMs: 1 }, req), { healthy: true, why: '' });
  assert.match(judgeCheck(procs, { status: 200, artifact: 'site-aaaaaaaaaa.exe', latencyMs: 1 }, req).why, /answered by site-aaaaaaaaaa\.exe, not the new version/);
  assert.match(judgeCheck(procs, { status: 503, artifact: '', latencyMs: 1 }, req).why, /not 200-299/);
  assert.match(judgeCheck([...procs, { id: 6, name: 'site-aaaaaaaaaa' }], { status: 200, artifact: '', latencyMs: 1 }, req).why, /Kudu lists site-bbbbbbbbbb, site-aaaaaaaaaa/);
  // Without the gate (a rollback), any answer from the app will do, but not IIS's own 502.
  assert.equal(judgeCheck(procs, { status: 500, artifact: '', latencyMs: 1 }, { ...req, health: undefined }).healthy, true);
  assert.equal(judgeCheck(procs, { status: 502, artifact: '', latencyMs: 1 }, { ...req, health: undefined }).healthy, false);
});

test('health-status parsing: ranges and codes; anything else is refused', () => {
  assert.deepEqual(parseStatusSet('200-299'), { text: '200-299', ranges: [[200, 299]] });
  assert.deepEqual(parseStatusSet(' 200, 204 ,300-399'), { text: '200,204,300-399', ranges: [[200, 200], [204, 204], [300, 399]] });
  for (const bad of ['', 'ok', '2xx', '299-200', '99', '200-600', '200;204']) assert.equal(parseStatusSet(bad), null, bad);
  assert.equal(statusAllowed(parseStatusSet('200,204')!, 204), true);
  assert.equal(statusAllowed(parseStatusSet('200,204')!, 201), false);
  assert.equal(statusAllowed(parseStatusSet('200,204')!, undefined), false);
});

test('judgeCheck: an answer from another instance than the pinned one is reported, not counted', () => {
  const procs = [{ id: 7, name: 'site-bbbbbbbbbb' }];
  const req = { artifactName: 'site-bbbbbbbbbb.exe', previous: 'site-aaaaaaaaaa.exe', health: gate };
  const pinned = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';
  const answer = (instance: string) => ({ status: 200, artifact: 'site-bbbbbbbbbb.exe', instance, latencyMs: 1 });
  assert.deepEqual(judgeCheck(procs, answer('a1b2c3d4e5f6'), req, pinned), { healthy: true, why: '' });
  assert.deepEqual(judgeCheck(procs, answer('A1B2C3D4E5F6'), req, pinned), { healthy: true, why: '' }, 'any case');
  assert.match(judgeCheck(procs, answer('0f1e2d3c4b5a'), req, pinned).why, new RegExp(`answered by instance 0f1e2d3c4b5a, not ${pinned} that the ARRAffinity cookie named`));
  // goazure 1.0.0 does not name the instance; nor does anyone without a pinned instance.
  assert.equal(judgeCheck(procs, answer(''), req, pinned).healthy, true);
  assert.equal(judgeCheck(procs, answer('0f1e2d3c4b5a'), req, '').healthy, true);
});

/**
 * A goazure site behind a front end: each instance names itself (X-Goazure-Instance) and its
 * binary only to requests with the identity key; `honoursAffinity` false sends every request to
 * the last instance whatever the ARRAffinity cookie says, as a front end that ignores it may.
 */
async function startInstancesSite(ids: string[], key: string, honoursAffinity: boolean) {
  const keys: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    const pinned = /ARRAffinity=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const instance = honoursAffinity && pinned !== undefined && ids.includes(pinned) ? pinned : ids[ids.length - 1];
    const sent = req.headers['x-goazure-identity-key'];
    keys.push(typeof sent === 'string' ? sent : undefined);
    const identity = sent === key ? { 'X-Goazure-Artifact': 'site-bbbbbbbbbb.exe', 'X-Goazure-Instance': instance.slice(0, 12) } : {};
    res.writeHead(200, identity).end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, keys, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('verify sends the identity key, and an instance answered for by another (affinity not honoured) is reported, not counted', { timeout: 30_000 }, async () => {
  const ids = ['a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9', '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0'];
  const key = 'k'.repeat(64);
  const env = await setup(() => 'site-bbbbbbbbbb');
  try {
    for (const honoursAffinity of [true, false]) {
      const site = await startInstancesSite(ids, key, honoursAffinity);
      try {
        const result = await verifyDeployment(
          env.client,
          { ...env.target, webappUrl: site.url },
          { artifactName: 'site-bbbbbbbbbb.exe', previous: 'site-aaaaaaaaaa.exe', timeoutSeconds: 1.5, instances: ids, pollIntervalMs: 100, health: gate, identityKey: key },
          new AbortController().signal,
        );
        assert.ok(site.keys.length > 0 && site.keys.every((k) => k === key), 'every probe carried the key');
        if (honoursAffinity) {
          assert.equal(result.ok, true, result.detail);
          assert.equal(result.identifiedBy, 'header');
          continue;
        }
        assert.equal(result.ok, false, result.detail);
        assert.match(result.detail, new RegExp(`answered by instance ${ids[1].slice(0, 12)}, not ${ids[0]} that the ARRAffinity cookie named \\(the front end did not route by it\\)`));
        assert.deepEqual(result.instances.map((i) => i.ok), [false, true], 'the instance answered for by another never counted');
      } finally {
        await site.close();
      }
    }
  } finally {
    await env.close();
  }
});
