// The upload stage: the package zip into site/wwwroot/_target/, then its size checked; skipped only when the deploy record shows the same content there. docs/ARCHITECTURE.md, "The flow".

import * as core from '@actions/core';
import { ActionError } from '../common/errors.ts';
import { isDirectory, type KuduClient } from './kudu.ts';
import type { ArtifactPackage } from '../build/pack.ts';
import { ARTIFACTS_DIR } from './layout.ts';

export interface UploadResult {
  /** The artifact was already on the site with this content (a re-run of the same build). */
  skipped: boolean;
  bytesSent: number;
}

export interface UploadOptions {
  /** Bytes of the zip sent so far (of `pkg.zipSize`), for a progress display. */
  onProgress?: (bytesSent: number, total: number) => void;
  /**
   * Why the upload is not needed: the deploy record shows this name on the site with this very
   * content (record.ts, chooseArtifactName). A size alone never proves that: Windows PE files are
   * padded to 512 bytes, so two builds of one commit usually have the same size.
   */
  alreadyThere?: string;
}

export async function uploadArtifact(
  kudu: KuduClient,
  pkg: ArtifactPackage,
  artifactName: string,
  opts: UploadOptions = {},
): Promise<UploadResult> {
  if (opts.alreadyThere !== undefined) {
    // The record vouches for the content; the listing must still show the whole binary, since a
    // later upload of the same name may have been cut short (a full disk, a failed extraction).
    const there = (await kudu.listDir(ARTIFACTS_DIR))?.find((e) => sameName(e.name, artifactName) && !isDirectory(e));
    if (there?.size === pkg.binarySize) {
      core.info(`${opts.alreadyThere}: upload skipped.`);
      return { skipped: true, bytesSent: 0 };
    }
    core.info(
      `${opts.alreadyThere}, but ${ARTIFACTS_DIR}/${artifactName} is ${there === undefined ? 'not listed' : `${there.size} bytes, not ${pkg.binarySize}`}: uploading it again.`,
    );
  }
  core.info(`Uploading ${artifactName}: ${mib(pkg.zipSize)} zip (${mib(pkg.binarySize)} binary) to ${ARTIFACTS_DIR}/`);
  const { bytesSent } = await kudu.putZip(ARTIFACTS_DIR, pkg.zipPath, {
    onProgress: (sent) => opts.onProgress?.(sent, pkg.zipSize),
  });

  // Kudu's zip API answers 200 once it has extracted; the listing is the proof that the whole
  // binary landed where _artifact.txt is about to point.
  const after = await kudu.listDir(ARTIFACTS_DIR);
  const landed = after?.find((e) => sameName(e.name, artifactName) && !isDirectory(e));
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

/**
 * Whether a listed name is the artifact. Windows compares file names without case, and overwriting
 * a file keeps the case it already had: `Shop-….exe` uploaded over `shop-….exe` is listed as
 * `shop-….exe`, and the launcher opens it by either name.
 */
function sameName(listed: string, artifactName: string): boolean {
  return listed.toLowerCase() === artifactName.toLowerCase();
}

function mib(n: number): string {
  return `${(n / 1048576).toFixed(2)} MiB`;
}
