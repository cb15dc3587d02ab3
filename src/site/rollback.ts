// rollback: previous / rollback: <version> — point _artifact.txt back at a version that served; build nothing.
// Which version comes from the deploy record (record.ts), never from upload times: the newest
// file in _target may be a build that crashed and was rolled back.

import * as core from '@actions/core';
import { ActionError } from '../common/errors.ts';
import { isDirectory, type KuduClient, type VfsEntry } from './kudu.ts';
import { readLiveArtifact, switchArtifact } from './switch.ts';
import { readRecord } from './history.ts';
import { ARTIFACTS_DIR, ARTIFACT_FILE } from './layout.ts';
import { describeRun, resolveNamedVersion, rollbackCandidates, type DeployEntry, type DeployRecord } from './record.ts';

interface RollbackResult {
  from: string;
  to: string;
  /** The record's entry that last deployed `to` (its commit and content), when it has one. */
  toEntry?: DeployEntry;
  /** _artifact.txt's ETag after the switch. */
  etag: string;
  record: DeployRecord;
}

/** The version to roll back to: `rollbackTo` when given (artifact name or commit prefix), else the newest earlier one that served. */
function chooseRollbackTarget(record: DeployRecord, live: string, listing: VfsEntry[], rollbackTo: string): { artifact: string; entry?: DeployEntry } {
  const present = (name: string): boolean => listing.some((e) => !isDirectory(e) && e.name.toLowerCase() === name.toLowerCase());
  if (rollbackTo !== '') {
    const entry = resolveNamedVersion(record, rollbackTo);
    const artifact = entry?.artifact ?? (present(rollbackTo) ? rollbackTo : present(`${rollbackTo}.exe`) ? `${rollbackTo}.exe` : '');
    if (artifact === '') {
      const known = [...new Set(record.entries.map((e) => `${e.artifact} (${e.commit.slice(0, 10)}, ${e.outcome})`))].slice(-10).join(', ') || 'none';
      throw new ActionError(`rollback: "${rollbackTo}" names no version the deploy record or ${ARTIFACTS_DIR} knows. Recent versions: ${known}.`);
    }
    if (artifact.toLowerCase() === live.toLowerCase()) throw new ActionError(`rollback: ${artifact} is already what ${ARTIFACT_FILE} names; nothing to roll back.`);
    if (!present(artifact)) throw new ActionError(`rollback: ${artifact} is no longer in ${ARTIFACTS_DIR} (pruned). Deploy its commit again instead.`);
    if (entry !== undefined && entry.outcome !== 'verified') core.warning(`rollback: the deploy record never saw ${artifact} verified live (last: ${entry.outcome}); rolling back to it because it was named.`);
    return { artifact, entry };
  }
  const candidates = rollbackCandidates(record, live);
  const pick = candidates.find((c) => present(c.artifact));
  if (pick === undefined) {
    const gone = candidates.map((c) => c.artifact).join(', ');
    throw new ActionError(
      `Cannot roll back from ${live}: no older artifact that served is left in ${ARTIFACTS_DIR}` +
        (gone ? ` (the record's earlier versions ${gone} were pruned)` : ' (the deploy record shows no earlier version that served)') +
        `. Name one with rollback: <version>, raise keep so prune leaves more versions, or deploy the older commit instead.`,
    );
  }
  if (!pick.verified) core.warning(`The deploy record shows no earlier version verified live (verify was off); rolling back to ${pick.artifact}, the newest earlier version that did not fail.`);
  const entry = [...record.entries].reverse().find((e) => e.artifact.toLowerCase() === pick.artifact.toLowerCase());
  return { artifact: pick.artifact, entry };
}

/**
 * Reads the site, chooses the version and switches to it with a compare-and-swap. `beforeSwitch`
 * runs once the version is chosen, just before the switch (golive.ts writes the identity key
 * there: a rollback refused before it leaves the key the running version read).
 */
export async function rollbackArtifact(kudu: KuduClient, rollbackTo = '', beforeSwitch?: () => Promise<void>): Promise<RollbackResult> {
  const live = await readLiveArtifact(kudu);
  if (live.name === '') {
    throw new ActionError(`Cannot roll back: ${ARTIFACT_FILE} is missing or empty, so nothing has been deployed to this site by go-azure-deploy yet.`);
  }
  const { record } = await readRecord(kudu);
  const listing = (await kudu.listDir(ARTIFACTS_DIR)) ?? [];
  const target = chooseRollbackTarget(record, live.name, listing, rollbackTo);
  core.info(`Rolling back from ${live.name} to ${target.artifact}${target.entry ? `, deployed by ${describeRun(target.entry)}` : ''}.`);
  await beforeSwitch?.();
  const etag = await switchArtifact(kudu, target.artifact, live.etag);
  return { from: live.name, to: target.artifact, toEntry: target.entry, etag, record };
}
