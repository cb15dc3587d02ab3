// Build once, deploy many, end to end on the sandbox: a build-only run (sandbox/runner.ts), then its
// package deployed to two sites and to a slot, each with its own Kudu home, all running the same
// bytes; no toolchain or build stage runs in a deploy. A tampered package (a byte of the zip, an
// edited manifest, another target) is refused before Kudu sees a single request.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { runAction, repoRoot, type ActionRun } from '../sandbox/runner.ts';
import { startAppService, type AppService } from '../sandbox/appservice.ts';
import { startInternet, type Internet } from '../sandbox/internet.ts';
import { machineGoVersion, seedToolCache, toSemver } from '../sandbox/gomirror.ts';
import { snapshotTree } from '../sandbox/fixture.ts';
import { parseRecord } from '../src/site/record.ts';
import { MANIFEST_FILE, type PackageManifest } from '../src/artifact/manifest.ts';
import { contentHash, packageArtifact } from '../src/artifact/pack.ts';
import { writeManifest } from '../src/artifact/prebuilt.ts';

const goarch = process.arch === 'arm64' ? 'arm64' : 'amd64';
const otherArch = goarch === 'amd64' ? 'arm64' : 'amd64';
const commit = randomBytes(20).toString('hex');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-package-'));
const toolCache = path.join(scratch, 'toolcache');
seedToolCache(toolCache);

let internet: Internet;
let west: AppService;
let east: AppService;
let staging: AppService;

before(async () => {
  internet = await startInternet();
  // No Go download site on this internet at all: a package deploy never fetches a toolchain.
  const site = (siteName: string, slot?: string): Promise<AppService> =>
    startAppService({ siteName, slot, internet, goMirror: false, home: fs.mkdtempSync(path.join(scratch, `home-${siteName}-`)), env: { EXAMPLE_POLL_MS: '250' } });
  west = await site('shop-westeurope');
  east = await site('shop-eastus');
  staging = await site('shop-prod', 'staging');
});

after(async () => {
  for (const s of [west, east, staging]) await s?.close();
  await internet?.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const log = (r: ActionRun): string => `${r.stdout}\n${r.stderr}`;
const sha256 = (file: string): string => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
/** The stage names the run printed as log groups (src/common/report.ts, StageLog). */
const groups = (r: ActionRun): string[] => [...r.stdout.matchAll(/^::group::(.+)$/gm)].map((m) => m[1].trim());

function buildOnly(extra: Record<string, string> = {}): Promise<ActionRun> {
  return runAction({
    inputs: {
      'build-only': 'true',
      'artifact-prefix': 'shop',
      'go-version': toSemver(machineGoVersion()),
      'working-directory': 'example',
      goos: 'linux',
      goarch,
      commit,
      ...extra,
    },
    toolCache,
    cwd: repoRoot,
  });
}

function deployPackage(site: AppService, pkg: string, extra: Record<string, string> = {}, env: Record<string, string> = {}): Promise<ActionRun> {
  return runAction({
    inputs: {
      'app-name': site.siteName,
      ...(site.slot !== undefined ? { 'slot-name': site.slot } : {}),
      'publish-profile': site.publishProfile,
      'from-package': pkg,
      goos: 'linux',
      goarch,
      'verify-timeout-seconds': '30',
      'timeout-seconds': '120',
      ...extra,
    },
    // The deploy jobs run in the build's workflow run: the same commit (a package of another commit
    // is refused unless the commit input names it, below).
    env: { ...site.env, GITHUB_SHA: commit, GITHUB_REPOSITORY: 'octo/shop', GITHUB_RUN_ID: '700', ...env },
    cwd: scratch,
  });
}

/** A copy of the package folder to tamper with. */
function copyPackage(from: string): string {
  const to = fs.mkdtempSync(path.join(scratch, 'tampered-'));
  fs.cpSync(from, to, { recursive: true });
  return to;
}

let packagePath = '';
let manifest: PackageManifest;
/** The binary the build-only run built, for the forged packages below. */
let builtBinary = '';

test('build-only writes a package and a manifest; its deploys to two sites and a slot run the same bytes, with no toolchain or build stage', { timeout: 600_000 }, async () => {
  const built = await buildOnly();
  assert.equal(built.code, 0, log(built));
  packagePath = built.outputs['package-path'];
  const name = `shop-${commit.slice(0, 10)}`;
  assert.equal(built.outputs['artifact-name'], name);
  assert.deepEqual(groups(built), ['Go toolchain', 'Restore Go cache', 'Build', 'Content hash', 'Package'], 'build-only signs in nowhere');
  assert.deepEqual(fs.readdirSync(packagePath).sort(), [MANIFEST_FILE, `${name}.zip`]);
  manifest = JSON.parse(fs.readFileSync(path.join(packagePath, MANIFEST_FILE), 'utf8')) as PackageManifest;
  builtBinary = built.outputs['artifact-path'];
  const builtSha = sha256(builtBinary);
  assert.equal(manifest.artifact, name);
  assert.equal(manifest.commit, commit);
  assert.deepEqual(manifest.target, { goos: 'linux', goarch });
  assert.equal(manifest.zip.sha256, sha256(path.join(packagePath, `${name}.zip`)));
  // A linux build has no .exe, so its include folder would take the binary's name: the include
  // files are covered with a windows build in test/manifest.test.ts.
  assert.deepEqual(manifest.files.map((f) => f.path), [name]);
  assert.equal(manifest.files[0].sha256, builtSha);
  assert.equal(manifest.content, built.outputs['content-hash']);
  const manifestSha = sha256(path.join(packagePath, MANIFEST_FILE));

  for (const site of [west, east, staging]) {
    const run = await deployPackage(site, packagePath);
    assert.equal(run.code, 0, log(run));
    const stages = groups(run);
    for (const skipped of ['Go toolchain', 'Restore Go cache', 'Save Go cache', 'Build', 'Content hash', 'Package']) assert.ok(!stages.includes(skipped), `${site.siteName}: ${skipped} ran: ${stages.join(', ')}`);
    assert.deepEqual(stages.slice(0, 5), ['Check package', 'Sign in', 'Preflight', 'Read the site', 'Upload']);
    assert.ok(stages.includes('Verify'));
    assert.equal(run.outputs['artifact-name'], name);
    assert.equal(run.outputs['content-hash'], manifest.content);
    const target = path.join(site.wwwroot, '_target');
    assert.equal(sha256(path.join(target, name)), builtSha, `${site.siteName}${site.slot ? `/${site.slot}` : ''} runs the built bytes`);
    assert.equal(fs.readFileSync(path.join(site.wwwroot, '_artifact.txt'), 'utf8'), `_target\\${name}\r\n`);
    const [entry] = parseRecord(fs.readFileSync(path.join(site.wwwroot, '_deploys.json'), 'utf8')).record.entries;
    assert.equal(entry.source, 'package');
    assert.equal(entry.manifest, manifestSha);
    assert.equal(entry.commit, commit, 'the record names the commit the package was built from');
    assert.equal(entry.outcome, 'verified');
    assert.match(run.summary, new RegExp(`From package \\(manifest sha256\\)</td><td>${manifestSha}`));
  }

  // The same package again: the record shows it there with this content, so nothing is sent.
  west.kudu.resetCounters();
  const again = await deployPackage(west, packagePath);
  assert.equal(again.code, 0, log(again));
  assert.match(again.stdout, /already on the site with the same content .*upload skipped/);
  assert.equal(west.kudu.requests.filter((r) => r.path.startsWith('/api/zip/')).length, 0);
});

/** Runs a deploy of `pkg` that must be refused before Kudu sees any request; returns its error text. */
async function refused(site: AppService, pkg: string, extra: Record<string, string> = {}, env: Record<string, string> = {}): Promise<string> {
  const before = snapshotTree(site.home);
  site.kudu.resetCounters();
  const run = await deployPackage(site, pkg, extra, env);
  assert.equal(run.code, 1, log(run));
  assert.deepEqual(site.kudu.requests.map((r) => `${r.method} ${r.path}`), [], 'Kudu saw no request at all');
  assert.deepEqual(snapshotTree(site.home), before, "the site's files are unchanged");
  return decodeURIComponent(run.errors.join('\n'));
}

test('a tampered package is refused before anything is uploaded', { timeout: 300_000 }, async (t) => {
  assert.ok(packagePath !== '', 'the first test built the package');
  const zipName = manifest.zip.file;

  await t.test('a byte changed in the zip', async () => {
    const pkg = copyPackage(packagePath);
    const zip = path.join(pkg, zipName);
    const bytes = fs.readFileSync(zip);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    fs.writeFileSync(zip, bytes);
    const error = await refused(east, pkg);
    assert.match(error, new RegExp(`from-package: ${zipName.replace(/\./g, '\\.')} has \\d+ bytes and sha256 [0-9a-f]{12}…; the manifest says`));
    assert.match(error, /refused before anything was uploaded/);
  });

  await t.test('the zip changed and the manifest edited to its new sha256: the entries give it away', async () => {
    const pkg = copyPackage(packagePath);
    const zip = path.join(pkg, zipName);
    const bytes = fs.readFileSync(zip);
    bytes[Math.floor(bytes.length / 3)] ^= 0x01;
    fs.writeFileSync(zip, bytes);
    const edited = { ...manifest, zip: { ...manifest.zip, sha256: sha256(zip) } };
    fs.writeFileSync(path.join(pkg, MANIFEST_FILE), JSON.stringify(edited));
    const error = await refused(east, pkg);
    assert.doesNotMatch(error, /has \d+ bytes and sha256/, 'the zip matches its edited hash');
    assert.match(error, new RegExp(`from-package: (${manifest.artifact} in the zip has sha256|${manifest.artifact} could not be read)`));
  });

  await t.test('a manifest edited: another commit, a file hash', async () => {
    const pkg = copyPackage(packagePath);
    const edited = structuredClone(manifest);
    edited.commit = randomBytes(20).toString('hex');
    edited.files[0].sha256 = '0'.repeat(64);
    fs.writeFileSync(path.join(pkg, MANIFEST_FILE), JSON.stringify(edited));
    const error = await refused(east, pkg);
    assert.match(error, /Invalid inputs \(2 problems\)/);
    assert.match(error, /does not carry the commit the manifest names .*the manifest was edited/);
    assert.match(error, /"content" .* is not the content hash of the files it lists .*the manifest was edited/);
  });

  await t.test('a package for another target', async () => {
    const error = await refused(east, packagePath, { goarch: otherArch });
    assert.match(error, new RegExp(`from-package: .*built for linux/${goarch}, but this deploy's goos/goarch is linux/${otherArch}`));
  });

  await t.test('a package with build inputs, and every problem at once', async () => {
    const error = await refused(east, packagePath, { 'go-version': '1.23', ldflags: '-X main.x=y', include: 'static/**' });
    assert.match(error, /Invalid inputs \(3 problems\)/);
    for (const input of ['go-version', 'ldflags', 'include']) assert.match(error, new RegExp(`- ${input}: a build setting, but from-package deploys a package built earlier`));
  });
});

test('an upload cut short leaves part of the package on the site; the retry uploads it again and deploys', { timeout: 300_000 }, async () => {
  assert.ok(packagePath !== '', 'the first test built the package');
  const north = await startAppService({ siteName: 'shop-northeurope', internet, goMirror: false, home: fs.mkdtempSync(path.join(scratch, 'home-north-')), env: { EXAMPLE_POLL_MS: '250' } });
  try {
    const name = manifest.artifact;
    // Every zip PUT is answered 504 by the front end while Kudu's extraction stops before its
    // first entry is whole (the instance restarted): the run sends the package three times and fails.
    north.kudu.fault({ route: '/api/zip/', method: 'PUT', status: 504, keepExtracting: { msPerEntry: 50, stopAfterEntries: 0 }, times: 100 });
    const cut = await deployPackage(north, packagePath);
    assert.equal(cut.code, 1, log(cut));
    north.kudu.clearFaults();
    assert.equal(fs.existsSync(path.join(north.wwwroot, '_artifact.txt')), false, 'nothing was switched');
    const [pending] = parseRecord(fs.readFileSync(path.join(north.wwwroot, '_deploys.json'), 'utf8')).record.entries;
    assert.equal(pending.outcome, 'uploading');
    assert.equal(pending.content, manifest.content);
    // What an extraction cut mid-entry leaves: Kudu opened the file with FileMode.Create and wrote
    // part of it (Kudu.Core/Infrastructure/ZipArchiveExtensions.cs). The name is on the site, its
    // content is not the package's.
    fs.mkdirSync(path.join(north.wwwroot, '_target'), { recursive: true });
    fs.writeFileSync(path.join(north.wwwroot, '_target', name), Buffer.concat([Buffer.from('MZ'), randomBytes(64 * 1024)]));

    const retry = await deployPackage(north, packagePath);
    assert.equal(retry.code, 0, log(retry));
    assert.match(retry.stdout, new RegExp(`${name} is on the site from an upload of this same content that did not finish .*so it is uploaded again`));
    assert.equal(north.kudu.requests.filter((r) => r.path.startsWith('/api/zip/') && r.status === 200).length, 1, 'the retry sent the zip again');
    assert.equal(fs.readFileSync(path.join(north.wwwroot, '_artifact.txt'), 'utf8'), `_target\\${name}\r\n`);
    const entries = parseRecord(fs.readFileSync(path.join(north.wwwroot, '_deploys.json'), 'utf8')).record.entries;
    assert.deepEqual(entries.map((e) => e.outcome), ['uploading', 'verified']);
  } finally {
    await north.close();
  }
});

/**
 * A forged package: the built binary with bytes planted in it, packed and described by a manifest
 * written by the action's own writer, so every hash in it is consistent (what anyone who can write
 * the artifact, or run build-only on a branch of their own, can make).
 */
async function forgePackage(forgedCommit: string): Promise<{ dir: string; content: string }> {
  const dir = fs.mkdtempSync(path.join(scratch, 'forged-'));
  const name = `shop-${forgedCommit.slice(0, 10)}`;
  const binary = path.join(scratch, `${path.basename(dir)}-binary`);
  fs.writeFileSync(binary, Buffer.concat([fs.readFileSync(builtBinary), Buffer.from('planted')]));
  const zipPath = path.join(dir, `${name}.zip`);
  await packageArtifact({ binaryPath: binary, artifactName: name, workingDirectory: dir, include: [], files: [], mtime: new Date(), outputPath: zipPath });
  const content = await contentHash(binary, []);
  await writeManifest({ zipPath, artifact: name, commit: forgedCommit, goVersion: manifest.goVersion, goos: 'linux', goarch, content });
  return { dir, content };
}

test('a package is deployed only in a run of its own commit, and only with the content hash the build job output', { timeout: 300_000 }, async (t) => {
  assert.ok(packagePath !== '', 'the first test built the package');

  await t.test('a forged package of another commit, its manifest rewritten to match, is refused for its commit', async () => {
    const forgedCommit = randomBytes(20).toString('hex');
    const forged = await forgePackage(forgedCommit);
    const error = await refused(east, forged.dir);
    assert.match(error, /Invalid input: from-package: the package was built from/, 'every hash in the forged package is consistent; only its origin gives it away');
    assert.match(error, new RegExp(`the package was built from commit ${forgedCommit}, but this run's commit is ${commit} \\(GITHUB_SHA\\)`));
    assert.match(error, new RegExp(`To deploy this package deliberately, set commit: ${forgedCommit}`));
    // Named deliberately, the content hash the build job output still refuses it.
    const named = await refused(east, forged.dir, { commit: forgedCommit, 'expected-content-hash': manifest.content });
    assert.match(named, new RegExp(`expected-content-hash: the package's content hash is ${forged.content}, not ${manifest.content}`));
  });

  await t.test("the binary replaced under the run's own commit: expected-content-hash refuses it", async () => {
    const forged = await forgePackage(commit);
    const error = await refused(east, forged.dir, { 'expected-content-hash': manifest.content });
    assert.match(error, new RegExp(`expected-content-hash: the package's content hash is ${forged.content}, not ${manifest.content}; this is not the package the build job made`));
  });

  await t.test('a later run deploys the package when commit names it', async () => {
    const later = randomBytes(20).toString('hex');
    const error = await refused(west, packagePath, {}, { GITHUB_SHA: later });
    assert.match(error, new RegExp(`built from commit ${commit}, but this run's commit is ${later}`));
    const run = await deployPackage(west, packagePath, { commit, 'expected-content-hash': manifest.content.toUpperCase() }, { GITHUB_SHA: later });
    assert.equal(run.code, 0, log(run));
    assert.equal(run.outputs['content-hash'], manifest.content);
  });
});
