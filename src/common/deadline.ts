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

/**
 * The deploy's one clock: when the global timeout fires, the deploy's abort signal (aborted by the
 * timeout, or first by a cancel, src/common/cancel.ts), and what the stages, verify's budget and
 * the final auto-rollback read the time left from. The timer is armed by run() at `endsAt`.
 */
export class Deadline {
  readonly seconds: number;
  readonly endsAt: number;
  /** Aborts with a DeployTimeoutError at the deadline, or with the cancel's reason on a cancel. */
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly stages: StageLog;
  private readonly cancel: AbortSignal | undefined;

  constructor(seconds: number, stages: StageLog, cancel?: AbortSignal) {
    this.seconds = seconds;
    this.endsAt = performance.now() + seconds * 1000;
    this.signal = this.controller.signal;
    this.stages = stages;
    this.cancel = cancel;
  }

  secondsLeft(): number {
    return (this.endsAt - performance.now()) / 1000;
  }

  /** Milliseconds the auto-rollback after the deadline may use: ROLLBACK_GRACE_SECONDS past it. */
  graceMs(): number {
    return ROLLBACK_GRACE_SECONDS * 1000;
  }

  /**
   * Runs `body` with this deadline's signal, and fails with a clear message when the deadline
   * fires even if a stage ignores the signal: the whole deploy never outlives `timeout-seconds` (except
   * for auto-rollback's short grace period, see src/main.ts). When the cancel aborts first, the
   * deploy is aborted with its reason, and that is what fails.
   */
  async run(body: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const { controller, cancel } = this;
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
        const running = this.stages.current ?? 'the deploy';
        const err = new DeployTimeoutError(
          `The deploy took longer than timeout-seconds (${this.seconds} s) and was stopped during ${running}. ` +
            `_artifact.txt was not changed unless the log above says it was switched. ` +
            `Raise the timeout-seconds input or look at the slow stage in the log.`,
        );
        controller.abort(err);
        reject(err);
      }, Math.max(0, this.endsAt - performance.now()));
    });
    try {
      await Promise.race([body(controller.signal), expired, cancelled]);
    } finally {
      clearTimeout(timer);
      if (onCancel !== undefined) cancel?.removeEventListener('abort', onCancel);
    }
  }
}
