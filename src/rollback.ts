// rollback: true — point _artifact.txt at the newest older artifact still present; build nothing.

import type { KuduClient } from './kudu.ts';
import { NotImplementedError } from './errors.ts';

export interface RollbackResult {
  from: string;
  to: string;
}

export async function rollbackArtifact(_kudu: KuduClient, _signal: AbortSignal): Promise<RollbackResult> {
  throw new NotImplementedError('rollback');
}
