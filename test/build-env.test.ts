// go build runs without the action's secrets in its environment: a build can run code the
// repository names (here a -toolexec program, which go starts for every compile and link step),
// and that code must not find publish-profile, client-secret or the OIDC request token.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBinary, goBuildEnv } from '../src/artifact/compile.ts';
import { childEnv, isSecretVariable } from '../src/common/childenv.ts';
import { windowsBuildRequest } from '../sandbox/gobuild.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-build-env-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

const SECRETS: Record<string, string> = {
  'INPUT_PUBLISH-PROFILE': '<publishData>secret-profile-7f3a</publishData>',
  'INPUT_CLIENT-SECRET': 'client-secret-9c1e',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc-request-token-44d2',
};

test('the env object go gets has no secret inputs, and keeps what go needs', () => {
  const req = windowsBuildRequest(scratch, path.join(scratch, 'x.exe'));
  const env = goBuildEnv(req, false, { ...SECRETS, PATH: '/usr/bin', HOME: '/home/u', GOPROXY: 'https://proxy.example', 'INPUT_APP-NAME': 'shop' });
  for (const name of Object.keys(SECRETS)) assert.equal(env[name], undefined, name);
  assert.equal(env['INPUT_APP-NAME'], undefined, 'no input at all reaches go');
  assert.equal(env.PATH, '/usr/bin');
  assert.equal(env.GOPROXY, 'https://proxy.example');
  assert.equal(env.GOOS, 'windows');
  assert.equal(isSecretVariable('input_publish-profile'), true);
  assert.equal(isSecretVariable('GOFLAGS'), false);
  // The same filter serves every program the action starts (go env, go version, tar).
  assert.deepEqual(childEnv({ ...SECRETS, PATH: '/usr/bin', 'INPUT_APP-NAME': 'shop' }), { PATH: '/usr/bin' });
});

test('a program the build runs (-toolexec) does not see the secrets in its environment', { timeout: 300_000 }, async () => {
  const dump = path.join(scratch, 'env-seen.txt');
  const tool = path.join(scratch, 'toolexec.sh');
  fs.writeFileSync(tool, `#!/bin/sh\nenv >> "${dump}"\nexec "$@"\n`, { mode: 0o755 });
  const saved = Object.fromEntries(Object.keys(SECRETS).map((k) => [k, process.env[k]]));
  Object.assign(process.env, SECRETS);
  try {
    const req = windowsBuildRequest(path.join(repoRoot, 'test', 'fixtures', 'hello'), path.join(scratch, 'hello.exe'), {
      // The -toolexec program is part of every cache key, so each step runs it.
      buildFlags: [`-toolexec=${tool}`],
    });
    await buildBinary(req, new AbortController().signal);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const seen = fs.readFileSync(dump, 'utf8');
  assert.match(seen, /^GOOS=windows$/m, 'the tool ran inside the build and logged its environment');
  for (const [name, value] of Object.entries(SECRETS)) {
    assert.ok(!seen.includes(value), `${name} reached a program the build ran`);
  }
});
