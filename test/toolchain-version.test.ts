// Version rules of the toolchain stage, on plain data: version files, specs, and resolution
// against a listing shaped like the mirror's (built for a fixed Go, so results do not depend on the
// machine) and against tool-cache folder names.

import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  goVersionToSemver,
  listingPlatform,
  nearbyVersions,
  parseListing,
  parseVersionSpec,
  pickArchive,
  resolveFromCache,
  resolveFromListing,
  semverToGoVersion,
  versionFromFile,
  type GoRelease,
} from '../src/toolchain/goversion.ts';
import { ActionError } from '../src/common/errors.ts';
import { buildListing } from '../sandbox/gomirror.ts';

// The mirror's listing around a Go 1.26.8 (1.27 betas/rcs, 1.26.0–8, 1.25.0–5, …, 1.22.0–11, 1.20–1.20.2).
const REAL_SHA = 'ab'.repeat(32);
const listing: GoRelease[] = parseListing(
  buildListing({ path: '/nowhere', filename: 'go1.26.8.linux-amd64.tar.gz', sha256: REAL_SHA, size: 123, version: 'go1.26.8', os: 'linux', arch: 'amd64' }),
  'http://mirror',
);

function resolve(text: string): string | undefined {
  return resolveFromListing(parseVersionSpec(text, 'go-version'), listing)?.version;
}

test('Go names and semver convert both ways, old and new first releases and pre-releases', () => {
  assert.equal(goVersionToSemver('go1.23.4'), '1.23.4');
  assert.equal(goVersionToSemver('go1.20'), '1.20.0');
  assert.equal(goVersionToSemver('go1.24rc1'), '1.24.0-rc.1');
  assert.equal(goVersionToSemver('go1.24beta2'), '1.24.0-beta.2');
  assert.equal(goVersionToSemver('1.22.3'), '1.22.3');
  assert.equal(goVersionToSemver('weekly.2011-01-01'), undefined);
  assert.equal(semverToGoVersion('1.24.0-rc.1'), 'go1.24rc1');
  assert.equal(semverToGoVersion('1.20.0'), 'go1.20');
  assert.equal(semverToGoVersion('1.21.0'), 'go1.21.0');
  assert.equal(semverToGoVersion('1.26.8'), 'go1.26.8');
});

test('every spec form parses', () => {
  assert.deepEqual(parseVersionSpec('1.23.4', 'go-version'), { kind: 'exact', input: '1.23.4', semver: '1.23.4' });
  assert.deepEqual(parseVersionSpec('go1.23.4', 'go-version'), { kind: 'exact', input: 'go1.23.4', semver: '1.23.4' });
  assert.deepEqual(parseVersionSpec('1.23', 'go-version'), { kind: 'range', input: '1.23', range: '~1.23.0' });
  assert.equal(parseVersionSpec('^1.22', 'go-version').kind, 'range');
  assert.equal(parseVersionSpec('>=1.21 <1.24', 'go-version').kind, 'range');
  assert.equal(parseVersionSpec('1.22.x', 'go-version').kind, 'range');
  assert.deepEqual(parseVersionSpec('Stable', 'go-version'), { kind: 'stable', input: 'Stable' });
  assert.deepEqual(parseVersionSpec('oldstable', 'go-version'), { kind: 'oldstable', input: 'oldstable' });
  assert.deepEqual(parseVersionSpec('1.24rc1', 'go-version'), { kind: 'exact', input: '1.24rc1', semver: '1.24.0-rc.1' });
  assert.deepEqual(parseVersionSpec('1.24beta2', 'go-version'), { kind: 'exact', input: '1.24beta2', semver: '1.24.0-beta.2' });
  assert.deepEqual(parseVersionSpec('1.24.0-rc.1', 'go-version'), { kind: 'exact', input: '1.24.0-rc.1', semver: '1.24.0-rc.1' });
  for (const bad of ['banana', '', '1.2.3.4', 'go']) {
    assert.throws(
      () => parseVersionSpec(bad, 'go-version'),
      (err: unknown) => err instanceof ActionError && err.message.startsWith(`go-version: "${bad}" is not a Go version`),
      bad,
    );
  }
});

test('every spec form resolves against the listing', () => {
  assert.equal(resolve('1.24.3'), 'go1.24.3', 'exact');
  assert.equal(resolve('1.24'), 'go1.24.7', 'a line: its newest patch');
  assert.equal(resolve('1.20'), 'go1.20.2', 'an old-style line');
  assert.equal(resolve('1.20.0'), 'go1.20', 'x.y.0 is the old-style first release');
  assert.equal(resolve('^1.22'), 'go1.26.8', 'caret: newest stable 1.x, not the 1.27 pre-releases');
  assert.equal(resolve('>=1.21 <1.24'), 'go1.23.9', 'bounded range');
  assert.equal(resolve('~1.25.2'), 'go1.25.5', 'tilde');
  assert.equal(resolve('stable'), 'go1.26.8');
  assert.equal(resolve('oldstable'), 'go1.25.5');
  assert.equal(resolve('1.27rc1'), 'go1.27rc1', 'release candidate');
  assert.equal(resolve('1.27beta1'), 'go1.27beta1', 'beta');
  assert.equal(resolve('>=1.27.0-rc.1'), 'go1.27rc2', 'a pre-release range takes the newest candidate');
  assert.equal(resolve('1.26.99'), undefined);
  assert.equal(resolve('1.27'), undefined, 'a line with only pre-releases has no release yet');
  assert.equal(resolve('2'), undefined);
});

test('a version that exists nowhere names the newest ones nearby', () => {
  const near = (text: string): string[] => nearbyVersions(parseVersionSpec(text, 'go-version'), listing);
  assert.deepEqual(near('1.26.99'), ['go1.26.8', 'go1.26.7', 'go1.26.6'], 'same line');
  assert.deepEqual(near('1.21.3'), ['go1.22.11', 'go1.20.2', 'go1.23.9'], 'no such line: the nearest lines');
  assert.deepEqual(near('1.40'), ['go1.27rc2', 'go1.26.8', 'go1.25.5'], 'beyond the newest');
  assert.deepEqual(near('1.27'), ['go1.27rc2', 'go1.27rc1', 'go1.27beta1'], 'a line with only pre-releases');
});

test('the tool cache answers exact versions and ranges, never stable/oldstable', () => {
  const cached = ['1.22.5', '1.26.7', '1.26.8', '1.27.0-rc.1', 'not-a-version'];
  const hit = (text: string): string | undefined => resolveFromCache(parseVersionSpec(text, 'go-version'), cached);
  assert.equal(hit('1.26.7'), '1.26.7');
  assert.equal(hit('go1.26.8'), '1.26.8');
  assert.equal(hit('1.26'), '1.26.8');
  assert.equal(hit('^1.22'), '1.26.8');
  assert.equal(hit('>=1.21 <1.24'), '1.22.5');
  assert.equal(hit('1.27rc1'), '1.27.0-rc.1');
  assert.equal(hit('1.25'), undefined);
  assert.equal(hit('stable'), undefined);
  assert.equal(hit('oldstable'), undefined);
});

test('go.mod and go.work: the toolchain line wins, else the go line', () => {
  const mod = (text: string, name = '/w/go.mod') => versionFromFile(name, text);
  assert.deepEqual(mod('module x\n\ngo 1.22\n\ntoolchain go1.23.4\n'), { version: '1.23.4', origin: 'the toolchain line of go.mod' });
  assert.deepEqual(mod('module x\ngo 1.22.3 // pinned\nrequire (\n\tgolang.org/x/net v0.1.0\n)\n'), { version: '1.22.3', origin: 'the go line of go.mod' });
  assert.deepEqual(mod('module x\r\ngo 1.21\r\n'), { version: '1.21', origin: 'the go line of go.mod' });
  assert.deepEqual(mod('module x\ngo 1.22\ntoolchain default\n'), { version: '1.22', origin: 'the go line of go.mod' });
  assert.deepEqual(mod('module x\ngo 1.22\ntoolchain go1.24rc1\n'), { version: '1.24rc1', origin: 'the toolchain line of go.mod' });
  assert.deepEqual(mod('go 1.23\n\nuse (\n\t./a\n\t./b\n)\ntoolchain go1.23.2\n', '/w/go.work'), { version: '1.23.2', origin: 'the toolchain line of go.work' });
  assert.throws(() => mod('module x\n'), /go\.mod \(\/w\/go\.mod\) has neither a toolchain nor a go line/);
  // What the line means: 1.22 is the line (newest patch), 1.22.3 is exact.
  assert.equal(resolve(mod('module x\ngo 1.22\n').version), 'go1.22.11');
  assert.equal(resolve(mod('module x\ngo 1.22.3\n').version), 'go1.22.3');
});

test('.go-version and .tool-versions', () => {
  assert.deepEqual(versionFromFile('/w/.go-version', '\n1.23.4\n'), { version: '1.23.4', origin: '.go-version' });
  assert.deepEqual(versionFromFile('/w/.go-version', 'go1.23\n'), { version: 'go1.23', origin: '.go-version' });
  assert.deepEqual(versionFromFile('/w/.tool-versions', 'nodejs 24.1.0\ngolang 1.22.5 # team pin\npython 3.12\n'), { version: '1.22.5', origin: 'the golang line of .tool-versions' });
  assert.throws(() => versionFromFile('/w/.tool-versions', 'nodejs 24.1.0\n'), /has no golang line/);
  assert.throws(() => versionFromFile('/w/.go-version', '\n\n'), /is empty/);
});

test('the runner picks the archive for its own platform', () => {
  assert.deepEqual(listingPlatform('linux', 'x64'), { os: 'linux', arch: 'amd64' });
  assert.deepEqual(listingPlatform('win32', 'arm64'), { os: 'windows', arch: 'arm64' });
  assert.deepEqual(listingPlatform('darwin', 'arm64'), { os: 'darwin', arch: 'arm64' });
  const rel = listing.find((r) => r.version === 'go1.26.8')!;
  assert.equal(pickArchive(rel, 'linux', 'amd64')?.sha256, REAL_SHA);
  assert.equal(pickArchive(rel, 'windows', 'amd64')?.filename, 'go1.26.8.windows-amd64.zip');
  assert.equal(pickArchive(rel, 'plan9', 'amd64'), undefined);
});

test('a listing that is not a Go listing is refused with the URL', () => {
  assert.throws(() => parseListing({ hello: 1 }, 'http://x/?mode=json'), /listing at http:\/\/x\/\?mode=json is not what a Go download site serves/);
  assert.throws(() => parseListing([{ name: 1 }], 'http://x'), /without version or files/);
});
