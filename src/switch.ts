// The switch stage: the only step that changes what runs. DESIGN.md §3.8.

import * as core from '@actions/core';
import type { KuduClient } from './kudu.ts';

export const ARTIFACT_FILE = 'site/wwwroot/_artifact.txt';
export const TARGET_DIR = 'site/wwwroot/_target';

/**
 * The artifact file name in `_artifact.txt`'s content, or '' when it names none. Accepts what a
 * person editing the file by hand may leave: `_target/x` or `_target\x`, a BOM, spaces, any line
 * ending or none.
 */
export function parseArtifactFile(content: string): string {
  const line = content.replace(/^\uFEFF/, '').split(/\r?\n|\r/).map((l) => l.trim()).find((l) => l !== '') ?? '';
  const parts = line.split(/[\\/]+/).filter((p) => p !== '');
  return parts.length === 0 ? '' : parts[parts.length - 1];
}

/** The content the launcher and the Go package read: a relative path and CRLF (cmd's SET /P needs it). */
export function artifactFileContent(artifactName: string): string {
  return `_target\\${artifactName}\r\n`;
}

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
