// Packages built once: the manifest written from the zip as written (a real windows/amd64 build with
// include files), read back and checked entry by entry, the PE header against the site's target,
// and the inputs that may and may not go with build-only and from-package.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildBinary } from '../src/artifact/compile.ts';
import { contentHash, packageArtifact, resolveIncludes } from '../src/artifact/pack.ts';
import { loadPackage, verifyPackage, writeManifest } from '../src/artifact/prebuilt.ts';
import { artifactNameProblem, MANIFEST_FILE, type PackageManifest } from '../src/artifact/manifest.ts';
import { parseInputs, type Config } from '../src/common/inputs.ts';
import { InputError } from '../src/common/errors.ts';
import { choosePackagedName, emptyRecord, appendEntry, kuduDeployment, type DeployEntry } from '../src/site/record.ts';
import { windowsBuildRequest } from '../sandbox/gobuild.ts';
import { repoRoot } from '../sandbox/runner.ts';

const hello = path.join(repoRoot, 'test', 'fixtures', 'hello');
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const NAME = 'hello-0123456789.exe';
const WINDOWS = { goos: 'windows', goarch: 'amd64' };
let scratch: string;
let pkgDir: string;
let manifest: PackageManifest;

before(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-manifest-'));
  const binary = path.join(scratch, NAME);
  await buildBinary(windowsBuildRequest(hello, binary), new AbortController().signal);
  const files = await resolveIncludes(hello, ['static/**', 'templates/**']);
  const content = await contentHash(binary, files);
  pkgDir = path.join(scratch, 'package');
  const pkg = await packageArtifact({ binaryPath: binary, artifactName: NAME, workingDirectory: hello, include: [], files, mtime: new Date(Date.UTC(2026, 0, 2, 3, 4, 6)), outputPath: path.join(pkgDir, 'hello-0123456789.zip') });
  ({ manifest } = await writeManifest({ zipPath: pkg.zipPath, artifact: NAME, commit: COMMIT, goVersion: 'go1.24.0', ...WINDOWS, content }));
}, { timeout: 300_000 });

after(() => fs.rmSync(scratch, { recursive: true, force: true }));

const sha256 = (b: Buffer | string): string => crypto.createHash('sha256').update(b).digest('hex');

/** A copy of the package whose manifest `edit` changes. */
function edited(edit: (m: PackageManifest) => void): string {
  const dir = fs.mkdtempSync(path.join(scratch, 'edited-'));
  fs.cpSync(pkgDir, dir, { recursive: true });
  const m = structuredClone(manifest);
  edit(m);
  fs.writeFileSync(path.join(dir, MANIFEST_FILE), JSON.stringify(m));
  return dir;
}

test('the manifest lists the zip and every file in it with its sha256, binary first; the package verifies', async () => {
  const zip = fs.readFileSync(path.join(pkgDir, manifest.zip.file));
  assert.equal(manifest.zip.sha256, sha256(zip));
  assert.equal(manifest.zip.size, zip.length);
  assert.equal(manifest.files[0].path, NAME);
  assert.equal(manifest.files[0].sha256, sha256(fs.readFileSync(path.join(scratch, NAME))));
  const css = manifest.files.find((f) => f.path === 'hello-0123456789/static/app.css');
  assert.ok(css, manifest.files.map((f) => f.path).join(', '));
  assert.equal(css.sha256, sha256(fs.readFileSync(path.join(hello, 'static', 'app.css'))));
  assert.ok(manifest.files.some((f) => f.path.startsWith('hello-0123456789/templates/')));
  assert.deepEqual(manifest.target, WINDOWS);

  const { loaded, problems } = loadPackage(pkgDir, scratch, WINDOWS);
  assert.deepEqual(problems, []);
  assert.ok(loaded);
  assert.equal(loaded.manifestSha256, sha256(fs.readFileSync(path.join(pkgDir, MANIFEST_FILE))));
  // The manifest's own path works as well as its folder.
  assert.deepEqual(loadPackage(path.join(pkgDir, MANIFEST_FILE), scratch, WINDOWS).problems, []);
  const pkg = await verifyPackage(loaded, WINDOWS);
  assert.equal(pkg.zipSize, zip.length);
  assert.equal(pkg.binarySize, manifest.files[0].size);
  assert.equal(pkg.entries.length, manifest.files.length);
});

test('a file renamed in the manifest changes its content hash; a file the manifest adds is named as missing from the zip', async () => {
  const { loaded, problems: renamed } = loadPackage(
    edited((m) => {
      const css = m.files.find((f) => f.path.endsWith('/static/app.css'));
      assert.ok(css);
      css.path = 'hello-0123456789/static/other.css';
    }),
    scratch,
    WINDOWS,
  );
  // Renaming a file changes the content hash, so the manifest alone is refused first.
  assert.equal(loaded, undefined);
  assert.match(renamed.join('\n'), /"content" .* is not the content hash of the files it lists/);

  const dir = edited((m) => {
    m.files.push({ path: 'hello-0123456789/static/extra.txt', size: 1, sha256: sha256('x') });
    m.content = contentOf(m);
  });
  const found = loadPackage(dir, scratch, WINDOWS);
  assert.deepEqual(found.problems, []);
  assert.ok(found.loaded);
  await assert.rejects(verifyPackage(found.loaded, WINDOWS), (err: unknown) => {
    assert.ok(err instanceof InputError);
    assert.deepEqual(
      err.problems,
      ['from-package: hello-0123456789/static/extra.txt is in the manifest but not in the zip.'],
    );
    assert.match(err.message, /^Invalid input: from-package: .* not in the zip\. The package was refused before anything was uploaded; deploy a package exactly as its build-only run wrote it\.$/);
    return true;
  });

  // Many problems: each is listed, and what to do about them is said once, at the end.
  const many = loadPackage(
    edited((m) => {
      for (const name of ['a', 'b', 'c']) m.files.push({ path: `hello-0123456789/static/${name}.txt`, size: 1, sha256: sha256(name) });
      m.content = contentOf(m);
    }),
    scratch,
    WINDOWS,
  );
  assert.ok(many.loaded);
  await assert.rejects(verifyPackage(many.loaded, WINDOWS), (err: unknown) => {
    assert.ok(err instanceof InputError);
    assert.equal(err.problems.length, 3);
    assert.equal(err.message.split('The package was refused before anything was uploaded').length - 1, 1, err.message);
    assert.match(err.message, /static\/c\.txt is in the manifest but not in the zip\.\nThe package was refused before anything was uploaded; deploy a package exactly as its build-only run wrote it\.$/);
    return true;
  });
});

/** The content hash a manifest's files give (what an editor covering their tracks would write). */
function contentOf(m: PackageManifest): string {
  const stem = 'hello-0123456789/';
  const rest = m.files.slice(1).map((f) => ({ relativePath: f.path.slice(stem.length), sha256: f.sha256 })).sort((a, b) => (a.relativePath < b.relativePath ? -1 : 1));
  const lines = [`${m.files[0].sha256}  <binary>`, ...rest.map((f) => `${f.sha256}  ${f.relativePath}`)];
  return sha256(lines.join('\n') + '\n');
}

test('the binary is checked against the site: an amd64 PE claimed to be arm64 is refused by its header', async () => {
  const arm = { goos: 'windows', goarch: 'arm64' };
  const { loaded, problems } = loadPackage(edited((m) => (m.target = arm)), scratch, arm);
  assert.deepEqual(problems, []);
  assert.ok(loaded);
  await assert.rejects(verifyPackage(loaded, arm), /from-package: the binary hello-0123456789\.exe is a Windows executable for x86-64 \(amd64\), not for goarch arm64/);
});

test('manifest problems: not a manifest, another target, a name outside the rule, a file outside its folder', () => {
  const notJson = path.join(scratch, 'not-json');
  fs.mkdirSync(notJson);
  fs.writeFileSync(path.join(notJson, MANIFEST_FILE), '{');
  assert.match(loadPackage(notJson, scratch, WINDOWS).problems[0], /^from-package: .*go-azure-package\.json: it is not JSON/);
  assert.match(loadPackage('nowhere', scratch, WINDOWS).problems[0], /from-package: "nowhere" does not exist/);
  assert.match(loadPackage(scratch, scratch, WINDOWS).problems[0], /go-azure-package\.json is missing/);
  assert.match(loadPackage(pkgDir, scratch, { goos: 'linux', goarch: 'amd64' }).problems[0], /built for windows\/amd64, but this deploy's goos\/goarch is linux\/amd64/);

  const outside = loadPackage(edited((m) => {
    m.files[1].path = '../web.config';
    m.content = contentOf(m);
  }), scratch, WINDOWS).problems;
  assert.ok(outside.some((p) => /\.\.\/web\.config would not land in _target\/hello-0123456789\//.test(p)), outside.join('\n'));

  assert.equal(artifactNameProblem(NAME, 'windows'), undefined);
  assert.match(artifactNameProblem('hello 1.exe', 'windows') ?? '', /characters outside/);
  assert.match(artifactNameProblem('hello', 'windows') ?? '', /does not end in \.exe/);
  assert.match(artifactNameProblem('.hello.exe', 'windows') ?? '', /starts with "\."/);
  assert.match(artifactNameProblem(`${'a'.repeat(101)}.exe`, 'windows') ?? '', /longer than 100/);
});

test('a package keeps its name: skipped when the record shows it there, refused over another build', () => {
  const entry = (content: string): DeployEntry => ({ id: 'x', kind: 'deploy', artifact: NAME, content, commit: COMMIT, from: '', run: { repository: '', runId: '', runAttempt: '', actor: '' }, at: new Date().toISOString(), outcome: 'verified', source: 'package', manifest: 'f'.repeat(64) });
  const here = (): boolean => true;
  assert.equal(choosePackagedName(emptyRecord(), () => false, NAME, manifest.content).upload, true);
  assert.equal(choosePackagedName(appendEntry(emptyRecord(), entry(manifest.content)), here, NAME, manifest.content).upload, false);
  assert.throws(() => choosePackagedName(appendEntry(emptyRecord(), entry('a'.repeat(64))), here, NAME, manifest.content), /on the site already, and it is another build .*not uploaded and nothing was changed/);
  assert.throws(() => choosePackagedName(emptyRecord(), here, NAME, manifest.content), /a build the deploy record has no content hash for/);
  assert.match(String(kuduDeployment(entry(manifest.content), '').message), /from package manifest sha256 ffffffffffff…/);
});

// --- the inputs --------------------------------------------------------------------------------

function problems(inputs: Record<string, string>): string[] {
  try {
    parseInputs((n) => inputs[n] ?? '', { GITHUB_SHA: COMMIT }, scratch);
  } catch (err) {
    assert.ok(err instanceof InputError, String(err));
    return [...err.problems];
  }
  return [];
}
const parse = (inputs: Record<string, string>): Config => parseInputs((n) => inputs[n] ?? '', { GITHUB_SHA: COMMIT }, scratch);

test('build-only: artifact-prefix instead of app-name; deploy inputs refused, defaults as the runner passes them are not', () => {
  const cfg = parse({ 'build-only': 'true', 'artifact-prefix': 'shop', 'slot-name': 'production', keep: '3', verify: 'true', audience: 'api://AzureADTokenExchange' });
  assert.equal(cfg.buildOnly, true);
  assert.equal(cfg.artifactPrefix, 'shop');
  assert.match(problems({ 'build-only': 'true' }).join('\n'), /app-name: a build-only run needs app-name or artifact-prefix/);
  const refused = problems({ 'build-only': 'true', 'app-name': 'shop', 'publish-profile': '<x/>', 'client-id': 'c', 'slot-name': 'staging', 'swap-target-slot': 'production', rollback: 'true' });
  for (const input of ['publish-profile', 'client-id', 'slot-name', 'swap-target-slot', 'rollback']) {
    assert.ok(refused.some((p) => p.startsWith(`${input}: only a deploy reads it, and build-only: true changes no site`)), `${input}:\n${refused.join('\n')}`);
  }
  assert.match(problems({ 'build-only': 'true', 'app-name': 'shop', 'from-package': pkgDir }).join('\n'), /from-package: given with build-only: true/);
});

test('from-package: no working directory needed; build inputs, another commit and rollback refused all at once', () => {
  const cfg = parseInputs((n) => ({ 'app-name': 'shop', 'from-package': pkgDir, 'working-directory': '.', 'main-package': '.' })[n] ?? '', { GITHUB_SHA: COMMIT }, scratch);
  assert.equal(cfg.commit, COMMIT, 'the commit comes from the manifest');
  assert.equal(cfg.fromPackage?.manifest.artifact, NAME);
  const all = problems({ 'app-name': 'shop', 'from-package': pkgDir, 'go-version': '1.23', 'build-flags': '-v', 'artifact-prefix': 'x', commit: 'abcdefabcdef', rollback: 'true' });
  assert.equal(all.length, 5, all.join('\n'));
  for (const input of ['go-version', 'build-flags', 'artifact-prefix']) assert.ok(all.some((p) => p.startsWith(`${input}: a build setting`)), input);
  assert.ok(all.some((p) => p.startsWith('commit: "abcdefabcdef" is not the commit the package was built from')));
  assert.ok(all.some((p) => p.startsWith('rollback: rolls back to a version on the site and uploads nothing')));
  assert.deepEqual(problems({ 'app-name': 'shop', 'from-package': pkgDir, commit: COMMIT.slice(0, 12) }), [], 'the same commit is fine');
});

test("from-package: the package's commit must be the run's (GITHUB_SHA, or commit when given), its content hash expected-content-hash", () => {
  const other = 'b'.repeat(40);
  const withSha = (inputs: Record<string, string>, sha: string | undefined): string[] => {
    try {
      parseInputs((n) => inputs[n] ?? '', sha === undefined ? {} : { GITHUB_SHA: sha }, scratch);
    } catch (err) {
      assert.ok(err instanceof InputError, String(err));
      return [...err.problems];
    }
    return [];
  };
  const base = { 'app-name': 'shop', 'from-package': pkgDir };
  assert.deepEqual(withSha(base, COMMIT), [], "the run's own commit");
  const another = withSha(base, other);
  assert.equal(another.length, 1, another.join('\n'));
  assert.equal(
    another[0],
    `from-package: the package was built from commit ${COMMIT}, but this run's commit is ${other} (GITHUB_SHA); a package deploys only in a run of the commit it was built from, so a package another run built (a pull request's, say) is not deployed by accident. To deploy this package deliberately, set commit: ${COMMIT} (and expected-content-hash to the content hash you trust).`,
  );
  assert.match(withSha(base, undefined).join('\n'), /from-package: .*names no commit to check it against \(GITHUB_SHA is not set\); set commit: /);
  assert.deepEqual(withSha({ ...base, commit: COMMIT }, other), [], 'commit names the package deliberately');
  assert.deepEqual(withSha({ ...base, 'expected-content-hash': manifest.content.toUpperCase() }, COMMIT), []);
  assert.equal(parseInputs((n) => ({ ...base, 'expected-content-hash': manifest.content } as Record<string, string>)[n] ?? '', { GITHUB_SHA: COMMIT }, scratch).expectedContentHash, manifest.content);
  assert.deepEqual(withSha({ ...base, 'expected-content-hash': 'a'.repeat(64) }, COMMIT), [
    `expected-content-hash: the package's content hash is ${manifest.content}, not ${'a'.repeat(64)}; this is not the package the build job made. Pass the package the job that output that content hash wrote.`,
  ]);
  assert.match(withSha({ ...base, 'expected-content-hash': 'abc' }, COMMIT).join('\n'), /expected-content-hash: "abc" is not a sha256/);
  assert.match(withSha({ 'app-name': 'shop', 'expected-content-hash': 'a'.repeat(64) }, COMMIT).join('\n'), /expected-content-hash: only a package is checked against it/);
  assert.match(withSha({ 'build-only': 'true', 'artifact-prefix': 'shop', 'expected-content-hash': 'a'.repeat(64) }, COMMIT).join('\n'), /expected-content-hash: only a deploy reads it/);
});
