// The upload stage: the package zip into site/wwwroot/_target/, then its size checked. docs/ARCHITECTURE.md, "The flow".

import * as core from '@actions/core';
import { ActionError } from '../common/errors.ts';
import { isDirectory, type KuduClient } from './kudu.ts';
import type { ArtifactPackage } from '../build/pack.ts';
import { ARTIFACTS_DIR } from './layout.ts';

export interface UploadResult {
  /** The artifact was already there with the right size (a re-run of the same commit). */
  skipped: boolean;
  bytesSent: number;
}

export interface UploadOptions {
  /** Bytes of the zip sent so far (of `pkg.zipSize`), for a progress display. */
  onProgress?: (bytesSent: number, total: number) => void;
}

export async function uploadArtifact(
  kudu: KuduClient,
  pkg: ArtifactPackage,
  artifactName: string,
  opts: UploadOptions = {},
): Promise<UploadResult> {
  const before = await kudu.listDir(ARTIFACTS_DIR);
  const present = before?.find((e) => e.name === artifactName && !isDirectory(e));
  if (present !== undefined && present.size === pkg.binarySize) {
    core.info(`${artifactName} is already in ${ARTIFACTS_DIR} with the same size (${pkg.binarySize} bytes): upload skipped.`);
    return { skipped: true, bytesSent: 0 };
  }
  if (present !== undefined) {
    core.info(`${artifactName} is in ${ARTIFACTS_DIR} with ${present.size} bytes instead of ${pkg.binarySize} (an earlier upload was cut); uploading it again.`);
  }

  core.info(`Uploading ${artifactName}: ${mib(pkg.zipSize)} zip (${mib(pkg.binarySize)} binary) to ${ARTIFACTS_DIR}/`);
  const { bytesSent } = await kudu.putZip(ARTIFACTS_DIR, pkg.zipPath, {
    onProgress: (sent) => opts.onProgress?.(sent, pkg.zipSize),
  });

  // Kudu's zip API answers 200 once it has extracted; the listing is the proof that the whole
  // binary landed where _artifact.txt is about to point.
  const after = await kudu.listDir(ARTIFACTS_DIR);
  const landed = after?.find((e) => e.name === artifactName && !isDirectory(e));
  if (landed === undefined || landed.size !== pkg.binarySize) {
    throw new ActionError(
      `After the upload, ${ARTIFACTS_DIR}/${artifactName} ${landed === undefined ? 'is missing' : `has ${landed.size} bytes instead of ${pkg.binarySize}`} ` +
        `in Kudu's listing. Nothing was switched; the site still runs the previous version. Run the deploy again; ` +
        `if it repeats, check the site's disk quota.`,
    );
  }
  core.info(`Uploaded and checked: ${artifactName}, ${landed.size} bytes.`);
  return { skipped: false, bytesSent };
}

function mib(n: number): string {
  return `${(n / 1048576).toFixed(2)} MiB`;
}
