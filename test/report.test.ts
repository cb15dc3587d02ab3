import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { uploadProgressLogger } from '../src/common/report.ts';
import { redactQuery } from '../src/common/redact.ts';

test('upload progress: percent and rate, at most once per interval, nothing at the end', () => {
  const lines: string[] = [];
  let clock = 0;
  const total = 100 * 1048576;
  const progress = uploadProgressLogger(total, (l) => lines.push(l), () => clock, 5000);
  clock = 1000;
  progress(10 * 1048576);
  assert.deepEqual(lines, [], 'nothing before the interval');
  clock = 5000;
  progress(25 * 1048576);
  assert.deepEqual(lines, ['Uploaded 25% (25.0 of 100.0 MiB, 5.0 MiB/s)']);
  clock = 7000;
  progress(40 * 1048576);
  assert.equal(lines.length, 1, 'not again within the interval');
  clock = 10_000;
  progress(50 * 1048576);
  assert.equal(lines[1], 'Uploaded 50% (50.0 of 100.0 MiB, 5.0 MiB/s)');
  clock = 20_000;
  progress(total);
  assert.equal(lines.length, 2, 'the completed upload is reported by the stage, not here');
});

test('a path is shown with its query values redacted, names and order kept', () => {
  assert.equal(redactQuery('/healthz'), '/healthz');
  assert.equal(redactQuery('/healthz?token=abc'), '/healthz?token=***');
  assert.equal(redactQuery('/h?a=1&flag&b=x%3Dy=z&c='), '/h?a=***&flag&b=***&c=***');
  assert.equal(redactQuery('/h?'), '/h?');
});
