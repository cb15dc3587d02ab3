// The switch stage: the only step that changes what runs. DESIGN.md §3.8.

import type { KuduClient } from './kudu.ts';
import { NotImplementedError } from './errors.ts';

/** The artifact file name _artifact.txt names now, or '' when there is none. */
export async function readCurrentArtifact(_kudu: KuduClient, _signal: AbortSignal): Promise<string> {
  throw new NotImplementedError('switch');
}

/** Points _artifact.txt at `_target\<artifactName>`. */
export async function switchArtifact(_kudu: KuduClient, _artifactName: string, _signal: AbortSignal): Promise<void> {
  throw new NotImplementedError('switch');
}
