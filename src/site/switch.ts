// The switch stage: the only step that changes what runs. docs/ARCHITECTURE.md, "The flow".
// The switch is a compare-and-swap: _artifact.txt is written with If-Match and the ETag read at the
// start of the run, so a deploy that ran meanwhile is never overwritten unseen (Kudu answers 412).

import * as core from '@actions/core';
import { KuduError, type KuduClient } from './kudu.ts';
import { ARTIFACT_FILE, artifactFileContent, parseArtifactFile } from './layout.ts';

/** What _artifact.txt names and its ETag; both '' when the file does not exist. */
export interface LiveArtifact {
  name: string;
  etag: string;
}

/** Reads _artifact.txt: the artifact it names and the ETag a later switch must match. */
export async function readLiveArtifact(kudu: KuduClient): Promise<LiveArtifact> {
  const file = await kudu.getFile(ARTIFACT_FILE);
  if (file === null) {
    core.info(`${ARTIFACT_FILE} does not exist yet: this is the first deploy to this site.`);
    return { name: '', etag: '' };
  }
  const name = parseArtifactFile(file.body.toString('utf8'));
  core.info(name === '' ? `${ARTIFACT_FILE} is empty.` : `${ARTIFACT_FILE} names ${name}.`);
  return { name, etag: file.etag };
}

/** _artifact.txt changed between this run's read and its switch: another deploy got there first. */
export class SiteChangedError extends KuduError {
  override name = 'SiteChangedError';
}

/**
 * Points _artifact.txt at `_target\<artifactName>` and returns the file's new ETag.
 * `expectedEtag` is the ETag read before ('' when the file did not exist: then it is only
 * created); a mismatch throws SiteChangedError and changes nothing. Without it any content is
 * replaced (`If-Match: *`).
 */
export async function switchArtifact(kudu: KuduClient, artifactName: string, expectedEtag?: string): Promise<string> {
  const ifMatch = expectedEtag === undefined ? { ifMatch: '*' } : expectedEtag === '' ? {} : { ifMatch: expectedEtag };
  try {
    const { etag } = await kudu.putFile(ARTIFACT_FILE, artifactFileContent(artifactName), ifMatch);
    core.info(`Switched: ${ARTIFACT_FILE} now names _target\\${artifactName}.`);
    return etag;
  } catch (err) {
    if (err instanceof KuduError && err.status === 412 && expectedEtag !== undefined) {
      // The Kudu client resends a write whose answer was lost (a reset, a 502 from the front end).
      // When the first one was applied, the resend's 412 is about this run's own switch.
      const now = await readLiveArtifact(kudu);
      if (now.name.toLowerCase() === artifactName.toLowerCase()) {
        core.info(`Switched: ${ARTIFACT_FILE} names _target\\${artifactName} (the write's answer was lost; the file shows it took effect).`);
        return now.etag;
      }
      throw new SiteChangedError(`${ARTIFACT_FILE} changed on the site after this run read it (Kudu answered 412 to the compare-and-swap).`, 412);
    }
    throw err;
  }
}
