// Packages built once and deployed to many sites. `build-only` writes the package folder (the zip
// the upload stage sends, and its manifest, src/artifact/manifest.ts); `from-package` reads one back
// and proves, before anything reaches a site, that it is what its manifest says: the zip's sha256,
// every file's sha256 as read out of the zip, nothing more and nothing less, and a binary for the
// site's target. See docs/build-once.md.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import yauzl from 'yauzl';
import { ActionError, InputError, messageOf } from '../common/errors.ts';
import { fileSha256, type ArtifactPackage } from './pack.ts';
import { executableProblem, PE_HEADER_BYTES } from './pe.ts';
import { formatManifest, manifestProblems, MANIFEST_FILE, MANIFEST_FORMAT, parseManifest, type ManifestFile, type PackageManifest } from './manifest.ts';
import pkg from '../../package.json' with { type: 'json' };

/** A package folder as the inputs stage found it: the manifest read, the zip not opened yet. */
export interface LoadedPackage {
  manifestPath: string;
  /** sha256 of the manifest file's bytes: the deploy record names the package by it. */
  manifestSha256: string;
  manifest: PackageManifest;
  zipPath: string;
}

/**
 * Finds and reads the manifest `from-package` names (the package folder, or the manifest in it),
 * and checks it against the site's target. Problems come back as sentences naming from-package,
 * for the inputs stage to report with every other input problem.
 */
export function loadPackage(raw: string, cwd: string, site: { goos: string; goarch: string }): { loaded?: LoadedPackage; problems: string[] } {
  const given = path.resolve(cwd, raw);
  let manifestPath = given;
  try {
    if (fs.statSync(given).isDirectory()) manifestPath = path.join(given, MANIFEST_FILE);
  } catch {
    return { problems: [`from-package: "${raw}" does not exist (resolved to ${given}); give the folder actions/download-artifact wrote the package into.`] };
  }
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(manifestPath);
  } catch {
    return { problems: [`from-package: ${manifestPath} is missing; the folder must hold the ${MANIFEST_FILE} and the zip a build-only run wrote.`] };
  }
  const { manifest, problems } = parseManifest(bytes.toString('utf8'));
  const about = (p: string): string => `from-package: ${manifestPath}: ${p}.`;
  if (manifest === undefined) return { problems: problems.map(about) };
  const more = manifestProblems(manifest, site);
  if (more.length > 0) return { problems: more.map(about) };
  return {
    loaded: {
      manifestPath,
      manifestSha256: crypto.createHash('sha256').update(bytes).digest('hex'),
      manifest,
      zipPath: path.join(path.dirname(manifestPath), manifest.zip.file),
    },
    problems: [],
  };
}

/** One file read out of a zip: its path, size, sha256, and its first bytes when asked for. */
interface ZipEntryFacts extends ManifestFile {
  head?: Buffer;
}

/**
 * Reads every entry of the zip, hashing its uncompressed bytes as a stream. `headOf` names the
 * entry whose first PE_HEADER_BYTES are kept (the binary, for its header). Throws on a zip that
 * cannot be read at all; an entry that cannot be read is returned as `error`.
 */
async function readZip(zipPath: string, headOf: string, signal?: AbortSignal): Promise<{ entries: ZipEntryFacts[]; errors: string[] }> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(zipPath, { lazyEntries: true, decodeStrings: true }, (err, z) => (err ? reject(err) : resolve(z))),
  );
  const entries: ZipEntryFacts[] = [];
  const errors: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        if (signal?.aborted) return reject(signal.reason);
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (err, stream) => {
          if (err) {
            errors.push(`${entry.fileName} could not be read (${err.message})`);
            return zip.readEntry();
          }
          const hash = crypto.createHash('sha256');
          const head: Buffer[] = [];
          let headBytes = 0;
          let size = 0;
          stream.on('data', (c: Buffer) => {
            hash.update(c);
            size += c.length;
            if (entry.fileName === headOf && headBytes < PE_HEADER_BYTES) {
              head.push(c.subarray(0, PE_HEADER_BYTES - headBytes));
              headBytes += Math.min(c.length, PE_HEADER_BYTES - headBytes);
            }
          });
          stream.on('error', (e: Error) => {
            errors.push(`${entry.fileName} could not be read (${e.message})`);
            zip.readEntry();
          });
          stream.on('end', () => {
            entries.push({ path: entry.fileName, size, sha256: hash.digest('hex'), head: entry.fileName === headOf ? Buffer.concat(head) : undefined });
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
  return { entries, errors };
}

/**
 * Proves the zip is the one the manifest describes, for a site that runs `goos`/`goarch`, and
 * returns it as the upload stage takes it. Every problem found is reported at once, and nothing
 * has been sent anywhere when it throws.
 */
export async function verifyPackage(loaded: LoadedPackage, site: { goos: string; goarch: string }, signal?: AbortSignal): Promise<ArtifactPackage> {
  const { manifest: m, zipPath } = loaded;
  const problems: string[] = [];
  let zipSize: number;
  try {
    zipSize = (await fs.promises.stat(zipPath)).size;
  } catch {
    throw new InputError([`from-package: the zip ${zipPath} that ${MANIFEST_FILE} names is missing; pass the whole package folder on.`]);
  }
  const zipSha = await fileSha256(zipPath);
  if (zipSize !== m.zip.size || zipSha !== m.zip.sha256) {
    problems.push(`${m.zip.file} has ${zipSize} bytes and sha256 ${zipSha.slice(0, 12)}…; the manifest says ${m.zip.size} bytes and ${m.zip.sha256.slice(0, 12)}…`);
  }
  let read: { entries: ZipEntryFacts[]; errors: string[] };
  try {
    read = await readZip(zipPath, m.artifact, signal);
  } catch (err) {
    if (signal?.aborted) throw err;
    read = { entries: [], errors: [`${m.zip.file} is not a readable zip (${messageOf(err)})`] };
  }
  problems.push(...read.errors);
  const listed = new Map(m.files.map((f) => [f.path, f]));
  for (const e of read.entries) {
    const f = listed.get(e.path);
    if (f === undefined) problems.push(`${e.path} is in the zip but not in the manifest`);
    else if (f.sha256 !== e.sha256 || f.size !== e.size) problems.push(`${e.path} in the zip has sha256 ${e.sha256.slice(0, 12)}… (${e.size} bytes); the manifest says ${f.sha256.slice(0, 12)}… (${f.size} bytes)`);
  }
  const found = new Set(read.entries.map((e) => e.path));
  const unreadable = read.errors.length > 0;
  for (const f of m.files) if (!found.has(f.path) && !unreadable) problems.push(`${f.path} is in the manifest but not in the zip`);
  const binary = read.entries.find((e) => e.path === m.artifact);
  if (binary?.head !== undefined) {
    const wrong = executableProblem(binary.head, site.goos, site.goarch);
    if (wrong !== undefined) problems.push(`the binary ${m.artifact} is ${wrong}`);
  }
  if (problems.length > 0) {
    throw new InputError(
      problems.map((p) => `from-package: ${p}.`),
      'The package was refused before anything was uploaded; deploy a package exactly as its build-only run wrote it.',
    );
  }
  return { zipPath, zipSize, binarySize: m.files[0].size, entries: m.files.map((f) => ({ path: f.path, size: f.size })) };
}

export interface WritePackageRequest {
  /** The zip the package stage wrote, inside the package folder. */
  zipPath: string;
  artifact: string;
  commit: string;
  goVersion: string;
  goos: string;
  goarch: string;
  /** The content hash computed from the files on the runner; the zip read back must give the same. */
  content: string;
}

/**
 * Writes the manifest beside the zip, from the zip as written (read back, so the manifest describes
 * the very bytes that will be passed on). Returns the manifest and its path.
 */
export async function writeManifest(req: WritePackageRequest, signal?: AbortSignal): Promise<{ manifest: PackageManifest; manifestPath: string }> {
  const { entries, errors } = await readZip(req.zipPath, req.artifact, signal);
  if (errors.length > 0) throw new ActionError(`The package ${req.zipPath} could not be read back: ${errors.join('; ')}. Run the build again.`);
  const binary = entries.find((e) => e.path === req.artifact);
  const rest = entries.filter((e) => e.path !== req.artifact);
  if (binary === undefined) throw new ActionError(`The package ${req.zipPath} holds no ${req.artifact}. Run the build again.`);
  const zipStat = await fs.promises.stat(req.zipPath);
  const manifest: PackageManifest = {
    format: MANIFEST_FORMAT,
    version: 1,
    artifact: req.artifact,
    commit: req.commit,
    goVersion: req.goVersion,
    target: { goos: req.goos, goarch: req.goarch },
    content: req.content,
    zip: { file: path.basename(req.zipPath), size: zipStat.size, sha256: await fileSha256(req.zipPath) },
    files: [binary, ...rest].map(({ path: p, size, sha256 }) => ({ path: p, size, sha256 })),
    actionVersion: pkg.version,
    builtAt: new Date().toISOString(),
  };
  // The files changed between hashing and packing when these differ: the manifest would lie.
  const mismatch = manifestProblems(manifest, req);
  if (mismatch.length > 0) throw new ActionError(`The package ${req.zipPath} does not match the files it was built from (${mismatch.join('; ')}). A file may have changed during the build; run it again.`);
  const manifestPath = path.join(path.dirname(req.zipPath), MANIFEST_FILE);
  await fs.promises.writeFile(manifestPath, formatManifest(manifest));
  return { manifest, manifestPath };
}
