// Dry run: what a deploy would upload, write and delete, computed from the site's current state.

import type { KuduClient, VfsEntry } from './kudu.ts';
import type { ArtifactPackage } from '../artifact/pack.ts';
import { choosePrunable, pruneRequest } from './prune.ts';
import type { DeployRecord } from './record.ts';
import { missingBootstrapFiles } from './bootstrap.ts';
import { ARTIFACT_FILE, ARTIFACTS_DIR, LAUNCHER_FILES, SITE_ROOT } from './layout.ts';

interface PlanRequest {
  artifactName: string;
  pkg: ArtifactPackage;
  previous: string;
  keep: number;
  bootstrap: boolean;
  /** Why the upload is not needed (the record shows this content there), as for uploadArtifact. */
  alreadyThere?: string;
  /** The deploy record as read: another deploy's upload in flight is kept, as prune keeps it. */
  record: DeployRecord;
}

/** Lines describing each change a real deploy would make, in order. Changes nothing. */
export async function planDeploy(kudu: KuduClient, req: PlanRequest): Promise<string[]> {
  const lines: string[] = [];
  const listing = (await kudu.listDir(ARTIFACTS_DIR)) ?? [];
  if (req.alreadyThere !== undefined) {
    lines.push(`skip the upload: ${req.alreadyThere}`);
  } else {
    lines.push(
      `upload ${req.artifactName} (${req.pkg.zipSize} bytes zipped, ${req.pkg.binarySize} bytes unpacked, ` +
        `${req.pkg.entries.length} file(s)) into ${ARTIFACTS_DIR}/`,
    );
  }

  if (req.bootstrap) {
    const missing = new Set(await missingBootstrapFiles(kudu));
    for (const name of LAUNCHER_FILES) {
      lines.push(missing.has(name) ? `write ${SITE_ROOT}/${name} from the template` : `keep your ${SITE_ROOT}/${name}`);
    }
  }

  if (req.previous === req.artifactName) {
    lines.push(`leave ${ARTIFACT_FILE} as it is: it already names ${req.artifactName}`);
  } else {
    lines.push(`write ${ARTIFACT_FILE}: _target\\${req.artifactName}${req.previous === '' ? '' : ` (now ${req.previous})`}`);
  }

  // After the upload the new artifact is the newest file in _target.
  const afterUpload: VfsEntry[] = [
    ...listing.filter((e) => e.name !== req.artifactName),
    { name: req.artifactName, size: req.pkg.binarySize, mtime: new Date().toISOString(), crtime: new Date().toISOString(), mime: 'application/octet-stream', href: '', path: '' },
  ];
  const prune = choosePrunable(afterUpload, pruneRequest(req.record, req.keep, req.artifactName, req.previous));
  for (const f of prune.files) lines.push(`delete ${ARTIFACTS_DIR}/${f}`);
  for (const d of prune.folders) lines.push(`delete ${ARTIFACTS_DIR}/${d}/`);
  if (prune.files.length === 0 && prune.folders.length === 0) lines.push(`delete nothing (keep: ${req.keep})`);
  return lines;
}
