// The package stage: include globs, the zip's layout, sizes and determinism, read back with yauzl.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import yauzl from 'yauzl';
import { buildBinary } from '../src/artifact/compile.ts';
import { packageArtifact, resolveIncludes, normalizePattern, type PackageRequest } from '../src/artifact/pack.ts';
import { packageBuilt } from '../src/artifact/make.ts';
import { ActionError } from '../src/common/errors.ts';
import { windowsBuildRequest } from '../sandbox/gobuild.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const hello = path.join(repoRoot, 'test', 'fixtures', 'hello');
const NAME = 'hello-0123456789.exe';
const STEM = 'hello-0123456789';
// An odd second, at an hour that does not exist in Europe/London (the clocks went forward at
// 01:00 UTC that day): a time whose DOS fields are easy to get wrong.
const COMMIT_TIME = new Date(Date.UTC(2026, 2, 29, 1, 30, 45));

let scratch: string;
let binary: string;

before(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-pack-'));
  // A real windows/amd64 build of the fixture app is the binary being packaged.
  binary = path.join(scratch, NAME);
  await buildBinary(windowsBuildRequest(hello, binary), new AbortController().signal);
}, { timeout: 300_000 });

after(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

interface ZipEntry {
  name: string;
  data: Buffer;
  size: number;
  method: number;
  mode: number;
  dosDate: number;
  dosTime: number;
  /** The DOS date and time read as UTC, as Kudu on App Service reads them (sandbox/kudu.ts). */
  dosAsUtc: Date;
  /** The Info-ZIP extended timestamp, when the entry has one. */
  extendedTime?: Date;
}

async function readZip(file: string): Promise<ZipEntry[]> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true }, (err, z) => (err ? reject(err) : resolve(z))),
  );
  const out: ZipEntry[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', () => resolve());
    zip.on('entry', (entry: yauzl.Entry) => {
      zip.openReadStream(entry, (err, stream) => {
        if (err) {
          reject(err);
          return;
        }
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('error', reject);
        stream.on('end', () => {
          out.push({
            name: entry.fileName,
            data: Buffer.concat(chunks),
            size: entry.uncompressedSize,
            method: entry.compressionMethod,
            mode: entry.externalFileAttributes >>> 16,
            dosDate: entry.lastModFileDate,
            dosTime: entry.lastModFileTime,
            dosAsUtc: entry.getLastModDate({ forceDosFormat: true, timezone: 'UTC' }),
            extendedTime: entry.extraFields.some((f) => f.id === 0x5455) ? entry.getLastModDate() : undefined,
          });
          zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
  zip.close();
  return out;
}

function req(over: Partial<PackageRequest> = {}): PackageRequest {
  return {
    binaryPath: binary,
    artifactName: NAME,
    workingDirectory: hello,
    include: [],
    mtime: COMMIT_TIME,
    outputPath: path.join(scratch, `pkg-${Math.random().toString(16).slice(2)}.zip`),
    ...over,
  };
}

/** Runs resolveIncludes in a child process and returns the workflow commands it printed. */
function includeWarnings(workingDirectory: string, include: string[]): string[] {
  const script = [
    `import { resolveIncludes } from ${JSON.stringify(path.join(repoRoot, 'src', 'artifact', 'pack.ts'))};`,
    `const files = await resolveIncludes(process.argv[1], JSON.parse(process.argv[2]));`,
    `console.log('FILES ' + files.map((f) => f.relativePath).join(','));`,
  ].join('\n');
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, workingDirectory, JSON.stringify(include)], {
    encoding: 'utf8',
    env: { ...process.env, GITHUB_ACTIONS: 'true' },
  });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.split('\n').filter((l) => l.startsWith('::warning') || l.startsWith('FILES '));
}

describe('layout', () => {
  test('the binary at the root, include files under the name without .exe', async () => {
    const pkg = await packageArtifact(req({ include: ['static/**', 'templates', '!**/*.map'] }));
    const expected = [
      NAME,
      `${STEM}/static/app.css`,
      `${STEM}/static/img/dot.gif`,
      `${STEM}/static/js/app.js`,
      `${STEM}/templates/index.html`,
    ];
    assert.deepEqual(pkg.entries.map((e) => e.path), expected);
    const zip = await readZip(pkg.zipPath);
    assert.deepEqual(zip.map((e) => e.name), expected);
    for (const e of zip) {
      const source = e.name === NAME ? binary : path.join(hello, e.name.slice(STEM.length + 1));
      assert.ok(e.data.equals(fs.readFileSync(source)), `content of ${e.name}`);
      assert.equal(e.size, fs.statSync(source).size);
      assert.equal(pkg.entries.find((x) => x.path === e.name)?.size, e.size);
      assert.equal(e.method, 8, 'deflated');
    }
    assert.equal(zip[0].mode & 0o777, 0o755);
    assert.equal(zip[1].mode & 0o777, 0o644);
    assert.equal(pkg.binarySize, fs.statSync(binary).size);
    assert.equal(pkg.zipSize, fs.statSync(pkg.zipPath).size);
    assert.ok(pkg.zipSize < pkg.binarySize, `zip ${pkg.zipSize} < binary ${pkg.binarySize}`);
  });

  test('no include: only the binary', async () => {
    const pkg = await packageArtifact(req());
    assert.deepEqual((await readZip(pkg.zipPath)).map((e) => e.name), [NAME]);
  });

  test('a "!" folder pattern removes everything under it; backslashes work as separators', async () => {
    const files = await resolveIncludes(hello, ['static', '!static/js']);
    assert.deepEqual(files.map((f) => f.relativePath), ['static/app.css', 'static/img/dot.gif']);
    const js = await resolveIncludes(hello, ['.\\static\\js\\*.js']);
    assert.deepEqual(js.map((f) => f.relativePath), ['static/js/app.js']);
  });
});

describe('determinism', () => {
  test('the same input gives the same zip bytes, whatever the files\' times', async () => {
    const copy = fs.mkdtempSync(path.join(scratch, 'copy-'));
    fs.cpSync(hello, copy, { recursive: true });
    const include = ['static/**', 'templates/*.html'];
    const a = await packageArtifact(req({ workingDirectory: copy, include }));
    const later = new Date(Date.now() + 3_600_000);
    for (const f of ['static/app.css', 'templates/index.html']) fs.utimesSync(path.join(copy, f), later, later);
    const b = await packageArtifact(req({ workingDirectory: copy, include: [...include].reverse() }));
    assert.ok(fs.readFileSync(a.zipPath).equals(fs.readFileSync(b.zipPath)), 'identical zips');
    const zip = await readZip(a.zipPath);
    assert.ok(zip.every((e) => e.dosDate === zip[0].dosDate && e.dosTime === zip[0].dosTime));
    fs.appendFileSync(path.join(copy, 'static/app.css'), '/* changed */\n');
    const c = await packageArtifact(req({ workingDirectory: copy, include }));
    assert.ok(!fs.readFileSync(a.zipPath).equals(fs.readFileSync(c.zipPath)), 'a changed file changes the zip');
  });
});

describe('entry times', () => {
  test('every entry carries the given time: its UTC fields in the DOS date and time (even seconds), the second in the extended field', async () => {
    const pkg = await packageArtifact(req({ include: ['static/**'] }));
    const zip = await readZip(pkg.zipPath);
    assert.equal(zip.length, 5);
    for (const e of zip) {
      assert.equal(e.dosAsUtc.toISOString(), '2026-03-29T01:30:44.000Z', e.name);
      assert.equal(e.extendedTime?.toISOString(), '2026-03-29T01:30:45.000Z', e.name);
    }
  });

  test('the zip is the same bytes in every time zone the action may run in', () => {
    const script = [
      `import { packageArtifact } from ${JSON.stringify(path.join(repoRoot, 'src', 'artifact', 'pack.ts'))};`,
      `const [binaryPath, workingDirectory, outputPath, ms] = process.argv.slice(1);`,
      `await packageArtifact({ binaryPath, artifactName: ${JSON.stringify(NAME)}, workingDirectory, include: ['static/**'], mtime: new Date(Number(ms)), outputPath });`,
    ].join('\n');
    const zips = ['UTC', 'Europe/London', 'Asia/Kathmandu', 'America/St_Johns', 'Pacific/Kiritimati'].map((tz) => {
      const out = path.join(scratch, `tz-${tz.replace('/', '-')}.zip`);
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, binary, hello, out, String(COMMIT_TIME.getTime())], {
        encoding: 'utf8',
        env: { ...process.env, TZ: tz },
      });
      assert.equal(run.status, 0, run.stderr);
      return { tz, bytes: fs.readFileSync(out) };
    });
    for (const z of zips.slice(1)) assert.ok(z.bytes.equals(zips[0].bytes), `${z.tz} gives the bytes UTC gives`);
  });

  test('a build is packaged with its entry time (the commit\'s), not a fixed date', async () => {
    const files = await resolveIncludes(hello, ['static/app.css']);
    const pkg = await packageBuilt({ binaryPath: binary, files, entryTime: COMMIT_TIME }, NAME, path.join(scratch, 'built.zip'), new AbortController().signal);
    const zip = await readZip(pkg.zipPath);
    assert.deepEqual(zip.map((e) => [e.name, e.dosAsUtc.toISOString()]), [
      [NAME, '2026-03-29T01:30:44.000Z'],
      [`${STEM}/static/app.css`, '2026-03-29T01:30:44.000Z'],
    ]);
  });
});

describe('include patterns', () => {
  test('a pattern with no match, or only excluded matches, is warned about by name', () => {
    const lines = includeWarnings(hello, ['static/*.css', 'assets/**', 'static/js/*.map', '!**/*.map']);
    assert.deepEqual(lines, [
      '::warning::include: "assets/**" matched no files under ' + hello + '; nothing from it ships with this version.',
      '::warning::include: every file "static/js/*.map" matched is removed by a "!" pattern; nothing from it ships with this version.',
      'FILES static/app.css',
    ]);
  });

  test('patterns may not leave the working directory', async () => {
    for (const bad of ['../secrets/**', 'static/../../x', '/etc/passwd', '!..', 'C:\\Windows\\*', '.', '!']) {
      assert.throws(() => normalizePattern(bad), (err: unknown) => err instanceof ActionError && /^include: /.test(err.message), bad);
    }
    await assert.rejects(packageArtifact(req({ include: ['../hello/**'] })), { name: 'ActionError', message: /reaches outside working-directory/ });
  });

  test('a link to a file outside the working directory is not shipped', () => {
    const dir = fs.mkdtempSync(path.join(scratch, 'links-'));
    const outside = fs.mkdtempSync(path.join(scratch, 'outside-'));
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'secret');
    fs.mkdirSync(path.join(dir, 'static'));
    fs.writeFileSync(path.join(dir, 'static', 'ok.txt'), 'ok');
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(dir, 'static', 'secret.txt'));
    fs.symlinkSync('ok.txt', path.join(dir, 'static', 'alias.txt'));
    const lines = includeWarnings(dir, ['static']);
    assert.equal(lines.at(-1), 'FILES static/alias.txt,static/ok.txt');
    assert.equal(lines.length, 2);
    assert.match(lines[0], /^::warning::include: "static" matched static\/secret\.txt, a link to .* outside working-directory/);
  });

  test('two paths that differ only in case are refused (the site ignores case)', async () => {
    const dir = fs.mkdtempSync(path.join(scratch, 'case-'));
    fs.writeFileSync(path.join(dir, 'Logo.png'), 'a');
    fs.writeFileSync(path.join(dir, 'logo.png'), 'b');
    if (fs.readFileSync(path.join(dir, 'Logo.png'), 'utf8') !== 'a') return; // a case-insensitive file system
    await assert.rejects(resolveIncludes(dir, ['*.png']), { name: 'ActionError', message: /"Logo\.png" and "logo\.png" differ only in letter case/ });
  });
});

describe('streaming', () => {
  test('a binary far larger than the memory the packaging uses is streamed, with its size checked', { timeout: 120_000 }, () => {
    const big = path.join(scratch, 'big.exe');
    const size = 512 * 1024 * 1024;
    fs.closeSync(fs.openSync(big, 'w'));
    fs.truncateSync(big, size); // sparse: no disk space, but every byte is read
    const script = [
      `import { packageArtifact } from ${JSON.stringify(path.join(repoRoot, 'src', 'artifact', 'pack.ts'))};`,
      `const pkg = await packageArtifact({ binaryPath: process.argv[1], artifactName: 'big-0123456789.exe', workingDirectory: process.argv[2], include: [], mtime: new Date(), outputPath: process.argv[1] + '.zip', compressionLevel: 1 });`,
      `console.log(JSON.stringify({ entries: pkg.entries, maxRssKb: process.resourceUsage().maxRSS }));`,
    ].join('\n');
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, big, scratch], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { entries: { path: string; size: number }[]; maxRssKb: number };
    assert.deepEqual(result.entries, [{ path: 'big-0123456789.exe', size }]);
    assert.ok(result.maxRssKb * 1024 < size / 2, `peak memory ${result.maxRssKb} KiB stays well under the ${size >> 20} MiB binary`);
  });
});

describe('failures', () => {
  test('a missing binary is reported, not packaged', async () => {
    await assert.rejects(packageArtifact(req({ binaryPath: path.join(scratch, 'missing.exe') })), /ENOENT/);
  });
});

test('packaging a large include set stops mid-way when the deploy aborts, leaving no zip', { timeout: 120_000 }, async () => {
  const big = path.join(scratch, 'big-assets');
  fs.mkdirSync(path.join(big, 'assets'), { recursive: true });
  // Random bytes do not compress: deflating ~48 MB takes a while, so the abort lands mid-zip.
  for (let i = 0; i < 384; i++) fs.writeFileSync(path.join(big, 'assets', `blob-${String(i).padStart(3, '0')}.bin`), crypto.randomBytes(128 * 1024));
  const outputPath = path.join(scratch, 'aborted.zip');
  const controller = new AbortController();
  const reason = new Error('the deploy timed out');
  let sizeAtAbort = -1;
  const watch = setInterval(() => {
    const size = fs.existsSync(outputPath) ? fs.statSync(outputPath).size : 0;
    if (size > 1024 * 1024 && !controller.signal.aborted) {
      sizeAtAbort = size;
      controller.abort(reason);
    }
  }, 5);
  try {
    await assert.rejects(packageArtifact(req({ workingDirectory: big, include: ['assets'], outputPath, compressionLevel: 9 }), controller.signal), (err) => err === reason);
  } finally {
    clearInterval(watch);
  }
  assert.ok(sizeAtAbort > 0, 'the abort came while the zip was being written');
  assert.equal(fs.existsSync(outputPath), false, 'the partial zip is deleted');
  // The same include set packs whole without an abort: the work above really was cut short.
  const whole = await packageArtifact(req({ workingDirectory: big, include: ['assets'], compressionLevel: 1 }));
  assert.ok(whole.zipSize > 48 * 1024 * 1024 && whole.zipSize > sizeAtAbort);
  await assert.rejects(resolveIncludes(big, ['assets'], AbortSignal.abort(reason)), (err) => err === reason);
});
