// The real templates/go-azure.bat under Wine's cmd, and the real windows/amd64 example app
// launched by it behind the IIS emulator: a request, a switch of _artifact.txt, the new version.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildExampleApp, installTemplates, startIis, winePath, writeArtifact } from '../sandbox/iis.ts';
import { ensureWinePrefix, stopWineServer, wineAvailable, wineCmd, wineExe } from '../sandbox/wine.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const skip = wineAvailable() ? false : 'wine is not installed (.ci/run installs it)';

let prefix: string;
let work: string;
let echoExe: string;

/**
 * A windows/amd64 program that prints its arguments, HTTP_PLATFORM_PORT and its own file name, then
 * exits 7. With ECHO_REPLACE_LAUNCHER set to a file, it first copies that file over go-azure.bat in
 * its working directory (the site folder), as a deploy that updates the launcher would.
 */
async function buildEcho(dir: string): Promise<string> {
  const src = path.join(dir, 'echo-src');
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, 'go.mod'), 'module echo\n\ngo 1.22\n');
  fs.writeFileSync(
    path.join(src, 'main.go'),
    'package main\n\nimport (\n\t"fmt"\n\t"os"\n\t"path/filepath"\n)\n\nfunc main() {\n\texe, _ := os.Executable()\n\tfmt.Printf("args=%q port=%s exe=%s\\n", os.Args[1:], os.Getenv("HTTP_PLATFORM_PORT"), filepath.Base(exe))\n' +
      '\tif src := os.Getenv("ECHO_REPLACE_LAUNCHER"); src != "" {\n\t\tb, err := os.ReadFile(src)\n\t\tif err == nil {\n\t\t\terr = os.WriteFile("go-azure.bat", b, 0o644)\n\t\t}\n\t\tif err != nil {\n\t\t\tfmt.Println("replace:", err)\n\t\t\tos.Exit(1)\n\t\t}\n\t}\n' +
      '\tos.Exit(7)\n}\n',
  );
  const out = path.join(dir, 'echo.exe');
  const code = await new Promise<number | null>((resolve, reject) => {
    const c = spawn('go', ['build', '-o', out, '.'], {
      cwd: src,
      env: { ...process.env, GOOS: 'windows', GOARCH: 'amd64', CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOWORK: 'off' },
      stdio: 'inherit',
    });
    c.once('error', reject);
    c.once('close', resolve);
  });
  assert.equal(code, 0, 'building the echo program');
  return out;
}

before(async () => {
  if (skip !== false) return;
  fs.mkdirSync(path.join(repoRoot, '.tmp'), { recursive: true });
  work = fs.mkdtempSync(path.join(repoRoot, '.tmp', 'wine test-'));
  [prefix, echoExe] = await Promise.all([ensureWinePrefix(), buildEcho(work)]);
});

after(async () => {
  if (skip !== false) return;
  await stopWineServer(prefix);
  fs.rmSync(work, { recursive: true, force: true });
});

/** A site folder with the real go-azure.bat and the echo program under _target. */
function batSite(name: string, exeName: string): string {
  const wwwroot = path.join(work, name);
  installTemplates(wwwroot);
  fs.mkdirSync(path.join(wwwroot, '_target'), { recursive: true });
  fs.copyFileSync(echoExe, path.join(wwwroot, '_target', exeName));
  return wwwroot;
}

const runBat = (wwwroot: string, ...args: string[]) => wineCmd(prefix, `${winePath(wwwroot)}\\go-azure.bat`, args, 60_000, { HTTP_PLATFORM_PORT: '4321' });

test('go-azure.bat keeps its CRLF line endings', () => {
  const bat = fs.readFileSync(path.join(repoRoot, 'templates', 'go-azure.bat'), 'latin1');
  assert.equal(bat.split('\r\n').length, bat.split('\n').length, 'every line ends in CRLF');
});

test('go-azure.bat runs the binary _artifact.txt names, with the arguments, and passes on its exit code', { skip, timeout: 120_000 }, async () => {
  const wwwroot = batSite('site crlf', 'site-0123456789.exe');
  writeArtifact(wwwroot, 'site-0123456789.exe');
  const r = await runBat(wwwroot, '4321', '-second');
  assert.equal(r.code, 7, r.output);
  assert.match(r.output, /args=\["4321" "-second"\] port=4321/);
});

test("go-azure.bat runs the binary this instance's own pointer names while it exists, and _artifact.txt's otherwise", { skip, timeout: 180_000 }, async () => {
  const wwwroot = batSite('site canary', 'site-aaaaaaaaaa.exe');
  fs.copyFileSync(echoExe, path.join(wwwroot, '_target', 'site-bbbbbbbbbb.exe'));
  writeArtifact(wwwroot, 'site-aaaaaaaaaa.exe');
  fs.writeFileSync(path.join(wwwroot, '_artifact.inst-one.txt'), '_target\\site-bbbbbbbbbb.exe\r\n');
  const as = (id: string) => wineCmd(prefix, `${winePath(wwwroot)}\\go-azure.bat`, ['4321'], 60_000, { HTTP_PLATFORM_PORT: '4321', WEBSITE_INSTANCE_ID: id });
  // The canary instance runs the new binary; another instance, and an id with characters the
  // rule does not allow (it would name another file), run what _artifact.txt names.
  const [canary, other, odd] = await Promise.all([as('inst-one'), as('inst-two'), as('inst-one&x')]);
  assert.equal(canary.code, 7, canary.output);
  assert.match(canary.output, /exe=site-bbbbbbbbbb\.exe/);
  assert.match(other.output, /exe=site-aaaaaaaaaa\.exe/);
  assert.match(odd.output, /exe=site-aaaaaaaaaa\.exe/);
  // The instance's pointer follows the same rule as _artifact.txt.
  fs.writeFileSync(path.join(wwwroot, '_artifact.inst-one.txt'), '_target\\..\\site-bbbbbbbbbb.exe\r\n');
  const refused = await as('inst-one');
  assert.equal(refused.code, 5, refused.output);
  // Removed: _artifact.txt applies again.
  fs.rmSync(path.join(wwwroot, '_artifact.inst-one.txt'));
  assert.match((await as('inst-one')).output, /exe=site-aaaaaaaaaa\.exe/);
});

test('go-azure.bat does not read its file again once the app runs: a launcher written over it meanwhile changes nothing', { skip, timeout: 120_000 }, async () => {
  const wwwroot = batSite('site replaced', 'site-0123456789.exe');
  writeArtifact(wwwroot, 'site-0123456789.exe');
  // cmd.exe reads a batch file a line at a time, from where it left off. Whatever offset it would
  // go on from, this file has a line there that says so and exits 99.
  const newer = path.join(work, 'newer-launcher.bat');
  fs.writeFileSync(newer, '@echo READ-AGAIN & exit /b 99\r\n'.repeat(2000));
  const r = await wineCmd(prefix, `${winePath(wwwroot)}\\go-azure.bat`, ['4321'], 60_000, { HTTP_PLATFORM_PORT: '4321', ECHO_REPLACE_LAUNCHER: winePath(newer) });
  assert.equal(fs.readFileSync(path.join(wwwroot, 'go-azure.bat'), 'latin1'), fs.readFileSync(newer, 'latin1'), `the app replaced the launcher: ${r.output}`);
  assert.doesNotMatch(r.output, /READ-AGAIN/);
  assert.equal(r.code, 7, r.output);
});

test('go-azure.bat reads a name without a final newline, with LF, with blanks around it, in a site folder with spaces in its path', { skip, timeout: 120_000 }, async () => {
  const wwwroot = batSite('site with spaces', 'my-app.exe');
  for (const content of ['_target\\my-app.exe', '_target\\my-app.exe\n', '_target/my-app.exe\r\n', '  _target\\my-app.exe  \r\n']) {
    fs.writeFileSync(path.join(wwwroot, '_artifact.txt'), content);
    const r = await runBat(wwwroot, '4321');
    assert.equal(r.code, 7, `${JSON.stringify(content)}: ${r.output}`);
    assert.match(r.output, /args=\["4321"\]/, JSON.stringify(content));
  }
});

test('go-azure.bat explains a missing _artifact.txt, an empty one, and a missing binary, and exits non-zero', { skip, timeout: 120_000 }, async () => {
  const wwwroot = batSite('site broken', 'site-0123456789.exe');
  const missingList = await runBat(wwwroot, '4321');
  assert.equal(missingList.code, 2, missingList.output);
  assert.match(missingList.output, /go-azure\.bat: ".*_artifact\.txt" does not exist; deploy an artifact/);

  fs.writeFileSync(path.join(wwwroot, '_artifact.txt'), '');
  const empty = await runBat(wwwroot, '4321');
  assert.equal(empty.code, 3, empty.output);
  assert.match(empty.output, /names no binary \(it is empty\)/);

  writeArtifact(wwwroot, 'site-9999999999.exe');
  const missingBinary = await runBat(wwwroot, '4321');
  assert.equal(missingBinary.code, 4, missingBinary.output);
  assert.match(missingBinary.output, /"[^"]*site-9999999999\.exe", named by "[^"]*_artifact\.txt", does not exist or is not a file; deploy that artifact again/);
  assert.doesNotMatch(missingBinary.output, /args=/, 'nothing else runs');

  fs.writeFileSync(path.join(wwwroot, '_artifact.txt'), '_target\\site-0123456789.exe & echo injected\r\n');
  const invalid = await runBat(wwwroot, '4321');
  assert.equal(invalid.code, 5, invalid.output);
  assert.match(invalid.output, /go-azure\.bat: "[^"]*_artifact\.txt" is not one line "_target\\<name>\.exe" with a name of A-Z, a-z, 0-9, "\.", "_" and "-"; nothing was started/);
  assert.doesNotMatch(invalid.output, /args=|injected/, 'nothing runs');

  // The launcher reads the app's exit code with delayed expansion, which would take a "!" out of
  // the path: such a folder is named instead of a binary not being found.
  const bang = batSite('site!bang', 'site-0123456789.exe');
  writeArtifact(bang, 'site-0123456789.exe');
  const inBang = await runBat(bang, '4321');
  assert.equal(inBang.code, 6, inBang.output);
  assert.match(inBang.output, /go-azure\.bat: the site folder "[^"]*site!bang\\" has a "!" in its path/);
  assert.doesNotMatch(inBang.output, /args=/, 'nothing runs');
});

/** goazure/testdata/artifact-contents.json, the table goazure's Go tests run too. */
interface ArtifactTable {
  files: string[];
  cases: { name: string; content: string; starts: string | null }[];
}

test('go-azure.bat starts a binary for exactly the _artifact.txt contents goazure hands over to, and the same binary', { skip, timeout: 300_000 }, async () => {
  const table = JSON.parse(fs.readFileSync(path.join(repoRoot, 'goazure', 'testdata', 'artifact-contents.json'), 'utf8')) as ArtifactTable;
  assert.ok(table.cases.length > 40, 'the table has its cases');
  assert.ok(table.cases.some((c) => c.starts !== null) && table.cases.some((c) => c.starts === null), 'the table has contents that start a binary and contents that do not');
  // One site per content, laid out as in the Go test: the running binary, the newer version's
  // asset folder and every file an invalid content names, so that only the rule refuses them.
  const site = (i: number, content: string): string => {
    const wwwroot = path.join(work, `table ${i}`);
    installTemplates(wwwroot);
    fs.mkdirSync(path.join(wwwroot, '_target', 'site-bbbbbbbbbb'), { recursive: true });
    for (const f of ['_target/site-aaaaaaaaaa.exe', ...table.files]) {
      const p = path.join(wwwroot, f);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      if (!fs.existsSync(p)) fs.linkSync(echoExe, p);
    }
    fs.writeFileSync(path.join(wwwroot, '_artifact.txt'), Buffer.from(content, 'utf8'));
    return wwwroot;
  };
  const results: { name: string; content: string; starts: string | null; code: number | null; output: string }[] = [];
  // A few at a time: each is one cmd.exe under Wine.
  const queue = table.cases.map((c, i) => ({ ...c, i }));
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
        const wwwroot = site(c.i, c.content);
        // Were "%GO_AZURE_TEST%" expanded, it would name a binary that exists.
        const r = await wineCmd(prefix, `${winePath(wwwroot)}\\go-azure.bat`, ['4321'], 60_000, { GO_AZURE_TEST: 'site-bbbbbbbbbb' });
        results.push({ ...c, ...r });
      }
    }),
  );
  const wrong: string[] = [];
  for (const r of results) {
    const started = /args=\["4321"\] port=\S* exe=(\S+)/.exec(r.output)?.[1] ?? null;
    if (r.starts !== null) {
      if (r.code !== 7 || started !== r.starts) wrong.push(`${r.name} ${JSON.stringify(r.content)}: want ${r.starts} started, got exit ${r.code}:\n${r.output}`);
    } else if (started !== null || r.code === 7 || r.code === 0 || !/^go-azure\.bat: /m.test(r.output) || /injected/.test(r.output)) {
      wrong.push(`${r.name} ${JSON.stringify(r.content)}: want nothing started and a refusal on stderr, got exit ${r.code}:\n${r.output}`);
    }
  }
  assert.deepEqual(wrong, [], `go-azure.bat and goazure disagree on ${wrong.length} of ${results.length} contents`);
});

test('goazure tests pass as a windows/amd64 test binary under Wine (drive letters, backslashes, a file system that ignores case)', { skip, timeout: 300_000 }, async () => {
  const exe = path.join(work, 'goazure.test.exe');
  const build = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const c = spawn('go', ['test', '-c', '-o', exe, '.'], {
      cwd: path.join(repoRoot, 'goazure'),
      env: { ...process.env, GOOS: 'windows', GOARCH: 'amd64', CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOWORK: 'off' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    c.stdout.on('data', (d: Buffer) => (output += d.toString()));
    c.stderr.on('data', (d: Buffer) => (output += d.toString()));
    c.once('error', reject);
    c.once('close', (code) => resolve({ code, output }));
  });
  assert.equal(build.code, 0, build.output);
  // In goazure/ so that the tests find testdata/; Go's own timeout ends it first, the PID's SIGKILL
  // after four minutes is the last resort.
  const r = await wineExe(prefix, exe, ['-test.v', '-test.count=1', '-test.timeout=180s'], 240_000, path.join(repoRoot, 'goazure'));
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /^PASS$/m);
  assert.doesNotMatch(r.output, /^--- FAIL/m);
  // The Windows-only tests ran, and the shared table did.
  assert.match(r.output, /^--- PASS: TestWindowsPaths/m);
  assert.match(r.output, /^--- PASS: TestArtifactContents/m);
});

test('end to end under Wine: the IIS emulator runs the real go-azure.bat and the windows/amd64 example app, and a switch hands over', { skip, timeout: 240_000 }, async (t) => {
  const home = path.join(work, 'home dir');
  const wwwroot = path.join(home, 'site', 'wwwroot');
  installTemplates(wwwroot);
  const target = path.join(wwwroot, '_target');
  await Promise.all([
    buildExampleApp({ outPath: path.join(target, 'site-aaaaaaaaaa.exe'), version: 'v1', commit: 'aaaaaaaaaa', goos: 'windows' }),
    buildExampleApp({ outPath: path.join(work, 'v2.exe'), version: 'v2', commit: 'bbbbbbbbbb', goos: 'windows' }),
  ]);
  writeArtifact(wwwroot, 'site-aaaaaaaaaa.exe');
  // The identity key a deploy writes (goazure/identity.go): answers name the version only to it.
  const identityKey = 'f'.repeat(64);
  fs.writeFileSync(path.join(wwwroot, '_identity.txt'), `${identityKey}\r\n`);
  const withKey = { headers: { 'X-Goazure-Identity-Key': identityKey } };

  const iis = await startIis({ home, launcher: 'wine', winePrefix: prefix, env: { EXAMPLE_POLL_MS: '200' } });
  t.after(() => iis.close());

  const first = await fetch(`${iis.url}/`, withKey);
  assert.equal(first.status, 200, await first.clone().text());
  assert.equal(await first.text(), 'v1 aaaaaaaaaa\n');
  // The answer says which version sent it: the binary's file name and the stamped commit.
  assert.equal(first.headers.get('x-goazure-artifact'), 'site-aaaaaaaaaa.exe');
  assert.equal(first.headers.get('x-goazure-commit'), 'aaaaaaaaaa');
  assert.equal(iis.processes()[0]?.name, 'site-aaaaaaaaaa');
  assert.equal(iis.isLocked('site/wwwroot/_target/site-aaaaaaaaaa.exe'), true);

  // The deploy: the new binary under a new name, then _artifact.txt rewritten to name it.
  fs.copyFileSync(path.join(work, 'v2.exe'), path.join(target, 'site-bbbbbbbbbb.exe'));
  const switchedAt = Date.now();
  writeArtifact(wwwroot, 'site-bbbbbbbbbb.exe');
  let body = '';
  let headers = new Headers();
  while (Date.now() - switchedAt < 60_000) {
    const r = await fetch(`${iis.url}/`, withKey).catch(() => undefined);
    body = r === undefined ? '' : await r.text();
    headers = r?.headers ?? new Headers();
    if (body.startsWith('v2')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(body, 'v2 bbbbbbbbbb\n', 'the new version answers after the switch');
  assert.equal(headers.get('x-goazure-artifact'), 'site-bbbbbbbbbb.exe');
  assert.equal(headers.get('x-goazure-commit'), 'bbbbbbbbbb');
  assert.equal(iis.processes()[0]?.name, 'site-bbbbbbbbbb');
  assert.equal(iis.stats().starts, 2);

  // The Windows process logged through HttpPlatformHandler's stdout log.
  const logDir = path.join(home, 'LogFiles');
  const logs = fs.readdirSync(logDir).filter((f) => f.startsWith('go-azure-stdout_')).map((f) => fs.readFileSync(path.join(logDir, f), 'utf8')).join('\n');
  assert.match(logs, /handing over.*site-bbbbbbbbbb\.exe/);
  // slog quotes the path and doubles its backslashes.
  assert.match(logs, /executable="Z:\\\\.*\\\\_target\\\\site-aaaaaaaaaa\.exe"/, 'the binary saw its own Windows path');
});
