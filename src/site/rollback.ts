// rollback: true — point _artifact.txt at the newest older artifact still present; build nothing.

import * as core from '@actions/core';
import { ActionError } from '../common/errors.ts';
import type { KuduClient } from './kudu.ts';
import { landedAt, newestFirst } from './prune.ts';
import { readCurrentArtifact, switchArtifact } from './switch.ts';
import { ARTIFACTS_DIR, ARTIFACT_FILE } from './layout.ts';

export interface RollbackResult {
  from: string;
  to: string;
}

export async function rollbackArtifact(kudu: KuduClient): Promise<RollbackResult> {
  const current = await readCurrentArtifact(kudu);
  if (current === '') {
    throw new ActionError(`Cannot roll back: ${ARTIFACT_FILE} is missing or empty, so nothing has been deployed to this site by go-azure-deploy yet.`);
  }
  const artifacts = newestFirst((await kudu.listDir(ARTIFACTS_DIR)) ?? []);
  const at = artifacts.findIndex((a) => a.name.toLowerCase() === current.toLowerCase());
  // When the current binary is gone from the listing, every artifact present counts as older.
  const older = at === -1 ? artifacts : artifacts.slice(at + 1);
  const candidate = older.find((a) => a.size > 0);
  if (candidate === undefined) {
    const present = artifacts.map((a) => a.name).join(', ') || 'none';
    throw new ActionError(
      `Cannot roll back from ${current}: no older artifact is left in ${ARTIFACTS_DIR} (present: ${present}). ` +
        `Raise keep so prune leaves more versions, or deploy the older commit instead.`,
    );
  }
  core.info(`Rolling back from ${current} to ${candidate.name} (uploaded ${new Date(landedAt(candidate)).toISOString()}).`);
  await switchArtifact(kudu, candidate.name);
  return { from: current, to: candidate.name };
}
