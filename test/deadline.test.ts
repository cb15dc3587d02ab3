// The deploy's one clock (src/common/deadline.ts): the timer that stops the deploy and the time
// left that verify and auto-rollback budget by are the same deadline.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Deadline } from '../src/common/deadline.ts';
import { DeployCancelledError, DeployTimeoutError } from '../src/common/errors.ts';
import { StageLog } from '../src/common/report.ts';

const hang = (signal: AbortSignal): Promise<void> => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));

test('the deadline fires when its own time is up, however late run() starts: one clock, not two', async () => {
  const stages = new StageLog();
  stages.current = 'Upload';
  const deadline = new Deadline(2, stages);
  await sleep(1500);
  let leftWhenFired = NaN;
  await assert.rejects(
    deadline.run((signal) => {
      signal.addEventListener('abort', () => (leftWhenFired = deadline.secondsLeft()), { once: true });
      return hang(signal);
    }),
    (err: Error) => err instanceof DeployTimeoutError && /timeout-seconds \(2 s\).*during Upload/.test(err.message),
  );
  assert.ok(deadline.signal.aborted);
  // A timer of its own, started with run(), would fire 1.5 s past the deadline.
  assert.ok(leftWhenFired <= 0.01 && leftWhenFired > -1, `fired ${-leftWhenFired} s after the deadline`);
});

test('a cancel aborts the deadline\'s signal with its own reason', async () => {
  const cancel = new AbortController();
  const deadline = new Deadline(60, new StageLog(), cancel.signal);
  const reason = new DeployCancelledError('The run was cancelled (SIGINT).');
  setTimeout(() => cancel.abort(reason), 20);
  await assert.rejects(deadline.run(hang), (err) => err === reason);
  assert.equal(deadline.signal.reason, reason);
});
