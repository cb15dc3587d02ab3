// The verify stage: wake the site and wait until the new binary serves. DESIGN.md §3.9.

import type { KuduClient } from './kudu.ts';
import type { Target } from './target.ts';
import { NotImplementedError } from './errors.ts';

export interface VerifyRequest {
  artifactName: string;
  previous: string;
  timeoutSeconds: number;
}

export interface VerifyResult {
  ok: boolean;
  /** What was seen, for the log and the summary. */
  detail: string;
}

export async function verifyDeployment(
  _kudu: KuduClient,
  _target: Target,
  _req: VerifyRequest,
  _signal: AbortSignal,
): Promise<VerifyResult> {
  throw new NotImplementedError('verify');
}
