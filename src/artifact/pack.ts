// Packages the binary and its include files into one zip ready for upload.
//
// Layout, relative to the site's `_target/` folder the zip is extracted into:
//   <name>                    the binary (`<prefix>-<sha10>.exe`)
//   <name without .exe>/...   the include files, keeping their paths under working-directory
// so the old and the new version each keep their own assets while both exist.
//
// The zip is written as a stream (files are read one at a time as yazl asks for them) and is
// deterministic: entries sorted, fixed modes, and every entry stamped with one given time (the
// commit's: see buildHere in artifact.ts), so the same input gives the same bytes, and a newer
// commit's files are newer on the site (Kudu's zip API keeps entry times; docs/ARCHITECTURE.md, "Kudu").

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as core from '@actions/core';
import yauzl from 'yauzl';
import yazl from 'yazl';
import { ActionError } from '../common/errors.ts';
import { artifactStem } from '../site/layout.ts';

export interface PackageRequest {
  binaryPath: string;
  artifactName: string;
  workingDirectory: string;
  /** include globs, relative to workingDirectory; a leading `!` excludes. */
  include: string[];
  /** Where the zip is written. */
  outputPath: string;
  /**
   * Deflate level 1-9. Default 6: on a Go binary level 9 saves well under 1% more and takes about
   * twice as long (bench/build.ts).
   */
  compressionLevel?: number;
  /**
   * The modification time stored for every entry: the commit's time (artifact.ts), so the zip
   * depends only on the content and the commit, and the site's files of a newer commit are newer.
   * Stored to the second in the Info-ZIP extended timestamp, and as UTC in the DOS fields (even
   * seconds), which Kudu reads as the site's local time: UTC unless WEBSITE_TIME_ZONE is set.
   */
  mtime: Date;
  /** The include files, already resolved (resolveIncludes); resolved from `include` when absent. */
  files?: IncludedFile[];
}

export interface PackageEntry {
  /** Path inside the zip, forward slashes, relative to `_target/`. */
  path: string;
  /** Uncompressed size in bytes. */
  size: number;
}

export interface ArtifactPackage {
  zipPath: string;
  zipSize: number;
  binarySize: number;
  entries: PackageEntry[];
}

/** A file selected by `include`. */
export interface IncludedFile {
  /** Path relative to the working directory, forward slashes. */
  relativePath: string;
  absolutePath: string;
  size: number;
}

/**
 * A Date whose local-time fields are its UTC fields. yazl writes an entry's DOS date and time (the
 * zip's own fields, which carry no time zone) from a Date's local fields, and .NET's ZipArchiveEntry,
 * which Kudu extracts with, reads them back as the machine's local time: UTC on App Service unless
 * WEBSITE_TIME_ZONE is set. Written from the UTC fields, they are the same bytes in every time zone
 * the action runs in, and the right instant on the site. getTime() stays the true instant, which
 * yazl stores in the extended timestamp field.
 */
class UtcFieldsDate extends Date {
  override getFullYear(): number {
    return this.getUTCFullYear();
  }
  override getMonth(): number {
    return this.getUTCMonth();
  }
  override getDate(): number {
    return this.getUTCDate();
  }
  override getHours(): number {
    return this.getUTCHours();
  }
  override getMinutes(): number {
    return this.getUTCMinutes();
  }
  override getSeconds(): number {
    return this.getUTCSeconds();
  }
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}

/** Checks one include pattern and returns it in forward-slash form, without `!` and `./`. */
export function normalizePattern(raw: string): { pattern: string; exclude: boolean } {
  const exclude = raw.startsWith('!');
  let p = (exclude ? raw.slice(1) : raw).trim().replace(/\\/g, '/');
  while (p.startsWith('./')) p = p.slice(2);
  p = p.replace(/\/+$/, '');
  if (p === '' || p === '.') {
    throw new ActionError(`include: "${raw}" selects nothing; give a path or glob relative to working-directory, e.g. static/**.`);
  }
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) {
    throw new ActionError(`include: "${raw}" is an absolute path; give it relative to working-directory, e.g. static/**.`);
  }
  if (p.split('/').includes('..')) {
    throw new ActionError(`include: "${raw}" reaches outside working-directory with ".."; only files under working-directory can ship with the app.`);
  }
  return { pattern: p, exclude };
}

function isUnder(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Selects the files `include` names: each pattern is a glob relative to the working directory; a
 * folder it matches ships with everything in it; a `!pattern` removes the files it matches (or
 * everything under a folder it matches) from the whole selection. Sorted by path. A pattern that
 * matches nothing gets a warning naming it.
 */
export async function resolveIncludes(workingDirectory: string, include: readonly string[], signal?: AbortSignal): Promise<IncludedFile[]> {
  const patterns = include.map(normalizePattern);
  const excludes = patterns.filter((p) => p.exclude).map((p) => p.pattern);
  const root = await fs.promises.realpath(workingDirectory);
  const isExcluded = (rel: string): boolean => {
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (excludes.some((x) => path.posix.matchesGlob(prefix, x))) return true;
    }
    return false;
  };

  const selected = new Map<string, IncludedFile>();
  const addFile = async (abs: string, size: number, pattern: string): Promise<boolean> => {
    // A symbolic link out of the working directory would ship files the patterns never named.
    const real = await fs.promises.realpath(abs);
    if (!isUnder(root, real)) {
      core.warning(`include: "${pattern}" matched ${toPosix(path.relative(workingDirectory, abs))}, a link to ${real} outside working-directory; it is not shipped.`);
      return false;
    }
    const rel = toPosix(path.relative(workingDirectory, abs));
    if (isExcluded(rel)) return false;
    selected.set(rel, { relativePath: rel, absolutePath: abs, size });
    return true;
  };

  for (const { pattern, exclude } of patterns) {
    if (exclude) continue;
    let matched = 0;
    let kept = 0;
    for await (const hit of fs.promises.glob(pattern, { cwd: workingDirectory })) {
      signal?.throwIfAborted();
      const abs = path.resolve(workingDirectory, hit);
      const st = await fs.promises.stat(abs).catch(() => undefined);
      if (st === undefined) continue;
      if (st.isFile()) {
        matched++;
        if (await addFile(abs, st.size, pattern)) kept++;
      } else if (st.isDirectory()) {
        for (const entry of await fs.promises.readdir(abs, { recursive: true, withFileTypes: true })) {
          signal?.throwIfAborted();
          const child = path.join(entry.parentPath, entry.name);
          const cst = entry.isFile() || entry.isSymbolicLink() ? await fs.promises.stat(child).catch(() => undefined) : undefined;
          if (cst === undefined || !cst.isFile()) continue;
          matched++;
          if (await addFile(child, cst.size, pattern)) kept++;
        }
      }
    }
    if (matched === 0) {
      core.warning(`include: "${pattern}" matched no files under ${workingDirectory}; nothing from it ships with this version.`);
    } else if (kept === 0) {
      core.warning(`include: every file "${pattern}" matched is removed by a "!" pattern; nothing from it ships with this version.`);
    }
  }

  const files = [...selected.values()].sort((a, b) => (a.relativePath < b.relativePath ? -1 : a.relativePath > b.relativePath ? 1 : 0));
  // The site's file system ignores case: two paths differing only in case would overwrite each other.
  const seen = new Map<string, string>();
  for (const f of files) {
    const key = f.relativePath.toLowerCase();
    const other = seen.get(key);
    if (other !== undefined) {
      throw new ActionError(
        `include: "${other}" and "${f.relativePath}" differ only in letter case; on the Windows site one would overwrite the other. Rename one or exclude it with "!".`,
      );
    }
    seen.set(key, f.relativePath);
  }
  return files;
}

/**
 * The content hash of a build: sha256 over one line per file, `<sha256 of the file>  <path>`, the
 * binary first (as `<binary>`, so the hash does not depend on the artifact's name), then the
 * include files in path order. Two builds with the same hash ship the same bytes.
 */
export async function contentHash(binaryPath: string, files: readonly IncludedFile[]): Promise<string> {
  const hashed: { relativePath: string; sha256: string }[] = [];
  for (const f of files) hashed.push({ relativePath: f.relativePath, sha256: await fileSha256(f.absolutePath) });
  return contentHashOf(await fileSha256(binaryPath), hashed);
}

/**
 * The content hash from the files' own sha256 (as `contentHash` computes it), the include files
 * in path order: how a package's manifest is checked against the entries of its zip.
 */
export function contentHashOf(binarySha256: string, files: readonly { relativePath: string; sha256: string }[]): string {
  const sorted = [...files].sort((a, b) => (a.relativePath < b.relativePath ? -1 : a.relativePath > b.relativePath ? 1 : 0));
  const lines = [`${binarySha256}  <binary>`, ...sorted.map((f) => `${f.sha256}  ${f.relativePath}`)];
  return crypto.createHash('sha256').update(lines.join('\n') + '\n').digest('hex');
}

/** sha256 (hex) of a file, read as a stream. */
export async function fileSha256(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Packages the artifact; stops, leaving no zip behind, when `signal` aborts (the deploy's deadline). */
export async function packageArtifact(req: PackageRequest, signal?: AbortSignal): Promise<ArtifactPackage> {
  const level = req.compressionLevel ?? 6;
  if (Number.isNaN(req.mtime.getTime())) throw new Error(`packageArtifact: the entry time for ${req.artifactName} is not a valid date.`);
  const mtime = new UtcFieldsDate(req.mtime.getTime());
  const entryOptions = (size: number, mode: number): Partial<yazl.ReadStreamOptions> => ({
    mtime,
    mode,
    compress: true,
    compressionLevel: level,
    size,
  });

  const binarySize = (await fs.promises.stat(req.binaryPath)).size;
  const files = req.files ?? (await resolveIncludes(req.workingDirectory, req.include, signal));
  const stem = artifactStem(req.artifactName);
  assertWindowsNames(req.artifactName, files);

  const zip = new yazl.ZipFile();
  const entries: PackageEntry[] = [];
  const add = (absolutePath: string, zipPath: string, size: number, mode: number): void => {
    // Lazily opened, one file at a time: the binary is streamed through deflate, never held whole.
    zip.addReadStreamLazy(zipPath, entryOptions(size, mode), (cb) => cb(null, fs.createReadStream(absolutePath)));
    entries.push({ path: zipPath, size });
  };
  add(req.binaryPath, req.artifactName, binarySize, 0o100755);
  for (const f of files) add(f.absolutePath, `${stem}/${f.relativePath}`, f.size, 0o100644);
  zip.end();

  await fs.promises.mkdir(path.dirname(req.outputPath), { recursive: true });
  // yazl reports read errors and size mismatches on the ZipFile itself, not on its stream.
  const zipError = new Promise<never>((_, reject) => zip.on('error', reject));
  zipError.catch(() => undefined);
  try {
    await Promise.race([pipeline(zip.outputStream, fs.createWriteStream(req.outputPath), ...(signal ? [{ signal }] : [])), zipError]);
  } catch (err) {
    await fs.promises.rm(req.outputPath, { force: true });
    if (signal?.aborted) throw signal.reason;
    const msg = err instanceof Error ? err.message : String(err);
    throw new ActionError(`Packaging ${req.artifactName} into ${req.outputPath} failed: ${msg}. A file may have changed while it was being read; run the deploy again.`);
  }
  const zipSize = (await fs.promises.stat(req.outputPath)).size;
  core.info(
    `Packaged ${req.artifactName} (${binarySize} bytes) and ${files.length} include file${files.length === 1 ? '' : 's'} into ${req.outputPath} (${zipSize} bytes, ${(zipSize / binarySize).toFixed(2)} of the binary).`,
  );
  return { zipPath: req.outputPath, zipSize, binarySize, entries };
}

/**
 * A zip of only `paths` of the package at `zipPath` (each entry with its name, time and mode), for
 * sending again what an upload whose answer was lost did not land (upload.ts).
 */
export async function repackEntries(zipPath: string, paths: readonly string[], outputPath: string): Promise<{ zipPath: string; zipSize: number }> {
  const wanted = new Set(paths);
  const source = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(zipPath, { lazyEntries: true, validateEntrySizes: true }, (err, z) => (err ? reject(err) : resolve(z))),
  );
  const zip = new yazl.ZipFile();
  try {
    await new Promise<void>((resolve, reject) => {
      source.on('error', reject);
      source.on('end', () => resolve());
      source.on('entry', (entry: yauzl.Entry) => {
        if (!wanted.has(entry.fileName)) {
          source.readEntry();
          return;
        }
        source.openReadStream(entry, (err, stream) => {
          if (err) return reject(err);
          const parts: Buffer[] = [];
          stream.on('data', (c: Buffer) => parts.push(c));
          stream.on('error', reject);
          stream.on('end', () => {
            zip.addBuffer(Buffer.concat(parts), entry.fileName, { mtime: entry.getLastModDate(), mode: entry.externalFileAttributes >>> 16 || 0o100644, compress: true });
            source.readEntry();
          });
        });
      });
      source.readEntry();
    });
  } finally {
    source.close();
  }
  zip.end();
  await pipeline(zip.outputStream, fs.createWriteStream(outputPath));
  return { zipPath: outputPath, zipSize: (await fs.promises.stat(outputPath)).size };
}

/** Where Kudu extracts the package on the site: D:\home\site\wwwroot\_target\ (src/site/layout.ts, ARTIFACTS_DIR). */
export const SITE_TARGET_PATH = 'D:\\home\\site\\wwwroot\\_target\\';

/** One include file whose name Windows cannot keep, and the rule it breaks. */
interface WindowsNameProblem {
  /** The path under working-directory, forward slashes. */
  path: string;
  rule: string;
}

const DEVICE_NAMES = /^(con|prn|aux|nul|com[1-9]|lpt[1-9]|conin\$|conout\$)$/i;

/**
 * Pure: the include files that cannot land under their own name on the Windows site. Kudu
 * extracts the package through .NET Framework path APIs onto D:\home, an SMB share, following
 * Windows' naming rules (the same rules the sandbox's extraction applies, windowsEntryPath in
 * sandbox/kudu.ts): the characters < > : " | ? *, control characters and a backslash are refused; a
 * device name (CON, PRN, AUX, NUL, COM1-9, LPT1-9), with any extension (aux.css, nul.txt), is a
 * device, not a file; a trailing dot or space is dropped, so the file lands under another name;
 * and a full path of 260 characters or more, or a folder of 248 or more, fails with
 * PathTooLongException. Each file is named once, with the first rule it breaks.
 */
export function windowsNameProblems(artifactName: string, relativePaths: readonly string[]): WindowsNameProblem[] {
  const base = `${SITE_TARGET_PATH}${artifactStem(artifactName)}\\`;
  const problems: WindowsNameProblem[] = [];
  for (const rel of relativePaths) {
    const segments = rel.split('/');
    const rule = ((): string | undefined => {
      for (const seg of segments) {
        const bad = [...new Set(seg.match(/[<>:"|?*\\\x00-\x1f]/g) ?? [])];
        if (bad.length > 0) {
          const shown = bad.map((c) => (c.charCodeAt(0) < 32 ? `control character 0x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c)).join(' ');
          return `"${seg}" has characters Windows does not allow in a name (${shown}; none of < > : " | ? * \\ or control characters may appear)`;
        }
        if (DEVICE_NAMES.test(seg.split('.')[0]!.trimEnd())) {
          return `"${seg}" is a Windows device name (CON, PRN, AUX, NUL, COM1-9 and LPT1-9 are devices, with any extension), not a file`;
        }
        if (/[. ]$/.test(seg)) return `"${seg}" ends in a dot or a space, which Windows drops: the file would land under another name`;
      }
      const full = base + segments.join('\\');
      if (full.length >= 260) return `its path on the site, ${full.length} characters (${base} takes ${base.length}), is not under Windows' limit of 260`;
      const folder = full.slice(0, full.lastIndexOf('\\'));
      if (folder.length >= 248) return `its folder on the site, ${folder.length} characters, is not under Windows' limit of 248 for a folder`;
      return undefined;
    })();
    if (rule !== undefined) problems.push({ path: rel, rule });
  }
  return problems;
}

/** Refuses include files whose names Windows cannot keep (windowsNameProblems), naming each and its rule. */
function assertWindowsNames(artifactName: string, files: readonly { relativePath: string }[]): void {
  const problems = windowsNameProblems(artifactName, files.map((f) => f.relativePath));
  if (problems.length === 0) return;
  throw new ActionError(
    `include: ${problems.length === 1 ? 'a file has a name' : `${problems.length} files have names`} the Windows site cannot keep, so Kudu would fail to extract the package ` +
      `(or put a file under another name). Rename or shorten ${problems.length === 1 ? 'it' : 'them'}, or exclude ${problems.length === 1 ? 'it' : 'them'} with "!":\n` +
      problems.map((p) => `  - ${p.path}: ${p.rule}`).join('\n'),
  );
}
