// A local Go download site on 127.0.0.1: the JSON listing at `/?mode=json&include=all` and the
// archives at `/<filename>`, as a company's plain-http mirror of go.dev's download page serves them.
// Reached through the sandbox's internet (internet.ts) under the real names it is also go.dev and
// dl.google.com, with the real split between them: go.dev/dl/ serves the listing and answers
// go.dev/dl/<file> with a 302 to https://dl.google.com/go/<file>, which serves the bytes (the
// download handler in golang/website, internal/dl/server.go). The listing is realistic (several lines,
// stable and unstable releases, every os/arch/kind) and holds one real archive: the Go installed on
// this machine, repacked under a top-level `go/` folder, with its true sha256 and size. Every other
// file it lists answers 404. Faults can be switched on to test how the action copes.

import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GoFile, GoRelease } from '../src/toolchain/goversion.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Where the repacked archive is kept between test files and runs (git-ignored). */
const archiveCacheDir = path.join(repoRoot, '.tmp', 'gomirror');

// The listing's shapes are the action's own (src/toolchain/goversion.ts): the mirror serves what it parses.
export type ListedFile = GoFile;
export type ListedRelease = GoRelease;

/** What can go wrong, set at start or changed later through `mirror.faults`. */
export interface GoMirrorFaults {
  /** The listing answers this HTTP status instead of 200. */
  listingStatus?: number;
  /** The real archive answers 404. */
  archiveNotFound?: boolean;
  /** The real archive is served with one byte flipped (same length), so its sha256 is wrong. */
  corruptArchive?: boolean;
  /** The listing gives a wrong sha256 for the real archive (which is served intact). */
  wrongListedSha256?: boolean;
  /** Drop the connection after this many bytes of the archive body... */
  dropAfterBytes?: number;
  /** ...for this many archive requests (default 1; Infinity: every one). */
  dropTimes?: number;
  /** Answer this status to the archive requests... */
  archiveStatus?: number;
  /** ...this many times (default 1; Infinity: every one). */
  archiveStatusTimes?: number;
}

export interface MirrorRequest {
  /** The host asked for: 127.0.0.1:<port> directly, or go.dev / dl.google.com through the internet. */
  host: string;
  /** As the mirror sees it: `/` for the listing, `/<file>` for an archive, or the path redirected. */
  path: string;
  status: number;
  /** Body bytes sent (less than the size when the connection was dropped). */
  bytes: number;
  dropped: boolean;
}

export interface GoMirror {
  baseUrl: string;
  /** The machine's Go version, Go-style: `go1.26.8`. */
  version: string;
  /** Listing os/arch of the real archive (the machine's). */
  os: string;
  arch: string;
  archiveName: string;
  archivePath: string;
  sha256: string;
  size: number;
  listing: ListedRelease[];
  faults: GoMirrorFaults;
  requests: MirrorRequest[];
  /** How many requests asked for the real archive. */
  archiveRequests(): number;
  /** go.dev/dl/<file> requests answered with the 302 to dl.google.com. */
  redirects(): MirrorRequest[];
  listingRequests(): number;
  close(): Promise<void>;
}

let goEnvMemo: { version: string; goroot: string; goos: string; goarch: string } | undefined;

function goEnv(): { version: string; goroot: string; goos: string; goarch: string } {
  if (goEnvMemo === undefined) {
    const [version, goroot, goos, goarch] = execFileSync('go', ['env', 'GOVERSION', 'GOROOT', 'GOHOSTOS', 'GOHOSTARCH'], {
      encoding: 'utf8',
      env: { ...process.env, GOTOOLCHAIN: 'local' },
    })
      .trim()
      .split('\n')
      .map((s) => s.trim());
    goEnvMemo = { version, goroot, goos, goarch };
  }
  return goEnvMemo;
}

/** The Go on this machine, as `go version` names it (`go1.26.8`). */
export function machineGoVersion(): string {
  return goEnv().version;
}

/** GOROOT of the Go on this machine. */
export function machineGoRoot(): string {
  return goEnv().goroot;
}

/** `go1.26.8` → `1.26.8`, `go1.20` → `1.20.0`, `go1.24rc1` → `1.24.0-rc.1` (the tool cache's folder names). */
export function toSemver(goVersion: string): string {
  const m = /^go(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?$/.exec(goVersion);
  if (!m) throw new Error(`not a Go release name: ${goVersion}`);
  return `${m[1]}.${m[2]}.${m[3] ?? 0}${m[4] ? `-${m[4]}.${m[5]}` : ''}`;
}

/**
 * Lays the machine's Go out in a tool cache as @actions/tool-cache does
 * (`<dir>/go/<semver>/<arch>` and `<arch>.complete`), as a symlink to GOROOT: instant, for tests
 * that only need a cache hit. Returns the `<arch>` path. `as` files it under another version.
 */
export function seedToolCache(toolCacheDir: string, opts: { as?: string; arch?: string } = {}): string {
  const version = toSemver(opts.as ?? machineGoVersion());
  const dir = path.join(toolCacheDir, 'go', version);
  fs.mkdirSync(dir, { recursive: true });
  const archDir = path.join(dir, opts.arch ?? process.arch);
  fs.rmSync(archDir, { recursive: true, force: true });
  fs.symlinkSync(machineGoRoot(), archDir, 'dir');
  fs.writeFileSync(`${archDir}.complete`, '');
  return archDir;
}

export interface RealArchive {
  path: string;
  filename: string;
  sha256: string;
  size: number;
  version: string;
  os: string;
  arch: string;
}

/**
 * The machine's GOROOT repacked as a Go release archive (`go/` at the top, tar.gz). Built once per
 * Go version and kept under .tmp/gomirror; built in a private folder that is renamed into place, so
 * test files building it at the same time never see a half-written one.
 */
export async function realGoArchive(): Promise<RealArchive> {
  const { version, goroot, goos, goarch } = goEnv();
  const filename = `${version}.${goos}-${goarch}.tar.gz`;
  const finalDir = path.join(archiveCacheDir, `${version}.${goos}-${goarch}`);
  const metaPath = path.join(finalDir, 'meta.json');
  const read = (): RealArchive => {
    const meta = JSON.parse(fs.readFileSync(metaPath, 'utf8')) as { sha256: string; size: number };
    return { path: path.join(finalDir, filename), filename, sha256: meta.sha256, size: meta.size, version, os: goos, arch: goarch };
  };
  if (fs.existsSync(metaPath)) return read();

  fs.mkdirSync(archiveCacheDir, { recursive: true });
  const buildDir = path.join(archiveCacheDir, `.build-${process.pid}-${randomUUID()}`);
  fs.mkdirSync(buildDir);
  try {
    const out = path.join(buildDir, filename);
    const parent = path.dirname(goroot);
    const base = path.basename(goroot);
    const args = ['-czf', out, '-C', parent, '--owner=0', '--group=0', '--numeric-owner'];
    if (base !== 'go') args.push(`--transform=s,^${base.replace(/[.*[\]\\^$,]/g, '\\$&')},go,`);
    args.push(base);
    await new Promise<void>((resolve, reject) => {
      const child = spawn('tar', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar ${args.join(' ')}: exit ${code}: ${err}`))));
    });
    const sha256 = await sha256File(out);
    const size = fs.statSync(out).size;
    fs.writeFileSync(path.join(buildDir, 'meta.json'), JSON.stringify({ sha256, size, version }));
    try {
      fs.renameSync(buildDir, finalDir);
    } catch (err) {
      // Another process got there first: its archive is as good as ours.
      if (!fs.existsSync(metaPath)) throw err;
    }
  } finally {
    fs.rmSync(buildDir, { recursive: true, force: true });
  }
  return read();
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    fs.createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Go's name for a release: from 1.21 the first of a line is x.y.0, before it x.y. */
function releaseName(minor: number, patch: number, pre?: string): string {
  if (pre) return `go1.${minor}${pre}`;
  if (patch === 0 && minor < 21) return `go1.${minor}`;
  return `go1.${minor}.${patch}`;
}

const PLATFORMS: ReadonlyArray<[string, string]> = [
  ['linux', 'amd64'], ['linux', 'arm64'], ['linux', '386'], ['linux', 'armv6l'], ['linux', 'ppc64le'],
  ['linux', 's390x'], ['darwin', 'amd64'], ['darwin', 'arm64'], ['windows', 'amd64'], ['windows', 'arm64'],
  ['windows', '386'], ['freebsd', 'amd64'],
];

function fakeFile(version: string, osName: string, arch: string, kind: string, ext: string): ListedFile {
  const filename = osName === '' ? `${version}.src.tar.gz` : `${version}.${osName}-${arch}.${ext}`;
  return {
    filename,
    os: osName,
    arch,
    version,
    // Deterministic, well-formed, and certainly not the hash of anything served.
    sha256: createHash('sha256').update(`not served: ${filename}`).digest('hex'),
    size: 60_000_000 + (createHash('md5').update(filename).digest().readUInt32BE(0) % 20_000_000),
    kind,
  };
}

function filesOf(version: string): ListedFile[] {
  const files: ListedFile[] = [fakeFile(version, '', '', 'source', '')];
  for (const [osName, arch] of PLATFORMS) {
    files.push(fakeFile(version, osName, arch, 'archive', osName === 'windows' ? 'zip' : 'tar.gz'));
    if (osName === 'windows') files.push(fakeFile(version, osName, arch, 'installer', 'msi'));
    if (osName === 'darwin') files.push(fakeFile(version, osName, arch, 'installer', 'pkg'));
  }
  return files;
}

/**
 * The listing around the machine's Go 1.M.P: every patch of 1.M up to P (1.M.P is the newest
 * stable, and the real one), the next line's betas and release candidates (unstable), and the four
 * lines before it with their patches, newest first as go.dev lists them.
 */
export function buildListing(real: RealArchive): ListedRelease[] {
  const m = /^go1\.(\d+)(?:\.(\d+))?$/.exec(real.version);
  if (!m) throw new Error(`the machine's Go (${real.version}) is not a release; the mirror needs one`);
  const minor = Number(m[1]);
  const patch = Number(m[2] ?? 0);
  const releases: ListedRelease[] = [];
  const add = (version: string, stable: boolean): void => {
    releases.push({ version, stable, files: filesOf(version) });
  };
  add(releaseName(minor + 1, 0, 'rc2'), false);
  add(releaseName(minor + 1, 0, 'rc1'), false);
  add(releaseName(minor + 1, 0, 'beta1'), false);
  for (let p = patch; p >= 0; p--) add(releaseName(minor, p), true);
  add(releaseName(minor, 0, 'rc1'), false);
  for (let k = 1; k <= 4 && minor - k >= 0; k++) {
    for (let p = 3 + 2 * k; p >= 0; p--) add(releaseName(minor - k, p), true);
    add(releaseName(minor - k, 0, 'rc2'), false);
  }
  // One line from before Go 1.21, whose first release had no ".0" (go1.20, then go1.20.1).
  if (minor - 4 > 20) for (let p = 2; p >= 0; p--) add(releaseName(20, p), true);
  const current = releases.find((r) => r.version === real.version)!;
  const entry = current.files.find((f) => f.kind === 'archive' && f.os === real.os && f.arch === real.arch)!;
  Object.assign(entry, { filename: real.filename, sha256: real.sha256, size: real.size });
  return releases;
}

/** A release file's name, as go.dev's download handler recognises one (go1.26.1.linux-amd64.tar.gz, go1.25rc1.src.tar.gz). */
const GO_FILE_NAME = /^go\d[0-9a-z.]*\.[0-9a-z.-]+\.(?:tar\.gz|tgz|zip|pkg|msi)$/;

/** What the listing says for the real archive under the wrongListedSha256 fault. */
export const WRONG_SHA256 = createHash('sha256').update('a file this mirror never serves').digest('hex');

export interface StartGoMirrorOptions {
  faults?: GoMirrorFaults;
  /** Changes the listing before it is served (e.g. to drop or add releases). */
  editListing?: (releases: ListedRelease[]) => void;
}

export async function startGoMirror(opts: StartGoMirrorOptions = {}): Promise<GoMirror> {
  const real = await realGoArchive();
  const listing = buildListing(real);
  opts.editListing?.(listing);
  const requests: MirrorRequest[] = [];
  let drops = 0;
  let statuses = 0;

  const mirror: GoMirror = {
    baseUrl: '',
    version: real.version,
    os: real.os,
    arch: real.arch,
    archiveName: real.filename,
    archivePath: real.path,
    sha256: real.sha256,
    size: real.size,
    listing,
    faults: { ...opts.faults },
    requests,
    archiveRequests: () => requests.filter((r) => r.path === `/${real.filename}`).length,
    listingRequests: () => requests.filter((r) => r.path === '/').length,
    redirects: () => requests.filter((r) => r.status === 302),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://mirror');
    const host = (req.headers.host ?? '').toLowerCase().replace(/:443$|:80$/, '');
    const record: MirrorRequest = { host, path: decodeURIComponent(url.pathname), status: 0, bytes: 0, dropped: false };
    requests.push(record);
    const answer = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      record.status = status;
      record.bytes = Buffer.byteLength(body);
      res.writeHead(status, { 'content-type': type, 'content-length': record.bytes });
      res.end(body);
    };
    const f = mirror.faults;

    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, 'method not allowed\n');
    // The real names split the work as golang/website's internal/dl/server.go does: go.dev/dl
    // redirects to go.dev/dl/, go.dev/dl/ is the listing, a file name under it is a 302 to
    // dl.google.com/go/ (another host), and anything else is 404. dl.google.com serves /go/<file>.
    if (host === 'go.dev') {
      if (url.pathname === '/dl') {
        record.status = 302;
        res.writeHead(302, { location: '/dl/', 'content-length': 0 });
        return res.end();
      }
      const name = url.pathname.startsWith('/dl/') ? decodeURIComponent(url.pathname.slice('/dl/'.length)) : undefined;
      if (name !== undefined && GO_FILE_NAME.test(name)) {
        record.status = 302;
        res.writeHead(302, { location: `https://dl.google.com/go/${name}`, 'content-type': 'text/html; charset=utf-8', 'content-length': 0 });
        return res.end();
      }
      if (name !== '') return answer(404, '404 page not found\n');
      record.path = '/';
    } else if (host === 'dl.google.com') {
      // dl.google.com only holds files: no listing, and nothing at /go/ itself.
      if (!url.pathname.startsWith('/go/') || url.pathname === '/go/') return answer(404, 'Not Found\n', 'text/html; charset=UTF-8');
      record.path = `/${decodeURIComponent(url.pathname.slice('/go/'.length))}`;
    }
    if (record.path === '/') {
      if (f.listingStatus !== undefined && f.listingStatus !== 200) return answer(f.listingStatus, `listing fault ${f.listingStatus}\n`);
      if (url.searchParams.get('mode') !== 'json') return answer(200, '<html><body>Go downloads</body></html>\n', 'text/html');
      const all = url.searchParams.get('include') === 'all';
      // Without include=all the real site lists only the two newest stable lines.
      let shown = all ? listing : listing.filter((r) => r.stable).slice(0, 2);
      if (f.wrongListedSha256) {
        shown = shown.map((r) => ({
          ...r,
          files: r.files.map((file) => (file.filename === real.filename ? { ...file, sha256: WRONG_SHA256 } : file)),
        }));
      }
      return answer(200, JSON.stringify(shown, null, 1), 'application/json');
    }
    if (record.path !== `/${real.filename}`) return answer(404, `404 page not found: ${record.path}\n`);

    if (f.archiveNotFound) return answer(404, '404 page not found\n');
    if (f.archiveStatus !== undefined && statuses < (f.archiveStatusTimes ?? 1)) {
      statuses++;
      return answer(f.archiveStatus, `fault ${f.archiveStatus}\n`);
    }
    const dropAt = f.dropAfterBytes !== undefined && drops < (f.dropTimes ?? 1) ? f.dropAfterBytes : undefined;
    if (dropAt !== undefined) drops++;
    const flipAt = f.corruptArchive ? Math.floor(real.size / 2) : -1;

    record.status = 200;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': real.size });
    if (req.method === 'HEAD') return res.end();
    const stream = fs.createReadStream(real.path, { highWaterMark: 256 * 1024 });
    let offset = 0;
    stream.on('data', (chunk) => {
      let buf = chunk as Buffer;
      if (flipAt >= offset && flipAt < offset + buf.length) {
        buf = Buffer.from(buf);
        buf[flipAt - offset] ^= 0xff;
      }
      if (dropAt !== undefined && offset + buf.length >= dropAt) {
        const part = buf.subarray(0, dropAt - offset);
        record.bytes += part.length;
        record.dropped = true;
        stream.destroy();
        res.write(part, () => res.socket?.destroy());
        return;
      }
      offset += buf.length;
      record.bytes += buf.length;
      if (!res.write(buf)) {
        stream.pause();
        res.once('drain', () => stream.resume());
      }
    });
    stream.on('end', () => res.end());
    stream.on('error', () => res.destroy());
    res.on('close', () => stream.destroy());
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  mirror.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return mirror;
}
