// The site's layout: where the action puts things under Kudu's D:\home and how an artifact's name
// maps to what the site shows of it. Every other module takes these from here; the Go package
// (goazure/artifact.go) and the launcher (templates/go-azure.bat) read the same layout on the site.
// See docs/ARCHITECTURE.md, "The site".

/** The app's folder, relative to D:\home (Kudu's VFS root): where IIS's web.config lives. */
export const SITE_ROOT = 'site/wwwroot';

/** The file that names the binary the launcher starts: the only file whose change switches versions. */
export const ARTIFACT_FILE = `${SITE_ROOT}/_artifact.txt`;

/**
 * The deploy record (src/site/record.ts): beside _artifact.txt, outside _target, so the launcher,
 * the Go package and prune never see it. HttpPlatformHandler sends every request to the app, so
 * IIS never serves it either.
 */
export const RECORD_FILE = `${SITE_ROOT}/_deploys.json`;

/**
 * The identity key (goazure/identity.go, IdentityKeyFileName): a random value the deploy writes
 * before each switch and sends with its own health checks; goazure, which reads it when it starts,
 * names the binary, the commit and the instance only in answers to requests that carry it.
 */
export const IDENTITY_KEY_FILE = `${SITE_ROOT}/_identity.txt`;

/**
 * An instance's own pointer (goazure/canary.go, InstanceArtifactFileName): while it exists, the
 * launcher and goazure on the instance whose WEBSITE_INSTANCE_ID is `instance` read it instead of
 * _artifact.txt. A canary release (src/site/canary.ts) writes it; nothing else leaves one.
 */
export function instancePointerFile(instance: string): string {
  return `${SITE_ROOT}/_artifact.${instance}.txt`;
}

/** Whether `instance` can have a pointer of its own: the launcher's rule (templates/go-azure.bat). */
export function instanceIdUsable(instance: string): boolean {
  return /^[A-Za-z0-9_-]{1,64}$/.test(instance);
}

/** The name of an instance's own pointer in a listing of site/wwwroot; the instance id, or undefined. */
export function instanceOfPointer(fileName: string): string | undefined {
  const m = /^_artifact\.([A-Za-z0-9_-]{1,64})\.txt$/i.exec(fileName);
  return m?.[1];
}

/** The folder that holds every uploaded version: `<name>.exe` and its include files in `<name>/`. */
export const ARTIFACTS_DIR = `${SITE_ROOT}/_target`;

/** The launcher web.config's processPath names; it starts the binary _artifact.txt names. */
export const LAUNCHER_FILE = 'go-azure.bat';

/** The files HttpPlatformHandler needs to start the launcher, written once if absent. */
export const LAUNCHER_FILES = ['web.config', LAUNCHER_FILE] as const;

/**
 * An artifact's name without `.exe`. The same stem is three things on the site: the folder its
 * include files ship in (`_target/<stem>/`), the process name Kudu lists for it, and (compared
 * without case, as Windows does) the key under which prune and verify match files and processes.
 */
export function artifactStem(artifactName: string): string {
  return artifactName.replace(/\.exe$/i, '');
}

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
