// Kudu requests go through HTTP_PROXY/HTTPS_PROXY as self-hosted runners need. The SCM host name
// below is never resolved: the local proxy alone knows it means the emulator.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { KuduClient } from '../src/site/kudu.ts';
import { connectionFromPublishProfile } from '../src/signin/publishprofile.ts';
import { startKudu, type KuduEmulator } from '../sandbox/kudu.ts';
import { profileConfig } from '../sandbox/fixture.ts';
import { startTunnelProxy, type TunnelProxy } from '../sandbox/tunnel.ts';

let kudu: KuduEmulator | undefined;
let proxy: TunnelProxy | undefined;
after(async () => {
  await kudu?.close();
  await proxy?.close();
});

test('requests to the SCM host go through HTTP_PROXY (an http:// kudu-url in absolute form, with the credentials for Kudu only)', { timeout: 30_000 }, async () => {
  kudu = await startKudu({ siteName: 'proxied', processes: () => [{ id: 1, name: 'proxied-0123456789' }] });
  const emulatorPort = Number(new URL(kudu.url).port);
  proxy = await startTunnelProxy(() => emulatorPort);
  process.env.HTTP_PROXY = proxy.url;
  delete process.env.NO_PROXY;
  delete process.env.no_proxy;
  try {
    const connection = connectionFromPublishProfile(profileConfig('proxied', 'production', `http://proxied.scm.sandbox.invalid:${emulatorPort}`), kudu.publishProfileXml());
    const client = new KuduClient(connection, new AbortController().signal, { attempts: 1 });
    assert.deepEqual((await client.processes()).map((p) => p.name), ['proxied-0123456789']);
    assert.deepEqual(proxy.tunnels, []);
    assert.deepEqual(
      proxy.forwarded.map((f) => `${f.method} ${f.url} ${f.proxyAuthorization ?? '(no proxy credentials)'}`),
      [`GET http://proxied.scm.sandbox.invalid:${emulatorPort}/api/processes (no proxy credentials)`],
    );
  } finally {
    delete process.env.HTTP_PROXY;
  }
});
