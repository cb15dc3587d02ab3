// A bare forward proxy for tests of the action's own proxy handling. It answers `CONNECT host:port`
// by tunnelling the bytes, untouched, and a plain http request in absolute form
// (`GET http://host/path`) by forwarding it, both to a local port of the test's choosing, and
// records what it was asked for. Like squid with its default configuration, it can refuse CONNECT
// to any port but the ones given (squid's `http_access deny CONNECT !SSL_ports`, SSL_ports 443).
// (sandbox/internet.ts is the sandbox's full internet, which terminates TLS under real host names;
// this one only proves how a request went through a proxy.)

import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface ForwardedRequest {
  method: string;
  /** The absolute URL the client asked the proxy for. */
  url: string;
  /** The Proxy-Authorization header, if any (the proxy consumes it; it is not passed on). */
  proxyAuthorization?: string;
}

export interface TunnelProxy {
  /** http://127.0.0.1:<port>, for HTTPS_PROXY / HTTP_PROXY. */
  url: string;
  /** The `host:port` of every CONNECT, in order, refused ones included. */
  tunnels: string[];
  /** Every plain http request forwarded in absolute form, in order. */
  forwarded: ForwardedRequest[];
  close(): Promise<void>;
}

export interface TunnelProxyOptions {
  /** Ports CONNECT may reach; others get 403, as from squid. Default: any. */
  connectPorts?: number[];
}

/**
 * Starts the proxy; `portFor` maps an authority (`host:port`, the port 80 for a plain http URL
 * without one) to the local port it reaches.
 */
export async function startTunnelProxy(portFor: (authority: string) => number, opts: TunnelProxyOptions = {}): Promise<TunnelProxy> {
  const tunnels: string[] = [];
  const forwarded: ForwardedRequest[] = [];
  const sockets = new Set<net.Socket>();
  const agent = new http.Agent({ keepAlive: true });
  const proxy = http.createServer((req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('absolute-form request expected\n');
      return;
    }
    const proxyAuthorization = req.headers['proxy-authorization'];
    forwarded.push({ method: req.method ?? 'GET', url: target.href, ...(proxyAuthorization !== undefined ? { proxyAuthorization } : {}) });
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = http.request(
      { host: '127.0.0.1', port: portFor(`${target.hostname}:${target.port || '80'}`), method: req.method, path: `${target.pathname}${target.search}`, headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  proxy.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const authority = req.url ?? '';
    tunnels.push(authority);
    sockets.add(client);
    const port = Number(authority.slice(authority.lastIndexOf(':') + 1));
    if (opts.connectPorts !== undefined && !opts.connectPorts.includes(port)) {
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
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
    forwarded,
    close: async () => {
      for (const s of sockets) s.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
