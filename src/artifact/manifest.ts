// The manifest of a package built once and deployed to many sites (build-only, then from-package):
// what the zip holds, the sha256 of the zip and of every file in it, the target and the build's
// facts. Pure logic only: shape, parse, format, and the checks that need no file but the manifest;
// src/artifact/prebuilt.ts writes packages and reads them back. See docs/build-once.md.

import { artifactStem } from '../site/layout.ts';
import { contentHashOf } from './pack.ts';

/** The manifest's file name, beside the zip in the package folder. */
export const MANIFEST_FILE = 'go-azure-package.json';

/** The `format` field: says what the file is to someone who finds it in an artifact download. */
export const MANIFEST_FORMAT = 'go-azure-deploy package';

/** Longest artifact name without `.exe` the site's launcher and goazure accept (goazure/artifact.go, MaxArtifactNameLength). */
const MAX_ARTIFACT_STEM = 100;

export interface ManifestFile {
  /** Path inside the zip, forward slashes: the binary's name, or `<stem>/<path under working-directory>`. */
  path: string;
  size: number;
  sha256: string;
}

export interface PackageManifest {
  format: typeof MANIFEST_FORMAT;
  version: 1;
  /** The binary's file name in _target: the name every site runs it under. */
  artifact: string;
  /** The full commit SHA it was built from. */
  commit: string;
  /** The Go version that built it. */
  goVersion: string;
  target: { goos: string; goarch: string };
  /** The content hash (src/artifact/pack.ts, contentHash) of the binary and the include files. */
  content: string;
  /** The zip, a file name in the manifest's folder. */
  zip: { file: string; size: number; sha256: string };
  /** Every file in the zip, the binary first. */
  files: ManifestFile[];
  /** The version of go-azure-deploy that built it. */
  actionVersion: string;
  /** ISO time of the build. */
  builtAt: string;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** The manifest as the file holds it: one field per line, so a reviewer can read it. */
export function formatManifest(m: PackageManifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

/** The manifest from the file's text, or the problems that make it unreadable (each a sentence). */
export function parseManifest(text: string): { manifest?: PackageManifest; problems: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    return { problems: [`it is not JSON (${(err as Error).message})`] };
  }
  const m = raw as Partial<PackageManifest> | null;
  if (typeof m !== 'object' || m === null || m.format !== MANIFEST_FORMAT) {
    return { problems: [`it is not a go-azure-deploy package manifest (no "format": "${MANIFEST_FORMAT}")`] };
  }
  const problems: string[] = [];
  if (m.version !== 1) problems.push(`its version ${JSON.stringify(m.version)} is not one this action reads (1); build the package with the same version of the action`);
  const str = (v: unknown): v is string => typeof v === 'string' && v !== '';
  const size = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  for (const field of ['artifact', 'commit', 'goVersion', 'actionVersion', 'builtAt'] as const) {
    if (!str(m[field])) problems.push(`"${field}" is missing or not text`);
  }
  if (!str(m.target?.goos) || !str(m.target?.goarch)) problems.push('"target" needs "goos" and "goarch"');
  if (typeof m.content !== 'string' || !SHA256.test(m.content)) problems.push('"content" is not a sha256 (64 lower-case hex digits)');
  if (!str(m.zip?.file) || !size(m.zip?.size) || !SHA256.test(String(m.zip?.sha256))) problems.push('"zip" needs "file", "size" and "sha256"');
  if (!Array.isArray(m.files) || m.files.length === 0) {
    problems.push('"files" is missing or empty');
  } else {
    m.files.forEach((f, i) => {
      if (!str(f?.path) || !size(f?.size) || !SHA256.test(String(f?.sha256))) problems.push(`"files"[${i}] needs "path", "size" and "sha256"`);
    });
  }
  return problems.length > 0 ? { problems } : { manifest: m as PackageManifest, problems };
}

/**
 * Whether `name` is an artifact name the site's launcher and goazure's ParseArtifact accept
 * (goazure/artifact.go): only A-Z, a-z, 0-9, '.', '_', '-', not starting with '.', at most
 * MAX_ARTIFACT_STEM characters before `.exe`, and `.exe` exactly when the target is windows.
 */
export function artifactNameProblem(name: string, goos: string): string | undefined {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) return `the artifact name "${name}" has characters outside A-Z, a-z, 0-9, ".", "_", "-"`;
  if (name.startsWith('.')) return `the artifact name "${name}" starts with "."`;
  const exe = /\.exe$/.test(name);
  if (goos === 'windows' && !exe) return `the artifact name "${name}" does not end in .exe, which the launcher on Windows needs`;
  if (goos !== 'windows' && exe) return `the artifact name "${name}" ends in .exe, but the target is ${goos}`;
  if (artifactStem(name).length > MAX_ARTIFACT_STEM) return `the artifact name "${name}" is longer than ${MAX_ARTIFACT_STEM} characters before .exe`;
  return undefined;
}

/**
 * What is wrong with a manifest for a site that runs `goos`/`goarch`, from the manifest alone:
 * the target, the artifact name's rule and its commit, the zip's file name, where every file lands
 * in _target, and the content hash over the files' hashes. The zip itself is checked by prebuilt.ts.
 */
export function manifestProblems(m: PackageManifest, site: { goos: string; goarch: string }): string[] {
  const problems: string[] = [];
  if (m.target.goos !== site.goos || m.target.goarch !== site.goarch) {
    problems.push(
      `the package was built for ${m.target.goos}/${m.target.goarch}, but this deploy's goos/goarch is ${site.goos}/${site.goarch}; ` +
        `build the package for the site's target (the goos and goarch inputs of the build-only step) or correct goos/goarch here`,
    );
  }
  const nameProblem = artifactNameProblem(m.artifact, m.target.goos);
  if (nameProblem !== undefined) problems.push(nameProblem);
  if (!/^[0-9a-f]{10,64}$/.test(m.commit)) {
    problems.push(`"commit" ${JSON.stringify(m.commit)} is not a commit SHA`);
  } else if (!m.artifact.toLowerCase().includes(`-${m.commit.slice(0, 10)}`)) {
    problems.push(`the artifact name ${m.artifact} does not carry the commit the manifest names (${m.commit.slice(0, 10)}); the manifest was edited`);
  }
  if (!/^[A-Za-z0-9._-]+\.zip$/.test(m.zip.file)) problems.push(`"zip"."file" ${JSON.stringify(m.zip.file)} is not a zip file name in the package folder`);

  const [binary, ...rest] = m.files;
  if (binary.path !== m.artifact) problems.push(`the first file, ${binary.path}, is not the artifact ${m.artifact}`);
  const stem = `${artifactStem(m.artifact)}/`;
  const seen = new Set<string>();
  for (const f of m.files) {
    const key = f.path.toLowerCase();
    if (seen.has(key)) problems.push(`${f.path} is listed twice (letter case ignored, as on the Windows site)`);
    seen.add(key);
  }
  for (const f of rest) {
    const parts = f.path.split('/');
    if (!f.path.startsWith(stem) || f.path.includes('\\') || parts.some((p) => p === '' || p === '.' || p === '..')) {
      problems.push(`${f.path} would not land in _target/${stem}; a package only holds the binary and files under its folder`);
    }
  }
  const content = contentHashOf(binary.sha256, rest.map((f) => ({ relativePath: f.path.slice(stem.length), sha256: f.sha256 })));
  if (content !== m.content) problems.push(`"content" ${m.content.slice(0, 12)}… is not the content hash of the files it lists (${content.slice(0, 12)}…); the manifest was edited`);
  return problems;
}
