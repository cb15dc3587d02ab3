// The upload stage: the package zip into site/wwwroot/_target/, then its size checked; skipped only when the deploy record shows the same content there. docs/ARCHITECTURE.md, "The flow".

import * as path from 'node:path';
import * as core from '@actions/core';
import { ActionError } from '../common/errors.ts';
import { waitUntilSteady } from '../common/retry.ts';
import { isDirectory, ZipAnswerLostError, type KuduClient, type VfsEntry } from './kudu.ts';
import { repackEntries, type ArtifactPackage, type PackageEntry } from '../artifact/pack.ts';
import { ARTIFACTS_DIR } from './layout.ts';

export interface UploadResult {
  /** The artifact was already on the site with this content (a re-run of the same build). */
  skipped: boolean;
  bytesSent: number;
}

interface UploadOptions {
  /** Bytes of the zip sent so far (of `pkg.zipSize`), for a progress display. */
  onProgress?: (bytesSent: number, total: number) => void;
  /**
   * Why the upload is not needed: the deploy record shows this name on the site with this very
   * content (record.ts, chooseArtifactName). A size alone never proves that: Windows PE files are
   * padded to 512 bytes, so two builds of one commit usually have the same size.
   */
  alreadyThere?: string;
  /**
   * After a lost answer to the zip upload: how far apart two listings must agree before the
   * extraction counts as over (default 3 s), and how long to wait for that (default 300 s).
   */
  settle?: { quietMs?: number; timeoutMs?: number };
}

/** Zip uploads at most: the first, and the re-sends of what a lost answer left missing. */
const ZIP_SENDS = 3;

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
  const bytesSent = await sendPackage(kudu, pkg, opts);

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

/**
 * Sends the package zip. When its answer is lost (a 5xx or a cut connection), Kudu may still be
 * extracting it, each file held open (Kudu.Core/Infrastructure/ZipArchiveExtensions.cs): sending it
 * again at once would fail on files "in use" although the first extraction works. So the listing
 * is read until it stops changing, and only the entries that did not land whole (name and size)
 * are sent again.
 */
async function sendPackage(kudu: KuduClient, pkg: ArtifactPackage, opts: UploadOptions): Promise<number> {
  let zip = { zipPath: pkg.zipPath, zipSize: pkg.zipSize };
  let sent = 0;
  for (let send = 1; ; send++) {
    try {
      const { bytesSent } = await kudu.putZip(ARTIFACTS_DIR, zip.zipPath, {
        onProgress: (n) => opts.onProgress?.(sent + n, pkg.zipSize),
        lostAnswer: send < ZIP_SENDS ? 'throw' : 'retry',
      });
      return sent + bytesSent;
    } catch (err) {
      if (!(err instanceof ZipAnswerLostError)) throw err;
      sent += zip.zipSize;
      core.warning(`${err.message}. Kudu may still be extracting the package: waiting until ${ARTIFACTS_DIR}/ stops changing before sending anything again.`);
      const missing = await notLanded(kudu, pkg.entries, opts.settle ?? {});
      if (missing.length === 0) {
        core.info(`Kudu extracted the whole package although its answer was lost: every entry is listed with its size.`);
        return sent;
      }
      const paths = missing.map((e) => e.path);
      core.info(`Sending again the ${paths.length} of ${pkg.entries.length} entries that did not land whole: ${paths.slice(0, 5).join(', ')}${paths.length > 5 ? ', …' : ''}`);
      zip = paths.length === pkg.entries.length ? { zipPath: pkg.zipPath, zipSize: pkg.zipSize } : await repackEntries(pkg.zipPath, paths, path.join(path.dirname(pkg.zipPath), `resend-${send}.zip`));
    }
  }
}

/**
 * The package's entries that are not in ARTIFACTS_DIR with their size, once the listings of their
 * folders agree twice in a row (an extraction still running changes sizes and times). Windows
 * compares names without case.
 */
async function notLanded(kudu: KuduClient, entries: readonly PackageEntry[], settle: NonNullable<UploadOptions['settle']>): Promise<PackageEntry[]> {
  const folders = [...new Set(entries.map((e) => path.posix.dirname(e.path)))];
  const read = async (): Promise<Map<string, VfsEntry>> => {
    const seen = new Map<string, VfsEntry>();
    for (const folder of folders) {
      const listed = (await kudu.listDir(folder === '.' ? ARTIFACTS_DIR : `${ARTIFACTS_DIR}/${folder}`)) ?? [];
      for (const e of listed) if (!isDirectory(e)) seen.set((folder === '.' ? e.name : `${folder}/${e.name}`).toLowerCase(), e);
    }
    return seen;
  };
  const key = (seen: Map<string, VfsEntry>): string => JSON.stringify(entries.map((e) => [seen.get(e.path.toLowerCase())?.size, seen.get(e.path.toLowerCase())?.mtime]));
  const timeoutMs = settle.timeoutMs ?? 300_000;
  const { value, steady } = await waitUntilSteady(read, key, { what: `Listing ${ARTIFACTS_DIR}/`, quietMs: settle.quietMs ?? 3000, timeoutMs, signal: kudu.signal });
  if (!steady) {
    throw new ActionError(
      `The answer to the package upload was lost and ${ARTIFACTS_DIR}/ was still changing ${Math.round(timeoutMs / 1000)} s later (Kudu still extracting). ` +
        `Nothing was switched; the site still runs the previous version. Run the deploy again.`,
    );
  }
  return entries.filter((e) => value.get(e.path.toLowerCase())?.size !== e.size);
}

function mib(n: number): string {
  return `${(n / 1048576).toFixed(2)} MiB`;
}
