// A bare forward proxy for tests of the action's own proxy handling: it answers `CONNECT
// host:port` by tunnelling the bytes, untouched, to a local port of the test's choosing, and
// records every authority it was asked for. (sandbox/internet.ts is the sandbox's full internet,
// which terminates TLS under real host names; this one only proves a request went through a proxy.)

import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TunnelProxy {
  /** http://127.0.0.1:<port>, for HTTPS_PROXY / HTTP_PROXY. */
  url: string;
  /** The `host:port` of every CONNECT, in order. */
  tunnels: string[];
  close(): Promise<void>;
}

/** Starts the proxy; `portFor` maps a CONNECT authority (`host:port`) to the local port it reaches. */
export async function startTunnelProxy(portFor: (authority: string) => number): Promise<TunnelProxy> {
  const tunnels: string[] = [];
  const sockets = new Set<net.Socket>();
  // Anything but CONNECT is not what these tests send.
  const proxy = http.createServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const authority = req.url ?? '';
    tunnels.push(authority);
    sockets.add(client);
    const upstream = net.connect(portFor(authority), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    tunnels,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
