// The canary's judgement of goazure's counters (src/site/canary.ts): what an instance served between
// two readings, the latency percentiles, and when the error rate ends the canary.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { addServed, describeServed, errorRateTooHigh, EARLY_VERDICT_REQUESTS, percentile, servedBetween, type GoazureStats } from '../src/site/canary.ts';
import { instanceIdUsable, instanceOfPointer, instancePointerFile } from '../src/site/layout.ts';
import { canaryRows } from '../src/common/report.ts';

const BOUNDS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];
const stats = (requests: number, errors: number, latency: number[], artifact = 'site-aaaaaaaaaa.exe'): GoazureStats => ({
  artifact,
  instance: 'abc',
  requests,
  errors,
  latencyBoundsMillis: BOUNDS,
  latency: [...latency, ...Array(BOUNDS.length + 1 - latency.length).fill(0)],
});

test('what an instance served between two readings; a restarted process counts from zero', () => {
  const s = servedBetween(stats(10, 1, [10]), stats(30, 5, [25, 5]));
  assert.deepEqual([s.requests, s.errors, s.latency.slice(0, 3)], [20, 4, [15, 5, 0]]);
  const restarted = servedBetween(stats(100, 1, [100]), stats(7, 2, [7]));
  assert.deepEqual([restarted.requests, restarted.errors], [7, 2]);
  const other = servedBetween(stats(5, 0, [5]), stats(8, 0, [8], 'site-bbbbbbbbbb.exe'));
  assert.equal(other.requests, 8, 'another binary answered: its counters are its own');
  const both = addServed([s, restarted]);
  assert.deepEqual([both.requests, both.errors, both.latency[0]], [27, 6, 22]);
});

test('percentiles are the bound of the bucket the rank falls in', () => {
  const s = servedBetween(undefined, stats(100, 0, [50, 40, 9, 0, 0, 0, 0, 0, 0, 0, 1]));
  assert.equal(percentile(s, 50), '≤ 5 ms');
  assert.equal(percentile(s, 90), '≤ 10 ms');
  assert.equal(percentile(s, 99), '≤ 25 ms');
  assert.equal(percentile(s, 100), '> 5000 ms');
  assert.equal(percentile(servedBetween(undefined, stats(0, 0, [])), 50), '');
  assert.match(describeServed(s), /^100 requests, 0 5xx \(0\.0 %\), latency p50 ≤ 5 ms, p90 ≤ 10 ms, p99 ≤ 25 ms$/);
  assert.equal(describeServed(servedBetween(undefined, stats(0, 0, []))), 'no requests');
});

test('the error rate ends the canary when it exceeds the baseline by more than the margin; early only after enough requests', () => {
  const canary = (requests: number, errors: number) => servedBetween(undefined, stats(requests, errors, [requests]));
  const baseline = canary(1000, 5); // 0.5 %
  assert.match(errorRateTooHigh(canary(100, 20), baseline, 1, false) ?? '', /^its 5xx rate was 20\.0 % \(20 of 100 requests\) against 0\.5 % on the other instances \(5 of 1000\), more than canary-max-error-rate-increase \(1 percentage points\)/);
  assert.equal(errorRateTooHigh(canary(100, 1), baseline, 1, true), undefined, '1 % is within 0.5 % + 1');
  assert.ok(errorRateTooHigh(canary(100, 2), baseline, 1, true) !== undefined, '2 % is not');
  assert.equal(errorRateTooHigh(canary(100, 20), canary(100, 20), 1, true), undefined, 'as bad as the previous version: not the release\'s fault');
  assert.equal(errorRateTooHigh(canary(EARLY_VERDICT_REQUESTS - 1, 5), baseline, 1, false), undefined, 'too few requests for an early verdict');
  assert.ok(errorRateTooHigh(canary(EARLY_VERDICT_REQUESTS - 1, 5), baseline, 1, true) !== undefined, 'at the window\'s end any count decides');
  assert.equal(errorRateTooHigh(canary(0, 0), baseline, 0, true), undefined);
});

test("an instance's own pointer: its name, and the ids that can have one", () => {
  assert.equal(instancePointerFile('4f2a9c0e'), 'site/wwwroot/_artifact.4f2a9c0e.txt');
  assert.equal(instanceOfPointer('_artifact.4f2a9c0e.txt'), '4f2a9c0e');
  assert.equal(instanceOfPointer('_artifact.txt'), undefined);
  assert.equal(instanceOfPointer('_artifact.a.b.txt'), undefined);
  assert.ok(instanceIdUsable('a'.repeat(64)));
  assert.ok(!instanceIdUsable('a'.repeat(65)));
  assert.ok(!instanceIdUsable('a&b'));
});

test('the summary rows of a canary: its instance, how long it ran, what it served, when the rest followed; or why it did not run', () => {
  const rows = canaryRows({ instance: 'abc', seconds: 61.23, served: '120 requests, 0 5xx', baseline: '118 requests, 0 5xx', outcome: 'passed (60 s window); promoted to every instance', promotedAfter: 61.5 });
  assert.deepEqual(rows, [
    ['Canary instance', 'abc'],
    ['Canary ran', '61.2 s'],
    ['Canary served', '120 requests, 0 5xx'],
    ['Other instances served (previous version, same window)', '118 requests, 0 5xx'],
    ['Canary outcome', 'passed (60 s window); promoted to every instance'],
    ['Rest of the instances followed', '61.5 s after the canary started'],
  ]);
  assert.deepEqual(canaryRows({ skipped: 'the site runs on one instance' }), [['Canary', 'not run: the site runs on one instance']]);
});
