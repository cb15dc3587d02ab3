// The toolchain stage end to end, offline: setupGo against the local Go mirror, which serves a real
// archive of this machine's Go with its true sha256. Each test gets its own RUNNER_TOOL_CACHE,
// RUNNER_TEMP, GITHUB_ENV and GITHUB_PATH. @actions/tool-cache 4 reads RUNNER_TOOL_CACHE and
// RUNNER_TEMP from process.env on every call (not at import), so setting them per test in this
// process is enough; the environment is restored after each test, since the stage changes PATH.

import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tc from '@actions/tool-cache';
import { setupGo, type Toolchain, type ToolchainRequest } from '../src/toolchain/install.ts';
import { ActionError } from '../src/common/errors.ts';
import { parseOutputFile } from '../sandbox/runner.ts';
import { WRONG_SHA256, machineGoVersion, seedToolCache, startGoMirror, toSemver, type GoMirror } from '../sandbox/gomirror.ts';
import { startTunnelProxy } from '../sandbox/tunnel.ts';

let mirror: GoMirror;
const LONG = { timeout: 180_000 };

before(async () => {
  mirror = await startGoMirror();
});
after(async () => {
  await mirror.close();
});

interface Runner {
  root: string;
  toolCache: string;
  temp: string;
  workspace: string;
  /** Everything the stage wrote to stdout (workflow commands included). */
  log: string;
  /** Variables exported through GITHUB_ENV. */
  exported(): Record<string, string>;
  /** Folders added through GITHUB_PATH. */
  paths(): string[];
}

/** Runs `body` with a fresh runner environment, capturing stdout, and restores everything after. */
async function withRunner(body: (r: Runner) => Promise<void>): Promise<void> {
  const savedEnv = { ...process.env };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-toolchain-'));
  const r: Runner = {
    root,
    toolCache: path.join(root, 'toolcache'),
    temp: path.join(root, 'temp'),
    workspace: path.join(root, 'workspace'),
    log: '',
    exported: () => parseOutputFile(fs.readFileSync(path.join(root, 'github_env'), 'utf8')),
    paths: () => fs.readFileSync(path.join(root, 'github_path'), 'utf8').split(/\r?\n/).filter(Boolean),
  };
  for (const dir of [r.toolCache, r.temp, r.workspace]) fs.mkdirSync(dir);
  fs.writeFileSync(path.join(root, 'github_env'), '');
  fs.writeFileSync(path.join(root, 'github_path'), '');
  Object.assign(process.env, {
    RUNNER_TOOL_CACHE: r.toolCache,
    RUNNER_TEMP: r.temp,
    GITHUB_ENV: path.join(root, 'github_env'),
    GITHUB_PATH: path.join(root, 'github_path'),
  });
  for (const k of ['GOTOOLCHAIN', 'GOROOT', 'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy']) delete process.env[k];
  const write = process.stdout.write;
  // @actions/core writes its log lines and workflow commands as strings; the test runner's own
  // reports to the parent process are binary, and must pass through untouched.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk !== 'string') return (write as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
    r.log += chunk;
    return true;
  }) as typeof process.stdout.write;
  mirror.faults = {};
  mirror.requests.length = 0;
  try {
    await body(r);
  } finally {
    process.stdout.write = write;
    for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
    Object.assign(process.env, savedEnv);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

function request(r: Runner, over: Partial<ToolchainRequest>): ToolchainRequest {
  return {
    goVersion: '',
    goVersionFile: path.join(r.workspace, 'go.mod'),
    goVersionFileExplicit: false,
    downloadBaseUrl: mirror.baseUrl,
    checkLatest: false,
    retryBaseDelayMs: 20,
    ...over,
  };
}

function setup(r: Runner, over: Partial<ToolchainRequest>): Promise<Toolchain> {
  return setupGo(request(r, over), new AbortController().signal);
}

async function failure(r: Runner, over: Partial<ToolchainRequest>): Promise<ActionError> {
  try {
    await setup(r, over);
  } catch (err) {
    assert.ok(err instanceof ActionError, `expected an ActionError, got ${String((err as Error)?.stack ?? err)}`);
    return err;
  }
  assert.fail('setupGo succeeded');
}

const machine = machineGoVersion();
const machineSemver = toSemver(machine);
const arch = process.arch;

/** Everything under a folder, relative names. */
function tree(dir: string): string[] {
  return fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).sort() : [];
}

test('cold install from the mirror, then a cache hit with no network at all', LONG, async () => {
  await withRunner(async (r) => {
    const cold = await setup(r, { goVersion: machineSemver });
    const cacheDir = path.join(r.toolCache, 'go', machineSemver, arch);
    assert.deepEqual(cold, { goRoot: cacheDir, goBin: path.join(cacheDir, 'bin', 'go'), version: machine, cacheHit: false });
    assert.ok(fs.existsSync(`${cacheDir}.complete`), 'the tool-cache marker is written');
    assert.equal(tc.find('go', machineSemver, arch), cacheDir, '@actions/tool-cache finds the install');
    assert.deepEqual(tc.findAllVersions('go', arch), [machineSemver]);
    assert.deepEqual(fs.readdirSync(path.join(r.toolCache, 'go', machineSemver)).sort(), [arch, `${arch}.complete`], 'no staging folder left');
    assert.deepEqual(tree(r.temp), [], 'the download is removed after install');
    assert.equal(mirror.listingRequests(), 1);
    assert.equal(mirror.archiveRequests(), 1);
    assert.match(r.log, new RegExp(`Verified sha256 ${mirror.sha256}`));

    // The installed tree is a working, self-contained toolchain.
    const env = { ...process.env, GOTOOLCHAIN: 'local', GOROOT: '' };
    assert.equal(execFileSync(cold.goBin, ['version'], { encoding: 'utf8', env }).split(' ')[2], machine);
    assert.equal(execFileSync(cold.goBin, ['env', 'GOROOT'], { encoding: 'utf8', env }).trim(), cacheDir);

    // Exported for later steps (GITHUB_ENV / GITHUB_PATH) and for later stages in this process.
    assert.equal(r.exported().GOTOOLCHAIN, 'local');
    assert.deepEqual(r.paths(), [path.join(cacheDir, 'bin')]);
    assert.equal(process.env.GOTOOLCHAIN, 'local');
    assert.equal(process.env.PATH?.split(path.delimiter)[0], path.join(cacheDir, 'bin'));

    mirror.requests.length = 0;
    const started = performance.now();
    const warm = await setup(r, { goVersion: machineSemver });
    const ms = performance.now() - started;
    assert.deepEqual(warm, { ...cold, cacheHit: true });
    assert.deepEqual(mirror.requests, [], 'a cache hit asks nothing of the network');
    assert.ok(ms < 5000, `a cache hit took ${ms} ms`);
  });
});

test('resolution forms the tool cache can answer need no network', LONG, async () => {
  await withRunner(async (r) => {
    seedToolCache(r.toolCache);
    const [maj, min] = machineSemver.split('.');
    for (const spec of [machineSemver, `go${machineSemver}`, `${maj}.${min}`, `^${maj}.${min}`, `>=${maj}.${Number(min) - 5} <${maj}.${Number(min) + 1}`, `${maj}.${min}.x`]) {
      const go = await setup(r, { goVersion: spec });
      assert.equal(go.cacheHit, true, spec);
      assert.equal(go.version, machine, spec);
      assert.equal(go.goRoot, path.join(r.toolCache, 'go', machineSemver, arch), spec);
    }
    assert.deepEqual(mirror.requests, []);
  });
});

test('stable asks the listing, then uses the cached toolchain', LONG, async () => {
  await withRunner(async (r) => {
    seedToolCache(r.toolCache);
    const go = await setup(r, { goVersion: 'stable' });
    assert.equal(go.version, machine);
    assert.equal(go.cacheHit, true);
    assert.equal(mirror.listingRequests(), 1);
    assert.equal(mirror.archiveRequests(), 0);
  });
});

test('oldstable resolves to the newest patch of the previous line', LONG, async () => {
  await withRunner(async (r) => {
    const previousLine = mirror.listing.find((rel) => rel.stable && toSemver(rel.version).split('.')[1] !== machineSemver.split('.')[1])!;
    // Files it under that version so the stage finds it; the tree is this machine's Go.
    seedToolCache(r.toolCache, { as: previousLine.version });
    const go = await setup(r, { goVersion: 'oldstable' });
    assert.equal(go.goRoot, path.join(r.toolCache, 'go', toSemver(previousLine.version), arch));
    assert.equal(go.cacheHit, true);
    assert.match(r.log, new RegExp(`::warning::The toolchain at .* reports ${machine}, but it was installed as ${previousLine.version}`));
  });
});

test('a pre-release is found in the cache under its semver name (1.xx.0-rc.1)', LONG, async () => {
  await withRunner(async (r) => {
    const rc = mirror.listing.find((rel) => /rc1$/.test(rel.version))!.version; // e.g. go1.27rc1
    const dir = seedToolCache(r.toolCache, { as: rc });
    assert.match(dir, /-rc\.1/);
    const go = await setup(r, { goVersion: rc.replace(/^go/, '') });
    assert.equal(go.goRoot, dir);
    assert.deepEqual(mirror.requests, []);
  });
});

test('a pre-release not in the cache is resolved on the listing and fetched by its own name', LONG, async () => {
  await withRunner(async (r) => {
    const err = await failure(r, { goVersion: '1.27beta1'.replace('27', String(Number(machineSemver.split('.')[1]) + 1)) });
    const name = `go1.${Number(machineSemver.split('.')[1]) + 1}beta1.linux-amd64.tar.gz`;
    // The mirror has the real archive only for this machine's Go; every other listed file is 404.
    assert.match(err.message, new RegExp(`${name.replace(/\./g, '\\.')} answered HTTP 404 Not Found`));
  });
});

test('check-latest looks past an older cached patch and installs the newest', LONG, async () => {
  await withRunner(async (r) => {
    const older = mirror.listing.find((rel) => rel.stable && rel.version !== machine && toSemver(rel.version).split('.')[1] === machineSemver.split('.')[1]);
    if (older === undefined) return; // this machine's Go is x.y.0: no older patch to cache
    seedToolCache(r.toolCache, { as: older.version });
    const line = machineSemver.split('.').slice(0, 2).join('.');
    const cached = await setup(r, { goVersion: line });
    assert.equal(cached.goRoot, path.join(r.toolCache, 'go', toSemver(older.version), arch), 'without check-latest the cached patch wins');
    assert.deepEqual(mirror.requests, []);
    const latest = await setup(r, { goVersion: line, checkLatest: true });
    assert.equal(latest.cacheHit, false);
    assert.equal(latest.goRoot, path.join(r.toolCache, 'go', machineSemver, arch));
    assert.equal(latest.version, machine);
    assert.equal(mirror.archiveRequests(), 1);
  });
});

test('version files: go.mod toolchain line, go line, go.work, .go-version, .tool-versions', LONG, async () => {
  await withRunner(async (r) => {
    seedToolCache(r.toolCache);
    const [, min] = machineSemver.split('.');
    const cases: Array<[string, string]> = [
      ['go.mod', `module example.com/app\n\ngo 1.20\n\ntoolchain ${machine}\n`],
      ['go.mod', `module example.com/app\n\ngo ${machineSemver}\n`],
      ['go.mod', `module example.com/app\n\ngo 1.${min}\n`],
      ['go.work', `go 1.${min}\n\nuse ./app\n`],
      ['.go-version', `${machineSemver}\n`],
      ['.tool-versions', `nodejs 24.0.0\ngolang ${machineSemver}\n`],
    ];
    for (const [name, content] of cases) {
      const file = path.join(r.workspace, name);
      fs.writeFileSync(file, content);
      const go = await setup(r, { goVersionFile: file, goVersionFileExplicit: name !== 'go.mod' });
      assert.equal(go.version, machine, `${name}: ${content}`);
      assert.equal(go.cacheHit, true, name);
      fs.rmSync(file);
    }
    assert.deepEqual(mirror.requests, [], 'the toolchain line won over "go 1.20" (not cached, would need the network)');
  });
});

test('the go line is read exactly: go 1.x.y asks for that very release', LONG, async () => {
  await withRunner(async (r) => {
    const other = mirror.listing.find((rel) => rel.stable && !rel.version.startsWith(machine.split('.').slice(0, 2).join('.')))!;
    fs.writeFileSync(path.join(r.workspace, 'go.mod'), `module m\n\ngo ${toSemver(other.version)}\n`);
    const err = await failure(r, {});
    assert.match(err.message, new RegExp(`/${other.version.replace(/\./g, '\\.')}\\.linux-amd64\\.tar\\.gz answered HTTP 404`));
  });
});

test('go-version wins over the version file, with a notice', LONG, async () => {
  await withRunner(async (r) => {
    seedToolCache(r.toolCache);
    fs.writeFileSync(path.join(r.workspace, 'go.mod'), 'module m\n\ngo 1.20\n');
    const go = await setup(r, { goVersion: machineSemver });
    assert.equal(go.version, machine);
    assert.match(r.log, new RegExp(`::notice::go-version \\(${machineSemver.replace(/\./g, '\\.')}\\) wins over go\\.mod \\(1\\.20\\)`));
  });
});

test('no go-version and no go.mod, or a missing explicit version file: clear errors', LONG, async () => {
  await withRunner(async (r) => {
    const none = await failure(r, {});
    assert.match(none.message, /go-version is not set and there is no go\.mod at .*workspace\/go\.mod\. Set go-version, or add a go\.mod/);
    const missing = path.join(r.workspace, 'build', '.go-version');
    const explicit = await failure(r, { goVersionFile: missing, goVersionFileExplicit: true });
    assert.ok(explicit.message.startsWith(`go-version-file: ${missing} does not exist.`), explicit.message);
    fs.writeFileSync(path.join(r.workspace, 'go.mod'), 'module m\n\ngo banana\n');
    const bad = await failure(r, {});
    assert.match(bad.message, /go-version-file go\.mod \(the go line of go\.mod\): "banana" is not a Go version/);
    assert.deepEqual(mirror.requests, []);
  });
});

test('a version that exists nowhere names the nearest ones', LONG, async () => {
  await withRunner(async (r) => {
    const line = machineSemver.split('.').slice(0, 2).join('.');
    const err = await failure(r, { goVersion: `${line}.99` });
    assert.match(err.message, new RegExp(`Go ${line.replace('.', '\\.')}\\.99 \\(go-version\\) was not found: the listing at ${mirror.baseUrl} has no release matches`));
    assert.ok(err.message.includes(`The nearest available: ${machine}, `), err.message);
    assert.equal(mirror.archiveRequests(), 0);
  });
});

for (const [fault, what] of [['corruptArchive', 'a corrupted archive'], ['wrongListedSha256', 'a wrong sha256 in the listing']] as const) {
  test(`sha256 mismatch (${what}): fails naming the file and both hashes, deletes the download, caches nothing`, LONG, async () => {
    await withRunner(async (r) => {
      mirror.faults = { [fault]: true };
      const err = await failure(r, { goVersion: machineSemver });
      const listed = fault === 'wrongListedSha256' ? WRONG_SHA256 : mirror.sha256;
      assert.ok(err.message.startsWith(`sha256 mismatch for ${mirror.archiveName} from ${mirror.baseUrl}/${mirror.archiveName}`), err.message);
      assert.ok(err.message.includes(`the listing says ${listed}`), err.message);
      const actual = /the download is ([0-9a-f]{64})/.exec(err.message)?.[1];
      assert.ok(actual !== undefined && actual !== listed, err.message);
      if (fault === 'wrongListedSha256') assert.equal(actual, mirror.sha256, 'the hash is of the bytes received');
      assert.deepEqual(tree(r.temp), [], 'the download is deleted');
      assert.deepEqual(tree(r.toolCache), [], 'nothing is cached');
      assert.equal(mirror.archiveRequests(), 1, 'a mismatch is not retried');
      assert.equal(process.env.GOTOOLCHAIN, undefined, 'nothing is exported');
    });
  });
}

test('404 for the archive is not retried and says what to check', LONG, async () => {
  await withRunner(async (r) => {
    mirror.faults = { archiveNotFound: true };
    const err = await failure(r, { goVersion: machineSemver });
    assert.equal(
      err.message,
      `${mirror.baseUrl}/${mirror.archiveName} answered HTTP 404 Not Found, though the listing names ${mirror.archiveName}. ` +
        'Check go-download-base-url: a mirror must serve the archives as well as the listing.',
    );
    assert.equal(mirror.archiveRequests(), 1);
    assert.deepEqual(tree(r.toolCache), []);
    assert.deepEqual(tree(r.temp), []);
  });
});

test('a wrong download base URL (listing 404) names the listing URL and the input', LONG, async () => {
  await withRunner(async (r) => {
    const err = await failure(r, { goVersion: machineSemver, downloadBaseUrl: `${mirror.baseUrl}/golang` });
    assert.match(err.message, new RegExp(`listing ${mirror.baseUrl}/golang/\\?mode=json&include=all answered HTTP 404 Not Found\\. Check go-download-base-url`));
    assert.equal(mirror.requests.length, 1);
  });
});

test('a 5xx answer and a connection dropped mid-download are retried, and the install succeeds', LONG, async () => {
  await withRunner(async (r) => {
    // The first archive request gets 503, the second is cut off after 5 MB, the third completes.
    mirror.faults = { archiveStatus: 503, archiveStatusTimes: 1, dropAfterBytes: 5_000_000, dropTimes: 1 };
    const go = await setup(r, { goVersion: machineSemver });
    assert.equal(go.version, machine);
    assert.equal(go.cacheHit, false);
    const archive = mirror.requests.filter((q) => q.path === `/${mirror.archiveName}`);
    assert.deepEqual(archive.map((q) => [q.status, q.dropped]), [[503, false], [200, true], [200, false]]);
    assert.equal(archive[1].bytes, 5_000_000);
    assert.equal(archive[2].bytes, mirror.size);
    assert.match(r.log, /: HTTP 503; retrying/);
    assert.match(r.log, /the connection dropped after \d+ of \d+ bytes; retrying/);
    assert.deepEqual(tree(r.temp), []);
    assert.ok(fs.existsSync(path.join(go.goRoot, `../${arch}.complete`)));
  });
});

test('a connection that always drops fails clearly after the retries, leaving nothing behind', LONG, async () => {
  await withRunner(async (r) => {
    mirror.faults = { dropAfterBytes: 1_000_000, dropTimes: Infinity };
    const err = await failure(r, { goVersion: machineSemver });
    assert.match(err.message, new RegExp(`Downloading ${mirror.baseUrl}/${mirror.archiveName} kept failing \\(the connection dropped after \\d+ of ${mirror.size} bytes\\), retries exhausted`));
    assert.equal(mirror.archiveRequests(), 5);
    assert.deepEqual(tree(r.temp), []);
    assert.deepEqual(tree(r.toolCache), []);
  });
});

test('the listing failing with 5xx every time ends in a clear error after the retries', LONG, async () => {
  await withRunner(async (r) => {
    mirror.faults = { listingStatus: 503 };
    const err = await failure(r, { goVersion: 'stable' });
    assert.match(err.message, new RegExp(`listing ${mirror.baseUrl}/\\?mode=json&include=all kept failing \\(HTTP 503\\), retries exhausted`));
    assert.equal(mirror.listingRequests(), 5);
  });
});

test('HTTP_PROXY is honoured for the listing and the archive, sent to the proxy in absolute form (a proxy may allow CONNECT to 443 only)', LONG, async () => {
  // The mirror is addressed by a made-up name, since proxies are bypassed for loopback addresses;
  // the proxy alone knows it means the mirror.
  const proxy = await startTunnelProxy(() => Number(new URL(mirror.baseUrl).port), { connectPorts: [443] });
  try {
    await withRunner(async (r) => {
      process.env.HTTP_PROXY = proxy.url;
      const go = await setup(r, { goVersion: machineSemver, downloadBaseUrl: 'http://go-mirror.example' });
      assert.equal(go.version, machine);
      assert.deepEqual(proxy.tunnels, []);
      assert.deepEqual(
        proxy.forwarded.map((f) => new URL(f.url).host),
        ['go-mirror.example', 'go-mirror.example'],
      );
      assert.equal(mirror.listingRequests(), 1);
      assert.equal(mirror.archiveRequests(), 1);
    });
  } finally {
    await proxy.close();
  }
});

/**
 * A download site that answers as go.dev/dl does: the listing itself, and `302 Location:
 * https://dl.google.com/go/<file>` for an archive, here the mirror under another host name
 * (another origin), or where `location` says. Records the Authorization header of each request.
 */
async function startRedirectingSite(location?: (path: string) => string): Promise<{ url: string; seen: { path: string; authorization?: string }[]; close(): Promise<void> }> {
  const mirrorPort = new URL(mirror.baseUrl).port;
  const seen: { path: string; authorization?: string }[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ path: req.url ?? '', authorization: req.headers.authorization });
    if ((req.url ?? '').startsWith('/?')) {
      http
        .get(`${mirror.baseUrl}${req.url}`, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        })
        .on('error', () => res.destroy());
      return;
    }
    res.writeHead(302, { location: location?.(req.url ?? '/') ?? `http://localhost:${mirrorPort}${req.url}` }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('an archive the download site redirects to another host (as go.dev/dl does) is fetched, verified and cached', LONG, async () => {
  const site = await startRedirectingSite();
  try {
    await withRunner(async (r) => {
      const go = await setup(r, { goVersion: machineSemver, downloadBaseUrl: site.url });
      assert.equal(go.version, machine);
      assert.equal(go.cacheHit, false);
      assert.deepEqual(site.seen.map((s) => s.path), ['/?mode=json&include=all', `/${mirror.archiveName}`]);
      assert.equal(mirror.archiveRequests(), 1);
      assert.ok(r.log.includes(`${site.url}/${mirror.archiveName} redirected to http://localhost:${new URL(mirror.baseUrl).port}/${mirror.archiveName}`), r.log);
      assert.ok(fs.existsSync(path.join(r.toolCache, 'go', machineSemver, `${arch}.complete`)));
    });
  } finally {
    await site.close();
  }
});

test('a redirect the download may not follow (to another scheme) fails naming go-download-base-url, and caches nothing', LONG, async () => {
  const site = await startRedirectingSite((p) => `ftp://localhost${p}`);
  try {
    await withRunner(async (r) => {
      const err = await failure(r, { goVersion: machineSemver, downloadBaseUrl: site.url });
      assert.match(err.message, /^go-download-base-url: GET .* redirected to ftp: \(ftp:\/\/localhost\/.*\), which is not http\(s\); not followed\. Point go-download-base-url at a download site/);
      assert.equal(fs.existsSync(path.join(r.toolCache, 'go', machineSemver)), false);
    });
  } finally {
    await site.close();
  }
});

test('a redirect to a tampered archive fails on the sha256 and caches nothing', LONG, async () => {
  const site = await startRedirectingSite();
  try {
    await withRunner(async (r) => {
      mirror.faults = { corruptArchive: true };
      const err = await failure(r, { goVersion: machineSemver, downloadBaseUrl: site.url });
      assert.ok(err.message.startsWith(`sha256 mismatch for ${mirror.archiveName} from ${site.url}/${mirror.archiveName}`), err.message);
      assert.equal(mirror.archiveRequests(), 1, 'the redirected file was the one hashed');
      assert.deepEqual(tree(r.temp), []);
      assert.deepEqual(tree(r.toolCache), []);
    });
  } finally {
    await site.close();
  }
});

test('an http go-download-base-url is warned about: its listing carries the sha256 over the same plain connection', LONG, async () => {
  await withRunner(async (r) => {
    seedToolCache(r.toolCache);
    await setup(r, { goVersion: 'stable' });
    const warnings = r.log.split('\n').filter((l) => l.startsWith('::warning::'));
    assert.equal(warnings.length, 1, r.log);
    assert.match(warnings[0], new RegExp(`^::warning::go-download-base-url \\(${mirror.baseUrl.replace(/[.]/g, '\\.')}\\) is not https: .*Use an https URL for the mirror\\.$`));
  });
});

test('two jobs installing into one tool cache at once: the first complete install is kept, the later copy discarded', LONG, async () => {
  await withRunner(async (r) => {
    const versionDir = path.join(r.toolCache, 'go', machineSemver);
    const dest = path.join(versionDir, arch);
    const marker = `${dest}.complete`;
    // Notes the install folder as it was when it first became complete: what another job's build
    // would be using from then on.
    let firstComplete: number | undefined;
    let done = false;
    const watching = (async () => {
      while (!done) {
        if (firstComplete === undefined && fs.existsSync(marker)) firstComplete = fs.statSync(path.join(dest, 'bin', 'go')).ino;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    const jobs = await Promise.all([setup(r, { goVersion: machineSemver }), setup(r, { goVersion: machineSemver })]).finally(() => (done = true));
    await watching;
    assert.equal(mirror.archiveRequests(), 2, 'both jobs downloaded and extracted');
    assert.ok(firstComplete !== undefined);
    assert.equal(fs.statSync(path.join(dest, 'bin', 'go')).ino, firstComplete, 'the complete install was not replaced');
    for (const job of jobs) {
      assert.equal(job.goRoot, dest);
      assert.equal(job.version, machine);
    }
    assert.match(r.log, /Another job installed .* meanwhile; using it and discarding this copy\./);
    assert.deepEqual(fs.readdirSync(versionDir).sort(), [arch, `${arch}.complete`], 'no staging copy is left');
    assert.deepEqual(tree(r.temp), []);
  });
});
