// A cancelled run, as GitHub's runner ends it: the Cancel button, `concurrency: cancel-in-progress`
// or `timeout-minutes`. The runner sends SIGINT to the step's process (Ctrl+C on Windows), waits
// 7.5 s for it to exit, sends SIGTERM (Ctrl+Break), waits 2.5 s more, then kills the whole process
// tree (actions/runner, src/Runner.Sdk/ProcessInvoker.cs: CancelAndKillProcessTree with
// _sigintTimeout 7500 ms and _sigtermTimeout 2500 ms). Node ends a process on SIGINT and SIGTERM
// unless it listens for them; the action listens, turns the first into an abort of the deploy, and
// uses the time before the kill to undo a switch it has not verified (src/main.ts).

import * as core from '@actions/core';
import { DeployCancelledError } from './errors.ts';

/** From SIGINT to SIGTERM, and from SIGTERM to the kill, as the runner waits. */
const SIGINT_TO_SIGTERM_MS = 7500;
const SIGTERM_TO_KILL_MS = 2500;

/** Ends what the undo does this long before the kill, so its last line is written. */
const MARGIN_MS = 400;

export interface CancelWatch {
  /** Aborts, with a DeployCancelledError, on the first SIGINT or SIGTERM. */
  readonly signal: AbortSignal;
  /** Milliseconds the process may still use before the runner kills it (Infinity before a signal). */
  msLeft(): number;
  stop(): void;
}

/** Listens for the runner's cancel signals for the rest of the process. */
export function watchForCancel(): CancelWatch {
  const controller = new AbortController();
  let killAt = Infinity;
  const on = (sig: NodeJS.Signals): void => {
    const now = performance.now();
    // SIGBREAK is Windows' Ctrl+Break, the runner's second signal there.
    const second = sig !== 'SIGINT';
    killAt = Math.min(killAt, now + (second ? SIGTERM_TO_KILL_MS : SIGINT_TO_SIGTERM_MS + SIGTERM_TO_KILL_MS));
    if (controller.signal.aborted) {
      core.info(`Received ${sig}: still finishing the cancel; the runner stops this step in ${((killAt - now) / 1000).toFixed(1)} s.`);
      return;
    }
    core.info(`Received ${sig}: the run was cancelled. Stopping the deploy; the runner stops this step in ${((killAt - now) / 1000).toFixed(1)} s.`);
    controller.abort(new DeployCancelledError(`The run was cancelled (${sig}).`));
  };
  const signals: NodeJS.Signals[] = process.platform === 'win32' ? ['SIGINT', 'SIGTERM', 'SIGBREAK'] : ['SIGINT', 'SIGTERM'];
  for (const sig of signals) process.on(sig, on);
  return {
    signal: controller.signal,
    msLeft: () => killAt - performance.now() - MARGIN_MS,
    stop: () => {
      for (const sig of signals) process.off(sig, on);
    },
  };
}
