// The sandbox's internet: one forward proxy on 127.0.0.1 that the action's process reaches every
// host through (HTTPS_PROXY / HTTP_PROXY), as a self-hosted runner behind a corporate proxy does.
// It knows a handful of real host names and hands their requests to the local emulators; any other
// host is refused with 403, so a test can never leave the machine by mistake.
//
// - https: the client sends `CONNECT host:443`; the proxy answers 200 and terminates TLS itself
//   with a certificate for the real host name, issued by a test CA made here with openssl. The
//   action's process trusts that CA through NODE_EXTRA_CA_CERTS, and nothing else changes: the
//   action resolves and verifies the real names exactly as on a runner.
// - http: the client sends the request with an absolute URI (`GET http://host/path`), as HTTP/1.1
//   has clients do through a proxy. Like squid with its default configuration
//   (`http_access deny CONNECT !SSL_ports`, SSL_ports 443), the proxy refuses CONNECT to any other
//   port, so a client that tunnels http with `CONNECT host:80` fails here as it would there.
//
// Decrypted requests are forwarded over plain HTTP to the emulator serving that host, with the
// original Host header and `X-Forwarded-Proto`, so an emulator builds its links and redirects with
// the public name and scheme, as the real service does from its request URL.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';

/** What the proxy does with plain http:// requests for a host. */
export type HttpPolicy =
  /** Served like https (e.g. a site on *.azurewebsites.net answers on both). */
  | 'serve'
  /** 301 to the same URL on https (App Service's front end does this for the SCM site). */
  | 'redirect-https'
  /** Connection refused: the host listens on 443 only. */
  | 'refuse';

export interface HostRoute {
  /** The emulator: an http://127.0.0.1:<port> origin. */
  origin: string;
  /** Plain http handling; default 'refuse'. */
  http?: HttpPolicy;
  /** Whether the host answers on 443; default true. */
  https?: boolean;
  /**
   * An answer of the platform in front of the emulator, given before the request reaches it (e.g.
   * App Service Authentication's sign-in redirect); undefined lets the request through.
   */
  gate?: (request: { scheme: 'http' | 'https'; path: string }) => GateAnswer | undefined;
  /** Request headers the platform in front of the emulator adds (besides X-Forwarded-Proto, which every route gets). */
  frontEndHeaders?: (scheme: 'http' | 'https') => Record<string, string>;
}

/** An answer the platform gives in front of an emulator (HostRoute.gate). */
export interface GateAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface InternetRequest {
  scheme: 'http' | 'https';
  host: string;
  method: string;
  /** Path and query. */
  path: string;
  /** The status the client got (0 while in flight, -1 when the emulator failed). */
  status: number;
}

export interface Internet {
  /** http://127.0.0.1:<port>: the forward proxy. */
  proxyUrl: string;
  /** PEM file of the test CA, for NODE_EXTRA_CA_CERTS. */
  caFile: string;
  /**
   * Environment for a process that should see this internet: the proxy variables (both cases, as
   * runners set either) with an empty NO_PROXY, and NODE_EXTRA_CA_CERTS.
   */
  env(): Record<string, string>;
  /** Makes `host` (exact name, lower case) reachable, served by `route.origin`. */
  route(host: string, route: HostRoute): void;
  unroute(host: string): void;
  /** Every request the proxy carried, in order. */
  requests: InternetRequest[];
  /** Hosts (with port) the proxy refused, in order. */
  refused: string[];
  close(): Promise<void>;
}

/**
 * Host names the certificate covers. The site wildcards cover every App Service site and its SCM
 * site (a wildcard matches one label, so the SCM names need their own).
 */
export const CERTIFICATE_NAMES = [
  'go.dev',
  'dl.google.com',
  'login.microsoftonline.com',
  'management.azure.com',
  'pipelines.actions.githubusercontent.com',
  '*.azurewebsites.net',
  '*.scm.azurewebsites.net',
];

/** Where GitHub's OIDC ID-token service is reached on a hosted runner (ACTIONS_ID_TOKEN_REQUEST_URL's host). */
export const ID_TOKEN_HOST = 'pipelines.actions.githubusercontent.com';

export interface TestCa {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/**
 * A test CA and one server certificate it signed for `names` (wildcards allowed), made with the
 * openssl CLI in `dir` (Node has no API to create X.509 certificates).
 */
export function makeTestCa(dir: string, names: readonly string[]): TestCa {
  const caFile = path.join(dir, 'ca.pem');
  const caKey = path.join(dir, 'ca-key.pem');
  const certFile = path.join(dir, 'server.pem');
  const keyFile = path.join(dir, 'server-key.pem');
  const csr = path.join(dir, 'server.csr');
  const ext = path.join(dir, 'server.ext');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const run = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'pipe' });
  };
  run([
    'req', '-x509', ...ec, '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=go-azure-deploy sandbox CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  run(['req', '-new', ...ec, '-keyout', keyFile, '-out', csr, '-subj', '/CN=go-azure-deploy sandbox internet']);
  fs.writeFileSync(
    ext,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${['IP:127.0.0.1', 'DNS:localhost', ...names.map((n) => `DNS:${n}`)].join(',')}`,
      '',
    ].join('\n'),
  );
  run(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext]);
  return { caFile, certFile, keyFile };
}

const HOP_BY_HOP = ['connection', 'proxy-connection', 'proxy-authorization', 'keep-alive', 'te', 'trailer', 'upgrade'];

export async function startInternet(): Promise<Internet> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-internet-'));
  const ca = makeTestCa(dir, CERTIFICATE_NAMES);
  const secureContext = tls.createSecureContext({ cert: fs.readFileSync(ca.certFile), key: fs.readFileSync(ca.keyFile) });
  const routes = new Map<string, HostRoute>();
  const requests: InternetRequest[] = [];
  const refused: string[] = [];
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  // Connections to the emulators are kept alive, as a proxy's upstream connections are.
  const upstreamAgent = new http.Agent({ keepAlive: true });
  /** The host each decrypted tunnel was opened for. */
  const tunnelHost = new WeakMap<net.Socket, string>();

  const refuse = (res: http.ServerResponse, hostPort: string): void => {
    refused.push(hostPort);
    const body =
      `The sandbox's internet does not reach ${hostPort}: only the emulated services are on it ` +
      `(${[...routes.keys()].sort().join(', ') || 'none yet'}). Nothing leaves this machine.\n`;
    res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  /** Hands one request for `host` to its emulator and streams the answer back. */
  const forward = (scheme: 'http' | 'https', host: string, pathAndQuery: string, req: http.IncomingMessage, res: http.ServerResponse): void => {
    const route = routes.get(host);
    const record: InternetRequest = { scheme, host, method: req.method ?? 'GET', path: pathAndQuery, status: 0 };
    requests.push(record);
    if (route === undefined) {
      record.status = 403;
      refuse(res, `${host}:${scheme === 'https' ? 443 : 80}`);
      return;
    }
    if (scheme === 'http' && (route.http ?? 'refuse') === 'redirect-https') {
      const location = `https://${host}${pathAndQuery}`;
      record.status = 301;
      res.writeHead(301, { location, 'content-type': 'text/html', 'content-length': 0 });
      res.end();
      req.resume();
      return;
    }
    const gated = route.gate?.({ scheme, path: pathAndQuery });
    if (gated !== undefined) {
      record.status = gated.status;
      const body = gated.body ?? '';
      res.writeHead(gated.status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body), ...gated.headers });
      res.end(body);
      req.resume();
      return;
    }
    const origin = new URL(route.origin);
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.includes(k) && v !== undefined) headers[k] = v;
    headers.host = req.headers.host ?? host;
    headers['x-forwarded-proto'] = scheme;
    Object.assign(headers, route.frontEndHeaders?.(scheme));
    const upstream = http.request(
      { host: origin.hostname, port: origin.port, method: req.method, path: pathAndQuery, headers, agent: upstreamAgent },
      (up) => {
        record.status = up.statusCode ?? 0;
        const out: http.OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(up.headers)) if (!HOP_BY_HOP.includes(k) && v !== undefined) out[k] = v;
        res.writeHead(up.statusCode ?? 502, up.statusMessage, out);
        up.pipe(res);
        up.on('error', () => res.destroy());
        // A connection the emulator cut mid-answer is cut for the client too.
        up.on('aborted', () => res.destroy());
        up.on('close', () => {
          if (!up.complete) res.destroy();
        });
      },
    );
    upstream.on('error', (err) => {
      record.status = -1;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // The emulator reset the connection: the client sees its connection reset too, as a
      // client of the real service would.
      req.socket.destroy(err);
    });
    req.pipe(upstream);
    req.on('aborted', () => upstream.destroy());
  };

  // Requests that came through a tunnel, after TLS: served as https for the tunnel's host.
  const decrypted = http.createServer((req, res) => {
    const host = tunnelHost.get(req.socket) ?? '';
    forward('https', host, req.url ?? '/', req, res);
  });
  decrypted.keepAliveTimeout = 30_000;

  // The proxy itself: absolute-URI requests for http, CONNECT for https.
  const proxy = http.createServer((req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      const body = 'This is a forward proxy: send absolute URIs (http://host/path) or CONNECT.\n';
      res.writeHead(400, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const host = target.hostname.toLowerCase();
    const port = Number(target.port || 80);
    const route = routes.get(host);
    if (target.protocol !== 'http:' || port !== 80 || route === undefined || (route.http ?? 'refuse') === 'refuse') {
      requests.push({ scheme: 'http', host, method: req.method ?? 'GET', path: `${target.pathname}${target.search}`, status: 403 });
      refuse(res, `${host}:${port}`);
      req.resume();
      return;
    }
    forward('http', host, `${target.pathname}${target.search}`, req, res);
  });
  proxy.keepAliveTimeout = 30_000;

  proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    track(client);
    client.on('error', () => client.destroy());
    const target = (req.url ?? '').toLowerCase();
    const m = /^([^:]+):(\d+)$/.exec(target);
    const host = m?.[1] ?? target;
    const port = m?.[2];
    const route = routes.get(host);
    const open = route !== undefined && port === '443' && route.https !== false;
    if (!open) {
      refused.push(target);
      requests.push({ scheme: port === '80' ? 'http' : 'https', host, method: 'CONNECT', path: '', status: 403 });
      const body =
        route !== undefined && port !== '443'
          ? `CONNECT is allowed to port 443 only, as squid's default configuration allows it; send http requests to this proxy with an absolute URI.\n`
          : `The sandbox's internet does not reach ${target}: only the emulated services are on it. Nothing leaves this machine.\n`;
      client.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) client.unshift(head);
    const secure = new tls.TLSSocket(client, { isServer: true, secureContext });
    secure.on('error', () => secure.destroy());
    tunnelHost.set(secure, host);
    decrypted.emit('connection', secure);
  });
  proxy.on('connection', track);

  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

  return {
    proxyUrl,
    caFile: ca.caFile,
    env() {
      return {
        HTTPS_PROXY: proxyUrl,
        HTTP_PROXY: proxyUrl,
        https_proxy: proxyUrl,
        http_proxy: proxyUrl,
        NO_PROXY: '',
        no_proxy: '',
        NODE_EXTRA_CA_CERTS: ca.caFile,
      };
    },
    route(host, route) {
      routes.set(host.toLowerCase(), route);
    },
    unroute(host) {
      routes.delete(host.toLowerCase());
    },
    requests,
    refused,
    async close() {
      for (const s of sockets) s.destroy();
      upstreamAgent.destroy();
      decrypted.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An answer a test got through the sandbox's internet. */
export interface ProxiedAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A test's own plain-http GET through the sandbox's internet, in absolute-URI form. */
export function getViaProxy(internet: Pick<Internet, 'proxyUrl'>, url: string, headers: Record<string, string> = {}): Promise<ProxiedAnswer> {
  const proxy = new URL(internet.proxyUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: proxy.hostname, port: proxy.port, path: url, headers: { ...headers, host: new URL(url).host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
