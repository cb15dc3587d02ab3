// The Go cache stages: restore Go's module cache (GOMODCACHE) and build cache (GOCACHE) before the
// build, and save them after a build that missed the exact key, through GitHub's cache service
// (@actions/cache). A hosted runner starts every job with both empty, so without this every deploy
// downloads every module and compiles every package again.
//
// The key names what the caches are only valid for: runner OS and arch, the Go version, the target
// and the dependency files. Restore keys fall back to the newest entry of the same Go and target,
// so a dependency bump starts warm. What gets saved is trimmed to what this build used (see
// trimBuildCache and trimModuleCache), so the entries do not grow from deploy to deploy.
//
// Caching is an optimisation: every failure here is a warning and the build goes on cold.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as cache from '@actions/cache';
import * as core from '@actions/core';
import * as glob from '@actions/glob';
import { messageOf } from '../common/errors.ts';
import { childEnv } from '../common/childenv.ts';

/** The dependency files hashed into the key when cache-dependency-path is not given. */
export const DEFAULT_DEPENDENCY_FILES: readonly string[] = ['go.sum', 'go.work.sum'];
/** Hashed instead when the module has no go.sum (no dependencies): the key still changes with go.mod. */
export const FALLBACK_DEPENDENCY_FILE = 'go.mod';
const KEY_PREFIX = 'go-azure-deploy-go';

export interface CacheKeyParts {
  /** RUNNER_OS: Linux, Windows, macOS. */
  runnerOs: string;
  /** RUNNER_ARCH: X64, ARM64. */
  runnerArch: string;
  /** As `go version` reports it (`go1.23.4`). */
  goVersion: string;
  goos: string;
  goarch: string;
  /** hashDependencyFiles of the dependency files. */
  dependencyHash: string;
}

export interface CacheKeys {
  key: string;
  /** Prefixes, most specific first, for the service's newest-prefix-match fallback. */
  restoreKeys: string[];
}

/**
 * The primary key and restore keys. The restore key is the key without its dependency hash: the
 * service answers it with the newest entry of the same runner, Go version and target, whatever its
 * dependencies. A different Go version or target never restores: its build cache is of no use and
 * would only be carried along.
 */
export function cacheKeys(p: CacheKeyParts): CacheKeys {
  const clean = (s: string): string => s.replace(/[^A-Za-z0-9._]/g, '_');
  const version = clean(p.goVersion.replace(/^go/, ''));
  const prefix = `${KEY_PREFIX}-${clean(p.runnerOs)}-${clean(p.runnerArch)}-go${version}-${clean(p.goos)}-${clean(p.goarch)}-`;
  return { key: `${prefix}${p.dependencyHash}`, restoreKeys: [prefix] };
}

/**
 * One hash over the dependency files: their paths (relative, forward slashes, sorted) and
 * contents, so a file moved or added changes the key as well as one edited. 16 bytes of sha256
 * in hex keep the key short.
 */
export function hashDependencyFiles(files: readonly { path: string; content: Buffer | string }[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const content = typeof f.content === 'string' ? Buffer.from(f.content) : f.content;
    h.update(`${f.path}\0${content.length}\0`);
    h.update(content);
  }
  return h.digest('hex').slice(0, 32);
}

/** The runner's OS and arch as the runner names them (RUNNER_OS, RUNNER_ARCH), else from Node. */
export function runnerPlatform(env: NodeJS.ProcessEnv): { runnerOs: string; runnerArch: string } {
  const os = env.RUNNER_OS || { linux: 'Linux', win32: 'Windows', darwin: 'macOS' }[process.platform as string] || process.platform;
  const arch = env.RUNNER_ARCH || process.arch.toUpperCase();
  return { runnerOs: os, runnerArch: arch };
}

/**
 * A module path or version as the module cache spells it on disk: each upper-case letter becomes
 * `!` and its lower-case form (golang.org/x/mod/module, EscapePath), so the cache works on
 * case-insensitive file systems.
 */
export function escapeModulePath(p: string): string {
  return p.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
}

/** A module version the module cache holds, as found under cache/download. */
export interface CachedModule {
  /** Escaped module path, e.g. `github.com/!burnt!sushi/toml`. */
  escapedPath: string;
  /** Escaped version, e.g. `v1.2.3`. */
  escapedVersion: string;
}

/**
 * The cached module versions that are not in the build list (`path@version` lines from
 * `go list -m all`): their zips and extracted trees can go. Their `.mod` and `.info` files stay, as
 * the module graph may still need them and they are small.
 */
export function unusedModules(cached: readonly CachedModule[], buildList: readonly string[]): CachedModule[] {
  const used = new Set(
    buildList.map((line) => {
      const at = line.lastIndexOf('@');
      return `${escapeModulePath(line.slice(0, at))}@${escapeModulePath(line.slice(at + 1))}`;
    }),
  );
  return cached.filter((m) => !used.has(`${m.escapedPath}@${m.escapedVersion}`));
}

/**
 * Build cache entries this build did not use. Before the build every restored entry's mtime is set
 * back by two hours; Go moves an entry's mtime to now when it uses it and the mtime is more than
 * an hour old (cmd/go/internal/cache, markUsed), and new entries are written now. So everything
 * still older than `usedSince` (a point between the two) went unused.
 */
export function unusedBuildCacheEntries(entries: readonly { path: string; mtimeMs: number }[], usedSince: number): string[] {
  return entries.filter((e) => e.mtimeMs < usedSince).map((e) => e.path);
}

/**
 * Whether the key the cache service matched is the key asked for. The service compares keys
 * without case and answers the key as it was saved, so a hit on the exact key may come back in
 * another case; compared as actions/cache decides its cache-hit output (src/utils/actionUtils.ts,
 * isExactKeyMatch: localeCompare with sensitivity "accent", so case is ignored and accents are not).
 */
export function isExactKeyMatch(key: string, matched: string | undefined): boolean {
  return matched !== undefined && matched !== '' && matched.localeCompare(key, undefined, { sensitivity: 'accent' }) === 0;
}

/** How far back restored build cache entries are dated, so Go marks the ones it uses. */
export const BACKDATE_MS = 2 * 60 * 60 * 1000;

/** The cache-write input: `auto` saves only from trusted runs (see cacheWriteRefusal). */
type CacheWriteSetting = 'auto' | 'true' | 'false';

/**
 * Events whose runs may execute code that is not the repository's own (a pull request's head, or
 * a workflow_run or issue_comment job that checks it out) while holding the base branch's cache
 * scope. Go trusts the module trees and build outputs it finds in its caches, so an entry such a
 * run saves could be linked into a production build; with cache-write auto they only restore.
 */
const UNTRUSTED_CACHE_EVENTS: readonly string[] = ['pull_request', 'pull_request_target', 'workflow_run', 'issue_comment'];

/**
 * Why this run must not save the Go caches, or undefined when it may: cache-write false, or (auto)
 * an untrusted event (GITHUB_EVENT_NAME), or a runner that gives the run read-only cache access
 * (ACTIONS_CACHE_MODE, as @actions/cache reads it: packages/cache/src/internal/config.ts,
 * isCacheWritable). `notice` is true when the platform refused, not the workflow's own setting.
 */
export function cacheWriteRefusal(setting: CacheWriteSetting, env: NodeJS.ProcessEnv): { reason: string; notice: boolean } | undefined {
  if (setting === 'false') return { reason: 'cache-write is false', notice: false };
  const event = (env.GITHUB_EVENT_NAME ?? '').trim();
  if (setting === 'auto' && UNTRUSTED_CACHE_EVENTS.includes(event)) {
    return {
      reason: `this run was started by a ${event} event, which may run code that is not the repository's, and the caches are saved only from trusted runs (restored ones are used; set cache-write: true to save from such runs)`,
      notice: false,
    };
  }
  const mode = (env.ACTIONS_CACHE_MODE ?? '').trim().toLowerCase();
  if (mode === 'read' || mode === 'none') return { reason: `the runner gives this run no write access to the cache (ACTIONS_CACHE_MODE=${mode})`, notice: true };
  return undefined;
}

/** The prefix GitHub's cache service gives a refused reservation for a read-only token (@actions/cache, CACHE_WRITE_DENIED_PREFIX). */
const CACHE_WRITE_DENIED = 'cache write denied:';

/**
 * Runs `save` (an @actions/cache saveCache call) and tells whether the cache service refused the
 * write for a read-only token. @actions/cache turns that refusal into a CacheWriteDeniedError and
 * logs it as a `::warning::` (packages/cache/src/cache.ts, saveCacheV2's catch); every pull request
 * run would carry that warning, so its line is written as plain log text here and the caller says
 * it once, as a notice. Every other line, warnings included, passes through unchanged.
 */
async function noticingWriteDenied<T>(save: () => Promise<T>): Promise<{ value: T; denied: boolean }> {
  let denied = false;
  const write = process.stdout.write;
  const patched = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    if (typeof chunk === 'string' && chunk.startsWith('::warning::') && chunk.includes(CACHE_WRITE_DENIED)) {
      denied = true;
      chunk = chunk.slice('::warning::'.length);
    }
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  };
  process.stdout.write = patched as typeof process.stdout.write;
  try {
    return { value: await save(), denied };
  } finally {
    process.stdout.write = write;
  }
}

// --- I/O ----------------------------------------------------------------------------------------

export interface GoCacheRequest {
  goBin: string;
  goVersion: string;
  workingDirectory: string;
  goos: string;
  goarch: string;
  /** cache-dependency-path globs, relative to the working directory; empty: go.sum and go.work.sum. */
  dependencyPath: readonly string[];
  /** Environment go runs with (the build's). */
  env?: NodeJS.ProcessEnv;
  /** The cache-write input; auto when absent. */
  cacheWrite?: CacheWriteSetting;
  /** The runner's environment the save decision reads (GITHUB_EVENT_NAME, ACTIONS_CACHE_MODE); process.env when absent. */
  runnerEnv?: NodeJS.ProcessEnv;
}

export type RestoreOutcome =
  /** The exact key was restored: nothing to save afterwards. */
  | 'hit'
  /** An older entry of the same Go and target was restored: save under the new key after the build. */
  | 'partial'
  /** Nothing matched: save after the build. */
  | 'miss'
  /** The caches already hold files (actions/setup-go, a self-hosted runner): left alone. */
  | 'external'
  /** No cache service in this environment (not on a GitHub runner). */
  | 'unavailable'
  /** The service or the archive failed; the build goes on with what is there. */
  | 'failed';

export interface GoCacheState {
  outcome: RestoreOutcome;
  key: string;
  restoreKeys: string[];
  matchedKey?: string;
  modCache: string;
  buildCache: string;
  /** Bytes in both folders after the restore. */
  restoredBytes?: number;
  seconds: number;
  /** Entries older than this after the build went unused (set when a restored build cache was backdated). */
  usedSince?: number;
}

export interface SaveResult {
  saved: boolean;
  /** Why not, when not saved. */
  reason?: string;
  /** Bytes in both folders after trimming, as handed to the archive. */
  bytes?: number;
  trimmedBytes?: number;
  seconds: number;
}

function runGoText(goBin: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(goBin, args, { cwd, env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024, windowsHide: true }, (err, out, errOut) =>
      err ? reject(new Error(`go ${args.join(' ')}: ${String(errOut).trim() || err.message}`)) : resolve(String(out)),
    ),
  );
}

function goEnvFor(req: GoCacheRequest): NodeJS.ProcessEnv {
  return { ...childEnv(), ...req.env, GOTOOLCHAIN: 'local' };
}

/** GOMODCACHE and GOCACHE of the chosen toolchain, as `go env` reports them for this environment. */
export async function goCachePaths(req: GoCacheRequest): Promise<{ modCache: string; buildCache: string }> {
  const out = await runGoText(req.goBin, ['env', '-json', 'GOMODCACHE', 'GOCACHE'], req.workingDirectory, goEnvFor(req));
  const parsed = JSON.parse(out) as { GOMODCACHE?: string; GOCACHE?: string };
  if (!parsed.GOMODCACHE || !parsed.GOCACHE || parsed.GOCACHE === 'off') {
    throw new Error(`go env reports GOMODCACHE="${parsed.GOMODCACHE ?? ''}" GOCACHE="${parsed.GOCACHE ?? ''}"`);
  }
  return { modCache: parsed.GOMODCACHE, buildCache: parsed.GOCACHE };
}

/** The dependency files for the key: cache-dependency-path globs, else go.sum/go.work.sum, else go.mod. */
export async function dependencyFiles(workingDirectory: string, patterns: readonly string[]): Promise<string[]> {
  if (patterns.length === 0) {
    const found = DEFAULT_DEPENDENCY_FILES.map((f) => path.join(workingDirectory, f)).filter((f) => fs.existsSync(f));
    if (found.length > 0) return found;
    const mod = path.join(workingDirectory, FALLBACK_DEPENDENCY_FILE);
    return fs.existsSync(mod) ? [mod] : [];
  }
  const absolute = patterns.map((p) => {
    const neg = p.startsWith('!');
    const body = neg ? p.slice(1) : p;
    return `${neg ? '!' : ''}${path.isAbsolute(body) ? body : path.join(workingDirectory, body)}`;
  });
  const globber = await glob.create(absolute.join('\n'), { followSymbolicLinks: false, matchDirectories: false });
  return (await globber.glob()).filter((f) => fs.statSync(f).isFile()).sort();
}

/** Whether the folder holds any file (the build cache's empty 00..ff folders do not count). */
function holdsFiles(dir: string): boolean {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return false;
  }
  for (const name of names) {
    const p = path.join(dir, name);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      continue;
    }
    if (!st.isDirectory()) {
      // Go writes these two into a new build cache before any entry.
      if (name === 'README' || name === 'trim.txt') continue;
      return true;
    }
    if (holdsFiles(p)) return true;
  }
  return false;
}

/** Total size of the files under the folders (0 for a missing folder). */
export function folderBytes(...dirs: string[]): number {
  let total = 0;
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) total += fs.statSync(p).size;
    }
  };
  for (const d of dirs) walk(d);
  return total;
}

/** The build cache's entry files (`<2 hex>/<hash>-a|-d`), with their mtimes. */
function buildCacheEntries(buildCache: string): { path: string; mtimeMs: number; size: number }[] {
  const out: { path: string; mtimeMs: number; size: number }[] = [];
  let subdirs: string[];
  try {
    subdirs = fs.readdirSync(buildCache).filter((n) => /^[0-9a-f]{2}$/.test(n));
  } catch {
    return out;
  }
  for (const sub of subdirs) {
    const dir = path.join(buildCache, sub);
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      const st = fs.statSync(p);
      if (st.isFile()) out.push({ path: p, mtimeMs: st.mtimeMs, size: st.size });
    }
  }
  return out;
}

/** Dates every restored build cache entry back, so that Go marks each one it uses (see unusedBuildCacheEntries). */
function backdateBuildCache(buildCache: string, now: number): void {
  const when = new Date(now - BACKDATE_MS);
  for (const e of buildCacheEntries(buildCache)) fs.utimesSync(e.path, when, when);
}

/**
 * Restores the Go caches, or says why not. Never throws: a failure is a warning and the build runs
 * with whatever the folders hold.
 */
export async function restoreGoCache(req: GoCacheRequest): Promise<GoCacheState> {
  const started = performance.now();
  const state: GoCacheState = { outcome: 'failed', key: '', restoreKeys: [], modCache: '', buildCache: '', seconds: 0 };
  const done = (outcome: RestoreOutcome): GoCacheState => {
    state.outcome = outcome;
    state.seconds = (performance.now() - started) / 1000;
    return state;
  };
  try {
    const paths = await goCachePaths(req);
    state.modCache = paths.modCache;
    state.buildCache = paths.buildCache;
    const files = await dependencyFiles(req.workingDirectory, req.dependencyPath);
    if (req.dependencyPath.length > 0 && files.length === 0) {
      core.warning(`cache-dependency-path: no file matches ${req.dependencyPath.join(', ')} in ${req.workingDirectory}; the cache key uses no dependency files.`);
    }
    const keys = cacheKeys({
      ...runnerPlatform(process.env),
      goVersion: req.goVersion,
      goos: req.goos,
      goarch: req.goarch,
      dependencyHash: hashDependencyFiles(
        files.map((f) => ({ path: path.relative(req.workingDirectory, f).split(path.sep).join('/'), content: fs.readFileSync(f) })),
      ),
    });
    state.key = keys.key;
    state.restoreKeys = keys.restoreKeys;
    core.info(`Go module cache: ${paths.modCache}`);
    core.info(`Go build cache: ${paths.buildCache}`);
    core.info(`Key: ${keys.key} (from ${files.map((f) => path.relative(req.workingDirectory, f) || f).join(', ') || 'no dependency files'})`);

    if (holdsFiles(paths.modCache) || holdsFiles(paths.buildCache)) {
      core.info(
        'The Go caches already hold files: an earlier step restored them (actions/setup-go with cache: true, or actions/cache), ' +
          'or this runner keeps them between jobs. Not restoring or saving them again.',
      );
      return done('external');
    }
    if (!cache.isFeatureAvailable()) {
      core.info('No cache service in this environment (ACTIONS_RESULTS_URL is not set); building without restoring the Go caches.');
      return done('unavailable');
    }
    const matched = await cache.restoreCache([paths.modCache, paths.buildCache], keys.key, keys.restoreKeys);
    if (matched === undefined) {
      core.info('No cached Go modules or build cache for this Go version and target yet; the build starts cold and its caches are saved after it.');
      return done('miss');
    }
    state.matchedKey = matched;
    state.restoredBytes = folderBytes(paths.modCache, paths.buildCache);
    if (isExactKeyMatch(keys.key, matched)) {
      core.info(`Restored the Go caches (${mib(state.restoredBytes)}) from ${matched}.`);
      return done('hit');
    }
    // A fallback entry: mark what this build uses, so the entry saved after it holds only that.
    const now = Date.now();
    backdateBuildCache(paths.buildCache, now);
    state.usedSince = now - BACKDATE_MS / 2;
    core.info(`Restored the Go caches (${mib(state.restoredBytes)}) from the older entry ${matched}; they are saved under the new key after the build.`);
    return done('partial');
  } catch (err) {
    core.warning(`Could not restore the Go caches (${messageOf(err)}); building without them.`);
    return done('failed');
  }
}

/** Deletes build cache entries this build did not use; returns the bytes freed. */
function trimBuildCache(buildCache: string, usedSince: number): number {
  const entries = buildCacheEntries(buildCache);
  const unused = new Set(unusedBuildCacheEntries(entries, usedSince));
  let freed = 0;
  for (const e of entries) {
    if (!unused.has(e.path)) continue;
    fs.rmSync(e.path, { force: true });
    freed += e.size;
  }
  return freed;
}

/** Module versions under cache/download that go extracted (each has a .ziphash beside its tree). */
function cachedModules(modCache: string): CachedModule[] {
  const root = path.join(modCache, 'cache', 'download');
  const out: CachedModule[] = [];
  const walk = (dir: string, rel: string[]): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      if (e.name === '@v') {
        for (const f of fs.readdirSync(path.join(dir, e.name))) {
          if (f.endsWith('.ziphash')) out.push({ escapedPath: rel.join('/'), escapedVersion: f.slice(0, -'.ziphash'.length) });
        }
      } else if (!(rel.length === 0 && e.name === 'sumdb')) {
        walk(path.join(dir, e.name), [...rel, e.name]);
      }
    }
  };
  walk(root, []);
  return out;
}

/** The module zips under cache/download (paths relative to it). */
function moduleZips(modCache: string): string[] {
  const root = path.join(modCache, 'cache', 'download');
  const out: string[] = [];
  const walk = (rel: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel === '' ? e.name : path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.isFile() && e.name.endsWith('.zip')) out.push(r);
    }
  };
  walk('');
  return out;
}

function moduleZipBytes(modCache: string): number {
  const root = path.join(modCache, 'cache', 'download');
  return moduleZips(modCache).reduce((n, z) => n + fs.statSync(path.join(root, z)).size, 0);
}

/**
 * Moves the module zips out of the module cache (beside it, on the same file system, so each move
 * is a rename) until `restore` puts them back.
 */
function moveModuleZipsAside(modCache: string): { restore: () => void } {
  const root = path.join(modCache, 'cache', 'download');
  const zips = moduleZips(modCache);
  if (zips.length === 0) return { restore: () => undefined };
  const aside = fs.mkdtempSync(`${modCache}.zips-`);
  const moved: string[] = [];
  const restore = (): void => {
    for (const z of moved) {
      try {
        fs.renameSync(path.join(aside, z), path.join(root, z));
      } catch (err) {
        core.warning(`Could not put the module zip ${z} back into ${root}: ${messageOf(err)}`);
      }
    }
    fs.rmSync(aside, { recursive: true, force: true });
  };
  try {
    for (const z of zips) {
      fs.mkdirSync(path.dirname(path.join(aside, z)), { recursive: true });
      fs.renameSync(path.join(root, z), path.join(aside, z));
      moved.push(z);
    }
  } catch (err) {
    restore();
    throw err;
  }
  return { restore };
}

/** Go makes extracted modules read-only; they need write permission back to be deleted. */
export function removeTree(p: string): void {
  if (!fs.existsSync(p)) return;
  const makeWritable = (q: string): void => {
    const st = fs.lstatSync(q);
    if (st.isSymbolicLink()) return;
    fs.chmodSync(q, st.mode | 0o200);
    if (st.isDirectory()) for (const n of fs.readdirSync(q)) makeWritable(path.join(q, n));
  };
  makeWritable(p);
  fs.rmSync(p, { recursive: true, force: true });
}

/**
 * Deletes the zips and extracted trees of module versions this build's module graph no longer
 * selects (left from an older entry after a dependency changed); returns the bytes freed. The
 * build list comes from `go list -m all` without network (GOPROXY=off): if go cannot answer from
 * the cache alone, nothing is deleted.
 */
async function trimModuleCache(req: GoCacheRequest, modCache: string): Promise<number> {
  let list: string;
  try {
    list = await runGoText(req.goBin, ['list', '-mod=mod', '-m', '-f', '{{if .Version}}{{.Path}}@{{.Version}}{{end}}', 'all'], req.workingDirectory, {
      ...goEnvFor(req),
      GOPROXY: 'off',
      GOFLAGS: '',
    });
  } catch (err) {
    core.info(`Kept the whole module cache: ${messageOf(err)}`);
    return 0;
  }
  const buildList = list.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  let freed = 0;
  for (const m of unusedModules(cachedModules(modCache), buildList)) {
    const extracted = path.join(modCache, ...m.escapedPath.split('/')) + `@${m.escapedVersion}`;
    const zipBase = path.join(modCache, 'cache', 'download', ...m.escapedPath.split('/'), '@v', m.escapedVersion);
    freed += folderBytes(extracted);
    removeTree(extracted);
    for (const ext of ['.zip', '.ziphash']) {
      const f = zipBase + ext;
      if (fs.existsSync(f)) {
        freed += fs.statSync(f).size;
        fs.rmSync(f, { force: true });
      }
    }
  }
  return freed;
}

/** Whether the build's caches are to be saved: the exact key was not restored and the caches are ours. */
export function needsSave(state: GoCacheState): boolean {
  return state.key !== '' && (state.outcome === 'miss' || state.outcome === 'partial' || state.outcome === 'failed');
}

/**
 * Saves the Go caches after the build when the restore did not hit the exact key, trimmed to what
 * this build used. Never throws.
 */
export async function saveGoCache(req: GoCacheRequest, state: GoCacheState): Promise<SaveResult> {
  const started = performance.now();
  const result = (r: Omit<SaveResult, 'seconds'>): SaveResult => ({ ...r, seconds: (performance.now() - started) / 1000 });
  const skip: Partial<Record<RestoreOutcome, string>> = {
    hit: `the entry ${state.key} already holds them`,
    external: 'an earlier step or the runner provides them',
    unavailable: 'there is no cache service',
  };
  const why = state.key === '' ? 'the cache key could not be computed' : skip[state.outcome];
  if (why !== undefined) {
    core.info(`Not saving the Go caches: ${why}.`);
    return result({ saved: false, reason: why });
  }
  const refused = cacheWriteRefusal(req.cacheWrite ?? 'auto', req.runnerEnv ?? process.env);
  if (refused !== undefined) {
    (refused.notice ? core.notice : core.info)(`Not saving the Go caches: ${refused.reason}.`);
    return result({ saved: false, reason: refused.reason });
  }
  try {
    let trimmed = 0;
    if (state.usedSince !== undefined) trimmed += trimBuildCache(state.buildCache, state.usedSince);
    if (state.outcome === 'partial') trimmed += await trimModuleCache(req, state.modCache);
    if (trimmed > 0) core.info(`Dropped ${mib(trimmed)} of cache entries this build did not use.`);
    const paths = [state.modCache, state.buildCache].filter((p) => fs.existsSync(p));
    const bytes = folderBytes(...paths) - moduleZipBytes(state.modCache);
    if (paths.length === 0 || bytes === 0) {
      core.info('Not saving the Go caches: they are empty.');
      return result({ saved: false, reason: 'they are empty', bytes, trimmedBytes: trimmed });
    }
    // The module zips are left out: go builds from the extracted trees (checked against go.sum
    // through each .ziphash), so a zip is only a second copy of its tree. They are back in place
    // for later steps as soon as the archive is written.
    const aside = moveModuleZipsAside(state.modCache);
    let id: number;
    let denied: boolean;
    try {
      // Save the paths exactly as restored: the service matches entries by a version made of them.
      ({ value: id, denied } = await noticingWriteDenied(() => cache.saveCache([state.modCache, state.buildCache], state.key)));
    } finally {
      aside.restore();
    }
    if (denied) {
      const reason = 'the cache service refused the write: the token of this run may only read the cache';
      core.notice(`Not saved the Go caches: ${reason}. Restoring still works; save them from a trusted run (a push to the default branch).`);
      return result({ saved: false, reason, bytes, trimmedBytes: trimmed });
    }
    if (id === -1) {
      // @actions/cache has logged why (another job saving the same key, a quota, a denied write).
      return result({ saved: false, reason: 'the cache service did not take it (see the log above)', bytes, trimmedBytes: trimmed });
    }
    core.info(`Saved the Go caches (${mib(bytes)} of files) as ${state.key}.`);
    return result({ saved: true, bytes, trimmedBytes: trimmed });
  } catch (err) {
    core.warning(`Could not save the Go caches (${messageOf(err)}); the next deploy builds cold.`);
    return result({ saved: false, reason: messageOf(err) });
  }
}

function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}
