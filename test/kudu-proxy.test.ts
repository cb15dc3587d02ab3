// Kudu requests go through HTTP_PROXY/HTTPS_PROXY as self-hosted runners need. The SCM host name
// below is never resolved: the local proxy alone knows it means the emulator.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { KuduClient } from '../src/site/kudu.ts';
import { connectionFromPublishProfile } from '../src/signin/publishprofile.ts';
import { startKudu, type KuduEmulator } from '../sandbox/kudu.ts';
import { profileConfig } from '../sandbox/fixture.ts';

let kudu: KuduEmulator | undefined;
let proxy: http.Server | undefined;
const sockets = new Set<net.Socket>();
after(async () => {
  for (const s of sockets) s.destroy();
  await kudu?.close();
  await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
});

test('requests to the SCM host tunnel through HTTP_PROXY', { timeout: 30_000 }, async () => {
  kudu = await startKudu({ siteName: 'proxied', processes: () => [{ id: 1, name: 'proxied-0123456789' }] });
  const emulatorPort = Number(new URL(kudu.url).port);
  const tunnels: string[] = [];
  proxy = http.createServer((_req, res) => res.writeHead(502).end());
  proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    tunnels.push(req.url ?? '');
    sockets.add(client);
    const upstream = net.connect(emulatorPort, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy!.listen(0, '127.0.0.1', resolve));
  process.env.HTTP_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  delete process.env.NO_PROXY;
  delete process.env.no_proxy;
  try {
    const target = connectionFromPublishProfile(profileConfig('proxied', 'production', `http://proxied.scm.sandbox.invalid:${emulatorPort}`), kudu.publishProfileXml());
    const client = new KuduClient(target, new AbortController().signal, { attempts: 1 });
    assert.deepEqual((await client.processes()).map((p) => p.name), ['proxied-0123456789']);
    assert.deepEqual(tunnels, [`proxied.scm.sandbox.invalid:${emulatorPort}`]);
  } finally {
    delete process.env.HTTP_PROXY;
  }
});
