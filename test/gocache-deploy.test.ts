// The Go cache end to end: the webservice fixture (gin, pgx, the Prometheus client) deployed twice,
// each time on a fresh "runner" (empty GOMODCACHE and GOCACHE at the same paths, as on hosted
// runners) against the sandbox cache service. The first deploy downloads and compiles everything
// and saves; the second restores the exact key and must build with no module download at all
// (GOPROXY=off) and no dependency compiled again. A cache service that is down leaves a cold but
// successful deploy with a warning.
//
// The first deploy downloads the fixture's modules through the Go module proxy (GOPROXY from the
// environment) unless the machine's proxy settings say otherwise, and compiles the dependency tree
// once: this file is slow by nature and runs that cold build only once.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { runAction, repoRoot, type ActionRun } from '../sandbox/runner.ts';
import { startKudu, type KuduEmulator } from '../sandbox/kudu.ts';
import { machineGoVersion, seedToolCache } from '../sandbox/gomirror.ts';
import { startCacheService, type CacheService } from '../sandbox/cache.ts';
import { removeTree } from '../src/artifact/gocache.ts';

const fixture = path.join(repoRoot, 'test', 'fixtures', 'webservice');
const SHA1 = 'c1c1c1c1c1aaaaaaaaaabbbbbbbbbbcccccccccc';
const SHA2 = 'c2c2c2c2c2aaaaaaaaaabbbbbbbbbbcccccccccc';

let kudu: KuduEmulator;
let service: CacheService;
let toolCache: string;
let runnerHome: string;

before(async () => {
  kudu = await startKudu({ siteName: 'cache-shop', appUrl: 'https://cache-shop.azurewebsites.net' });
  service = await startCacheService();
  toolCache = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-cache-toolcache-'));
  seedToolCache(toolCache);
  runnerHome = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-cache-runner-'));
});

after(async () => {
  await service.close();
  await kudu.close();
  fs.rmSync(toolCache, { recursive: true, force: true });
  removeTree(runnerHome);
});


/** A fresh runner: empty Go caches at the same paths every time. */
function freshRunner(): Record<string, string> {
  removeTree(runnerHome);
  fs.mkdirSync(runnerHome);
  return {
    HOME: runnerHome,
    GOPATH: path.join(runnerHome, 'go'),
    GOMODCACHE: path.join(runnerHome, 'go', 'pkg', 'mod'),
    GOCACHE: path.join(runnerHome, '.cache', 'go-build'),
  };
}

function deploy(sha: string, workingDirectory: string, env: Record<string, string>): Promise<ActionRun> {
  return runAction({
    inputs: {
      'app-name': 'cache-shop',
      'publish-profile': kudu.publishProfileXml(),
      'kudu-url': kudu.url,
      'working-directory': workingDirectory,
      'go-version': machineGoVersion().replace(/^go/, ''),
      // -v names every package go compiles: a warm build names none of the dependencies.
      'build-flags': '-v',
      verify: 'false',
    },
    toolCache,
    cwd: workingDirectory,
    env: { GITHUB_SHA: sha, GOFLAGS: '-mod=mod', GOWORK: 'off', ...env },
    timeoutMs: 900_000,
  });
}

const compiled = (run: ActionRun, pkg: string): boolean => run.stdout.split(/\r?\n/).some((l) => l.trim() === pkg);

test('a second deploy on a fresh runner restores the Go caches and builds warm, without the network', { timeout: 1_200_000 }, async () => {
  const first = await deploy(SHA1, fixture, { ...freshRunner(), ...service.env() });
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
  assert.equal(first.outputs['cache-hit'], 'false');
  assert.ok(compiled(first, 'github.com/gin-gonic/gin'), 'the cold build compiled gin');
  assert.match(first.stdout, /Save Go cache: done/);
  const saved = service.entries.filter((e) => e.sizeBytes !== undefined);
  assert.equal(saved.length, 1);
  assert.match(saved[0].key, /^go-azure-deploy-go-Linux-X64-go[\d.]+-windows-amd64-[0-9a-f]{32}$/);
  assert.match(first.summary, /Go cache save/);
  // The save happened before the deploy stages.
  assert.ok(first.stdout.indexOf('Save Go cache: done') < first.stdout.indexOf('Upload: done'));

  // A new runner: nothing on disk, and no module proxy to download from.
  const second = await deploy(SHA2, fixture, { ...freshRunner(), ...service.env(), GOPROXY: 'off' });
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  assert.equal(second.outputs['cache-hit'], 'true');
  assert.match(second.stdout, new RegExp(`Restored the Go caches \\([\\d.]+ MiB\\) from ${saved[0].key}`));
  assert.ok(!compiled(second, 'github.com/gin-gonic/gin'), 'the warm build compiled gin again');
  assert.ok(!compiled(second, 'github.com/jackc/pgx/v5'), 'the warm build compiled pgx again');
  assert.ok(fs.existsSync(path.join(runnerHome, 'go', 'pkg', 'mod', 'github.com', 'gin-gonic', 'gin@v1.11.0', 'gin.go')), 'gin came back from the cache');
  assert.doesNotMatch(second.stdout, /Save Go cache/, 'an exact hit saves nothing');
  assert.match(second.stdout, /Not saving the Go caches: the entry .* already holds them/);
  assert.equal(service.entries.filter((e) => e.sizeBytes !== undefined).length, 1);
  assert.match(second.summary, /Go cache restore/);
  const artifact = `cache-shop-${SHA2.slice(0, 10)}.exe`;
  assert.ok(fs.statSync(path.join(kudu.home, 'site', 'wwwroot', '_target', artifact)).size > 1_000_000);
  assert.equal(fs.readFileSync(path.join(kudu.home, 'site', 'wwwroot', '_artifact.txt'), 'utf8'), `_target\\${artifact}\r\n`);

  // Caches an earlier step already filled (actions/setup-go) are left alone.
  const lookups = service.calls.filter((c) => c === 'GetCacheEntryDownloadURL').length;
  const third = await deploy('c3c3c3c3c3aaaaaaaaaabbbbbbbbbbcccccccccc', fixture, { ...service.env(), ...runnerPaths(), GOPROXY: 'off' });
  assert.equal(third.code, 0, `${third.stdout}\n${third.stderr}`);
  assert.equal(third.outputs['cache-hit'], 'false');
  assert.match(third.stdout, /already hold files: an earlier step restored them/);
  assert.equal(service.calls.filter((c) => c === 'GetCacheEntryDownloadURL').length, lookups, 'no restore was asked for');
  assert.doesNotMatch(third.stdout, /Save Go cache/);
});

test('a pull_request_target run restores the Go caches and saves nothing; a push with a read-only token is refused once, as a notice', { timeout: 900_000 }, async () => {
  const entries = (): number => service.entries.filter((e) => e.sizeBytes !== undefined).length;
  const saved = service.entries.filter((e) => e.sizeBytes !== undefined);
  assert.ok(saved.length >= 1, 'the first test saved an entry');
  const creates = (): number => service.calls.filter((c) => c === 'CreateCacheEntry').length;
  const before = { entries: entries(), creates: creates() };
  // Another dependency file makes another key: the older entry is restored through the restore
  // key, which a trusted run would save under the new key after the build.
  const run = await deploy('e5e5e5e5e5aaaaaaaaaabbbbbbbbbbcccccccccc', fixture, { ...freshRunner(), ...service.env(), GOPROXY: 'off', GITHUB_EVENT_NAME: 'pull_request_target', 'INPUT_CACHE-DEPENDENCY-PATH': 'go.mod' });
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  assert.equal(run.outputs['cache-hit'], 'false');
  assert.match(run.stdout, /Restored the Go caches \([\d.]+ MiB\) from the older entry /);
  assert.ok(!compiled(run, 'github.com/gin-gonic/gin'), 'the restored caches were used');
  assert.match(run.stdout, /Not saving the Go caches: this run was started by a pull_request_target event, which may run code that is not the repository's/);
  assert.equal(creates(), before.creates, 'the cache service was not asked to write');
  assert.equal(entries(), before.entries);
  assert.match(run.summary, /not saved: this run was started by a pull_request_target event/);

  // A push whose token may only read: the service refuses the write, and the log says so once.
  const readOnly = await deploy('f6f6f6f6f6aaaaaaaaaabbbbbbbbbbcccccccccc', fixture, { ...freshRunner(), ...service.env({ readOnly: true }), GOPROXY: 'off', GITHUB_EVENT_NAME: 'push', 'INPUT_CACHE-DEPENDENCY-PATH': 'go.mod' });
  assert.equal(readOnly.code, 0, `${readOnly.stdout}\n${readOnly.stderr}`);
  assert.equal(creates(), before.creates + 1, 'the save was tried');
  assert.equal(entries(), before.entries);
  const notices = readOnly.stdout.split('\n').filter((l) => l.startsWith('::notice') && /cache/i.test(l));
  assert.deepEqual(notices.map((l) => /Not saved the Go caches: the cache service refused the write/.test(l)), [true], notices.join('\n'));
  assert.deepEqual(readOnly.stdout.split('\n').filter((l) => l.startsWith('::warning')), [], 'no warning');
});

function runnerPaths(): Record<string, string> {
  return {
    HOME: runnerHome,
    GOPATH: path.join(runnerHome, 'go'),
    GOMODCACHE: path.join(runnerHome, 'go', 'pkg', 'mod'),
    GOCACHE: path.join(runnerHome, '.cache', 'go-build'),
  };
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

test('a cache service that is down: a cold, successful deploy with a warning', { timeout: 600_000 }, async () => {
  // A module without dependencies keeps this cold build short.
  const app = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-cache-small-'));
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-cache-runner2-'));
  try {
    fs.writeFileSync(path.join(app, 'go.mod'), 'module example.com/small\n\ngo 1.22\n');
    fs.writeFileSync(path.join(app, 'main.go'), 'package main\n\nimport "os"\n\nfunc main() { os.Stdout.WriteString("small\\n") }\n');
    const run = await deploy('d4d4d4d4d4aaaaaaaaaabbbbbbbbbbcccccccccc', app, {
      HOME: home,
      GOPATH: path.join(home, 'go'),
      GOMODCACHE: path.join(home, 'go', 'pkg', 'mod'),
      GOCACHE: path.join(home, '.cache', 'go-build'),
      ACTIONS_RUNTIME_TOKEN: 'token',
      ACTIONS_RESULTS_URL: `http://127.0.0.1:${await closedPort()}/`,
      ACTIONS_CACHE_SERVICE_V2: 'true',
    });
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.equal(run.outputs['cache-hit'], 'false');
    assert.deepEqual(run.errors, []);
    const warnings = run.stdout.split('\n').filter((l) => l.startsWith('::warning'));
    assert.ok(warnings.some((w) => /Failed to restore.*ECONNREFUSED/.test(w)), warnings.join('\n'));
    // A save the service does not take is logged by @actions/cache and skipped.
    assert.match(run.stdout, /Failed to save: Unable to reserve cache/);
    assert.match(run.stdout, /Save Go cache: done/);
    assert.ok(fs.existsSync(path.join(kudu.home, 'site', 'wwwroot', '_target', 'cache-shop-d4d4d4d4d4.exe')));
  } finally {
    fs.rmSync(app, { recursive: true, force: true });
    removeTree(home);
  }
});
