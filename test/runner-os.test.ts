// Supported runners: Linux, x64 or arm64. Any other runner is refused before an input is read or
// anything is downloaded, with a message that says which runner to use.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { unsupportedRunner } from '../src/common/runner.ts';
import { runAction } from '../sandbox/runner.ts';

test('Linux x64 and arm64 runners are supported; Windows, macOS and 32-bit runners are not', () => {
  assert.equal(unsupportedRunner({ RUNNER_OS: 'Linux', RUNNER_ARCH: 'X64' }), undefined);
  assert.equal(unsupportedRunner({ RUNNER_OS: 'Linux', RUNNER_ARCH: 'ARM64' }), undefined);
  assert.match(unsupportedRunner({ RUNNER_OS: 'Windows', RUNNER_ARCH: 'X64' }) ?? '', /^This runner is Windows; go-azure-deploy runs on Linux runners \(x64, arm64\) only\. Use a Linux runner \(runs-on: ubuntu-latest/);
  assert.match(unsupportedRunner({ RUNNER_OS: 'macOS', RUNNER_ARCH: 'ARM64' }) ?? '', /^This runner is macOS;/);
  assert.match(unsupportedRunner({ RUNNER_OS: 'Linux', RUNNER_ARCH: 'ARM' }) ?? '', /architecture is ARM;/);
  // Outside a runner: Node's own names.
  assert.equal(unsupportedRunner({}, 'linux', 'arm64'), undefined);
  assert.match(unsupportedRunner({}, 'win32', 'x64') ?? '', /^This runner is Windows;/);
  assert.match(unsupportedRunner({}, 'linux', 'ia32') ?? '', /architecture is IA32;/);
});

for (const os of ['Windows', 'macOS']) {
  test(`a ${os} runner is refused at the start, before the inputs are read`, async () => {
    // Inputs that would be refused too: the runner's message comes first and alone.
    const run = await runAction({ inputs: { 'app-name': 'demo', keep: 'many' }, env: { RUNNER_OS: os, GITHUB_SHA: '0123456789abcdef0123' } });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.equal(run.errors.length, 1, run.stdout);
    assert.match(run.errors[0], new RegExp(`^::error::This runner is ${os}; go-azure-deploy runs on Linux runners \\(x64, arm64\\) only`));
    assert.doesNotMatch(run.stdout, /keep: "many"/);
  });
}
