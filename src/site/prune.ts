// The prune stage: keep the newest `keep` artifacts plus the current and previous. docs/ARCHITECTURE.md, "The flow".

import * as core from '@actions/core';
import { ActionError } from '../common/errors.ts';
import { isDirectory, type KuduClient, type VfsEntry } from './kudu.ts';
import { ARTIFACTS_DIR, artifactStem } from './layout.ts';
import { inFlight, type DeployRecord } from './record.ts';

interface PruneRequest {
  keep: number;
  current: string;
  previous: string;
  /** Artifacts other deploys have uploaded and not finished with (record.ts, inFlight): never deleted. */
  inUse?: string[];
}

/**
 * What prune keeps besides the newest `keep`, from the deploy record: the current and previous
 * artifacts, and every upload another deploy has in flight (record.ts, inFlight). The dry run's
 * plan (plan.ts) and the real prune (src/main.ts) both decide with it, so the plan names only
 * what prune would delete.
 */
export function pruneRequest(record: DeployRecord, keep: number, current: string, previous: string, now = Date.now()): PruneRequest {
  return { keep, current, previous, inUse: inFlight(record, now) };
}

export interface PruneResult {
  deleted: string[];
  /** Locked (in use) files, tried again on the next deploy. */
  skipped: string[];
}

/** What to delete from a `_target` listing: artifact files, and asset folders (`<name without .exe>/`). */
interface PrunePlan {
  files: string[];
  folders: string[];
}


/**
 * When a file arrived on the site. Kudu's zip API sets a file's modification time to the time
 * stored in the zip entry: a package stores its commit's time (earlier releases a fixed date), so a
 * redeployed older commit keeps an old time; the creation time is then the moment of the upload.
 * So the later of the two is taken.
 */
export function landedAt(entry: VfsEntry): number {
  const m = Date.parse(entry.mtime);
  const c = entry.crtime === undefined ? Number.NaN : Date.parse(entry.crtime);
  return Math.max(Number.isNaN(m) ? 0 : m, Number.isNaN(c) ? 0 : c);
}

/** Artifacts newest first, by the time they landed (then by name, so ties are stable). */
export function newestFirst(entries: VfsEntry[]): VfsEntry[] {
  return entries
    .filter((e) => !isDirectory(e))
    .sort((a, b) => landedAt(b) - landedAt(a) || b.name.localeCompare(a.name));
}

/**
 * Chooses what to delete: every artifact but the newest `keep`, the current and the previous one;
 * the asset folder of each deleted artifact, and asset folders whose artifact is already gone
 * (left behind when a file in them was in use at an earlier prune).
 */
export function choosePrunable(listing: VfsEntry[], req: PruneRequest): PrunePlan {
  const artifacts = newestFirst(listing);
  const kept = new Set<string>([req.current, req.previous, ...(req.inUse ?? [])].filter((n) => n !== '').map((n) => n.toLowerCase()));
  for (const a of artifacts.slice(0, Math.max(0, req.keep))) kept.add(a.name.toLowerCase());
  const files = artifacts.filter((a) => !kept.has(a.name.toLowerCase())).map((a) => a.name);

  const keptFolders = new Set([...kept].map(artifactStem));
  const artifactFolders = new Set(artifacts.map((a) => artifactStem(a.name).toLowerCase()));
  const deletedFolders = new Set(files.map((f) => artifactStem(f).toLowerCase()));
  const folders = listing
    .filter(isDirectory)
    .map((d) => d.name)
    .filter((d) => {
      const key = d.toLowerCase();
      if (keptFolders.has(key)) return false;
      if (deletedFolders.has(key)) return true;
      // An orphan: an artifact's folder without its artifact, named `<prefix>-<commit10>` or, for
      // another build of the same commit, `<prefix>-<commit10>-<content6>` (record.ts, withContentSuffix).
      return !artifactFolders.has(key) && /-[0-9a-f]{10}(-[0-9a-f]{6})?$/i.test(d);
    });
  return { files, folders };
}

/**
 * Deletes old artifacts. It runs after the switch, so the new version is already live: Kudu
 * failing here is a warning, and the next deploy prunes again. Only the deadline stops it hard.
 */
export async function pruneArtifacts(kudu: KuduClient, req: PruneRequest, signal: AbortSignal): Promise<PruneResult> {
  const result: PruneResult = { deleted: [], skipped: [] };
  try {
    await prune(kudu, req, result);
  } catch (err) {
    if (signal.aborted || !(err instanceof ActionError)) throw err;
    core.warning(`Pruning old artifacts stopped: ${err.message} The deploy itself is complete; the next deploy prunes again.`);
  }
  return result;
}

async function prune(kudu: KuduClient, req: PruneRequest, result: PruneResult): Promise<void> {
  const listing = await kudu.listDir(ARTIFACTS_DIR);
  if (listing === null) return;
  const plan = choosePrunable(listing, req);
  if (plan.files.length === 0 && plan.folders.length === 0) {
    core.info(`Nothing to prune: ${newestFirst(listing).length} artifact(s) in ${ARTIFACTS_DIR}, keep is ${req.keep}.`);
    return;
  }
  const lockedStems = new Set<string>();
  for (const name of plan.files) {
    const outcome = await kudu.deletePath(`${ARTIFACTS_DIR}/${name}`);
    if (outcome === 'locked') {
      lockedStems.add(artifactStem(name).toLowerCase());
      result.skipped.push(name);
      core.notice(`${ARTIFACTS_DIR}/${name} is in use on the site and was not deleted; the next deploy tries again.`);
    } else {
      result.deleted.push(name);
      core.info(`Deleted ${ARTIFACTS_DIR}/${name}${outcome === 'missing' ? ' (already gone)' : ''}.`);
    }
  }
  for (const folder of plan.folders) {
    // A still-running binary may read its assets: its folder stays until the binary goes.
    if (lockedStems.has(folder.toLowerCase())) continue;
    const outcome = await kudu.deletePath(`${ARTIFACTS_DIR}/${folder}/`, { recursive: true });
    if (outcome === 'locked') {
      result.skipped.push(`${folder}/`);
      core.notice(`${ARTIFACTS_DIR}/${folder}/ holds a file in use on the site and was not deleted; the next deploy tries again.`);
    } else {
      result.deleted.push(`${folder}/`);
      core.info(`Deleted ${ARTIFACTS_DIR}/${folder}/.`);
    }
  }
}
