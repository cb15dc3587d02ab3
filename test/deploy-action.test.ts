// The action run as a runner runs it, signed in with a publish profile,
// deploying to the Kudu emulator: first deploy, redeploy over a running (locked) binary, dry run,
// rollback, and a wrong password. The password must never reach the log.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runAction, type ActionRun } from '../sandbox/runner.ts';
import { startKudu, type KuduEmulator } from '../sandbox/kudu.ts';
import { machineGoVersion, seedToolCache } from '../sandbox/gomirror.ts';
import { makeApp, snapshotTree } from '../sandbox/fixture.ts';

const SHA1 = '1111111111aaaaaaaaaabbbbbbbbbbcccccccccc';
const SHA2 = '2222222222aaaaaaaaaabbbbbbbbbbcccccccccc';

let kudu: KuduEmulator;
let toolCache: string;
let appDir: string;

before(async () => {
  kudu = await startKudu({ siteName: 'pp-shop', appUrl: 'https://pp-shop.azurewebsites.net' });
  toolCache = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-pp-toolcache-'));
  seedToolCache(toolCache);
  appDir = makeApp();
});

after(async () => {
  await kudu.close();
  fs.rmSync(toolCache, { recursive: true, force: true });
  fs.rmSync(appDir, { recursive: true, force: true });
});

function deploy(sha: string, extra: Record<string, string> = {}, profile = kudu.publishProfileXml()): Promise<ActionRun> {
  return runAction({
    inputs: {
      'app-name': 'pp-shop',
      'publish-profile': profile,
      // The emulator is reached at its own address through the kudu-url input, not the SCM name.
      'kudu-url': kudu.url,
      'working-directory': appDir,
      'go-version': machineGoVersion().replace(/^go/, ''),
      include: 'static/**',
      // Verification wakes the public site URL, which does not exist offline.
      verify: 'false',
      ...extra,
    },
    toolCache,
    cwd: appDir,
    env: { GITHUB_SHA: sha },
    timeoutMs: 200_000,
  });
}

function assertNoPassword(run: ActionRun): void {
  const secrets = [kudu.password, Buffer.from(`${kudu.userName}:${kudu.password}`).toString('base64')];
  for (const s of secrets) {
    const leaks = `${run.stdout}\n${run.stderr}`.split('\n').filter((l) => l.includes(s) && !l.startsWith('::add-mask::'));
    assert.deepEqual(leaks, [], 'the password appears outside ::add-mask::');
  }
}

const artifactTxt = (): string => fs.readFileSync(path.join(kudu.home, 'site', 'wwwroot', '_artifact.txt'), 'utf8');

test('publish profile: deploy, redeploy over the running binary, dry run, rollback, wrong password', { timeout: 600_000 }, async () => {
  const first = await deploy(SHA1);
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
  const name1 = `pp-shop-${SHA1.slice(0, 10)}.exe`;
  assert.equal(first.outputs['artifact-name'], name1);
  assert.equal(first.outputs['previous-artifact'], '');
  assert.equal(first.outputs['webapp-url'], 'https://pp-shop.azurewebsites.net');
  assert.equal(artifactTxt(), `_target\\${name1}\r\n`);
  assert.ok(fs.existsSync(path.join(kudu.home, 'site', 'wwwroot', 'web.config')));
  assertNoPassword(first);

  kudu.lock(`site/wwwroot/_target/${name1}`);
  const second = await deploy(SHA2);
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  const name2 = `pp-shop-${SHA2.slice(0, 10)}.exe`;
  assert.equal(second.outputs['previous-artifact'], name1);
  assert.equal(artifactTxt(), `_target\\${name2}\r\n`);
  assert.match(second.stdout, /Kept your web\.config/);
  assertNoPassword(second);

  const before = snapshotTree(kudu.home);
  const dry = await deploy('3333333333aaaaaaaaaabbbbbbbbbbcccccccccc', { 'dry-run': 'true', keep: '1' });
  assert.equal(dry.code, 0, `${dry.stdout}\n${dry.stderr}`);
  assert.deepEqual(snapshotTree(kudu.home), before, 'the dry run changed nothing');
  assert.match(dry.stdout, /would: upload pp-shop-3333333333\.exe/);
  assert.match(dry.stdout, new RegExp(`would: write site/wwwroot/_artifact\\.txt: _target\\\\pp-shop-3333333333\\.exe \\(now ${name2}\\)`));
  assertNoPassword(dry);

  const back = await deploy(SHA2, { rollback: 'true' });
  assert.equal(back.code, 0, `${back.stdout}\n${back.stderr}`);
  assert.equal(back.outputs['previous-artifact'], name2);
  assert.equal(back.outputs['artifact-name'], name1);
  assert.equal(artifactTxt(), `_target\\${name1}\r\n`);
  assertNoPassword(back);

  const unchanged = snapshotTree(kudu.home);
  const wrong = await deploy(SHA1, {}, kudu.publishProfileXml({ password: 'definitely-wrong' }));
  assert.notEqual(wrong.code, 0);
  // Preflight is the first to call Kudu: the 401 is explained there, before anything changes.
  assert.match(wrong.errors.join('\n'), /Preflight: .*Kudu refused the publish profile's credentials \(401\) before anything was changed\. SCM basic auth publishing credentials are probably off/);
  assert.deepEqual(snapshotTree(kudu.home), unchanged);
  assertNoPassword(wrong);
});
