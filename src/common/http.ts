// One HTTP exchange over Node's http/https, with the proxy-aware agents of @actions/http-client
// (HTTPS_PROXY / HTTP_PROXY / NO_PROXY). Node's own request is used rather than HttpClient's
// helpers because the upload needs a streamed body with progress and every request must stop on
// the deploy's AbortSignal. Retrying is not done here: callers wrap this in withRetry. Redirects
// are followed only when the caller asks (HttpRequest.redirects), and only here.

import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import { HttpClient, getProxyUrl } from '@actions/http-client';
import { ActionError } from './errors.ts';
import pkg from '../../package.json' with { type: 'json' };

/** Sent with every request so a site owner can tell the action's calls apart in Kudu's logs. */
export const USER_AGENT = `go-azure-deploy/${pkg.version}`;

interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** A buffer, or a function opening a fresh stream (called once per attempt). */
  body?: Buffer | (() => Readable);
  /** Required with a stream body: sent as Content-Length. */
  bodyLength?: number;
  /** Called as body bytes are handed to the socket, with the total so far. */
  onProgress?: (bytesSent: number) => void;
  signal?: AbortSignal;
  /** No bytes either way for this long → the request fails as a reset (retryable). */
  idleTimeoutMs?: number;
  /**
   * Which redirects (301, 302, 303, 307, 308) to follow, for GET and HEAD only: `none` (the
   * default: the 3xx is the answer), `same-host` (only to the same host name, e.g. an http → https
   * upgrade of one site) or `any`. At most MAX_REDIRECTS; never from https to http; Authorization
   * and URL credentials are dropped once the origin (scheme, host, port) changes, Cookie once the
   * host name does.
   */
  redirects?: 'none' | 'same-host' | 'any';
}

/** Redirects followed for one request before it fails. */
export const MAX_REDIRECTS = 5;

/** A redirect the HTTP layer refuses to follow (a loop, or a downgrade to plain http). */
export class RedirectError extends ActionError {
  override name = 'RedirectError';
}

export interface HttpResponse {
  /** The URL that answered: the request's, or where its redirects led. */
  url: string;
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Request body bytes written. */
  bytesSent: number;
}

/** A network failure with the code retry.ts recognises as transient. */
class NetworkError extends Error {
  override name = 'NetworkError';
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

// One keep-alive agent per protocol and proxy decision, shared by every request of the process, so
// a deploy's dozen requests reuse one TLS connection. An HttpClient caches a single direct agent and
// a single proxy agent whatever the protocol of the URL that made them, so each protocol and proxy
// gets its own HttpClient: one client for everything would hand an https agent to an http request
// (Node: 'Protocol "http:" not supported') once the first request had been of the other kind.
const clients = new Map<string, HttpClient>();

function agentFor(url: string): http.Agent {
  const key = `${new URL(url).protocol} ${getProxyUrl(url)}`;
  let client = clients.get(key);
  if (client === undefined) {
    client = new HttpClient(USER_AGENT, [], { keepAlive: true });
    clients.set(key, client);
  }
  return client.getAgent(url);
}

/**
 * The proxy an http:// URL goes through, when one applies. Such a request is sent to the proxy in
 * absolute form (`GET http://host/path`), as curl and Go's net/http send it: @actions/http-client's
 * agent would tunnel it with `CONNECT host:80`, which proxies commonly refuse (squid's default
 * configuration allows CONNECT to port 443 only). https:// URLs, and any URL behind an https://
 * proxy, keep the agent's CONNECT tunnel.
 */
function forwardProxyFor(url: URL): URL | undefined {
  if (url.protocol !== 'http:') return undefined;
  const proxy = getProxyUrl(url.href);
  if (proxy === '') return undefined;
  const parsed = new URL(proxy);
  return parsed.protocol === 'http:' ? parsed : undefined;
}

const forwardAgents = new Map<string, http.Agent>();

/** The request options for sending `url` to `proxy` in absolute form, with its own keep-alive agent per proxy. */
function forwardOptions(url: URL, proxy: URL, method: string, headers: Record<string, string>): http.RequestOptions {
  let agent = forwardAgents.get(proxy.origin);
  if (agent === undefined) {
    agent = new http.Agent({ keepAlive: true });
    forwardAgents.set(proxy.origin, agent);
  }
  const target = new URL(url.href);
  target.username = '';
  target.password = '';
  target.hash = '';
  const out: Record<string, string> = { ...headers, Host: url.host };
  if (proxy.username !== '') {
    const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    out['Proxy-Authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
  }
  return {
    host: proxy.hostname,
    port: proxy.port === '' ? 80 : Number(proxy.port),
    method,
    path: target.href,
    headers: out,
    agent,
    // Credentials in the URL are the origin's, sent as Authorization as a direct request sends them.
    ...(url.username !== '' ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` } : {}),
  };
}

/** An answer whose body is left to read as a stream (a large download). */
interface HttpStream {
  /** The URL that answered: the request's, or where its redirects led. */
  url: string;
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  /** Request body bytes written so far. */
  readonly bytesSent: number;
}

/**
 * Sends one request and resolves once the answer's head arrives, following redirects as
 * `req.redirects` allows. Network errors, the idle timeout and an abort reject before that, and
 * destroy the body stream after it.
 */
export async function openRequest(req: HttpRequest): Promise<HttpStream> {
  const follow = req.redirects ?? 'none';
  let current = req;
  for (let hops = 0; ; hops++) {
    const res = await openOnce(current);
    const location = firstHeader(res.headers.location);
    if (follow === 'none' || !REDIRECT_STATUSES.has(res.status) || location === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      return res;
    }
    const from = new URL(current.url);
    let to: URL;
    try {
      to = new URL(location, from);
    } catch {
      return res;
    }
    if (follow === 'same-host' && to.hostname !== from.hostname) return res;
    res.body.resume();
    if (to.protocol !== 'https:' && to.protocol !== 'http:') {
      throw new RedirectError(`${req.method} ${safeUrl(from)} redirected to ${to.protocol} (${safeUrl(to)}), which is not http(s); not followed.`);
    }
    if (from.protocol === 'https:' && to.protocol === 'http:') {
      throw new RedirectError(
        `${req.method} ${safeUrl(from)} redirected from https to plain http (${safeUrl(to)}); not followed, since the answer would come unencrypted. ` +
          `Use a URL whose server keeps to https.`,
      );
    }
    if (hops + 1 > MAX_REDIRECTS) {
      throw new RedirectError(`${req.method} ${safeUrl(req.url)} redirected more than ${MAX_REDIRECTS} times (last to ${safeUrl(to)}); not followed further. Check the URL and any proxy in between.`);
    }
    let headers = current.headers;
    if (to.origin !== from.origin) {
      // Credentials are for the origin they were given to, never for whoever it points at.
      // Cookies are scoped by host name alone, not scheme or port, so they stay for an http → https upgrade.
      to.username = '';
      to.password = '';
      const drop = to.hostname === from.hostname ? /^authorization$/i : /^(authorization|cookie)$/i;
      headers = Object.fromEntries(Object.entries(headers ?? {}).filter(([k]) => !drop.test(k)));
    }
    current = { ...current, url: to.href, headers };
  }
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** The first value of a header as Node gives it (a string, a list, or nothing). */
export function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function openOnce(req: HttpRequest): Promise<HttpStream> {
  const url = new URL(req.url);
  const transport = url.protocol === 'https:' ? https : http;
  const headers: Record<string, string> = { 'User-Agent': USER_AGENT, ...req.headers };
  if (Buffer.isBuffer(req.body)) headers['Content-Length'] = String(req.body.length);
  else if (req.body !== undefined) headers['Content-Length'] = String(req.bodyLength ?? 0);
  else if (req.method !== 'GET' && req.method !== 'HEAD') headers['Content-Length'] = '0';

  return new Promise<HttpStream>((resolve, reject) => {
    if (req.signal?.aborted) {
      reject(req.signal.reason);
      return;
    }
    let settled = false;
    let bytesSent = 0;
    let source: Readable | undefined;
    const fail = (err: unknown): void => {
      source?.destroy();
      request.destroy(err instanceof Error ? err : undefined);
      if (settled) return;
      settled = true;
      req.signal?.removeEventListener('abort', onAbort);
      reject(err);
    };
    const onAbort = (): void => fail(req.signal?.reason ?? new Error('aborted'));

    const proxy = forwardProxyFor(url);
    const onResponse = (res: http.IncomingMessage): void => {
      // An answer before the whole body went (e.g. 401 mid-upload): stop reading the file.
      if (source !== undefined && !source.readableEnded) source.destroy();
      settled = true;
      res.once('close', () => req.signal?.removeEventListener('abort', onAbort));
      resolve({
        url: req.url,
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: res,
        get bytesSent() {
          return bytesSent;
        },
      });
    };
    const request =
      proxy === undefined
        ? transport.request(url, { method: req.method, headers, agent: agentFor(req.url) }, onResponse)
        : http.request(forwardOptions(url, proxy, req.method, headers), onResponse);
    request.on('error', (err) => fail(asNetworkError(err)));
    if (req.idleTimeoutMs !== undefined) {
      const seconds = Math.round(req.idleTimeoutMs / 1000);
      request.setTimeout(req.idleTimeoutMs, () => fail(new NetworkError(`no data moved for ${seconds} s`, 'ETIMEDOUT')));
    }
    req.signal?.addEventListener('abort', onAbort, { once: true });

    if (req.body === undefined) {
      request.end();
    } else if (Buffer.isBuffer(req.body)) {
      bytesSent = req.body.length;
      request.end(req.body);
      req.onProgress?.(bytesSent);
    } else {
      source = req.body();
      source.on('data', (chunk: Buffer) => {
        bytesSent += chunk.length;
        req.onProgress?.(bytesSent);
      });
      source.on('error', (err) => fail(err));
      source.pipe(request);
    }
  });
}

/** Sends one request and reads the whole answer. Rejects on network errors and on abort. */
export async function sendRequest(req: HttpRequest): Promise<HttpResponse> {
  const res = await openRequest(req);
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res.body) chunks.push(chunk as Buffer);
  } catch (err) {
    if (req.signal?.aborted) throw req.signal.reason;
    if (err instanceof NetworkError) throw err;
    throw new NetworkError('the connection closed mid-answer', 'ECONNRESET');
  }
  if (!res.body.complete) throw new NetworkError('the connection closed mid-answer', 'ECONNRESET');
  return { url: res.url, status: res.status, headers: res.headers, body: Buffer.concat(chunks), bytesSent: res.bytesSent };
}

function asNetworkError(err: Error & { code?: string }): Error {
  if (typeof err.code === 'string') return new NetworkError(err.message.includes(err.code) ? err.message : `${err.code}: ${err.message}`, err.code);
  return err;
}

/** A URL fit for a log line: no user info, no query string. */
export function safeUrl(url: URL | string): string {
  const u = new URL(String(url));
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/**
 * The cookie that pins a request to one instance of a scaled-out site: App Service's front end
 * routes by ARRAffinity (and ARRAffinitySameSite, its copy for cross-site requests).
 */
export function affinityCookie(instance: string): string {
  return `ARRAffinity=${instance}; ARRAffinitySameSite=${instance}`;
}

/** The instance an answer's Set-Cookie pins the client to (its ARRAffinity value), if it sets one. */
export function affinityOf(headers: http.IncomingHttpHeaders): string | undefined {
  const cookies = headers['set-cookie'] ?? [];
  for (const c of Array.isArray(cookies) ? cookies : [cookies]) {
    const value = /^\s*ARRAffinity=([^;]*)/.exec(c)?.[1]?.trim();
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}
