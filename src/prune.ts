// The prune stage: keep the newest `keep` artifacts plus the current and previous. DESIGN.md §3.10.

import type { KuduClient } from './kudu.ts';
import { NotImplementedError } from './errors.ts';

export interface PruneRequest {
  keep: number;
  current: string;
  previous: string;
}

export interface PruneResult {
  deleted: string[];
  /** Locked (in use) files, tried again on the next deploy. */
  skipped: string[];
}

export async function pruneArtifacts(_kudu: KuduClient, _req: PruneRequest, _signal: AbortSignal): Promise<PruneResult> {
  throw new NotImplementedError('prune');
}
