// The upload stage: the package zip into site/wwwroot/_target/, then its size checked. DESIGN.md §3.6.

import type { KuduClient } from './kudu.ts';
import type { ArtifactPackage } from './pack.ts';
import { NotImplementedError } from './errors.ts';

export interface UploadResult {
  /** The artifact was already there with the right size (a re-run of the same commit). */
  skipped: boolean;
  bytesSent: number;
}

export async function uploadArtifact(
  _kudu: KuduClient,
  _pkg: ArtifactPackage,
  _artifactName: string,
  _signal: AbortSignal,
): Promise<UploadResult> {
  throw new NotImplementedError('upload');
}
