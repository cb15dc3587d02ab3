// Go versions without I/O: reading a version out of go.mod / go.work / .go-version /
// .tool-versions, parsing what the user asked for, and resolving it against the download site's
// listing or against the versions already in the tool cache. Downloading lives in toolchain.ts;
// keeping the two apart lets every resolution rule be tested on plain data.

import * as path from 'node:path';
import semver from 'semver';
import { ActionError } from '../common/errors.ts';

/** One file of a release, as the download site's JSON listing describes it. */
export interface GoFile {
  filename: string;
  os: string;
  arch: string;
  version: string;
  sha256: string;
  size: number;
  kind: string;
}

/** One release of the listing (`<base>/?mode=json&include=all`). */
export interface GoRelease {
  /** As Go names it: `go1.23.4`, `go1.20`, `go1.24rc1`. */
  version: string;
  stable: boolean;
  files: GoFile[];
}

/** What the user (or the version file) asked for. `input` is kept for messages. */
export type VersionSpec =
  | { kind: 'exact'; input: string; semver: string }
  | { kind: 'range'; input: string; range: string }
  | { kind: 'stable'; input: string }
  | { kind: 'oldstable'; input: string };

const GO_NAME = /^(?:go)?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(rc|beta|alpha)(\d+))?$/;

/**
 * Go's own version name to semver: `go1.23.4` → `1.23.4`, `go1.20` → `1.20.0` (before Go 1.21 the
 * first release of a line had no `.0`), `go1.24rc1` → `1.24.0-rc.1`. Undefined for anything else.
 */
export function goVersionToSemver(name: string): string | undefined {
  const m = GO_NAME.exec(name.trim());
  if (!m) return undefined;
  const [, major, minor = '0', patch = '0', pre, preNum] = m;
  const core = `${Number(major)}.${Number(minor)}.${Number(patch)}`;
  return pre ? `${core}-${pre}.${Number(preNum)}` : core;
}

/** Semver back to Go's naming, for messages: `1.24.0-rc.1` → `go1.24rc1`, `1.20.0` → `go1.20`. */
export function semverToGoVersion(version: string): string {
  const v = semver.parse(version);
  if (!v) return version;
  const pre = v.prerelease.length === 2 ? `${v.prerelease[0]}${v.prerelease[1]}` : '';
  if (pre !== '') return `go${v.major}.${v.minor}${v.patch === 0 ? '' : `.${v.patch}`}${pre}`;
  // From Go 1.21 on, the first release of a line is x.y.0; before, it was plain x.y.
  if (v.patch === 0 && v.major === 1 && v.minor < 21) return `go${v.major}.${v.minor}`;
  return `go${v.major}.${v.minor}.${v.patch}`;
}

/**
 * Parses a version spec: exact (`1.23.4`), a line (`1.23` → its newest patch), a semver range
 * (`^1.22`, `>=1.21 <1.24`), `stable`, `oldstable`, or a pre-release (`1.24rc1`, `1.24.0-rc.1`).
 * `source` names where the text came from (the input or the file) for the error message.
 */
export function parseVersionSpec(text: string, source: string): VersionSpec {
  const input = text.trim();
  const word = input.toLowerCase();
  if (word === 'stable' || word === 'latest') return { kind: 'stable', input };
  if (word === 'oldstable') return { kind: 'oldstable', input };
  const bare = input.replace(/^(go|v)(?=\d)/i, '');

  if (/^\d+\.\d+\.\d+$/.test(bare) || /^\d+\.\d+(\.\d+)?(rc|beta|alpha)\d+$/.test(bare)) {
    return { kind: 'exact', input, semver: goVersionToSemver(bare) as string };
  }
  if (/^\d+\.\d+$/.test(bare)) {
    // A line: any patch of it, the newest wins (`go 1.22` in go.mod means the 1.22 line).
    return { kind: 'range', input, range: `~${bare}.0` };
  }
  const exactSemver = semver.valid(bare);
  if (exactSemver !== null) return { kind: 'exact', input, semver: exactSemver };
  const range = bare === '' ? null : semver.validRange(bare);
  if (range !== null) return { kind: 'range', input, range };
  throw new ActionError(
    `${source}: "${input}" is not a Go version. Use an exact version (1.23.4), a line (1.23), a semver range ` +
      `(^1.22, >=1.21 <1.24), stable, oldstable, or a pre-release (1.24rc1).`,
  );
}

/** A version read from a version file, with a description of where it was found. */
interface FileVersion {
  version: string;
  origin: string;
}

/**
 * Reads the Go version out of a version file. go.mod / go.work: the `toolchain` line wins (it names
 * the exact toolchain the module wants), else the `go` line. .tool-versions: the `golang` (or `go`)
 * line. Anything else (.go-version): its first non-empty line. Throws when the file names none.
 */
export function versionFromFile(filePath: string, content: string): FileVersion {
  const base = path.basename(filePath);
  const lines = content.replace(/^\uFEFF/, '').split(/\r?\n/);

  if (/\.(mod|work)$/.test(base)) {
    let goLine: string | undefined;
    let toolchain: string | undefined;
    for (const raw of lines) {
      const line = raw.replace(/\/\/.*$/, '').trim();
      const t = /^toolchain\s+(\S+)$/.exec(line);
      if (t && t[1] !== 'default') toolchain = t[1];
      const g = /^go\s+(\S+)$/.exec(line);
      if (g) goLine = g[1];
    }
    if (toolchain !== undefined) {
      // A toolchain name may carry a suffix (go1.22.3-custom): the version is its leading part.
      const m = /^go(\d+(?:\.\d+){0,2}(?:(?:rc|beta)\d+)?)/.exec(toolchain);
      if (!m) throw new ActionError(`${base}: the toolchain line "${toolchain}" does not name a Go release (like go1.23.4); fix it or set go-version.`);
      return { version: m[1], origin: `the toolchain line of ${base}` };
    }
    if (goLine !== undefined) return { version: goLine, origin: `the go line of ${base}` };
    throw new ActionError(`${base} (${filePath}) has neither a toolchain nor a go line; add "go 1.x" to it or set go-version.`);
  }

  if (base === '.tool-versions') {
    for (const raw of lines) {
      const line = raw.replace(/#.*$/, '').trim();
      const m = /^(golang|go)\s+(\S+)/.exec(line);
      if (m) return { version: m[2], origin: `the ${m[1]} line of .tool-versions` };
    }
    throw new ActionError(`.tool-versions (${filePath}) has no golang line; add "golang 1.x.y" to it or set go-version.`);
  }

  const first = lines.map((l) => l.replace(/#.*$/, '').trim()).find((l) => l !== '');
  if (first === undefined) throw new ActionError(`${base} (${filePath}) is empty; write a Go version in it (like 1.23.4) or set go-version.`);
  return { version: first, origin: base };
}

/** Checks the listing's shape, so a wrong URL fails with a clear message, not a crash later. */
export function parseListing(json: unknown, url: string): GoRelease[] {
  const bad = (why: string): never => {
    throw new ActionError(`The Go download listing at ${url} is not what a Go download site serves (${why}); check go-download-base-url.`);
  };
  if (!Array.isArray(json)) bad('not a JSON array');
  const releases: GoRelease[] = [];
  for (const r of json as unknown[]) {
    const rec = r as Partial<GoRelease> | null;
    if (!rec || typeof rec.version !== 'string' || !Array.isArray(rec.files)) bad('an entry without version or files');
    if (goVersionToSemver(rec!.version as string) === undefined) continue; // names Go itself never uses
    releases.push({ version: rec!.version as string, stable: rec!.stable === true, files: rec!.files as GoFile[] });
  }
  return releases;
}

/** Semver of a release (parseListing keeps only releases that have one). */
export function releaseSemver(r: GoRelease): string {
  return goVersionToSemver(r.version) as string;
}

function newestFirst(releases: readonly GoRelease[]): GoRelease[] {
  return [...releases].sort((a, b) => semver.rcompare(releaseSemver(a), releaseSemver(b)));
}

/** The release the spec picks from the listing, or undefined when none matches. */
export function resolveFromListing(spec: VersionSpec, releases: readonly GoRelease[]): GoRelease | undefined {
  const sorted = newestFirst(releases);
  switch (spec.kind) {
    case 'exact':
      return sorted.find((r) => releaseSemver(r) === spec.semver);
    case 'range':
      return sorted.find((r) => semver.satisfies(releaseSemver(r), spec.range));
    case 'stable':
      return sorted.find((r) => r.stable);
    case 'oldstable': {
      // The newest patch of the line before the current stable one.
      const stable = sorted.find((r) => r.stable);
      if (!stable) return undefined;
      const s = semver.parse(releaseSemver(stable))!;
      return sorted.find((r) => {
        const v = semver.parse(releaseSemver(r))!;
        return r.stable && (v.major < s.major || (v.major === s.major && v.minor < s.minor));
      });
    }
  }
}

/**
 * The cached version (semver, as the tool cache names its folders) the spec picks without asking
 * the network, or undefined. stable/oldstable move over time, so only the listing can answer them.
 */
export function resolveFromCache(spec: VersionSpec, cached: readonly string[]): string | undefined {
  const valid = cached.filter((v) => semver.valid(v) !== null);
  switch (spec.kind) {
    case 'exact':
      return valid.find((v) => semver.eq(v, spec.semver));
    case 'range':
      return semver.maxSatisfying(valid, spec.range) ?? undefined;
    default:
      return undefined;
  }
}

/**
 * Up to `count` of the newest releases that come close to what was asked: the same x.y line when it
 * exists, else the newest of the nearest lines. For the message of a version that exists nowhere.
 */
export function nearbyVersions(spec: VersionSpec, releases: readonly GoRelease[], count = 3): string[] {
  const sorted = newestFirst(releases);
  if (sorted.length === 0) return [];
  let target: semver.SemVer | null = null;
  if (spec.kind === 'exact') target = semver.parse(spec.semver);
  if (spec.kind === 'range') target = semver.minVersion(spec.range);
  if (target === null) return sorted.slice(0, count).map((r) => r.version);

  const lineOf = (r: GoRelease): semver.SemVer => semver.parse(releaseSemver(r))!;
  const sameLine = sorted.filter((r) => {
    const v = lineOf(r);
    return v.major === target.major && v.minor === target.minor;
  });
  if (sameLine.length > 0) return sameLine.slice(0, count).map((r) => r.version);

  // No such line: the newest release of each line, nearest lines first (newer on a tie).
  const newestOfLine = new Map<string, GoRelease>();
  for (const r of sorted) {
    const v = lineOf(r);
    const key = `${v.major}.${v.minor}`;
    if (!newestOfLine.has(key)) newestOfLine.set(key, r);
  }
  const distance = (r: GoRelease): number => {
    const v = lineOf(r);
    return Math.abs((v.major - target.major) * 1000 + (v.minor - target.minor));
  };
  return [...newestOfLine.values()]
    .sort((a, b) => distance(a) - distance(b) || semver.rcompare(releaseSemver(a), releaseSemver(b)))
    .slice(0, count)
    .map((r) => r.version);
}

/** Node's platform/arch names to the listing's os/arch names. */
export function listingPlatform(platform: string, arch: string): { os: string; arch: string } {
  const osName = platform === 'win32' ? 'windows' : platform;
  const archName =
    ({ x64: 'amd64', ia32: '386', arm: 'armv6l', ppc64: 'ppc64le' } as Record<string, string>)[arch] ?? arch;
  return { os: osName, arch: archName };
}

/** The release's archive (tar.gz or zip) for one os/arch. */
export function pickArchive(release: GoRelease, osName: string, arch: string): GoFile | undefined {
  return release.files.find((f) => f.kind === 'archive' && f.os === osName && f.arch === arch);
}
