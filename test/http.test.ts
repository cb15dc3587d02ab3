// The one HTTP layer (src/common/http.ts) against local servers: redirects as the caller allows
// them, and one agent per protocol and proxy decision, so http and https requests mix in one
// process. The https server's certificate is trusted in this process only
// (tls.setDefaultCACertificates); the test runner gives each test file its own process.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { MAX_REDIRECTS, RedirectError, sendRequest } from '../src/common/http.ts';
import { makeCertificate } from '../sandbox/azure.ts';
import { startTunnelProxy, type TunnelProxy } from '../sandbox/tunnel.ts';

/** What a server saw of one request. */
interface Seen {
  server: string;
  path: string;
  authorization?: string;
  cookie?: string;
}

const seen: Seen[] = [];
const servers: (http.Server | https.Server)[] = [];
const sockets = new Set<net.Socket>();
let dir = '';
let plainUrl = '';
let otherUrl = '';
let secureUrl = '';
/** A name only the test proxy knows; it sends every request for it to the right local server. */
const PROXIED_HOST = 'proxied.sandbox.invalid';
let proxy: TunnelProxy;

/**
 * Answers as a site that moved things would: `/to?u=<url>&s=<status>` redirects there,
 * `/loop/<n>` redirects to `/loop/<n+1>`, anything else is 200 with the server's name.
 */
function handler(name: string): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({ server: name, path: url.pathname + url.search, authorization: req.headers.authorization, cookie: req.headers.cookie });
    if (url.pathname === '/to') {
      res.writeHead(Number(url.searchParams.get('s') ?? 302), { location: url.searchParams.get('u') ?? '/' }).end();
    } else if (url.pathname.startsWith('/loop/')) {
      res.writeHead(302, { location: `/loop/${Number(url.pathname.slice(6)) + 1}` }).end();
    } else {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${name} ${url.pathname}`);
    }
  };
}

async function listen(server: http.Server | https.Server): Promise<number> {
  servers.push(server);
  server.on('connection', (s: net.Socket) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-http-'));
  const { certFile, keyFile } = makeCertificate(dir, [PROXIED_HOST]);
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), fs.readFileSync(certFile, 'utf8')]);
  const plainPort = await listen(http.createServer(handler('plain')));
  plainUrl = `http://127.0.0.1:${plainPort}`;
  // Another origin: another host name (and port) for the same machine.
  otherUrl = `http://localhost:${await listen(http.createServer(handler('other')))}`;
  const securePort = await listen(https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) }, handler('secure')));
  secureUrl = `https://127.0.0.1:${securePort}`;

  // Like squid with its default configuration: CONNECT to 443 only.
  proxy = await startTunnelProxy((authority) => (authority.endsWith(':443') ? securePort : plainPort), { connectPorts: [443] });
});

after(async () => {
  await proxy?.close();
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  fs.rmSync(dir, { recursive: true, force: true });
});

function get(url: string, opts: Partial<Parameters<typeof sendRequest>[0]> = {}) {
  return sendRequest({ method: 'GET', url, signal: new AbortController().signal, ...opts });
}

test('http and https requests mix in one process, direct and through a proxy that allows CONNECT to 443 only', async () => {
  for (const k of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy']) delete process.env[k];
  // http first, then https, then http again: each protocol keeps its own agent.
  assert.equal((await get(`${plainUrl}/a`)).body.toString(), 'plain /a');
  assert.equal((await get(`${secureUrl}/b`)).body.toString(), 'secure /b');
  assert.equal((await get(`${plainUrl}/c`)).body.toString(), 'plain /c');

  process.env.HTTP_PROXY = proxy.url;
  process.env.HTTPS_PROXY = proxy.url;
  try {
    assert.equal((await get(`https://${PROXIED_HOST}/d`)).body.toString(), 'secure /d');
    assert.equal((await get(`http://${PROXIED_HOST}/e`)).body.toString(), 'plain /e');
    assert.equal((await get(`https://${PROXIED_HOST}/f`)).body.toString(), 'secure /f');
    // Loopback bypasses the proxy, and gets a direct agent of its own protocol meanwhile.
    assert.equal((await get(`${plainUrl}/g`)).body.toString(), 'plain /g');
    // https is tunnelled; http goes to the proxy in absolute form, never as CONNECT host:80.
    assert.deepEqual([...new Set(proxy.tunnels)], [`${PROXIED_HOST}:443`]);
    assert.deepEqual(
      proxy.forwarded.map((f) => `${f.method} ${f.url}`),
      [`GET http://${PROXIED_HOST}/e`],
    );
  } finally {
    delete process.env.HTTP_PROXY;
    delete process.env.HTTPS_PROXY;
  }
});

test('through a proxy, an http request carries the proxy\'s credentials to the proxy and the URL\'s to the server, each only there', async () => {
  for (const k of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy']) delete process.env[k];
  const withCredentials = new URL(proxy.url);
  withCredentials.username = 'proxy-user';
  withCredentials.password = 'proxy-pass';
  process.env.HTTP_PROXY = withCredentials.href;
  try {
    const before = proxy.forwarded.length;
    seen.length = 0;
    const res = await get(`http://site-user:site-pass@${PROXIED_HOST}/creds?q=1`);
    assert.equal(res.body.toString(), 'plain /creds');
    const asked = proxy.forwarded.slice(before);
    assert.deepEqual(asked.map((f) => f.url), [`http://${PROXIED_HOST}/creds?q=1`], 'the URL sent to the proxy carries no credentials');
    assert.equal(asked[0]!.proxyAuthorization, `Basic ${Buffer.from('proxy-user:proxy-pass').toString('base64')}`);
    assert.deepEqual(seen.map((x) => x.authorization), [`Basic ${Buffer.from('site-user:site-pass').toString('base64')}`]);
  } finally {
    delete process.env.HTTP_PROXY;
  }
});

test('without redirects asked for, a 3xx is the answer (Kudu VFS 307 for a folder is seen as such)', async () => {
  const res = await get(`${plainUrl}/to?s=307&u=${encodeURIComponent(`${plainUrl}/folder/`)}`);
  assert.equal(res.status, 307);
  assert.equal(res.headers.location, `${plainUrl}/folder/`);
  assert.equal(res.url, `${plainUrl}/to?s=307&u=${encodeURIComponent(`${plainUrl}/folder/`)}`);
});

test('a redirect to another origin is followed without Authorization, Cookie or URL credentials', async () => {
  seen.length = 0;
  const target = `${otherUrl}/file.tar.gz`;
  const withCreds = `http://user:s3cret@127.0.0.1:${new URL(plainUrl).port}`;
  const res = await get(`${withCreds}/to?u=${encodeURIComponent(target)}`, {
    redirects: 'any',
    headers: { Authorization: 'Bearer tok', Cookie: 'ARRAffinity=x' },
  });
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'other /file.tar.gz');
  assert.equal(res.url, target);
  assert.deepEqual(seen, [
    { server: 'plain', path: `/to?u=${encodeURIComponent(target)}`, authorization: 'Bearer tok', cookie: 'ARRAffinity=x' },
    { server: 'other', path: '/file.tar.gz', authorization: undefined, cookie: undefined },
  ]);

  // URL credentials alone (no header): sent as Basic to their origin, not beyond it.
  seen.length = 0;
  await get(`${withCreds}/to?u=${encodeURIComponent(target)}`, { redirects: 'any' });
  assert.equal(seen[0].authorization, `Basic ${Buffer.from('user:s3cret').toString('base64')}`);
  assert.equal(seen[1].authorization, undefined);
});

test('a redirect within one origin keeps the Authorization header', async () => {
  seen.length = 0;
  const res = await get(`${plainUrl}/to?s=301&u=/moved`, { redirects: 'any', headers: { Authorization: 'Bearer tok' } });
  assert.equal(res.body.toString(), 'plain /moved');
  assert.deepEqual(seen.map((s) => s.authorization), ['Bearer tok', 'Bearer tok']);
});

test(`at most ${MAX_REDIRECTS} redirects are followed`, async () => {
  const ok = await get(`${plainUrl}/loop/0`, { redirects: 'any' }).catch((e: unknown) => e);
  assert.ok(ok instanceof RedirectError);
  assert.match(ok.message, new RegExp(`GET ${plainUrl.replace(/[.]/g, '\\.')}/loop/0 redirected more than ${MAX_REDIRECTS} times \\(last to ${plainUrl.replace(/[.]/g, '\\.')}/loop/6\\)`));
  seen.length = 0;
  // Five hops to a real answer are fine.
  const chain = ['/end', '/to?u=/end'];
  for (let i = 0; i < 4; i++) chain.push(`/to?u=${encodeURIComponent(chain[chain.length - 1])}`);
  const five = await get(`${plainUrl}${chain[chain.length - 1]}`, { redirects: 'any' });
  assert.equal(five.body.toString(), 'plain /end');
  assert.equal(seen.length, MAX_REDIRECTS + 1);
});

test('a redirect from https to plain http is refused', async () => {
  seen.length = 0;
  const err = await get(`${secureUrl}/to?u=${encodeURIComponent(`${plainUrl}/x`)}`, { redirects: 'any' }).catch((e: unknown) => e);
  assert.ok(err instanceof RedirectError, String(err));
  assert.match(err.message, /redirected from https to plain http/);
  assert.deepEqual(seen.map((s) => s.server), ['secure'], 'the http URL is never asked');
});

test('same-host follows an http → https upgrade of one host, not a redirect to another host', async () => {
  seen.length = 0;
  const upgraded = await get(`${plainUrl}/to?s=301&u=${encodeURIComponent(`${secureUrl}/home`)}`, {
    redirects: 'same-host',
    headers: { Cookie: 'ARRAffinity=i1' },
  });
  assert.equal(upgraded.body.toString(), 'secure /home');
  assert.deepEqual(seen.map((s) => s.cookie), ['ARRAffinity=i1', 'ARRAffinity=i1'], 'cookies are scoped by host name, not scheme');
  const elsewhere = await get(`${plainUrl}/to?u=${encodeURIComponent(`${otherUrl}/login`)}`, { redirects: 'same-host' });
  assert.equal(elsewhere.status, 302);
});
