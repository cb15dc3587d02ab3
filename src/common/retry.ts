// The one retry policy of the action. Every network call (Go download, Kudu, and anything else
// hand-made) goes through `withRetry`, so backoff, jitter, Retry-After and the deploy deadline are
// decided in one place.

import * as core from '@actions/core';

/**
 * Thrown by an attempt to say "this may succeed if tried again" (408, 429, 5xx, a reset
 * connection). Anything else thrown by an attempt is final and is rethrown at once.
 */
export class RetryableError extends Error {
  override name = 'RetryableError';
  /** Server-requested wait (from Retry-After), in milliseconds. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

interface RetryOptions {
  /** What is being done, for log lines: "GET https://…/api/vfs/…". */
  what: string;
  /** Aborts waiting and further attempts (the whole-deploy deadline). */
  signal?: AbortSignal;
  /** Attempts in all, the first included. */
  attempts?: number;
  /** Delay before the second attempt; doubles each time, with full jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** HTTP statuses worth another try: timeouts, throttling, and server-side failures. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/** Network-level failures (no HTTP answer at all) that a retry can fix. */
export function isTransientNetworkError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' &&
    ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE'].includes(code)
  );
}

/**
 * Parses a Retry-After header (seconds or an HTTP date) into milliseconds, capped so a hostile or
 * confused server cannot stall a deploy beyond the caller's own deadline handling.
 */
export function parseRetryAfter(value: string | undefined | null, now = Date.now()): number | undefined {
  if (value === undefined || value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, 120_000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(0, date - now), 120_000);
}

/** The delay before attempt number `attempt` (2 = first retry): exponential with full jitter. */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number, random = Math.random): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 2));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Settles as `work` does, or rejects with the signal's reason as soon as it aborts, for work that
 * takes no signal itself (or does not stop on it): the deploy does not wait for it to end.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Waits `ms`, or rejects with the signal's reason as soon as it fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `attempt` until it succeeds, throws a non-retryable error, or the attempts run out. The
 * attempt gets its 1-based number, so a request body stream can be re-opened for each try.
 * Network errors with a transient code count as retryable too.
 */
export async function withRetry<T>(attempt: (n: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const attempts = opts.attempts ?? 5;
  const base = opts.baseDelayMs ?? 1000;
  const max = opts.maxDelayMs ?? 20_000;
  for (let n = 1; ; n++) {
    opts.signal?.throwIfAborted();
    try {
      return await attempt(n);
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const retryable = err instanceof RetryableError || isTransientNetworkError(err);
      if (!retryable || n >= attempts) throw err;
      const hinted = err instanceof RetryableError ? err.retryAfterMs : undefined;
      const delay = hinted ?? backoffDelay(n + 1, base, max);
      core.info(`${opts.what}: ${err instanceof Error ? err.message : String(err)}; retrying in ${(delay / 1000).toFixed(1)} s (attempt ${n + 1} of ${attempts})`);
      await sleep(delay, opts.signal);
    }
  }
}

interface SteadyOptions {
  /** What is being waited for, for the log. */
  what: string;
  /** Time between two reads; a result is steady when two reads this far apart agree. */
  quietMs: number;
  /** Give up (and return the last read) after this long. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Reads `read` every `quietMs` until two reads in a row give the same key, or `timeoutMs` pass;
 * returns the last value read and whether it settled. For work the other side may still be
 * doing after its answer was lost (Kudu extracting a zip), so the next step starts from what is
 * really there.
 */
export async function waitUntilSteady<T>(read: () => Promise<T>, key: (value: T) => string, opts: SteadyOptions): Promise<{ value: T; steady: boolean }> {
  const deadline = Date.now() + opts.timeoutMs;
  let value = await read();
  let last = key(value);
  while (Date.now() + opts.quietMs <= deadline) {
    await sleep(opts.quietMs, opts.signal);
    value = await read();
    const now = key(value);
    if (now === last) return { value, steady: true };
    core.info(`${opts.what}: still changing; looking again in ${(opts.quietMs / 1000).toFixed(1)} s`);
    last = now;
  }
  return { value, steady: false };
}
