/**
 * An error whose message is written for the person running the workflow: it names the input or
 * the remote answer that caused it and says what to do. The entry point prints it as it is,
 * without a stack trace. Any other error is a bug in the action and is reported as such.
 */
export class ActionError extends Error {
  override name = 'ActionError';
}

/** Several input problems found at once; each line names its input. */
export class InputError extends ActionError {
  override name = 'InputError';
  readonly problems: readonly string[];
  /** `advice`, what to do about all of them, is said once after the problems. */
  constructor(problems: readonly string[], advice?: string) {
    super(
      (problems.length === 1
        ? `Invalid input: ${problems[0]}`
        : `Invalid inputs (${problems.length} problems):\n${problems.map((p) => `  - ${p}`).join('\n')}`) + (advice === undefined ? '' : problems.length === 1 ? ` ${advice}` : `\n${advice}`),
    );
    this.problems = problems;
  }
}

/** Raised when the whole-deploy `timeout` runs out. */
export class DeployTimeoutError extends ActionError {
  override name = 'DeployTimeoutError';
}

/** Raised when the runner cancels the run (SIGINT or SIGTERM, src/common/cancel.ts). */
export class DeployCancelledError extends ActionError {
  override name = 'DeployCancelledError';
}

/** Message of any thrown value, for logs. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
