// The bundled action, run as a GitHub runner runs it.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { runAction } from '../sandbox/runner.ts';

test('dist/index.js reports every input problem at once and exits 1 without a stack trace', async () => {
  const run = await runAction({
    inputs: { 'app-name': 'demo', keep: 'many', goarch: 'sparc', 'client-id': 'abc' },
    env: { GITHUB_SHA: 'feedface' },
    entry: 'dist',
  });
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.equal(run.errors.length, 1, run.stdout);
  const error = decodeURIComponent(run.errors[0].replace(/%0A/g, '\n'));
  assert.match(error, /^::error::Invalid inputs \(4 problems\)/);
  assert.match(error, /keep: "many" is not a whole number/);
  assert.match(error, /goos\/goarch: Go cannot build windows\/sparc/);
  assert.match(error, /tenant-id: required with client-id/);
  assert.match(error, /commit: "feedface" must be at least 10 hexadecimal digits/);
  assert.doesNotMatch(run.stdout + run.stderr, /\n\s+at .*\.js:\d+/, 'no stack trace');
});

test('dist/index.js masks the secret inputs before anything else', async () => {
  const run = await runAction({
    inputs: { 'app-name': 'demo', 'publish-profile': 'profile-secret-value', 'client-secret': 'client-secret-value', 'client-id': 'c', 'tenant-id': 't' },
    env: { GITHUB_SHA: '0123456789abcdef' },
    entry: 'dist',
  });
  assert.equal(run.code, 1);
  const lines = run.stdout.split('\n');
  assert.ok(lines.includes('::add-mask::profile-secret-value'));
  assert.ok(lines.includes('::add-mask::client-secret-value'));
  const firstMask = lines.findIndex((l) => l.startsWith('::add-mask::'));
  assert.equal(firstMask, 0, 'masking is the first thing the action prints');
  assert.match(run.errors.join('\n'), /publish-profile: given together with client-id, tenant-id, client-secret/);
});
