import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { withRetry, RetryableError, backoffDelay, parseRetryAfter, isRetryableStatus, isTransientNetworkError, waitUntilSteady } from '../src/common/retry.ts';

test('retryable statuses: 408, 429 and 5xx only', () => {
  for (const s of [408, 429, 500, 502, 503, 504]) assert.equal(isRetryableStatus(s), true, String(s));
  for (const s of [200, 201, 400, 401, 403, 404, 409, 412]) assert.equal(isRetryableStatus(s), false, String(s));
});

test('Retry-After in seconds and as an HTTP date, capped', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(''), undefined);
  assert.equal(parseRetryAfter('soon'), undefined);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
  assert.equal(parseRetryAfter('100000'), 120_000);
});

test('backoff doubles and stays within half to all of the ceiling', () => {
  assert.equal(backoffDelay(2, 1000, 20_000, () => 0), 500);
  assert.equal(backoffDelay(2, 1000, 20_000, () => 1), 1000);
  assert.equal(backoffDelay(4, 1000, 20_000, () => 1), 4000);
  assert.equal(backoffDelay(10, 1000, 20_000, () => 1), 20_000);
});

test('network error codes that a retry can fix', () => {
  assert.equal(isTransientNetworkError(Object.assign(new Error('x'), { code: 'ECONNRESET' })), true);
  assert.equal(isTransientNetworkError(Object.assign(new Error('x'), { code: 'ENOENT' })), false);
  assert.equal(isTransientNetworkError(new Error('plain')), false);
});

test('withRetry retries retryable failures, honours Retry-After, and passes the attempt number', async () => {
  const seen: number[] = [];
  const started = Date.now();
  const value = await withRetry(
    async (n) => {
      seen.push(n);
      if (n === 1) throw new RetryableError('503 from server', 50);
      if (n === 2) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      return 'ok';
    },
    { what: 'test', baseDelayMs: 10, maxDelayMs: 20 },
  );
  assert.equal(value, 'ok');
  assert.deepEqual(seen, [1, 2, 3]);
  assert.ok(Date.now() - started >= 50, 'waited at least Retry-After');
});

test('withRetry rethrows a final error at once and gives up after the attempts', async () => {
  let calls = 0;
  await assert.rejects(
    withRetry(async () => {
      calls++;
      throw new Error('404 not found');
    }, { what: 'test', baseDelayMs: 1 }),
    /404 not found/,
  );
  assert.equal(calls, 1);
  calls = 0;
  await assert.rejects(
    withRetry(async () => {
      calls++;
      throw new RetryableError('502');
    }, { what: 'test', attempts: 3, baseDelayMs: 1, maxDelayMs: 2 }),
    /502/,
  );
  assert.equal(calls, 3);
});

test('withRetry stops waiting when the deadline signal fires', async () => {
  const controller = new AbortController();
  const reason = new Error('deadline');
  setTimeout(() => controller.abort(reason), 30);
  const started = Date.now();
  await assert.rejects(
    withRetry(async () => {
      throw new RetryableError('busy', 10_000);
    }, { what: 'test', signal: controller.signal }),
    (err) => err === reason,
  );
  assert.ok(Date.now() - started < 2000);
});

test('waitUntilSteady reads until two reads in a row agree, or gives up at its time limit', async () => {
  const sizes = [1, 5, 9, 9, 9];
  let reads = 0;
  const settled = await waitUntilSteady(async () => sizes[Math.min(reads++, sizes.length - 1)]!, String, { what: 'listing', quietMs: 5, timeoutMs: 1000 });
  assert.deepEqual(settled, { value: 9, steady: true });
  assert.equal(reads, 4, 'stopped at the first two equal reads');
  let n = 0;
  const moving = await waitUntilSteady(async () => n++, String, { what: 'listing', quietMs: 5, timeoutMs: 200 });
  assert.equal(moving.steady, false);
  assert.ok(moving.value >= 2);
});
