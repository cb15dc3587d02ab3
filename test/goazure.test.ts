// The Go side under the project's one test command: `go vet` and `go test -race` for the goazure
// package, and `go vet` plus a build for the example app that links it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess, type ProcessRun } from '../sandbox/process.ts';
import { artifactName } from '../src/artifact/name.ts';

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

test('goazure: every name the action gives a binary is inside the _artifact.txt rule (ParseArtifact)', { timeout: 120_000 }, async () => {
  const prefixes = ['site', 'My Site', 'Café Crème', '../evil', '..\\evil', '.hidden', '-x-', '_a_', 'a&b', '%PATH%', 'a^b!c', '"quoted"', 'tab\tname', 'a<b>c|d',
    'x'.repeat(80), 'a..b', 'con-app', 'ümlaut', '日本語 app', 'a.b.c', 'UPPER', ' spaced  out ', 'web.config', 'a/b\\c', 'emoji 🚀 app'];
  const commits = ['0123456789abcdef0123456789abcdef01234567', 'ABCDEF0123456789', 'ffffffffff'];
  const names: string[] = [];
  for (const p of prefixes) {
    for (const c of commits) {
      try {
        names.push(artifactName(p, c, 'windows'));
      } catch {
        // A prefix the namer refuses with an error never becomes a name.
      }
    }
  }
  assert.ok(names.length >= 60, `the namer made ${names.length} names`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'goazure-names-'));
  try {
    const file = path.join(dir, 'names.txt');
    fs.writeFileSync(file, names.join('\n'));
    const r = await go('goazure', ['test', '-count=1', '-v', '-run', '^TestArtifactNamesOfTheDeploy$', '.'], { GOAZURE_DEPLOY_NAMES: file });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, new RegExp(`${names.length} names from `));
    assert.match(r.output, /--- PASS: TestArtifactNamesOfTheDeploy/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
