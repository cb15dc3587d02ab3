// A short run of the swap benchmark (bench/swap.ts) with loose bounds: the hand-over's failed
// requests stay near what the proxy model allows, and the new version always takes over. The
// full figures come from running the benchmark itself.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floorB, runSwapBench, type SwapRow } from '../bench/swap.ts';

test('swap benchmark, short run: goazure hands over with few failed requests, the opt-in redirect with fewer', { timeout: 180_000 }, async () => {
  const opts = {
    swaps: 4,
    rate: 200,
    pollMs: 200,
    capMs: 2000,
    settleMs: 300,
    rows: [
      { strategy: 'goazure' as const, workload: 'A' as const },
      { strategy: 'shutdown' as const, workload: 'B' as const },
      { strategy: 'goazure' as const, workload: 'B' as const },
      { strategy: 'goazure+307' as const, workload: 'B' as const },
    ],
  };
  const rows = await runSwapBench(opts);
  const row = (s: string, w: string): SwapRow => rows.find((r) => r.strategy === s && r.workload === w)!;
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const detail = JSON.stringify(rows.map((r) => ({ s: r.strategy, w: r.workload, failed: r.failed, switchMs: r.switchMs })));

  for (const r of rows) {
    assert.ok(r.switchMs.every((ms) => ms >= 0), `every swap reached the new version: ${detail}`);
    assert.ok(r.requests > opts.swaps * 50, `the load ran: ${detail}`);
  }
  // Medians, since a busy machine (the tests run in parallel) delays the emulator now and then.
  // Workload A, all fast: the listener closes at a quiet moment, so nothing should fail; the
  // bound is the benchmark's max goal of 2, for a loaded machine.
  assert.ok(median(row('goazure', 'A').failed) <= 2, `A: ${detail}`);
  // Workload B: near the floor (the arrivals during the longest in-flight request), and not
  // worse than plain Shutdown, which waits for its next poll after the last request.
  const floor = floorB(opts.rate);
  assert.ok(median(row('goazure', 'B').failed) <= 1.5 * floor, `B: ${detail}`);
  assert.ok(median(row('goazure', 'B').failed) <= median(row('shutdown', 'B').failed) + floor / 4, `B vs plain Shutdown: ${detail}`);
  // The opt-in redirect: clients that follow redirects come back to the new version.
  assert.ok(median(row('goazure+307', 'B').failed) <= floor / 3, `B with redirects: ${detail}`);
});
