// The Go side under the project's one test command: `go vet` and `go test -race` for the goazure
// package, and `go vet` plus a build for the example app that links it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess, type ProcessRun } from '../sandbox/process.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function go(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ProcessRun> {
  return runProcess('go', args, {
    cwd: path.join(root, dir),
    env: { ...process.env, GOTOOLCHAIN: 'local', GOWORK: 'off', GOFLAGS: '-mod=mod', ...env },
    timeoutMs: 280_000,
  });
}

test('goazure: go vet is clean', { timeout: 120_000 }, async () => {
  const r = await go('goazure', ['vet', './...']);
  assert.equal(r.code, 0, r.output);
});

test('goazure: go test -race passes (trigger rules, drain, timeout, signals)', { timeout: 300_000 }, async () => {
  const r = await go('goazure', ['test', '-race', '-count=1', './...']);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /^ok\s+github\.com\/go-azure-deploy\/go-azure-deploy\/goazure/m);
});

test('example: go vet is clean and it builds for windows/amd64', { timeout: 120_000 }, async () => {
  const vet = await go('example', ['vet', './...']);
  assert.equal(vet.code, 0, vet.output);
  const r = await go('example', ['build', '-o', process.platform === 'win32' ? 'NUL' : '/dev/null', '.'], { GOOS: 'windows', GOARCH: 'amd64', CGO_ENABLED: '0' });
  assert.equal(r.code, 0, r.output);
});
