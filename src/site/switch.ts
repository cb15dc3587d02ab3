// The switch stage: the only step that changes what runs. docs/ARCHITECTURE.md, "The flow".

import * as core from '@actions/core';
import type { KuduClient } from './kudu.ts';
import { ARTIFACT_FILE, artifactFileContent, parseArtifactFile } from './layout.ts';

/** The artifact file name _artifact.txt names now, or '' when there is none. */
export async function readCurrentArtifact(kudu: KuduClient): Promise<string> {
  const file = await kudu.getFile(ARTIFACT_FILE);
  if (file === null) {
    core.info(`${ARTIFACT_FILE} does not exist yet: this is the first deploy to this site.`);
    return '';
  }
  const name = parseArtifactFile(file.body.toString('utf8'));
  core.info(name === '' ? `${ARTIFACT_FILE} is empty.` : `${ARTIFACT_FILE} names ${name}.`);
  return name;
}

/** Points _artifact.txt at `_target\<artifactName>`. */
export async function switchArtifact(kudu: KuduClient, artifactName: string): Promise<void> {
  // If-Match: * replaces whatever is there (and creates the file on a first deploy).
  await kudu.putFile(ARTIFACT_FILE, artifactFileContent(artifactName), { ifMatch: '*' });
  core.info(`Switched: ${ARTIFACT_FILE} now names _target\\${artifactName}.`);
}
