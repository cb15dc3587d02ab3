// The Go cache: key computation, what gets trimmed, and the sandbox cache service driven by the
// unmodified @actions/cache (save, exact and fallback restore, a second save of the same key,
// a corrupt archive, a failing service).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as cache from '@actions/cache';
import {
  cacheKeys,
  cacheWriteRefusal,
  saveGoCache,
  type GoCacheState,
  dependencyFiles,
  escapeModulePath,
  hashDependencyFiles,
  isExactKeyMatch,
  needsSave,
  restoreGoCache,
  runnerPlatform,
  unusedBuildCacheEntries,
  unusedModules,
} from '../src/artifact/gocache.ts';
import { startCacheService, type CacheService } from '../sandbox/cache.ts';
import { parseInputs } from '../src/common/inputs.ts';
import { InputError } from '../src/common/errors.ts';
import { goCacheRows } from '../src/common/report.ts';

const parts = { runnerOs: 'Linux', runnerArch: 'X64', goVersion: 'go1.23.4', goos: 'windows', goarch: 'amd64', dependencyHash: 'abc123' };

test('the key names runner, Go version, target and dependencies; the restore key drops only the dependencies', () => {
  const k = cacheKeys(parts);
  assert.equal(k.key, 'go-azure-deploy-go-Linux-X64-go1.23.4-windows-amd64-abc123');
  assert.deepEqual(k.restoreKeys, ['go-azure-deploy-go-Linux-X64-go1.23.4-windows-amd64-']);
  assert.ok(k.key.startsWith(k.restoreKeys[0]));
  // Another Go version or target shares no prefix with it, so it never restores this entry.
  for (const other of [{ goVersion: 'go1.23.5' }, { goarch: 'arm64' }, { runnerOs: 'Windows' }]) {
    assert.ok(!cacheKeys({ ...parts, ...other }).key.startsWith(k.restoreKeys[0]), JSON.stringify(other));
  }
  // go1.2 must not be a prefix of go1.23's entries.
  assert.ok(!k.key.startsWith(cacheKeys({ ...parts, goVersion: 'go1.2' }).restoreKeys[0]));
  // Commas are not allowed in keys by the service; odd characters are replaced.
  assert.doesNotMatch(cacheKeys({ ...parts, runnerOs: 'a,b c' }).key, /[, ]/);
});

test('the dependency hash follows paths and contents, not the order files are found in', () => {
  const a = { path: 'go.sum', content: 'x v1.0.0 h1:aaa\n' };
  const b = { path: 'tools/go.sum', content: 'y v2.0.0 h1:bbb\n' };
  assert.equal(hashDependencyFiles([a, b]), hashDependencyFiles([b, a]));
  assert.notEqual(hashDependencyFiles([a, b]), hashDependencyFiles([a]));
  assert.notEqual(hashDependencyFiles([a]), hashDependencyFiles([{ ...a, content: 'x v1.0.1 h1:aaa\n' }]));
  assert.notEqual(hashDependencyFiles([a]), hashDependencyFiles([{ ...a, path: 'sub/go.sum' }]));
  assert.match(hashDependencyFiles([a]), /^[0-9a-f]{32}$/);
});

test('runner platform comes from the runner, else from Node', () => {
  assert.deepEqual(runnerPlatform({ RUNNER_OS: 'Windows', RUNNER_ARCH: 'ARM64' }), { runnerOs: 'Windows', runnerArch: 'ARM64' });
  const own = runnerPlatform({});
  assert.ok(own.runnerOs.length > 0 && own.runnerArch === process.arch.toUpperCase());
});

test('dependency files: go.sum and go.work.sum by default, go.mod without them, globs when given', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-deps-'));
  try {
    fs.writeFileSync(path.join(dir, 'go.mod'), 'module x\n');
    assert.deepEqual(await dependencyFiles(dir, []), [path.join(dir, 'go.mod')]);
    fs.writeFileSync(path.join(dir, 'go.sum'), '');
    fs.writeFileSync(path.join(dir, 'go.work.sum'), '');
    assert.deepEqual(await dependencyFiles(dir, []), [path.join(dir, 'go.sum'), path.join(dir, 'go.work.sum')]);
    fs.mkdirSync(path.join(dir, 'svc', 'a'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'svc', 'b'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'svc', 'a', 'go.sum'), '');
    fs.writeFileSync(path.join(dir, 'svc', 'b', 'go.sum'), '');
    assert.deepEqual(await dependencyFiles(dir, ['svc/**/go.sum', '!svc/b/**']), [path.join(dir, 'svc', 'a', 'go.sum')]);
    assert.deepEqual(await dependencyFiles(dir, ['nothing/*.sum']), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('module cache trimming keeps what the build list selects, spelled as the cache spells it', () => {
  assert.equal(escapeModulePath('github.com/BurntSushi/toml'), 'github.com/!burnt!sushi/toml');
  const cached = [
    { escapedPath: 'github.com/!burnt!sushi/toml', escapedVersion: 'v1.4.0' },
    { escapedPath: 'github.com/!burnt!sushi/toml', escapedVersion: 'v1.3.2' },
    { escapedPath: 'golang.org/x/net', escapedVersion: 'v0.43.0' },
  ];
  assert.deepEqual(unusedModules(cached, ['github.com/BurntSushi/toml@v1.4.0', 'golang.org/x/net@v0.43.0']), [cached[1]]);
  assert.deepEqual(unusedModules(cached, []), cached);
});

test('build cache trimming drops what was not touched since the restore', () => {
  const since = 1_000_000;
  const entries = [
    { path: 'a', mtimeMs: since - 7_200_000 },
    { path: 'b', mtimeMs: since + 5 },
    { path: 'c', mtimeMs: since },
  ];
  assert.deepEqual(unusedBuildCacheEntries(entries, since), ['a']);
});

test('inputs: cache is on by default, a boolean, and cache-dependency-path is one glob per line', () => {
  const parse = (inputs: Record<string, string>) =>
    parseInputs((name) => inputs[name] ?? '', { GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567' }, os.tmpdir());
  const plain = parse({ 'app-name': 'site' });
  assert.equal(plain.cache, true);
  assert.deepEqual(plain.cacheDependencyPath, []);
  const set = parse({ 'app-name': 'site', cache: 'false', 'cache-dependency-path': 'api/go.sum\n# a comment\n\n  tools/go.sum  \n' });
  assert.equal(set.cache, false);
  assert.deepEqual(set.cacheDependencyPath, ['api/go.sum', 'tools/go.sum']);
  assert.throws(() => parse({ 'app-name': 'site', cache: 'sometimes' }), (err: unknown) => err instanceof InputError && /cache: "sometimes" is not a boolean/.test(err.message));
});

test('the summary rows say what was restored and saved, with times and sizes', () => {
  const rows = goCacheRows({ outcome: 'miss', key: 'k-1', restoreSeconds: 0.25, restoredBytes: undefined, saved: true, saveSeconds: 7.5, savedBytes: 300 * 1048576 });
  assert.deepEqual(rows, [
    ['Go cache restore', 'nothing cached yet for k-1 (0.3 s)'],
    ['Go cache save', 'saved k-1 (7.5 s, 300.0 MiB)'],
  ]);
  const hit = goCacheRows({ outcome: 'hit', key: 'k-1', matchedKey: 'k-1', restoreSeconds: 3, restoredBytes: 1048576, saved: false, saveNote: 'the entry k-1 already holds them' });
  assert.deepEqual(hit, [
    ['Go cache restore', 'restored k-1 (3.0 s, 1.0 MiB)'],
    ['Go cache save', 'not saved: the entry k-1 already holds them'],
  ]);
});

// --- the sandbox service with the real client ------------------------------------------------

let service: CacheService;
let work: string;
const savedEnv = { ...process.env };

before(async () => {
  service = await startCacheService();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-cachesvc-'));
  Object.assign(process.env, service.env(), { GITHUB_WORKSPACE: work, RUNNER_TEMP: path.join(work, 'tmp') });
  delete process.env.GITHUB_SERVER_URL;
  fs.mkdirSync(path.join(work, 'tmp'));
});

after(async () => {
  await service.close();
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
  fs.rmSync(work, { recursive: true, force: true });
});

function fillFolder(dir: string, files: Record<string, string>): void {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
  }
}

test('@actions/cache saves to and restores from the sandbox service: exact key, newest prefix, version, duplicates', async () => {
  assert.equal(cache.isFeatureAvailable(), true);
  const dir = path.join(work, 'data');
  fillFolder(dir, { 'one.txt': 'first\n', 'sub/two.txt': 'x'.repeat(200_000) });
  const id = await cache.saveCache([dir], 'k-linux-aaa');
  assert.ok(id > 0, `saved with id ${id}`);
  assert.deepEqual(service.calls.slice(-2), ['CreateCacheEntry', 'FinalizeCacheEntryUpload']);
  assert.ok(service.storedBytes() > 0 && service.storedBytes() < 200_000, 'the archive is compressed');

  fillFolder(dir, { 'one.txt': 'second\n' });
  assert.ok((await cache.saveCache([dir], 'k-linux-bbb')) > 0);

  // The same key again: the service refuses it and the client says so without failing.
  assert.equal(await cache.saveCache([dir], 'k-linux-bbb'), -1);

  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(await cache.restoreCache([dir], 'k-linux-aaa', ['k-linux-']), 'k-linux-aaa');
  assert.equal(fs.readFileSync(path.join(dir, 'one.txt'), 'utf8'), 'first\n');
  assert.equal(fs.statSync(path.join(dir, 'sub', 'two.txt')).size, 200_000);

  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(await cache.restoreCache([dir], 'k-linux-ccc', ['k-linux-']), 'k-linux-bbb', 'the newest entry with the prefix');
  assert.equal(fs.readFileSync(path.join(dir, 'one.txt'), 'utf8'), 'second\n');

  assert.equal(await cache.restoreCache([dir], 'k-mac-aaa', ['k-mac-']), undefined);
  // Other paths make another version: no match even for the same key.
  assert.equal(await cache.restoreCache([path.join(work, 'elsewhere')], 'k-linux-aaa'), undefined);
});

test('a corrupt archive or a failing service is a miss with a warning, never a throw', async () => {
  const dir = path.join(work, 'data2');
  fillFolder(dir, { 'f.txt': 'data\n' });
  assert.ok((await cache.saveCache([dir], 'corrupt-me')) > 0);
  await service.corrupt();
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(await cache.restoreCache([dir], 'corrupt-me'), undefined);

  service.faults.rpcStatus = 401;
  try {
    assert.equal(await cache.restoreCache([dir], 'corrupt-me'), undefined);
    fillFolder(dir, { 'f.txt': 'data\n' });
    assert.equal(await cache.saveCache([dir], 'never-saved'), -1);
    assert.ok(!service.entries.some((e) => e.key === 'never-saved' && e.sizeBytes !== undefined));
  } finally {
    delete service.faults.rpcStatus;
  }
});

test('keys compared as actions/cache does: the service matches without case and answers the key as saved, and that is a hit', async () => {
  assert.equal(isExactKeyMatch('go-Linux-X64-abc', 'go-linux-x64-abc'), true);
  assert.equal(isExactKeyMatch('go-Linux-X64-abc', 'go-Linux-X64-abd'), false);
  assert.equal(isExactKeyMatch('go-Linux-X64-abc', undefined), false);
  assert.equal(isExactKeyMatch('cafe', 'café'), false, 'accents count');

  // The service: a key saved in one case is found by another, and answered as it was saved.
  const dir = path.join(work, 'cased');
  fillFolder(dir, { 'a.txt': 'a\n' });
  assert.ok((await cache.saveCache([dir], 'Cased-Linux-AAA')) > 0);
  assert.equal(await cache.saveCache([dir], 'cased-linux-aaa'), -1, 'the same key in another case already exists');
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(await cache.restoreCache([dir], 'cased-linux-aaa'), 'Cased-Linux-AAA');
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(await cache.restoreCache([dir], 'cased-linux-bbb', ['CASED-LINUX-']), 'Cased-Linux-AAA', 'prefixes too');

  // The Go cache stage: an entry saved under its key in lower case is the exact key, not a fallback.
  const app = path.join(work, 'cased-app');
  fs.mkdirSync(app, { recursive: true });
  fs.writeFileSync(path.join(app, 'go.mod'), 'module example.com/cased\n\ngo 1.21\n');
  const modCache = path.join(work, 'cased-mod');
  const buildCache = path.join(work, 'cased-build');
  const req = { goBin: 'go', goVersion: 'go1.23.4', workingDirectory: app, goos: 'windows', goarch: 'amd64', dependencyPath: [], env: { GOMODCACHE: modCache, GOCACHE: buildCache, GOFLAGS: '-mod=mod' } };
  const first = await restoreGoCache(req);
  assert.equal(first.outcome, 'miss');
  assert.match(first.key, /[A-Z]/, `the key has upper-case letters: ${first.key}`);
  fillFolder(modCache, { 'cache/download/x.txt': 'mod\n' });
  fillFolder(buildCache, { '00/entry-a': 'build\n' });
  assert.ok((await cache.saveCache([modCache, buildCache], first.key.toLowerCase())) > 0);
  fs.rmSync(modCache, { recursive: true, force: true });
  fs.rmSync(buildCache, { recursive: true, force: true });
  const second = await restoreGoCache(req);
  assert.equal(second.matchedKey, first.key.toLowerCase());
  assert.equal(second.outcome, 'hit');
  assert.equal(needsSave(second), false, 'an exact hit is not saved again');
  assert.equal(fs.readFileSync(path.join(buildCache, '00/entry-a'), 'utf8'), 'build\n');
});

test('cache-write: auto saves except from runs of untrusted events or with a read-only cache; true and false override the event', () => {
  assert.equal(cacheWriteRefusal('auto', { GITHUB_EVENT_NAME: 'push' }), undefined);
  assert.equal(cacheWriteRefusal('auto', {}), undefined);
  for (const event of ['pull_request', 'pull_request_target', 'workflow_run', 'issue_comment']) {
    const refused = cacheWriteRefusal('auto', { GITHUB_EVENT_NAME: event });
    assert.match(refused?.reason ?? '', new RegExp(`started by a ${event} event, .* set cache-write: true to save`), event);
    assert.equal(refused?.notice, false);
    assert.equal(cacheWriteRefusal('true', { GITHUB_EVENT_NAME: event }), undefined, `${event} with cache-write: true`);
  }
  assert.equal(cacheWriteRefusal('false', { GITHUB_EVENT_NAME: 'push' })?.reason, 'cache-write is false');
  assert.deepEqual(cacheWriteRefusal('true', { ACTIONS_CACHE_MODE: 'read' }), { reason: 'the runner gives this run no write access to the cache (ACTIONS_CACHE_MODE=read)', notice: true });
  assert.equal(cacheWriteRefusal('auto', { ACTIONS_CACHE_MODE: 'write' }), undefined);

  const parse = (inputs: Record<string, string>) =>
    parseInputs((name) => inputs[name] ?? '', { GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567' }, os.tmpdir());
  assert.equal(parse({ 'app-name': 'site' }).cacheWrite, 'auto');
  assert.equal(parse({ 'app-name': 'site', 'cache-write': 'TRUE' }).cacheWrite, 'true');
  assert.equal(parse({ 'app-name': 'site', 'cache-write': 'false' }).cacheWrite, 'false');
  assert.throws(() => parse({ 'app-name': 'site', 'cache-write': 'sometimes' }), (err: unknown) => err instanceof InputError && /cache-write: "sometimes" is not auto, true or false/.test(err.message));
});

/** Runs `fn`, collecting what it writes to stdout (where @actions/core writes its workflow commands). */
async function capturingStdout<T>(fn: () => Promise<T>): Promise<{ value: T; out: string }> {
  const write = process.stdout.write;
  let out = '';
  process.stdout.write = ((chunk: unknown) => {
    out += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { value: await fn(), out };
  } finally {
    process.stdout.write = write;
  }
}

test('a run that may not write: an untrusted event saves nothing; a read-only token is refused by the service, said once as a notice', async () => {
  const modCache = path.join(work, 'ro', 'mod');
  const buildCache = path.join(work, 'ro', 'build');
  fillFolder(modCache, { 'cache/download/x/@v/list': 'v1.0.0\n' });
  fillFolder(buildCache, { '00/entry-a': 'compiled\n' });
  const state: GoCacheState = { outcome: 'miss', key: 'go-ro-key', restoreKeys: [], modCache, buildCache, seconds: 0 };
  const req = { goBin: 'go', goVersion: 'go1.23.4', workingDirectory: work, goos: 'windows', goarch: 'amd64', dependencyPath: [] };

  const creates = (): number => service.calls.filter((c) => c === 'CreateCacheEntry').length;
  const before = creates();
  const untrusted = await capturingStdout(() => saveGoCache({ ...req, runnerEnv: { GITHUB_EVENT_NAME: 'pull_request_target' } }, state));
  assert.equal(untrusted.value.saved, false);
  assert.match(untrusted.out, /Not saving the Go caches: this run was started by a pull_request_target event/);
  assert.doesNotMatch(untrusted.out, /::(warning|notice)::/);
  assert.equal(creates(), before, 'the service was not asked');

  process.env.ACTIONS_RUNTIME_TOKEN = service.readOnlyToken;
  try {
    // What @actions/cache itself does with the refusal: a warning (the line saveGoCache turns into a notice).
    const raw = await capturingStdout(() => cache.saveCache([modCache, buildCache], 'go-ro-raw'));
    assert.equal(raw.value, -1);
    assert.match(raw.out, /^::warning::Failed to save: .*cache write denied:/m);

    const denied = await capturingStdout(() => saveGoCache({ ...req, runnerEnv: { GITHUB_EVENT_NAME: 'push' } }, state));
    assert.equal(denied.value.saved, false);
    assert.equal(denied.out.match(/^::notice::/gm)?.length, 1, denied.out);
    assert.match(denied.out, /^::notice::Not saved the Go caches: the cache service refused the write: the token of this run may only read the cache/m);
    assert.doesNotMatch(denied.out, /::warning::/);
    assert.ok(!service.entries.some((e) => e.key.startsWith('go-ro-') && e.sizeBytes !== undefined));
    // Reading still works with that token.
    const restoreDir = path.join(work, 'ro-restore');
    fillFolder(restoreDir, { 'f.txt': 'restorable\n' });
    process.env.ACTIONS_RUNTIME_TOKEN = service.token;
    assert.ok((await cache.saveCache([restoreDir], 'go-ro-readable')) > 0);
    fs.rmSync(restoreDir, { recursive: true, force: true });
    process.env.ACTIONS_RUNTIME_TOKEN = service.readOnlyToken;
    assert.equal(await cache.restoreCache([restoreDir], 'go-ro-readable'), 'go-ro-readable');
  } finally {
    process.env.ACTIONS_RUNTIME_TOKEN = service.token;
  }
});
