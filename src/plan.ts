// Dry run: what a deploy would upload, write and delete, computed from the site's current state.

import type { KuduClient } from './kudu.ts';
import type { ArtifactPackage } from './pack.ts';
import { NotImplementedError } from './errors.ts';

export interface PlanRequest {
  artifactName: string;
  pkg: ArtifactPackage;
  previous: string;
  keep: number;
  bootstrap: boolean;
}

/** Lines describing each change a real deploy would make, in order. Changes nothing. */
export async function planDeploy(_kudu: KuduClient, _req: PlanRequest, _signal: AbortSignal): Promise<string[]> {
  throw new NotImplementedError('dry-run');
}
