// Makes a release of the action and of the Go package from the commit that is checked out:
//
//   node scripts/release.ts <X.Y.Z> --dry-run   check everything, print the tags and the notes, change nothing
//   node scripts/release.ts <X.Y.Z>             the same checks, then tag, push and create the GitHub release
//
// A release is three tags on one commit: `vX.Y.Z` (the action, `uses: …@vX.Y.Z`), the major tag
// `vX` moved to it (`uses: …@v1`), and `goazure/vX.Y.Z` for the Go package, which Go finds only
// under its folder's name as a prefix because it is a module in a subfolder
// (`go get …/goazure@vX.Y.Z`). The GitHub release's notes are the changelog's section for the
// version. Every problem is reported at once; nothing is tagged or pushed unless every check passes.
//
// The release workflow (.github/workflows/release.yml) runs it after the full test suite. Without
// --dry-run it needs GITHUB_TOKEN (contents: write) and GITHUB_REPOSITORY, which Actions sets, and
// pushes to the remote `origin`. GITHUB_API_URL, also set by Actions, is the REST API's base.

import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Version {
  major: number;
  minor: number;
  patch: number;
  /** `X.Y.Z`, as the changelog and package.json write it. */
  text: string;
}

/** `X.Y.Z` or `vX.Y.Z`, no leading zeros, no pre-release or build suffix. */
function parseVersion(input: string): Version | null {
  const m = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/.exec(input);
  if (m === null) return null;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return { major, minor, patch, text: `${major}.${minor}.${patch}` };
}

function compareVersions(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

interface ChangelogSection {
  version: string;
  date: string;
  body: string;
}

/** The `## [X.Y.Z] - YYYY-MM-DD` sections of a Keep a Changelog file, in file order. */
function changelogSections(text: string): { unreleased: boolean; releases: ChangelogSection[]; malformed: string[] } {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const releases: ChangelogSection[] = [];
  const malformed: string[] = [];
  let unreleased = false;
  let current: ChangelogSection | null = null;
  let body: string[] = [];
  const close = (): void => {
    if (current !== null) {
      // The link references at the end of the file ("[1.0.0]: https://…") belong to no section.
      current.body = body.filter((l) => !/^\[[^\]]+\]:\s/.test(l)).join('\n').trim();
      releases.push(current);
    }
    current = null;
    body = [];
  };
  for (const line of lines) {
    if (line.startsWith('## ')) {
      close();
      if (/^## \[Unreleased\]\s*$/i.test(line)) {
        unreleased = true;
        continue;
      }
      const m = /^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})\s*$/.exec(line);
      if (m === null) malformed.push(line);
      else current = { version: m[1], date: m[2], body: '' };
    } else if (current !== null) {
      body.push(line);
    }
  }
  close();
  return { unreleased, releases, malformed };
}

/**
 * The section as one line per paragraph and list item: the changelog is wrapped for reading in an
 * editor, while GitHub shows every line break of a release's notes as a break.
 */
function unwrap(body: string): string {
  const out: string[] = [];
  let fenced = false;
  let joinable = false;
  for (const line of body.split('\n')) {
    if (line.trimStart().startsWith('```')) fenced = !fenced;
    const starts = fenced || line.trim() === '' || /^\s*(#|[-*+] |\d+\. |```|\||>)/.test(line);
    if (joinable && !starts) out[out.length - 1] += ` ${line.trim()}`;
    else out.push(line);
    joinable = !fenced && line.trim() !== '' && !line.startsWith('#') && !line.trimStart().startsWith('```');
  }
  return out.join('\n');
}

/** Text in a section besides its `### Added`-style headings: an entry that says something. */
function hasEntries(body: string): boolean {
  return body.split('\n').some((l) => l.trim() !== '' && !l.startsWith('#'));
}

function git(args: string[]): string {
  return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** The commit a tag points at, or null when there is no such tag. */
function tagCommit(tag: string): string | null {
  try {
    return git(['rev-parse', '--verify', '--quiet', `refs/tags/${tag}^{commit}`]);
  } catch {
    return null;
  }
}

/** Runs a check script of the repository with this Node; its output when it fails. */
function runCheck(args: string[]): { ok: boolean; output: string } {
  const env = { ...process.env };
  // Set when this script runs under `node --test`: a nested test run would then report in the
  // runner's binary protocol instead of text.
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, args, { cwd: root, env, encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

function usage(message: string): never {
  process.stderr.write(`${message}\nUsage: node scripts/release.ts <X.Y.Z> [--dry-run]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const dryRun = args.includes('--dry-run');
const positional = args.filter((a) => !a.startsWith('--'));
const unknown = args.filter((a) => a.startsWith('--') && a !== '--dry-run');
if (unknown.length > 0) usage(`Unknown option ${unknown.join(', ')}.`);
if (positional.length !== 1) usage('Give exactly one version.');
const version = parseVersion(positional[0]);
if (version === null) {
  usage(`"${positional[0]}" is not a release version: write X.Y.Z (or vX.Y.Z) with whole numbers, e.g. 1.2.0; pre-releases are not published.`);
}
if (version.major < 1) usage(`${version.text}: releases start at 1.0.0; a 0.x version makes no compatibility promise to move a major tag for.`);

const tag = `v${version.text}`;
const majorTag = `v${version.major}`;
const goTag = `goazure/v${version.text}`;
const problems: string[] = [];
const ok: string[] = [];

// package.json names the version the release is.
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string };
if (pkg.version === version.text) ok.push(`package.json version is ${version.text}`);
else problems.push(`package.json has version "${pkg.version}", not ${version.text}: set "version": "${version.text}" and commit it.`);

// The changelog has a non-empty section for the version, and it is the newest release there.
let notes = '';
let changelogVersions: string[] = [];
const changelogPath = path.join(root, 'CHANGELOG.md');
if (!fs.existsSync(changelogPath)) {
  problems.push('CHANGELOG.md does not exist: every release needs its section there.');
} else {
  const changelog = changelogSections(fs.readFileSync(changelogPath, 'utf8'));
  if (!changelog.unreleased) problems.push('CHANGELOG.md has no "## [Unreleased]" section: keep it at the top for the changes still to be released.');
  for (const line of changelog.malformed) problems.push(`CHANGELOG.md: "${line}" is neither "## [Unreleased]" nor "## [X.Y.Z] - YYYY-MM-DD".`);
  changelogVersions = changelog.releases.map((s) => s.version);
  const section = changelog.releases.find((s) => s.version === version.text);
  if (section === undefined) {
    problems.push(`CHANGELOG.md has no section for ${version.text}: move the entries under "## [Unreleased]" into "## [${version.text}] - YYYY-MM-DD" and commit it.`);
  } else if (!hasEntries(section.body)) {
    problems.push(`CHANGELOG.md's section for ${version.text} is empty: list what the release adds, changes or fixes.`);
  } else {
    notes = unwrap(section.body);
    ok.push(`CHANGELOG.md has a section for ${version.text} (${section.date})`);
    const newer = changelog.releases.map((s) => parseVersion(s.version)).filter((v) => v !== null && compareVersions(v, version) > 0);
    if (newer.length > 0) problems.push(`CHANGELOG.md already lists ${newer.map((v) => v!.text).join(', ')}, newer than ${version.text}.`);
  }
}

// The Go package is the module in goazure/, so its tag needs that folder as a prefix.
const goMod = fs.readFileSync(path.join(root, 'goazure', 'go.mod'), 'utf8');
const goModule = /^module\s+(\S+)/m.exec(goMod)?.[1] ?? '';
if (goModule.endsWith('/goazure')) ok.push(`goazure/go.mod declares ${goModule}`);
else problems.push(`goazure/go.mod declares module "${goModule}", which does not end in /goazure: the tag ${goTag} would not find it.`);

// Git: the tags name HEAD, so what is released is HEAD and nothing else.
let head = '';
try {
  head = git(['rev-parse', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--untracked-files=normal']);
  if (dirty === '') ok.push('the working tree is clean');
  else problems.push(`the working tree has changes that HEAD does not (the tags would name HEAD): commit or stash them first.\n${dirty.split('\n').map((l) => `      ${l}`).join('\n')}`);
  for (const t of [tag, goTag]) {
    const at = tagCommit(t);
    // The workflow also runs on a pushed vX.Y.Z tag: that tag already names HEAD.
    if (at !== null && at !== head) problems.push(`tag ${t} already exists on ${at.slice(0, 12)}, not on HEAD (${head.slice(0, 12)}): a released version is never moved; release a new version.`);
  }
  const released = git(['tag', '--list', 'v*.*.*']).split('\n').map((t) => parseVersion(t)).filter((v) => v !== null);
  // Every release ever made keeps its entry: the changelog is the record of all of them.
  const missing = fs.existsSync(changelogPath) ? released.filter((v) => !changelogVersions.includes(v.text)).map((v) => v.text) : [];
  if (missing.length > 0) problems.push(`CHANGELOG.md has no section for ${missing.join(', ')}, released already (tags ${missing.map((v) => `v${v}`).join(', ')}): restore the section${missing.length === 1 ? '' : 's'}.`);
  const newest = released.sort(compareVersions).at(-1);
  if (newest !== undefined && compareVersions(newest, version) > 0) problems.push(`tag v${newest.text} exists and is newer than ${tag}.`);
} catch (err) {
  problems.push(`git could not read the repository in ${root}: ${(err as Error).message.trim()}`);
}

// dist/index.js is what action.yml runs: it must be built from these sources.
const dist = runCheck(['scripts/bundle.mjs', '--check']);
if (dist.ok) ok.push('dist/index.js matches src/');
else problems.push(`dist/index.js is out of date: run "npm run bundle" and commit dist/.\n      ${dist.output.split('\n').join('\n      ')}`);

// The documented inputs and outputs (docs/inputs.md, the README's common inputs) match action.yml: the test that checks them, reused.
const readme = runCheck(['--test', '--test-reporter=dot', 'test/readme.test.ts']);
if (readme.ok) ok.push("the documented inputs and outputs match action.yml");
else problems.push(`the documented inputs or outputs do not match action.yml (test/readme.test.ts fails):\n      ${readme.output.split('\n').slice(0, 30).join('\n      ')}`);

const repository = process.env.GITHUB_REPOSITORY ?? '';
const token = process.env.GITHUB_TOKEN ?? '';
const api = (process.env.GITHUB_API_URL ?? 'https://api.github.com').replace(/\/+$/, '');
if (!dryRun) {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repository)) problems.push('GITHUB_REPOSITORY must name the repository as owner/name to create the release in.');
  if (token === '') problems.push('GITHUB_TOKEN is not set: the release is created with it (the workflow needs permissions: contents: write).');
}

/** A call to GitHub's REST API. */
async function github(method: string, route: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${api}/repos/${repository}${route}`, {
    method,
    headers: {
      accept: 'application/vnd.github+json',
      authorization: `Bearer ${token}`,
      'x-github-api-version': '2022-11-28',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // Left as text for the error message.
  }
  return { status: res.status, json };
}

if (!dryRun && problems.length === 0) {
  // A re-run after a release was made must not make a second one.
  const existing = await github('GET', `/releases/tags/${encodeURIComponent(tag)}`);
  if (existing.status === 200) problems.push(`GitHub already has a release ${tag}: there is nothing to do.`);
  else if (existing.status !== 404) problems.push(`GitHub answered ${existing.status} when asked for the release ${tag}: ${JSON.stringify(existing.json)}`);
}

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

out(`${dryRun ? 'Dry run: release' : 'Release'} ${tag} of go-azure-deploy${head === '' ? '' : ` from ${head.slice(0, 12)}`}`);
for (const line of ok) out(`  ok: ${line}`);
if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`error: ${p}\n`);
  process.stderr.write(`Refused: ${problems.length} problem${problems.length === 1 ? '' : 's'}; nothing was tagged or pushed.\n`);
  process.exit(1);
}

const releaseNotes = `${notes}\n\nThe Go package: \`go get ${goModule}@v${version.text}\``;
const tagExists = (t: string): boolean => tagCommit(t) === head;
const majorAt = tagCommit(majorTag);
const plan = [
  `${tagExists(tag) ? 'keep' : 'create'} tag ${tag} on ${head.slice(0, 12)}`,
  `${tagExists(goTag) ? 'keep' : 'create'} tag ${goTag} on ${head.slice(0, 12)}`,
  majorAt === null ? `create tag ${majorTag} on ${head.slice(0, 12)}` : `move tag ${majorTag} from ${majorAt.slice(0, 12)} to ${head.slice(0, 12)}`,
  `create the GitHub release ${tag} with these notes:`,
];

if (dryRun) {
  for (const line of plan) out(`would ${line}`);
  out('----');
  out(releaseNotes);
  out('----');
  out('Dry run: nothing was tagged or pushed.');
  process.exit(0);
}

const notesFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'release-')), 'notes.md');
fs.writeFileSync(notesFile, releaseNotes);
try {
  if (!tagExists(tag)) git(['tag', '--annotate', '--file', notesFile, tag, head]);
  if (!tagExists(goTag)) git(['tag', '--annotate', '--message', `goazure ${tag}`, goTag, head]);
  git(['tag', '--force', majorTag, head]);
  out(`Tagged ${tag}, ${goTag} and ${majorTag} on ${head.slice(0, 12)}.`);
  git(['push', 'origin', `refs/tags/${tag}`, `refs/tags/${goTag}`]);
  // The major tag is the one tag that moves; the others are never pushed with force.
  git(['push', '--force', 'origin', `refs/tags/${majorTag}`]);
  out(`Pushed ${tag}, ${goTag} and ${majorTag} to origin.`);
} catch (err) {
  const e = err as Error & { stderr?: string };
  process.stderr.write(`error: ${e.stderr?.trim() || e.message}\nRefused: the tags could not be made or pushed; no GitHub release was created.\n`);
  process.exit(1);
}

const created = await github('POST', '/releases', { tag_name: tag, name: tag, body: releaseNotes, draft: false, prerelease: false, make_latest: 'true' });
if (created.status !== 201) {
  process.stderr.write(
    `error: GitHub answered ${created.status} when creating the release ${tag}: ${JSON.stringify(created.json)}\n` +
      `The tags are pushed; run the release again for the same version to create the release.\n`,
  );
  process.exit(1);
}
const url = (created.json as { html_url?: string }).html_url ?? '';
out(`Created the GitHub release ${tag}${url === '' ? '' : `: ${url}`}`);
