// The Go side under the project's one test command: `go vet` and `go test -race` for the goazure
// package, and `go vet` plus a build for the example app that links it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function go(dir: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, {
      cwd: path.join(root, dir),
      env: { ...process.env, GOTOOLCHAIN: 'local', GOWORK: 'off', GOFLAGS: '-mod=mod' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
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
  const r = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn('go', ['build', '-o', process.platform === 'win32' ? 'NUL' : '/dev/null', '.'], {
      cwd: path.join(root, 'example'),
      env: { ...process.env, GOOS: 'windows', GOARCH: 'amd64', CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOWORK: 'off' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
  assert.equal(r.code, 0, r.output);
});
