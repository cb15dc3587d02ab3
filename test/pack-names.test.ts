// Windows naming rules for include files: the package stage refuses, before anything is uploaded,
// a name the Windows site cannot keep, naming each file and the rule it breaks; the sandbox's Kudu
// extraction applies the same rules as .NET Framework's path APIs do (sandbox/kudu.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageArtifact, windowsNameProblems, SITE_TARGET_PATH } from '../src/artifact/pack.ts';
import { ActionError } from '../src/common/errors.ts';
import { startKudu, zipOfFiles } from '../sandbox/kudu.ts';

const NAME = 'names-0123456789.exe';

test('each Windows naming rule is named for the file that breaks it', () => {
  const long = `assets/${'d'.repeat(100)}/${'f'.repeat(120)}.css`;
  const problems = windowsNameProblems(NAME, [
    'static/app.css',
    'data/2024-01-01T10:00.json',
    'static/aux.css',
    'nul.txt',
    'logs/COM1',
    'a/b?.js',
    'notes.txt.',
    'dir /x.js',
    'tab\there.txt',
    long,
    'static/con-figure.css',
  ]);
  const by = new Map(problems.map((p) => [p.path, p.rule]));
  assert.equal(by.has('static/app.css'), false);
  assert.equal(by.has('static/con-figure.css'), false, 'only the whole name before the first dot is a device');
  assert.match(by.get('data/2024-01-01T10:00.json')!, /"2024-01-01T10:00\.json" has characters Windows does not allow in a name \(:;/);
  assert.match(by.get('static/aux.css')!, /"aux\.css" is a Windows device name/);
  assert.match(by.get('nul.txt')!, /device name/);
  assert.match(by.get('logs/COM1')!, /device name/);
  assert.match(by.get('a/b?.js')!, /\(\?;/);
  assert.match(by.get('notes.txt.')!, /ends in a dot or a space/);
  assert.match(by.get('dir /x.js')!, /"dir " ends in a dot or a space/);
  assert.match(by.get('tab\there.txt')!, /control character 0x09/);
  assert.match(by.get(long)!, /its path on the site, \d+ characters \(D:\\home\\site\\wwwroot\\_target\\names-0123456789\\ takes 46\), is not under Windows' limit of 260/);
  assert.equal(problems.length, 9);
  assert.equal(SITE_TARGET_PATH.length + 'names-0123456789\\'.length, 46);
});

test('the package stage refuses such names, naming each file and rule, and writes no zip', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pack-names-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const app = path.join(dir, 'app');
  fs.mkdirSync(path.join(app, 'data'), { recursive: true });
  fs.writeFileSync(path.join(app, 'data', '2024-01-01T10:00.json'), '{}');
  fs.writeFileSync(path.join(app, 'data', 'aux.css'), '');
  fs.writeFileSync(path.join(app, 'data', 'ok.json'), '{}');
  fs.writeFileSync(path.join(dir, 'bin.exe'), 'MZ');
  const out = path.join(dir, 'pkg.zip');
  await assert.rejects(
    packageArtifact({ binaryPath: path.join(dir, 'bin.exe'), artifactName: NAME, workingDirectory: app, include: ['data/**'], mtime: new Date('2026-04-01T10:00:00Z'), outputPath: out }),
    (e: Error) =>
      e instanceof ActionError &&
      /2 files have names the Windows site cannot keep/.test(e.message) &&
      /- data\/2024-01-01T10:00\.json: .*not allow/.test(e.message) &&
      /- data\/aux\.css: .*device name/.test(e.message) &&
      !/ok\.json/.test(e.message),
  );
  assert.equal(fs.existsSync(out), false);
});

test('the sandbox Kudu extracts as .NET Framework does on Windows: such names fail the zip with 400, a trailing dot is dropped', async (t) => {
  const kudu = await startKudu({ siteName: 'names' });
  t.after(() => kudu.close());
  const auth = `Basic ${Buffer.from(`${kudu.userName}:${kudu.password}`).toString('base64')}`;
  const put = async (files: Record<string, string>) => {
    const res = await fetch(`${kudu.url}/api/zip/site/wwwroot/_target/`, { method: 'PUT', headers: { Authorization: auth }, body: await zipOfFiles(files) });
    return { status: res.status, text: await res.text() };
  };
  assert.match((await put({ 'names-0123456789/data/2024-01-01T10:00.json': '{}' })).text, /The given path's format is not supported/);
  assert.match((await put({ 'names-0123456789/aux.css': '' })).text, /will not open Win32 devices/);
  assert.match((await put({ 'names-0123456789/a"b.txt': '' })).text, /Illegal characters in path/);
  const long = await put({ [`names-0123456789/${'d'.repeat(100)}/${'f'.repeat(120)}.css`]: '' });
  assert.equal(long.status, 400);
  assert.match(long.text, /too long/);
  assert.equal((await put({ 'names-0123456789/notes.txt.': 'n' })).status, 200);
  assert.deepEqual(fs.readdirSync(path.join(kudu.home, 'site/wwwroot/_target/names-0123456789')), ['notes.txt'], 'landed under another name');
});
