// The deploy's clock: the global `timeout` as an abort signal, and how the time left is shared
// between verify and the auto-rollback that may have to follow it.

import type { StageLog } from './report.ts';
import { DeployTimeoutError } from './errors.ts';

/** Seconds auto-rollback may still run after the deploy's deadline, when the deadline fired after a switch. */
export const ROLLBACK_GRACE_SECONDS = 30;

/**
 * Seconds of the deploy's time kept back from verify for auto-rollback (a switch back and the old
 * version's start): a fifth of timeout, at least 10 s and at most 60 s.
 */
export function rollbackReserveSeconds(timeoutSeconds: number): number {
  return Math.min(60, Math.max(10, timeoutSeconds / 5));
}

/**
 * How long verify may wait: verify-timeout, but never into the time auto-rollback needs before the
 * deadline. At least 1 s, so a late switch is still looked at once.
 */
export function verifyBudgetSeconds(verifyTimeout: number, secondsLeft: number, reserve: number): number {
  return Math.max(1, Math.min(verifyTimeout, Math.floor(secondsLeft - reserve)));
}

/** The deploy's clock: when the global timeout fires. */
export class Deadline {
  readonly endsAt: number;
  constructor(seconds: number) {
    this.endsAt = performance.now() + seconds * 1000;
  }
  secondsLeft(): number {
    return (this.endsAt - performance.now()) / 1000;
  }
}

/**
 * Runs `body` with an AbortSignal that fires after `seconds`, and fails with a clear message when
 * that happens even if a stage ignores the signal: the whole deploy never outlives `timeout`
 * (except for auto-rollback's short grace period, see run()). When `cancel` aborts first (the run
 * was cancelled, src/common/cancel.ts), the deploy is aborted with its reason, and that is what fails.
 */
export async function withDeadline(
  seconds: number,
  stages: StageLog,
  body: (signal: AbortSignal) => Promise<void>,
  cancel?: AbortSignal,
): Promise<void> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onCancel: (() => void) | undefined;
  const cancelled = new Promise<never>((_, reject) => {
    if (cancel === undefined) return;
    onCancel = (): void => {
      controller.abort(cancel.reason);
      reject(cancel.reason);
    };
    if (cancel.aborted) onCancel();
    else cancel.addEventListener('abort', onCancel, { once: true });
  });
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const running = stages.current ?? 'the deploy';
      const err = new DeployTimeoutError(
        `The deploy took longer than timeout-seconds (${seconds} s) and was stopped during ${running}. ` +
          `_artifact.txt was not changed unless the log above says it was switched. ` +
          `Raise the timeout-seconds input or look at the slow stage in the log.`,
      );
      controller.abort(err);
      reject(err);
    }, seconds * 1000);
  });
  try {
    await Promise.race([body(controller.signal), expired, cancelled]);
  } finally {
    clearTimeout(timer);
    if (onCancel !== undefined) cancel?.removeEventListener('abort', onCancel);
  }
}
