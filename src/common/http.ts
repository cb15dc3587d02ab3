// One HTTP exchange over Node's http/https, with the proxy-aware agent of @actions/http-client
// (HTTPS_PROXY / HTTP_PROXY / NO_PROXY). Node's own request is used rather than HttpClient's
// helpers because the upload needs a streamed body with progress and every request must stop on
// the deploy's AbortSignal. Retrying is not done here: callers wrap this in withRetry.

import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import { HttpClient } from '@actions/http-client';
import pkg from '../../package.json' with { type: 'json' };

/** Sent with every request so a site owner can tell the action's calls apart in Kudu's logs. */
export const USER_AGENT = `go-azure-deploy/${pkg.version}`;

export interface HttpRequest {
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
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Request body bytes written. */
  bytesSent: number;
}

/** A network failure with the code retry.ts recognises as transient. */
export class NetworkError extends Error {
  override name = 'NetworkError';
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

// One keep-alive agent per proxy decision, shared by every request of the process, so a deploy's
// dozen requests reuse one TLS connection.
const agents = new HttpClient(USER_AGENT, [], { keepAlive: true });

export function agentFor(url: string): http.Agent {
  return agents.getAgent(url);
}

/** An answer whose body is left to read as a stream (a large download). */
export interface HttpStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  /** Request body bytes written so far. */
  readonly bytesSent: number;
}

/**
 * Sends one request and resolves once the answer's head arrives. Network errors, the idle timeout
 * and an abort reject before that, and destroy the body stream after it.
 */
export function openRequest(req: HttpRequest): Promise<HttpStream> {
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

    const request = transport.request(url, { method: req.method, headers, agent: agentFor(req.url) }, (res) => {
      // An answer before the whole body went (e.g. 401 mid-upload): stop reading the file.
      if (source !== undefined && !source.readableEnded) source.destroy();
      settled = true;
      res.once('close', () => req.signal?.removeEventListener('abort', onAbort));
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: res,
        get bytesSent() {
          return bytesSent;
        },
      });
    });
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
  return { status: res.status, headers: res.headers, body: Buffer.concat(chunks), bytesSent: res.bytesSent };
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
