// Static files end to end: the action, run as a runner runs it in a git checkout, deploys two
// commits of test/fixtures/static with different static/app.css (shipped with include, which needs
// a windows build: it runs under Wine through the real go-azure.bat) to the local App Service, and a browser-like client that cached the first version's file revalidates
// it after the switch. The package's entries carry each commit's time, Kudu's zip API keeps them
// as the files' times, and the app serves the file through goazure.FileServer (an ETag from the
// content) and through plain http.FileServer (Last-Modified from the file's time).

import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startAppService, deployInputs, type AppService } from '../sandbox/appservice.ts';
import { seedToolCache } from '../sandbox/gomirror.ts';
import { runAction, repoRoot, type ActionRun } from '../sandbox/runner.ts';
import { wineAvailable } from '../sandbox/wine.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A git checkout of test/fixtures/static, its goazure replace pointing at this repository's. */
function checkout(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-static-'));
  cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  fs.cpSync(path.join(repoRoot, 'test', 'fixtures', 'static'), dir, { recursive: true });
  const goMod = path.join(dir, 'go.mod');
  fs.writeFileSync(goMod, fs.readFileSync(goMod, 'utf8').replace('=> ../../../goazure', `=> ${path.join(repoRoot, 'goazure')}`));
  git(dir, new Date(0), 'init', '-q');
  return dir;
}

function git(dir: string, at: Date, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
      GIT_AUTHOR_DATE: at.toISOString(),
      GIT_COMMITTER_DATE: at.toISOString(),
    },
  }).trim();
}

/** Commits the tree with app.css holding `css`, at `at`; returns the commit id. */
function commitCss(dir: string, css: string, at: Date): string {
  fs.mkdirSync(path.join(dir, 'static'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'static', 'app.css'), css);
  git(dir, at, 'add', '-A');
  git(dir, at, 'commit', '-q', '-m', css);
  return git(dir, at, 'rev-parse', 'HEAD');
}

function deploy(s: AppService, dir: string, commit: string): Promise<ActionRun> {
  return runAction({
    inputs: deployInputs(s, commit, { 'working-directory': '.', include: 'static/**', goos: 'windows', goarch: 'amd64', 'verify-timeout-seconds': '60', 'timeout-seconds': '300' }),
    env: { ...s.env, GITHUB_SHA: commit },
    toolCache: s.toolCache,
    cwd: dir,
  });
}

/** A browser's request: its cached copy's validators, when it has one. */
async function fetchCss(s: AppService, route: 'static' | 'plain', cached: { etag?: string; lastModified?: string } = {}): Promise<{ status: number; body: string; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (cached.etag !== undefined) headers['if-none-match'] = cached.etag;
  if (cached.lastModified !== undefined) headers['if-modified-since'] = cached.lastModified;
  const res = await fetch(`${s.localAppUrl}/${route}/app.css`, { headers });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** The HTTP date of `t` as the site's file holds it: the zip's DOS time has even seconds. */
const httpDate = (t: Date): string => new Date(Math.floor(t.getTime() / 2000) * 2000).toUTCString();

test('after a deploy, a browser that cached the old app.css gets the new one, not 304; and 304 while nothing changed', { timeout: 600_000, skip: wineAvailable() ? false : 'wine is not installed (.ci/run installs it)' }, async () => {
  const s = await startAppService({ siteName: 'static-site', launcher: 'wine' });
  cleanups.push(() => s.close());
  seedToolCache(s.toolCache);
  const dir = checkout();

  // Odd seconds: the zip keeps even ones.
  const t1 = new Date('2026-04-01T10:00:01Z');
  const t2 = new Date('2026-04-01T11:30:03Z');
  const v1 = commitCss(dir, 'body { color: red; }\n', t1);
  const run1 = await deploy(s, dir, v1);
  assert.equal(run1.code, 0, run1.stdout + run1.stderr);
  assert.match(run1.stdout, /Package entries carry the time of the commit checked out in \S+: 2026-04-01T10:00:01\.000Z/);

  const first = await fetchCss(s, 'static');
  assert.equal(first.status, 200);
  assert.equal(first.body, 'body { color: red; }\n');
  assert.equal(first.headers.get('cache-control'), 'no-cache');
  assert.equal(first.headers.get('last-modified'), httpDate(t1), 'Kudu kept the commit\'s time as the file\'s');
  const cachedV1 = { etag: first.headers.get('etag') ?? undefined, lastModified: first.headers.get('last-modified') ?? undefined };
  assert.match(cachedV1.etag ?? '', /^"[A-Za-z0-9_-]{43}"$/, 'a strong ETag');
  const plainV1 = await fetchCss(s, 'plain');
  assert.equal(plainV1.headers.get('last-modified'), httpDate(t1));

  // Nothing changed: the browser's copy is current.
  const unchanged = await fetchCss(s, 'static', cachedV1);
  assert.equal(unchanged.status, 304);
  assert.equal(unchanged.body, '');
  assert.equal((await fetchCss(s, 'plain', { lastModified: plainV1.headers.get('last-modified')! })).status, 304);

  const v2 = commitCss(dir, 'body { color: blue; }\n', t2);
  const run2 = await deploy(s, dir, v2);
  assert.equal(run2.code, 0, run2.stdout + run2.stderr);
  assert.equal(fs.readFileSync(path.join(s.wwwroot, '_artifact.txt'), 'utf8'), `_target\\static-site-${v2.slice(0, 10)}.exe\r\n`);
  const onSite = path.join(s.wwwroot, '_target', `static-site-${v2.slice(0, 10)}`, 'static', 'app.css');
  assert.equal(fs.statSync(onSite).mtime.toUTCString(), httpDate(t2), 'the new file has the new commit\'s time');

  // The browser that cached v1 sends v1's If-None-Match and If-Modified-Since: v2's bytes.
  const revalidated = await fetchCss(s, 'static', cachedV1);
  assert.equal(revalidated.status, 200);
  assert.equal(revalidated.body, 'body { color: blue; }\n');
  assert.notEqual(revalidated.headers.get('etag'), cachedV1.etag);
  assert.equal(revalidated.headers.get('last-modified'), httpDate(t2));
  // Plain http.FileServer decides by time alone: right only because the new file is newer.
  const plain = await fetchCss(s, 'plain', { lastModified: plainV1.headers.get('last-modified')! });
  assert.equal(plain.status, 200, 'If-Modified-Since with v1\'s time: v2 is newer');
  assert.equal(plain.body, 'body { color: blue; }\n');

  // And v2's copy is current from then on.
  const cachedV2 = { etag: revalidated.headers.get('etag') ?? undefined, lastModified: revalidated.headers.get('last-modified') ?? undefined };
  assert.equal((await fetchCss(s, 'static', cachedV2)).status, 304);
});
