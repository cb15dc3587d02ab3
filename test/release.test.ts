// The release script (scripts/release.ts), run as the release workflow runs it, in copies of this
// repository: the dry run's checks, refusals and plan, and a real release pushed to a local bare
// remote with GitHub's REST API answered by a local server.

import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../sandbox/runner.ts';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'release-test-'));
const base = path.join(work, 'base');
const gitConfig = path.join(work, 'gitconfig');
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** git with a fixed identity and none of the machine's configuration (signing, hooks, aliases). */
const gitEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GIT_CONFIG_GLOBAL: gitConfig,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_AUTHOR_NAME: 'release-test',
    GIT_AUTHOR_EMAIL: 'release-test@go-azure-deploy.invalid',
    GIT_COMMITTER_NAME: 'release-test',
    GIT_COMMITTER_EMAIL: 'release-test@go-azure-deploy.invalid',
  };
  // Set for files run by `node --test`; the script's own nested test run must not inherit it.
  delete env.NODE_TEST_CONTEXT;
  for (const k of Object.keys(env)) if (k.startsWith('GITHUB_')) delete env[k];
  return env;
};

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: gitEnv(), encoding: 'utf8' }).trim();
}

/** A repository whose working tree is node_modules-free except for a link to this one's. */
function linkNodeModules(dir: string): void {
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  fs.appendFileSync(path.join(dir, '.git', 'info', 'exclude'), '/node_modules\n');
}

before(() => {
  fs.writeFileSync(gitConfig, '[init]\n\tdefaultBranch = main\n');
  // The files of this working tree (committed or not, minus ignored ones), so the script and the
  // changelog under test are the ones on disk.
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: repoRoot, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '' && fs.existsSync(path.join(repoRoot, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(base, f)), { recursive: true });
    fs.copyFileSync(path.join(repoRoot, f), path.join(base, f));
  }
  git(base, 'init', '--quiet');
  linkNodeModules(base);
  // dist/ is rebuilt here so that the copy starts from a current bundle whatever state this
  // working tree's dist/ is in.
  execFileSync(process.execPath, ['scripts/bundle.mjs'], { cwd: base, env: gitEnv() });
  git(base, 'add', '--all');
  git(base, 'commit', '--quiet', '--message', 'Release candidate');
});

/** A fresh clone of the base copy to change and release from. */
function clone(from = base): string {
  const dir = fs.mkdtempSync(path.join(work, 'clone-'));
  git(work, 'clone', '--quiet', from, dir);
  linkNodeModules(dir);
  return dir;
}

function edit(dir: string, file: string, change: (text: string) => string): void {
  const p = path.join(dir, file);
  fs.writeFileSync(p, change(fs.readFileSync(p, 'utf8')));
}

function commitAll(dir: string, message: string): string {
  git(dir, 'add', '--all');
  git(dir, 'commit', '--quiet', '--message', message);
  return git(dir, 'rev-parse', 'HEAD');
}

/** A version bump as it is made for a release: package.json, and dist/ rebuilt (the User-Agent names the version). */
function setPackageVersion(dir: string, version: string): void {
  edit(dir, 'package.json', (t) => t.replace(/"version": "[^"]+"/, `"version": "${version}"`));
  execFileSync(process.execPath, ['scripts/bundle.mjs'], { cwd: dir, env: gitEnv() });
}

/** Adds a section right after `## [Unreleased]` and whatever it lists, before the newest release. */
function addChangelogSection(dir: string, heading: string, body: string): void {
  edit(dir, 'CHANGELOG.md', (t) => {
    const unreleased = t.indexOf('## [Unreleased]\n');
    const next = t.indexOf('\n## [', unreleased + 1);
    return `${t.slice(0, next + 1)}${heading}\n\n${body}${t.slice(next + 1)}`;
  });
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function release(dir: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['scripts/release.ts', ...args], { cwd: dir, env: { ...gitEnv(), ...env }, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

const tags = (dir: string): string[] => git(dir, 'tag', '--list').split('\n').filter((t) => t !== '');

test('dry run of the version in package.json: every check passes, the three tags and the notes are printed, nothing is tagged', { timeout: 120_000 }, async () => {
  const dir = clone();
  const head = git(dir, 'rev-parse', 'HEAD').slice(0, 12);
  const run = await release(dir, ['1.0.0', '--dry-run']);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  for (const check of ['package.json version is 1.0.0', 'CHANGELOG.md has a section for 1.0.0', 'the working tree is clean', 'dist/index.js matches src/', "the documented inputs and outputs match action.yml"]) {
    assert.ok(run.stdout.includes(`ok: ${check}`), `checked: ${check}\n${run.stdout}`);
  }
  assert.match(run.stdout, new RegExp(`^would create tag v1\\.0\\.0 on ${head}$`, 'm'));
  assert.match(run.stdout, new RegExp(`^would create tag goazure/v1\\.0\\.0 on ${head}$`, 'm'));
  assert.match(run.stdout, new RegExp(`^would create tag v1 on ${head}$`, 'm'));
  const notes = run.stdout.split('----\n')[1];
  assert.match(notes, /^The first release: the action and the Go package `goazure`, compatible with each other through `site\/wwwroot\/_artifact.txt`\.$/m, 'the changelog section, one line per paragraph');
  assert.match(notes, /^### Added$/m);
  assert.match(notes, /go get github\.com\/go-azure-deploy\/go-azure-deploy\/goazure@v1\.0\.0/);
  assert.doesNotMatch(notes, /\[1\.0\.0\]: https:/, 'link references are not part of the notes');
  assert.match(run.stdout, /Dry run: nothing was tagged or pushed\./);
  assert.deepEqual(tags(dir), []);
});

test('dry run of a minor release: its own section is the notes and the major tag moves', { timeout: 120_000 }, async () => {
  const dir = clone();
  const first = git(dir, 'rev-parse', 'HEAD');
  git(dir, 'tag', 'v1.0.0');
  git(dir, 'tag', 'v1');
  setPackageVersion(dir, '1.1.0');
  addChangelogSection(dir, '## [1.1.0] - 2026-12-03', '### Added\n\n- The `example-input` input, off by default.\n\n');
  const head = commitAll(dir, 'Prepare 1.1.0');
  const run = await release(dir, ['v1.1.0', '--dry-run']);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, new RegExp(`^would create tag v1\\.1\\.0 on ${head.slice(0, 12)}$`, 'm'));
  assert.match(run.stdout, new RegExp(`^would move tag v1 from ${first.slice(0, 12)} to ${head.slice(0, 12)}$`, 'm'));
  const notes = run.stdout.split('----\n')[1];
  assert.match(notes, /- The `example-input` input, off by default\./);
  assert.doesNotMatch(notes, /The first release/);
  assert.deepEqual(tags(dir).sort(), ['v1', 'v1.0.0']);
});

test('refused: no changelog section for the version', { timeout: 120_000 }, async () => {
  const dir = clone();
  setPackageVersion(dir, '1.1.0');
  commitAll(dir, 'Bump to 1.1.0 without a changelog entry');
  const run = await release(dir, ['1.1.0', '--dry-run']);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stderr, /^error: CHANGELOG\.md has no section for 1\.1\.0: move the entries under "## \[Unreleased\]" into "## \[1\.1\.0\] - YYYY-MM-DD" and commit it\.$/m);
  assert.match(run.stderr, /Refused: 1 problem; nothing was tagged or pushed\./);
  assert.doesNotMatch(run.stdout, /would /);
  assert.deepEqual(tags(dir), []);
});

test('refused: an empty changelog section, and a section newer than the version', { timeout: 120_000 }, async () => {
  const dir = clone();
  setPackageVersion(dir, '1.1.0');
  addChangelogSection(dir, '## [1.1.0] - 2026-12-03', '### Added\n\n');
  commitAll(dir, 'Empty 1.1.0 section');
  const empty = await release(dir, ['1.1.0', '--dry-run']);
  assert.equal(empty.code, 1, empty.stdout + empty.stderr);
  assert.match(empty.stderr, /CHANGELOG\.md's section for 1\.1\.0 is empty: list what the release adds, changes or fixes\./);

  addChangelogSection(dir, '## [1.2.0] - 2026-12-10', '### Fixed\n\n- Something.\n\n');
  edit(dir, 'CHANGELOG.md', (t) => t.replace('## [1.1.0] - 2026-12-03\n\n### Added\n\n', '## [1.1.0] - 2026-12-03\n\n### Added\n\n- Something else.\n\n'));
  commitAll(dir, 'A newer section');
  const older = await release(dir, ['1.1.0', '--dry-run']);
  assert.equal(older.code, 1, older.stdout + older.stderr);
  assert.match(older.stderr, /CHANGELOG\.md already lists 1\.2\.0, newer than 1\.1\.0\./);
});

test('refused: a version already released has lost its changelog section', { timeout: 120_000 }, async () => {
  const dir = clone();
  git(dir, 'tag', 'v1.0.0');
  setPackageVersion(dir, '1.1.0');
  edit(dir, 'CHANGELOG.md', (t) => t.replace(/## \[1\.0\.0\][^]*?(?=\n\[Unreleased\]:)/, '## [1.1.0] - 2026-12-03\n\n### Fixed\n\n- A fix.\n'));
  commitAll(dir, '1.1.0, with the 1.0.0 section gone');
  const run = await release(dir, ['1.1.0', '--dry-run']);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stderr, /^error: CHANGELOG\.md has no section for 1\.0\.0, released already \(tags v1\.0\.0\): restore the section\.$/m);
  assert.match(run.stderr, /Refused: 1 problem;/);
});

test('refused: every problem at once — package.json, changelog, uncommitted files and a stale dist/', { timeout: 120_000 }, async () => {
  const dir = clone();
  edit(dir, 'src/common/http.ts', (t) => t.replace('`go-azure-deploy/${', '`go-azure-deploy-changed/${'));
  commitAll(dir, 'A source change without a rebuilt dist/');
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not committed\n');
  const run = await release(dir, ['1.0.1', '--dry-run']);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stderr, /package\.json has version "1\.0\.0", not 1\.0\.1/);
  assert.match(run.stderr, /CHANGELOG\.md has no section for 1\.0\.1/);
  assert.match(run.stderr, /the working tree has changes that HEAD does not[^\n]*\n\s+\?\? notes\.txt/);
  assert.match(run.stderr, /dist\/index\.js is out of date: run "npm run bundle" and commit dist\//);
  assert.match(run.stderr, /Refused: 4 problems; nothing was tagged or pushed\./);
});

test('refused: the version tag already names another commit', { timeout: 120_000 }, async () => {
  const dir = clone();
  git(dir, 'tag', 'v1.0.0');
  edit(dir, 'README.md', (t) => `${t}\n`);
  commitAll(dir, 'A later commit');
  const run = await release(dir, ['1.0.0', '--dry-run']);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stderr, /tag v1\.0\.0 already exists on [0-9a-f]{12}, not on HEAD \([0-9a-f]{12}\): a released version is never moved/);
});

test('refused before any check: a version that is not X.Y.Z', { timeout: 30_000 }, async () => {
  const dir = clone();
  for (const bad of ['1.2', '1.2.0-rc.1', 'v01.2.0', 'latest']) {
    const run = await release(dir, [bad, '--dry-run']);
    assert.equal(run.code, 2, `${bad}: ${run.stdout}${run.stderr}`);
    assert.ok(run.stderr.includes(`"${bad}" is not a release version: write X.Y.Z`), run.stderr);
  }
  const none = await release(dir, ['--dry-run']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Usage: node scripts\/release\.ts <X\.Y\.Z> \[--dry-run\]/);
});

/** GitHub's releases API for one repository: answers GET by tag and POST, and remembers. */
async function fakeGitHub(): Promise<{ url: string; created: Array<{ auth: string; body: Record<string, unknown> }>; close(): Promise<void> }> {
  const created: Array<{ auth: string; body: Record<string, unknown> }> = [];
  const server = http.createServer((req, res) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (data += d));
    req.on('end', () => {
      // https://docs.github.com/en/rest/releases/releases: "Get a release by tag name" answers
      // 404 when there is none; "Create a release" answers 201 with the release.
      const send = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      const byTag = /^\/repos\/acme\/deploy\/releases\/tags\/(.+)$/.exec(req.url ?? '');
      if (req.method === 'GET' && byTag) {
        const found = created.find((c) => c.body.tag_name === decodeURIComponent(byTag[1]));
        return found ? send(200, { tag_name: found.body.tag_name }) : send(404, { message: 'Not Found' });
      }
      if (req.method === 'POST' && req.url === '/repos/acme/deploy/releases') {
        const body = JSON.parse(data) as Record<string, unknown>;
        created.push({ auth: req.headers.authorization ?? '', body });
        return send(201, { html_url: `https://github.example/acme/deploy/releases/tag/${String(body.tag_name)}` });
      }
      send(404, { message: 'Not Found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, created, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

test('a release pushes vX.Y.Z, goazure/vX.Y.Z and the moved major tag, and creates the GitHub release once', { timeout: 120_000 }, async (t) => {
  const origin = path.join(work, 'origin.git');
  git(work, 'clone', '--quiet', '--bare', base, origin);
  const dir = clone(origin);
  const head = git(dir, 'rev-parse', 'HEAD');
  const github = await fakeGitHub();
  t.after(() => github.close());
  const env = { GITHUB_TOKEN: 'token-for-the-release-test', GITHUB_REPOSITORY: 'acme/deploy', GITHUB_API_URL: github.url };

  const run = await release(dir, ['1.0.0'], env);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  // ls-remote lists an annotated tag twice: the tag object, and `^{}` for the commit it names.
  const remote = git(dir, 'ls-remote', '--tags', 'origin').split('\n');
  for (const tag of ['v1.0.0^{}', 'goazure/v1.0.0^{}', 'v1']) {
    assert.ok(remote.includes(`${head}\trefs/tags/${tag}`), `origin has ${tag} on HEAD:\n${remote.join('\n')}`);
  }
  assert.equal(github.created.length, 1);
  const [made] = github.created;
  assert.equal(made.auth, 'Bearer token-for-the-release-test');
  assert.equal(made.body.tag_name, 'v1.0.0');
  assert.match(String(made.body.body), /^The first release: /);
  assert.match(String(made.body.body), /goazure@v1\.0\.0/);
  assert.match(run.stdout, /Created the GitHub release v1\.0\.0: https:\/\/github\.example\/acme\/deploy\/releases\/tag\/v1\.0\.0/);
  assert.ok(!(run.stdout + run.stderr).includes('token-for-the-release-test'), 'the token is never printed');

  // Run again, as a re-run of the workflow would: the tags are on HEAD, the release exists.
  const again = await release(dir, ['1.0.0'], env);
  assert.equal(again.code, 1, again.stdout + again.stderr);
  assert.match(again.stderr, /GitHub already has a release v1\.0\.0: there is nothing to do\./);
  assert.equal(github.created.length, 1);
});

test('a release without GITHUB_TOKEN is refused before anything is tagged', { timeout: 120_000 }, async () => {
  const dir = clone();
  const run = await release(dir, ['1.0.0'], { GITHUB_REPOSITORY: 'acme/deploy' });
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stderr, /GITHUB_TOKEN is not set/);
  assert.deepEqual(tags(dir), []);
});
