// The sandbox's internet (sandbox/internet.ts): the real names reach the emulators through the
// proxy, over TLS with the test CA, with the real services' redirects; every other host is refused.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as tls from 'node:tls';
import * as path from 'node:path';
import { ARR_SSL, startAppService, type AppService } from '../sandbox/appservice.ts';
import { writeArtifact } from '../sandbox/iis.ts';
import { getViaProxy, type ProxiedAnswer } from '../sandbox/internet.ts';

let site: AppService;
before(async () => {
  site = await startAppService({ siteName: 'net-site' });
});
after(() => site.close());

type Answer = ProxiedAnswer;

/** A plain-http request through the proxy, in absolute-URI form. */
const viaProxyHttp = (url: string): Promise<Answer> => getViaProxy(site.internet, url);

/** CONNECT host:443, then TLS checked against the test CA only, then one GET. */
function viaProxyHttps(host: string, p: string, headers: Record<string, string> = {}): Promise<Answer | { connectStatus: number }> {
  const proxy = new URL(site.internet.proxyUrl);
  return new Promise((resolve, reject) => {
    const connect = http.request({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: `${host}:443` });
    connect.on('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        resolve({ connectStatus: res.statusCode ?? 0 });
        return;
      }
      const secure = tls.connect({ socket, servername: host, ca: fs.readFileSync(site.internet.caFile) });
      secure.on('error', reject);
      const req = http.request({ createConnection: () => secure, host, path: p, headers: { host, ...headers } }, (r) => {
        let body = '';
        r.setEncoding('utf8').on('data', (d: string) => (body += d));
        r.on('end', () => {
          secure.destroy();
          resolve({ status: r.statusCode ?? 0, headers: r.headers, body });
        });
      });
      req.on('error', reject);
      req.end();
    });
    connect.on('error', reject);
    connect.end();
  });
}

test('go.dev lists releases and sends a file to dl.google.com with a 302; dl.google.com serves it', async () => {
  const listing = (await viaProxyHttps('go.dev', '/dl/?mode=json&include=all')) as Answer;
  assert.equal(listing.status, 200);
  assert.ok((JSON.parse(listing.body) as { version: string }[]).some((r) => r.version === site.goMirror!.version));
  const name = site.goMirror!.archiveName;
  const redirect = (await viaProxyHttps('go.dev', `/dl/${name}`)) as Answer;
  assert.equal(redirect.status, 302);
  assert.equal(redirect.headers.location, `https://dl.google.com/go/${name}`);
  assert.equal(((await viaProxyHttps('go.dev', '/dl/not-a-release.txt')) as Answer).status, 404);
  // dl.google.com serves files only: the listing is go.dev's alone.
  assert.equal(((await viaProxyHttps('dl.google.com', '/go/?mode=json&include=all')) as Answer).status, 404);
  const head = (await viaProxyHttps('dl.google.com', `/go/no-such-file.tar.gz`)) as Answer;
  assert.equal(head.status, 404);
});

test('the SCM site answers on https only (http is redirected); the site on both; the TLS name is checked', async () => {
  const auth = `Basic ${Buffer.from(`${site.kudu.userName}:${site.kudu.password}`).toString('base64')}`;
  const scm = (await viaProxyHttps('net-site.scm.azurewebsites.net', '/api/vfs/site/', { authorization: auth })) as Answer;
  assert.equal(scm.status, 200);
  assert.deepEqual((JSON.parse(scm.body) as { href: string }[]).map((e) => e.href), ['https://net-site.scm.azurewebsites.net/api/vfs/site/wwwroot/']);
  const plain = await viaProxyHttp('http://net-site.scm.azurewebsites.net/api/vfs/site/');
  assert.equal(plain.status, 301);
  assert.equal(plain.headers.location, 'https://net-site.scm.azurewebsites.net/api/vfs/site/');
  // Nothing is deployed: IIS itself answers (no process to start), on either scheme.
  assert.ok([502, 503].includes((await viaProxyHttp('http://net-site.azurewebsites.net/')).status));
  assert.ok([502, 503].includes(((await viaProxyHttps('net-site.azurewebsites.net', '/')) as Answer).status));
  assert.match(site.publishProfile, /publishUrl="net-site\.scm\.azurewebsites\.net:443"/);
  assert.match(site.publishProfile, /destinationAppUrl="http:\/\/net-site\.azurewebsites\.net"/);
});

test('any other host is refused with 403, over http and CONNECT, and recorded', async () => {
  const before = site.internet.refused.length;
  const plain = await viaProxyHttp('http://example.com/');
  assert.equal(plain.status, 403);
  assert.match(plain.body, /does not reach example\.com:80/);
  assert.deepEqual(await viaProxyHttps('github.com', '/'), { connectStatus: 403 });
  assert.deepEqual(await viaProxyHttps('other-site.scm.azurewebsites.net', '/'), { connectStatus: 403 });
  assert.deepEqual(site.internet.refused.slice(before), ['example.com:80', 'github.com:443', 'other-site.scm.azurewebsites.net:443']);
});

test('as squid allows by default, CONNECT reaches port 443 only: http to a known host goes in absolute form, not through a tunnel', async () => {
  const host = new URL(site.appUrl).host;
  const tunnel = await new Promise<number>((resolve, reject) => {
    const proxy = new URL(site.internet.proxyUrl);
    const connect = http.request({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: `${host}:80` });
    connect.on('connect', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    connect.on('error', reject);
    connect.end();
  });
  assert.equal(tunnel, 403);
  assert.ok(site.internet.refused.includes(`${host}:80`));
  const plain = await viaProxyHttp(`${site.appUrl}/`);
  assert.notEqual(plain.status, 403, 'the same host over http in absolute form is served');
});

test('the front end tells the app how it was reached: X-Forwarded-Proto always, X-ARR-SSL over https; IIS passes both on', { timeout: 30_000 }, async (t) => {
  const proto = await startAppService({ siteName: 'proto-site', internet: site.internet, goMirror: false });
  t.after(() => proto.close());
  // The app: any process HttpPlatformHandler starts; this one answers with the headers it got.
  const name = 'echo-0123456789.exe';
  fs.mkdirSync(path.join(proto.wwwroot, '_target'), { recursive: true });
  fs.writeFileSync(
    path.join(proto.wwwroot, '_target', name),
    `#!${process.execPath}\nrequire('node:http').createServer((q, r) => r.end(JSON.stringify(q.headers))).listen(Number(process.argv[2]), '127.0.0.1');\n`,
    { mode: 0o755 },
  );
  writeArtifact(proto.wwwroot, name);
  const secure = (await viaProxyHttps('proto-site.azurewebsites.net', '/')) as Answer;
  assert.equal(secure.status, 200, secure.body);
  const seen = JSON.parse(secure.body) as Record<string, string>;
  assert.equal(seen['x-forwarded-proto'], 'https');
  assert.equal(seen['x-arr-ssl'], ARR_SSL);
  const plain = JSON.parse((await viaProxyHttp('http://proto-site.azurewebsites.net/')).body) as Record<string, string>;
  assert.equal(plain['x-forwarded-proto'], 'http');
  assert.equal(plain['x-arr-ssl'], undefined);
});
