// The toolchain stage: a Go root from the tool cache, or downloaded from the Go download site,
// verified against its sha256 and cached. See docs/ARCHITECTURE.md, "The flow". Which version to use is decided in
// goversion.ts (pure); this file does the I/O: the tool cache, the listing, the download, tar/zip.

import { spawn, execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as core from '@actions/core';
import * as tc from '@actions/tool-cache';
import { ActionError, messageOf } from '../common/errors.ts';
import { RetryableError, isRetryableStatus, isTransientNetworkError, parseRetryAfter, sleep, untilAborted, withRetry } from '../common/retry.ts';
import { firstHeader, openRequest, RedirectError, safeUrl, sendRequest } from '../common/http.ts';
import {
  listingPlatform,
  nearbyVersions,
  parseListing,
  parseVersionSpec,
  pickArchive,
  releaseSemver,
  resolveFromCache,
  resolveFromListing,
  semverToGoVersion,
  versionFromFile,
  type GoFile,
  type GoRelease,
  type VersionSpec,
} from './goversion.ts';
import { childEnv } from '../common/childenv.ts';

export interface ToolchainRequest {
  /** The go-version input; empty when not given. */
  goVersion: string;
  /** Absolute path of the version file (go.mod, go.work, .go-version, .tool-versions). */
  goVersionFile: string;
  /** Whether go-version-file was given explicitly (a missing explicit file is an error). */
  goVersionFileExplicit: boolean;
  /** Base URL of the download site, without a trailing slash. */
  downloadBaseUrl: string;
  checkLatest: boolean;
  /** Delay before the first retry of a failed download, in ms (the retry policy's default when absent). */
  retryBaseDelayMs?: number;
}

export interface Toolchain {
  /** GOROOT of the installed toolchain. */
  goRoot: string;
  /** Absolute path of the `go` executable. */
  goBin: string;
  /** The version as `go version` reports it, e.g. `go1.23.4`. */
  version: string;
  cacheHit: boolean;
}

/** The tool name under RUNNER_TOOL_CACHE, as actions/setup-go uses it, so both share one cache. */
const TOOL = 'go';

export async function setupGo(req: ToolchainRequest, signal: AbortSignal): Promise<Toolchain> {
  const { spec, origin } = chooseVersion(req);
  const cacheRoot = toolCacheRoot();
  // The cache is keyed by the runner's arch in Node's naming (x64, arm64), as setup-go keys it.
  const cacheArch = process.arch;

  if (!req.checkLatest) {
    const cached = resolveFromCache(spec, tc.findAllVersions(TOOL, cacheArch));
    const goRoot = cached === undefined ? '' : tc.find(TOOL, cached, cacheArch);
    if (goRoot !== '') {
      core.info(`Go ${spec.input} (${origin}): ${semverToGoVersion(cached!)} found in the tool cache at ${goRoot}`);
      return activate(goRoot, true, cached!);
    }
  }

  const base = req.downloadBaseUrl.replace(/\/+$/, '');
  if (new URL(base).protocol !== 'https:') {
    core.warning(
      `go-download-base-url (${shownBaseUrl(base)}) is not https: the sha256 the archive is checked against comes from the listing over the same ` +
        `unencrypted connection, so anyone on the network path can replace both and the check proves nothing. Use an https URL for the mirror.`,
    );
  }
  const releases = await fetchListing(base, req.retryBaseDelayMs, signal);
  const release = resolveFromListing(spec, releases);
  // Logged and shown without user info: go-download-base-url may carry a mirror's credentials.
  const shownBase = shownBaseUrl(base);
  if (release === undefined) throw notFound(spec, origin, releases, shownBase);
  const version = releaseSemver(release);
  core.info(`Go ${spec.input} (${origin}) resolves to ${release.version} on ${shownBase}`);

  const already = tc.find(TOOL, version, cacheArch);
  if (already !== '') {
    core.info(`${release.version} is already in the tool cache at ${already}`);
    return activate(already, true, version);
  }

  const platform = listingPlatform(process.platform, process.arch);
  const file = pickArchive(release, platform.os, platform.arch);
  if (file === undefined) {
    throw new ActionError(
      `${release.version} has no archive for this runner (${platform.os}/${platform.arch}) in the listing at ${shownBase}. ` +
        `The runner downloads a Go that runs on itself (goos/goarch only choose the build target); pick another go-version or runner.`,
    );
  }
  if (!/^[0-9a-f]{64}$/i.test(file.sha256 ?? '')) {
    throw new ActionError(`The listing at ${shownBase} gives no sha256 for ${file.filename}, so it cannot be verified; use a download site that publishes checksums.`);
  }

  const started = Date.now();
  const archive = await downloadVerified(base, file, req.retryBaseDelayMs, signal);
  let goRoot: string;
  try {
    goRoot = await installIntoCache(archive, file, cacheRoot, version, cacheArch, signal);
  } finally {
    await fsp.rm(archive, { force: true });
  }
  core.info(`Installed ${release.version} into ${goRoot} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return activate(goRoot, false, version);
}

/** The version spec to resolve, and where it came from (for messages). */
function chooseVersion(req: ToolchainRequest): { spec: VersionSpec; origin: string } {
  const fileName = path.basename(req.goVersionFile);
  const fileExists = isFile(req.goVersionFile);

  if (req.goVersion !== '') {
    const spec = parseVersionSpec(req.goVersion, 'go-version');
    if (fileExists) {
      let fromFile = '';
      try {
        fromFile = versionFromFile(req.goVersionFile, fs.readFileSync(req.goVersionFile, 'utf8')).version;
      } catch {
        fromFile = '';
      }
      // Tell the user only when the file would have said something else (or was asked for).
      if (req.goVersionFileExplicit || (fromFile !== '' && fromFile !== req.goVersion.replace(/^go/, ''))) {
        core.notice(`go-version (${req.goVersion}) wins over ${fileName}${fromFile ? ` (${fromFile})` : ''}; remove go-version to use the file.`);
      }
    }
    return { spec, origin: 'go-version' };
  }

  if (!fileExists) {
    if (req.goVersionFileExplicit) {
      throw new ActionError(`go-version-file: ${req.goVersionFile} does not exist. Check the path (relative to working-directory) and that the repository was checked out, or set go-version.`);
    }
    throw new ActionError(`No Go version to install: go-version is not set and there is no ${fileName} at ${req.goVersionFile}. Set go-version, or add a go.mod to working-directory (go mod init).`);
  }
  const found = versionFromFile(req.goVersionFile, fs.readFileSync(req.goVersionFile, 'utf8'));
  const origin = `${found.origin} in ${req.goVersionFile}`;
  return { spec: parseVersionSpec(found.version, `go-version-file ${fileName} (${found.origin})`), origin };
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function toolCacheRoot(): string {
  const root = process.env.RUNNER_TOOL_CACHE ?? '';
  if (root === '') {
    throw new ActionError('RUNNER_TOOL_CACHE is not set. The action expects a GitHub Actions runner; outside one, set RUNNER_TOOL_CACHE to a folder for cached toolchains.');
  }
  return root;
}

/** The download base URL as logs and messages show it: no user info, no query, no trailing slash. */
function shownBaseUrl(base: string): string {
  return safeUrl(base).replace(/\/+$/, '');
}

function tempRoot(): string {
  return process.env.RUNNER_TEMP || os.tmpdir();
}

/** A download with no bytes moving for this long is cut and retried. */
const IDLE_TIMEOUT_MS = 60_000;

/**
 * Reads and checks the listing; 404 is final (wrong base URL), 5xx and resets are retried.
 * Redirects are followed (to any host): a download site may move its listing, as go.dev/dl moved
 * from golang.org/dl.
 */
async function fetchListing(base: string, retryBaseDelayMs: number | undefined, signal: AbortSignal): Promise<GoRelease[]> {
  const query = '?mode=json&include=all';
  const fetchUrl = `${base}/${query}`;
  const url = `${shownBaseUrl(base)}/${query}`;
  const body = await withRetry(
    async () => {
      const res = await sendRequest({ method: 'GET', url: fetchUrl, signal, idleTimeoutMs: IDLE_TIMEOUT_MS, redirects: 'any' });
      const status = res.status;
      if (status !== 200) {
        if (isRetryableStatus(status)) throw new RetryableError(`HTTP ${status}`, parseRetryAfter(firstHeader(res.headers['retry-after'])));
        throw new ActionError(
          `The Go download listing ${url} answered HTTP ${status}${status === 404 ? ' Not Found' : ''}. ` +
            `Check go-download-base-url (it must serve the JSON listing at ?mode=json&include=all and the archives beside it).`,
        );
      }
      return res.body.toString('utf8');
    },
    { what: `GET ${url}`, signal, ...(retryBaseDelayMs !== undefined ? { baseDelayMs: retryBaseDelayMs } : {}) },
  ).catch((err: unknown) => {
    if (err instanceof RetryableError || isTransientNetworkError(err)) {
      throw new ActionError(`The Go download listing ${url} kept failing (${messageOf(err)}), retries exhausted. Check go-download-base-url and the network or proxy between the runner and it, then re-run.`);
    }
    throw asInputProblem(err);
  });
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new ActionError(`The Go download listing ${url} is not JSON; check go-download-base-url.`);
  }
  return parseListing(json, url);
}

function notFound(spec: VersionSpec, origin: string, releases: readonly GoRelease[], base: string): ActionError {
  const near = nearbyVersions(spec, releases);
  const what = spec.kind === 'stable' || spec.kind === 'oldstable' ? `no ${spec.kind} release` : `no release matches ${spec.input}`;
  return new ActionError(
    `Go ${spec.input} (${origin}) was not found: the listing at ${base} has ${what}. ` +
      (near.length > 0 ? `The nearest available: ${near.join(', ')}. ` : 'The listing is empty. ') +
      `Change ${origin === 'go-version' ? 'go-version' : 'the version file'} to one of them.`,
  );
}

/**
 * Downloads the archive into RUNNER_TEMP, hashing it as it streams to disk (one pass), and checks
 * size and sha256 against the listing. Returns the file path; on any failure the file is gone.
 */
async function downloadVerified(base: string, file: GoFile, retryBaseDelayMs: number | undefined, signal: AbortSignal): Promise<string> {
  const fetchUrl = `${base}/${encodeURIComponent(file.filename)}`;
  const url = safeUrl(fetchUrl);
  const dest = path.join(tempRoot(), `${randomUUID()}-${file.filename}`);
  const started = Date.now();
  core.info(`Downloading ${url}${file.size ? ` (${(file.size / 1048576).toFixed(1)} MiB)` : ''}`);
  try {
    const actual = await withRetry(
      async () => {
        // go.dev/dl/<file> answers 302 with the file on dl.google.com, so redirects are followed
        // to any host; the sha256 below is checked on the bytes finally received, whoever served
        // them.
        const res = await openRequest({ method: 'GET', url: fetchUrl, signal, idleTimeoutMs: IDLE_TIMEOUT_MS, redirects: 'any' });
        const message = res.body;
        if (res.url !== fetchUrl) core.info(`${url} redirected to ${safeUrl(res.url)}`);
        const status = res.status;
        if (status !== 200) {
          message.resume();
          if (status === 404) {
            throw new ActionError(
              `${url} answered HTTP 404 Not Found, though the listing names ${file.filename}. ` +
                `Check go-download-base-url: a mirror must serve the archives as well as the listing.`,
            );
          }
          if (isRetryableStatus(status)) throw new RetryableError(`HTTP ${status}`, parseRetryAfter(firstHeader(message.headers['retry-after'])));
          throw new ActionError(`Downloading ${url} failed with HTTP ${status}; check go-download-base-url and any proxy in between.`);
        }
        const lengthHeader = Number(message.headers['content-length']);
        const expected = file.size > 0 ? file.size : Number.isFinite(lengthHeader) ? lengthHeader : -1;
        const hash = createHash('sha256');
        let received = 0;
        const tap = new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            received += chunk.length;
            done(null, chunk);
          },
        });
        try {
          await pipeline(message, tap, fs.createWriteStream(dest), { signal });
        } catch (err) {
          if (signal.aborted) throw signal.reason;
          if (isTransientNetworkError(err) || (err as { code?: string }).code === 'ECONNRESET' || /aborted|premature/i.test(messageOf(err))) {
            throw new RetryableError(`the connection dropped after ${received} of ${expected >= 0 ? expected : '?'} bytes`);
          }
          throw err;
        }
        if (expected >= 0 && received !== expected) {
          throw new RetryableError(`the connection ended after ${received} of ${expected} bytes`);
        }
        return hash.digest('hex');
      },
      { what: `GET ${url}`, signal, ...(retryBaseDelayMs !== undefined ? { baseDelayMs: retryBaseDelayMs } : {}) },
    );
    if (actual.toLowerCase() !== file.sha256.toLowerCase()) {
      throw new ActionError(
        `sha256 mismatch for ${file.filename} from ${url}: the listing says ${file.sha256.toLowerCase()}, the download is ${actual}. ` +
          `The download was deleted and nothing was cached. The mirror at go-download-base-url serves a different file than it lists; fix or replace the mirror.`,
      );
    }
    core.info(`Verified sha256 ${actual} of ${file.filename} (downloaded in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return dest;
  } catch (err) {
    await fsp.rm(dest, { force: true });
    if (err instanceof RetryableError || isTransientNetworkError(err)) {
      throw new ActionError(`Downloading ${url} kept failing (${messageOf(err)}), retries exhausted. Check the network or proxy between the runner and go-download-base-url, then re-run.`);
    }
    throw asInputProblem(err);
  }
}

/** A redirect the HTTP layer would not follow, told as a problem of the input that led there. */
function asInputProblem(err: unknown): unknown {
  if (!(err instanceof RedirectError)) return err;
  return new ActionError(
    `go-download-base-url: ${err.message} Point go-download-base-url at a download site whose redirects stay on http(s) and never lead from https to http ` +
      `(leave it empty for go.dev).`,
  );
}

/**
 * Extracts the verified archive straight into the tool cache layout that @actions/tool-cache reads
 * (`<cache>/go/<semver>/<arch>/` plus the `<arch>.complete` marker), so tc.find sees it. This skips
 * tc.cacheDir, which would copy the whole extracted tree (a few hundred MB) a second time. The tree
 * is extracted beside its final place and renamed in, so a half-extracted toolchain is never found.
 */
async function installIntoCache(archive: string, file: GoFile, cacheRoot: string, version: string, arch: string, signal: AbortSignal): Promise<string> {
  const versionDir = path.join(cacheRoot, TOOL, version);
  const dest = path.join(versionDir, arch);
  const marker = `${dest}.complete`;
  await fsp.mkdir(versionDir, { recursive: true });
  const staging = await fsp.mkdtemp(path.join(versionDir, `.${arch}-`));
  try {
    if (file.filename.endsWith('.zip')) {
      await extractZip(archive, staging, signal);
    } else if (/\.(tar\.gz|tgz)$/.test(file.filename)) {
      await run('tar', ['-xzf', archive, '-C', staging, '--no-same-owner'], signal);
    } else {
      throw new ActionError(`${file.filename} is neither a .tar.gz nor a .zip; the listing's archive kind is not one this action can install.`);
    }
    const extracted = path.join(staging, 'go');
    if (!fs.existsSync(path.join(extracted, 'bin'))) {
      throw new ActionError(`${file.filename} has no top-level go/bin folder, so it is not a Go toolchain archive; check go-download-base-url.`);
    }
    // Self-hosted runners share one tool cache between concurrent jobs. A complete install (its
    // marker written) may be in use by another job's build, so it is never replaced: this copy
    // is discarded instead. Only a tree without a marker (a job that died mid-way) is removed.
    if (fs.existsSync(marker)) return keepExisting(dest);
    try {
      await fsp.rename(extracted, dest);
    } catch (err) {
      // The folder exists: another job renamed its copy in just now (its marker follows at once),
      // or an interrupted job left it.
      if (await markerAppears(marker, signal)) return keepExisting(dest);
      await fsp.rm(dest, { recursive: true, force: true });
      try {
        await fsp.rename(extracted, dest);
      } catch {
        if (fs.existsSync(marker)) return keepExisting(dest);
        throw err;
      }
    }
    await fsp.writeFile(marker, '');
    return dest;
  } finally {
    // An extraction abandoned on abort may still hold files here (Windows refuses to delete them).
    await fsp.rm(staging, { recursive: true, force: true }).catch(() => undefined);
  }
}

/**
 * Extracts a zip (the Windows runners' archive). Windows 10 and later ship bsdtar as
 * System32\tar.exe, which reads zip files and is killed on abort like any child process; where it
 * is missing, tool-cache's extractZip runs and the deploy stops waiting for it on abort.
 */
async function extractZip(archive: string, staging: string, signal: AbortSignal): Promise<void> {
  const bsdtar = path.join(process.env.SystemRoot ?? 'C:\\Windows', 'System32', 'tar.exe');
  if (process.platform === 'win32' && fs.existsSync(bsdtar)) {
    await run(bsdtar, ['-xf', archive, '-C', staging], signal);
    return;
  }
  await untilAborted(tc.extractZip(archive, staging), signal);
}

function keepExisting(dest: string): string {
  core.info(`Another job installed ${dest} meanwhile; using it and discarding this copy.`);
  return dest;
}

/** Whether the install marker shows up within a moment (another job between rename and marker). */
async function markerAppears(marker: string, signal: AbortSignal): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    if (fs.existsSync(marker)) return true;
    await sleep(100, signal);
  }
  return fs.existsSync(marker);
}

function run(cmd: string, args: string[], signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], signal, env: childEnv() });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
    child.on('error', (err) => reject(signal.aborted ? signal.reason : new ActionError(`Could not run ${cmd}: ${err.message}. It is needed to extract the Go archive.`)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new ActionError(`${cmd} ${args.join(' ')} failed (exit code ${code}): ${stderr.trim()}`));
    });
  });
}

/** Runs the toolchain's own `go version`, puts it first on PATH and pins it with GOTOOLCHAIN=local. */
async function activate(goRoot: string, cacheHit: boolean, expectedSemver: string): Promise<Toolchain> {
  const binDir = path.join(goRoot, 'bin');
  const goBin = path.join(binDir, process.platform === 'win32' ? 'go.exe' : 'go');
  // A GOROOT left in the environment by an earlier setup would point `go` at another tree.
  const pinGoRoot = (process.env.GOROOT ?? '') !== '';
  const env = { ...childEnv(), GOTOOLCHAIN: 'local', ...(pinGoRoot ? { GOROOT: goRoot } : {}) };
  let stdout: string;
  try {
    stdout = await new Promise<string>((resolve, reject) =>
      execFile(goBin, ['version'], { env, cwd: goRoot, timeout: 60_000 }, (err, out, errOut) =>
        err ? reject(new Error(`${err.message} ${String(errOut).trim()}`)) : resolve(String(out)),
      ),
    );
  } catch (err) {
    throw new ActionError(
      `The Go toolchain at ${goRoot} does not run (${messageOf(err).trim()}). ` +
        (cacheHit ? `Delete ${goRoot} and ${goRoot}.complete from the tool cache and re-run.` : 'The archive may not be for this runner.'),
    );
  }
  const version = /^go version (\S+)/.exec(stdout.trim())?.[1];
  if (version === undefined) throw new ActionError(`${goBin} version printed "${stdout.trim()}", not a Go version.`);
  const expected = semverToGoVersion(expectedSemver);
  if (version !== expected) core.warning(`The toolchain at ${goRoot} reports ${version}, but it was installed as ${expected}.`);

  core.exportVariable('GOTOOLCHAIN', 'local');
  if (pinGoRoot) core.exportVariable('GOROOT', goRoot);
  core.addPath(binDir);
  core.info(`Using ${version} from ${goRoot} (GOTOOLCHAIN=local)`);
  return { goRoot, goBin, version, cacheHit };
}
