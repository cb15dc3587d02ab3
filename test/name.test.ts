// The name stage: a pure function of the prefix, the commit and the target OS.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { artifactName, sanitizePrefix, MAX_PREFIX_LENGTH } from '../src/artifact/name.ts';
import { ActionError } from '../src/common/errors.ts';

const SHA = '0123456789abcdef0123456789abcdef01234567';

test('prefix, first 10 hex of the commit, .exe for windows only', () => {
  assert.equal(artifactName('myapp', SHA, 'windows'), 'myapp-0123456789.exe');
  assert.equal(artifactName('myapp', SHA, 'linux'), 'myapp-0123456789');
  assert.equal(artifactName('myapp', SHA.toUpperCase(), 'Windows'), 'myapp-0123456789.exe');
});

test('same inputs, same name', () => {
  assert.equal(artifactName('Some App', SHA, 'windows'), artifactName('Some App', SHA, 'windows'));
  assert.notEqual(artifactName('app', SHA, 'windows'), artifactName('app', 'f' + SHA.slice(1), 'windows'));
});

test('sanitising', () => {
  const cases: [string, string][] = [
    ['MyApp', 'myapp'],
    ['my app', 'my-app'],
    ['My  App!!  v2', 'my-app-v2'],
    ['a/b\\c:d*e?f"g<h>i|j', 'a-b-c-d-e-f-g-h-i-j'],
    ['--api.v2__', 'api.v2'],
    ['...hidden', 'hidden'],
    ['a..b', 'a.b'],
    ['Café Déjà-Vu', 'cafe-deja-vu'],
    ['app%20name', 'app-20name'],
    ['site_name-01', 'site_name-01'],
    ['  spaced  ', 'spaced'],
  ];
  for (const [raw, want] of cases) assert.equal(sanitizePrefix(raw), want, raw);
  for (const [raw] of cases) assert.match(artifactName(raw, SHA, 'windows'), /^[a-z0-9][a-z0-9._-]*-0123456789\.exe$/);
});

test('long prefixes are cut, without a trailing separator', () => {
  const long = `${'a'.repeat(MAX_PREFIX_LENGTH - 1)}-bbbbbbbbbbbbbbbbbbbb`;
  const cut = sanitizePrefix(long);
  assert.equal(cut, 'a'.repeat(MAX_PREFIX_LENGTH - 1));
  assert.equal(sanitizePrefix('x'.repeat(100)).length, MAX_PREFIX_LENGTH);
});

test('nothing usable left is an error naming the input', () => {
  for (const raw of ['', '日本語', '---', '!!!', '...']) {
    assert.throws(
      () => artifactName(raw, SHA, 'windows'),
      (err: unknown) => err instanceof ActionError && /^artifact-prefix: ".*" has no letters or digits left/.test(err.message),
      raw,
    );
  }
  assert.throws(() => artifactName('***', SHA, 'windows', 'app-name'), { message: /^app-name: "\*\*\*"/ });
});

test('Windows device names are refused; names merely starting with one are fine', () => {
  for (const raw of ['CON', 'nul', 'Com1', 'lpt9', 'aux.app', 'PRN']) {
    assert.throws(
      () => artifactName(raw, SHA, 'windows'),
      (err: unknown) => err instanceof ActionError && /device name Windows reserves/.test(err.message),
      raw,
    );
  }
  assert.equal(artifactName('console', SHA, 'windows'), 'console-0123456789.exe');
  assert.equal(artifactName('con-app', SHA, 'windows'), 'con-app-0123456789.exe');
  assert.equal(artifactName('com10', SHA, 'windows'), 'com10-0123456789.exe');
});

test('a commit that is not 10+ hex digits is an error naming commit', () => {
  for (const bad of ['abc', '012345678', 'zz23456789abcdef', '']) {
    assert.throws(() => artifactName('app', bad, 'windows'), { name: 'ActionError', message: /^commit: / }, bad);
  }
  assert.equal(artifactName('app', '0123456789', 'windows'), 'app-0123456789.exe');
});
