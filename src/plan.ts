// Dry run: what a deploy would upload, write and delete, computed from the site's current state.

import type { KuduClient, VfsEntry } from './kudu.ts';
import { isDirectory } from './kudu.ts';
import type { ArtifactPackage } from './pack.ts';
import { choosePrunable } from './prune.ts';
import { missingBootstrapFiles, BOOTSTRAP_FILES, SITE_DIR } from './bootstrap.ts';
import { ARTIFACT_FILE, TARGET_DIR } from './switch.ts';

export interface PlanRequest {
  artifactName: string;
  pkg: ArtifactPackage;
  previous: string;
  keep: number;
  bootstrap: boolean;
}

/** Lines describing each change a real deploy would make, in order. Changes nothing. */
export async function planDeploy(kudu: KuduClient, req: PlanRequest): Promise<string[]> {
  const lines: string[] = [];
  const listing = (await kudu.listDir(TARGET_DIR)) ?? [];
  const present = listing.find((e) => e.name === req.artifactName && !isDirectory(e));
  if (present !== undefined && present.size === req.pkg.binarySize) {
    lines.push(`skip the upload: ${TARGET_DIR}/${req.artifactName} is already there with the same size (${req.pkg.binarySize} bytes)`);
  } else {
    lines.push(
      `upload ${req.artifactName} (${req.pkg.zipSize} bytes zipped, ${req.pkg.binarySize} bytes unpacked, ` +
        `${req.pkg.entries.length} file(s)) into ${TARGET_DIR}/`,
    );
  }

  if (req.bootstrap) {
    const missing = new Set(await missingBootstrapFiles(kudu));
    for (const name of BOOTSTRAP_FILES) {
      lines.push(missing.has(name) ? `write ${SITE_DIR}/${name} from the template` : `keep your ${SITE_DIR}/${name}`);
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
  const prune = choosePrunable(afterUpload, { keep: req.keep, current: req.artifactName, previous: req.previous });
  for (const f of prune.files) lines.push(`delete ${TARGET_DIR}/${f}`);
  for (const d of prune.folders) lines.push(`delete ${TARGET_DIR}/${d}/`);
  if (prune.files.length === 0 && prune.folders.length === 0) lines.push(`delete nothing (keep: ${req.keep})`);
  return lines;
}
