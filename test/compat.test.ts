// The compatibility promise (docs/go-package.md, "Compatibility"): the action and goazure work together across
// one major version in both directions. On the local App Service, with Linux builds behind the IIS
// emulator's shell launcher:
//   (a) an app linked with goazure as release 1.0.0 shipped it (test/fixtures/compat/goazure-v1.0.0)
//       hands over when the current action (run as a runner runs it) deploys; 1.0.0 sends no
//       X-Goazure-* header, and verify tells the versions apart by Kudu's process list;
//   (b) an app linked with the current goazure (example/) hands over when _artifact.txt is written
//       the way release 1.0.0 of the action wrote it, with no identity key on the site, and then
//       names its version to no one.

import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startAppService, deployInputs, identityHeaders, type AppService } from '../sandbox/appservice.ts';
import { seedToolCache } from '../sandbox/gomirror.ts';
import { buildExampleApp } from '../sandbox/iis.ts';
import { runAction, repoRoot } from '../sandbox/runner.ts';

const fixtures = path.join(repoRoot, 'test', 'fixtures', 'compat');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'compat-test-'));
const sites: AppService[] = [];
after(async () => {
  await Promise.all(sites.map((s) => s.close()));
  fs.rmSync(work, { recursive: true, force: true });
});

const newCommit = (): string => randomBytes(20).toString('hex');

/** The site's answer (IIS holds the first request until the process listens). */
async function answer(s: AppService): Promise<string> {
  const res = await fetch(s.localAppUrl);
  assert.equal(res.status, 200);
  return res.text();
}

async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the goazure 1.0.0 copy is byte for byte the release', () => {
  // The sha256 of the copy's files (name, NUL, content, in name order) when release 1.0.0 was cut.
  // A change here means the copy no longer stands for the apps running release 1.0.0.
  const FROZEN = '2124f0f25c0722348bcad738d6a4744135e08dab7ac3882583a45942d9099107';
  const dir = path.join(fixtures, 'goazure-v1.0.0');
  const hash = createHash('sha256');
  for (const name of fs.readdirSync(dir).sort()) hash.update(`${name}\0`).update(fs.readFileSync(path.join(dir, name)));
  assert.equal(hash.digest('hex'), FROZEN, 'test/fixtures/compat/goazure-v1.0.0 was changed');
});

test('(a) an app linked with goazure 1.0.0 hands over when the current action deploys', { timeout: 300_000 }, async () => {
  const s = await startAppService({ siteName: 'compat-old-goazure', env: { COMPAT_POLL_MS: '250' } });
  sites.push(s);
  // The machine's Go in the site's tool cache: this test is about the hand-over, not the download.
  const toolCache = s.toolCache;
  seedToolCache(toolCache);
  const deploy = (commit: string) =>
    runAction({
      inputs: deployInputs(s, commit, { 'working-directory': 'test/fixtures/compat/app', 'verify-timeout-seconds': '30', 'timeout-seconds': '240' }),
      env: { ...s.env, GITHUB_SHA: commit },
      toolCache,
      cwd: repoRoot,
    });

  const first = newCommit();
  const run1 = await deploy(first);
  assert.equal(run1.code, 0, run1.stdout + run1.stderr);
  assert.match(await answer(s), new RegExp(`^compatapp ${first} ${first}\n$`));
  const [oldProcess] = s.iis.processes();
  assert.equal(oldProcess?.name, `compat-old-goazure-${first.slice(0, 10)}`);

  const second = newCommit();
  const run2 = await deploy(second);
  // The action's verify stage passes only once the new binary is the process serving, which needs
  // the 1.0.0 process to have seen the switch and exited.
  assert.equal(run2.code, 0, run2.stdout + run2.stderr);
  assert.equal(run2.outputs['previous-artifact'], `compat-old-goazure-${first.slice(0, 10)}`);
  assert.match(await answer(s), new RegExp(`^compatapp ${second} ${second}\n$`));
  assert.deepEqual(
    s.iis.processes().map((p) => p.name),
    [`compat-old-goazure-${second.slice(0, 10)}`],
  );
  assert.ok(s.iis.processes()[0].id !== oldProcess.id, 'a new process serves');
  // goazure 1.0.0 names its version on no answer, and ignores the identity key the action now
  // writes: verify tells the versions apart by Kudu's process list, and says so.
  assert.match(run2.stdout, /::warning::The answers of compat-old-goazure-[0-9a-f]{10} carry no X-Goazure-Artifact header.*goazure release 1\.0\.0 hands over/);
  assert.ok(fs.existsSync(path.join(s.wwwroot, '_identity.txt')), 'the identity key beside _artifact.txt');
  assert.equal((await fetch(s.localAppUrl, { headers: identityHeaders(s) })).headers.get('x-goazure-artifact'), null);
});

test('(b) an app linked with the current goazure hands over when _artifact.txt is written as action 1.0.0 wrote it', { timeout: 120_000 }, async () => {
  const s = await startAppService({ siteName: 'compat-old-action', env: { EXAMPLE_POLL_MS: '250' } });
  sites.push(s);
  const goarch = process.arch === 'arm64' ? 'arm64' : 'amd64';
  const [v1, v2] = await Promise.all([
    buildExampleApp({ outPath: path.join(work, 'b', 'v1'), version: 'v1', commit: 'aaaaaaaaaa', goos: 'linux', goarch }),
    buildExampleApp({ outPath: path.join(work, 'b', 'v2'), version: 'v2', commit: 'bbbbbbbbbb', goos: 'linux', goarch }),
  ]);
  const auth = `Basic ${Buffer.from(`${s.kudu.userName}:${s.kudu.password}`).toString('base64')}`;
  const put = async (rel: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<number> => {
    const res = await fetch(`${s.localKuduUrl}/api/vfs/site/wwwroot/${rel}`, { method: 'PUT', headers: { authorization: auth, ...headers }, body });
    await res.arrayBuffer();
    return res.status;
  };
  // FROZEN: the switch exactly as release 1.0.0 of the action made it (src/switch.ts at v1.0.0):
  // `_target\<name>.exe` + CRLF, PUT to Kudu's VFS with `If-Match: *`. Do not update this literal
  // to follow the current action; it stands for sites deployed by 1.0.0.
  // Kudu answers 409 while the running app polls the file (as on App Service, where 1.0.0 failed
  // such a switch and the user ran the deploy again): a 409 is sent again, and changes nothing.
  const switchAsRelease100 = async (name: string): Promise<number> => {
    for (let n = 1; ; n++) {
      const status = await put('_artifact.txt', `_target\\${name}.exe\r\n`, { 'If-Match': '*' });
      if (status !== 409 || n >= 10) return status;
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  for (const f of ['web.config', 'go-azure.bat']) assert.equal(await put(f, fs.readFileSync(path.join(repoRoot, 'templates', f))), 201);
  assert.equal(await put('_target/site-aaaaaaaaaa.exe', fs.readFileSync(v1)), 201);
  assert.equal(await switchAsRelease100('site-aaaaaaaaaa'), 201);
  assert.equal(await answer(s), 'v1 aaaaaaaaaa\n');
  // Action 1.0.0 wrote no identity key, and read X-Goazure-Artifact without sending one: the
  // current goazure names nothing to it (its verify falls back on Kudu's process list, as for an
  // app without goazure), and nothing to any other visitor either.
  const plain = await fetch(s.localAppUrl);
  for (const h of ['x-goazure-artifact', 'x-goazure-commit', 'x-goazure-instance']) assert.equal(plain.headers.get(h), null, h);

  assert.equal(await put('_target/site-bbbbbbbbbb.exe', fs.readFileSync(v2)), 201);
  assert.equal(await switchAsRelease100('site-bbbbbbbbbb'), 204);
  await until('the process running site-aaaaaaaaaa exits', 20_000, async () => !s.iis.processes().some((p) => p.name === 'site-aaaaaaaaaa'));
  assert.equal(await answer(s), 'v2 bbbbbbbbbb\n');
  assert.deepEqual(
    s.iis.processes().map((p) => p.name),
    ['site-bbbbbbbbbb'],
  );
});
