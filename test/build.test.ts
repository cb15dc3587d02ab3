// The build stage against the real Go toolchain: cross-builds, stamping, checks and failures.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBinary, goBuildArgs, checkBuildFlags, parseDiagnostics, annotationPath, headCommitTime, packageEntryTime, type BuildRequest } from '../src/artifact/compile.ts';
import { checkWindowsExecutable, parsePeHeader } from '../src/artifact/pe.ts';
import { ActionError } from '../src/common/errors.ts';
import { windowsBuildRequest, machineGoBin } from '../sandbox/gobuild.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = path.join(repoRoot, 'test', 'fixtures');
const goBin = machineGoBin;
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
// The first windows build compiles the standard library for windows/amd64.
const LONG = { timeout: 300_000 };

let scratch: string;
before(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-build-'));
});
after(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

function request(over: Partial<BuildRequest> = {}): BuildRequest {
  return windowsBuildRequest(path.join(fixtures, 'hello'), path.join(scratch, `out-${Math.random().toString(16).slice(2)}`), {
    commit: COMMIT,
    versionLabel: COMMIT,
    repositoryRoot: repoRoot,
    ...over,
  });
}

const never = new AbortController().signal;

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

async function rejectsWith(p: Promise<unknown>, re: RegExp): Promise<ActionError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ActionError, `expected an ActionError, got ${String(err)}`);
    assert.match(err.message, re);
    assert.ok(!err.message.includes('\n'), `one-line message expected: ${err.message}`);
    return err;
  }
  assert.fail(`expected a rejection matching ${re}`);
}

describe('arguments', () => {
  test('stamps version and commit, then user ldflags; tags only when given', () => {
    const args = goBuildArgs(request({ ldflags: '-X main.extra=1', buildFlags: ['-v'], outputPath: '/o/app' }), false);
    assert.deepEqual(args, [
      'build',
      '-trimpath',
      `-ldflags=-s -w -X main.version=${COMMIT} -X main.commit=${COMMIT} -X main.extra=1`,
      '-v',
      '-o',
      '/o/app',
      '.',
    ]);
    const tagged = goBuildArgs(request({ buildTags: ['a', 'b'], outputPath: '/o/app' }), true);
    assert.ok(tagged.includes('-tags=a,b'));
    assert.ok(tagged.includes('-buildvcs=false'));
  });

  test('a version label with spaces is quoted for the ldflags parser', () => {
    const args = goBuildArgs(request({ versionLabel: 'release 1' }), false);
    assert.ok(args[2].includes(`'main.version=release 1'`), args[2]);
  });

  test('build-flags may not take over -o, -ldflags or -tags', () => {
    assert.deepEqual(checkBuildFlags(['-v', '-race', '-mod=vendor']), []);
    const problems = checkBuildFlags(['-o', 'x', '-ldflags=-s', '--tags=a']);
    assert.equal(problems.length, 3);
    assert.match(problems[1], /ldflags input/);
    assert.match(problems[2], /build-tags input/);
  });
});

describe('compiler output', () => {
  test('file:line:col lines are picked out; headers and continuation lines are not', () => {
    const out = [
      '# example.com/app/internal/x',
      './main.go:12:14: undefined: notDeclared',
      'internal/x/x.go:3:1: cannot use v (variable of type int) as string value in return statement',
      '\thave (int)',
      '\twant (string)',
      '/abs/path/mod@v1.0.0/y.go:7: missing return',
      'main.go:20:2: too many errors',
      'go: downloading example.com/dep v1.0.0',
    ].join('\n');
    assert.deepEqual(parseDiagnostics(out), [
      { file: './main.go', line: 12, column: 14, message: 'undefined: notDeclared' },
      { file: 'internal/x/x.go', line: 3, column: 1, message: 'cannot use v (variable of type int) as string value in return statement' },
      { file: '/abs/path/mod@v1.0.0/y.go', line: 7, message: 'missing return' },
      { file: 'main.go', line: 20, column: 2, message: 'too many errors' },
    ]);
  });

  test('annotation paths are relative to the repository, only for files in it', () => {
    const wd = path.join(fixtures, 'broken');
    assert.equal(annotationPath('./main.go', wd, repoRoot), 'test/fixtures/broken/main.go');
    assert.equal(annotationPath('internal/calc/calc.go', wd, repoRoot), 'test/fixtures/broken/internal/calc/calc.go');
    assert.equal(annotationPath('main.go', wd, wd), 'main.go');
    assert.equal(annotationPath('/usr/lib/go/src/fmt/print.go', wd, repoRoot), undefined);
    assert.equal(annotationPath('./missing.go', wd, repoRoot), undefined);
  });
});

describe('real builds', () => {
  test('windows/amd64: a PE32+ x86-64 program at the output path', LONG, async () => {
    const req = request();
    const res = await buildBinary(req, never);
    assert.equal(res.binaryPath, req.outputPath);
    assert.equal(res.size, fs.statSync(req.outputPath).size);
    const header = await checkWindowsExecutable(res.binaryPath, 'amd64');
    assert.equal(header.machine, 0x8664);
    assert.equal(header.magic, 0x20b);
    assert.equal(header.subsystem, 3, 'a console program, as HttpPlatformHandler starts it');
  });

  test('windows/amd64 twice: the same bytes (-trimpath, no timestamps)', LONG, async () => {
    const a = await buildBinary(request(), never);
    const b = await buildBinary(request({ workingDirectory: path.join(fixtures, 'hello', '.') }), never);
    assert.equal(sha256(a.binaryPath), sha256(b.binaryPath));
    const other = await buildBinary(request({ commit: 'ffffffffff' + COMMIT.slice(10) }), never);
    assert.notEqual(sha256(other.binaryPath), sha256(a.binaryPath), 'the commit is stamped into the binary');
  });

  test('linux/amd64: the program runs, serves, and shows the stamped version', LONG, async () => {
    const res = await buildBinary(request({ goos: 'linux', versionLabel: 'v1.2.3', buildTags: ['extra'] }), never);
    const printed = execFileSync(res.binaryPath, [], { encoding: 'utf8' });
    assert.equal(printed.trim(), `version=v1.2.3 commit=${COMMIT} tags=extra`);

    const child = spawn(res.binaryPath, ['-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const addr = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          out += d;
          const m = /listening on (\S+)/.exec(out);
          if (m) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`app exited with ${code}: ${out}`)));
      });
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get(`http://${addr}/?name=azure`, (res) => {
            let b = '';
            res.setEncoding('utf8').on('data', (d: string) => (b += d)).on('end', () => resolve(b));
          })
          .on('error', reject);
      });
      assert.equal(body.trim(), `hello, azure version=v1.2.3 commit=${COMMIT}`);
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }
  });

  test('user ldflags come after the stamping, so they can override it', LONG, async () => {
    const res = await buildBinary(request({ goos: 'linux', ldflags: "-X 'main.version=custom build'" }), never);
    assert.equal(execFileSync(res.binaryPath, [], { encoding: 'utf8' }).trim(), `version=custom build commit=${COMMIT} tags=none`);
  });

  test('the PE check rejects a Linux program, a text file and a patched header', LONG, async () => {
    const linux = await buildBinary(request({ goos: 'linux' }), never);
    await rejectsWith(checkWindowsExecutable(linux.binaryPath, 'amd64'), /ELF .* not a windows\/amd64 program; it was not deployed/);
    const text = path.join(scratch, 'text.exe');
    fs.writeFileSync(text, 'MZ is not enough\n');
    await rejectsWith(checkWindowsExecutable(text, 'amd64'), /not a Windows executable/);

    const win = await buildBinary(request(), never);
    const bytes = fs.readFileSync(win.binaryPath);
    const peAt = bytes.readUInt32LE(0x3c);
    const arm = Buffer.from(bytes);
    arm.writeUInt16LE(0xaa64, peAt + 4);
    const armPath = path.join(scratch, 'arm.exe');
    fs.writeFileSync(armPath, arm);
    await rejectsWith(checkWindowsExecutable(armPath, 'amd64'), /for ARM64 \(arm64\), not for goarch amd64/);
    const pe32 = Buffer.from(bytes);
    pe32.writeUInt16LE(0x10b, peAt + 24);
    const pe32Path = path.join(scratch, 'pe32.exe');
    fs.writeFileSync(pe32Path, pe32);
    await rejectsWith(checkWindowsExecutable(pe32Path, 'amd64'), /PE32 image, but windows\/amd64 needs PE32\+/);
    const dll = Buffer.from(bytes);
    dll.writeUInt16LE(dll.readUInt16LE(peAt + 22) | 0x2000, peAt + 22);
    const dllPath = path.join(scratch, 'lib.exe');
    fs.writeFileSync(dllPath, dll);
    await rejectsWith(checkWindowsExecutable(dllPath, 'amd64'), /library \(DLL\)/);
    assert.equal(typeof parsePeHeader(bytes.subarray(0, 4096)), 'object');
  });

  test('an abort stops go and the compilers it started; the build rejects with the reason', { ...LONG, skip: !fs.existsSync('/proc/self/environ') && 'reads Linux /proc' }, async () => {
    const controller = new AbortController();
    const reason = new ActionError('deadline reached');
    const cache = path.join(scratch, 'abort-cache');
    // -a and an empty cache rebuild every package, so the build is busy compiling when the abort comes.
    const req = request({ buildFlags: ['-a'], env: { GOWORK: 'off', GOCACHE: cache } });
    // The processes of this build, found by the cache folder in their environment (Linux /proc).
    const marker = `GOCACHE=${cache}\0`;
    const processes = (): string[] =>
      fs.readdirSync('/proc').filter((pid) => {
        if (!/^\d+$/.test(pid)) return false;
        try {
          return fs.readFileSync(`/proc/${pid}/environ`, 'latin1').includes(marker);
        } catch {
          return false;
        }
      });
    let before: string[] = [];
    const started = Date.now();
    setTimeout(() => {
      before = processes();
      controller.abort(reason);
    }, 1500);
    await assert.rejects(buildBinary(req, controller.signal), (err) => err === reason);
    assert.ok(Date.now() - started < 15_000, 'go was stopped, not waited for');
    assert.equal(fs.existsSync(req.outputPath), false);
    assert.ok(before.length >= 2, `go and at least one compiler were running at the abort (${before.length} found)`);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(processes(), [], 'nothing of the build is left running');
  });
});

describe('failures', () => {
  test('no go.mod: says so and names working-directory', LONG, async () => {
    const dir = fs.mkdtempSync(path.join(scratch, 'nomod-'));
    fs.copyFileSync(path.join(fixtures, 'hello', 'main.go'), path.join(dir, 'main.go'));
    await rejectsWith(buildBinary(request({ workingDirectory: dir }), never), /^working-directory: no go\.mod in .* "go mod init"/);
  });

  test('a library package: not a main package, and nothing is left at the output path', LONG, async () => {
    const req = request({ workingDirectory: path.join(fixtures, 'lib') });
    await rejectsWith(buildBinary(req, never), /^main-package: "\." in .*lib is not a main package/);
    assert.equal(fs.existsSync(req.outputPath), false);
  });

  test('a package that does not exist, or several packages: the message names package', LONG, async () => {
    await rejectsWith(buildBinary(request({ package: './nope' }), never), /^main-package: go cannot build "\.\/nope" from .*directory not found/);
    await rejectsWith(buildBinary(request({ package: './...' }), never), /^main-package: go cannot build "\.\/\.\.\." .*cannot write multiple packages/);
  });

  test('cgo-only code: says the package needs cgo', LONG, async () => {
    await rejectsWith(
      buildBinary(request({ workingDirectory: path.join(fixtures, 'cgo') }), never),
      /^main-package: "\." needs cgo \(import "C" in example\.com\/cgo \(main\.go\)\).*CGO_ENABLED=0.*windows\/amd64 cannot compile C code/,
    );
  });

  test('compile errors become annotations on their lines, relative to the repository', LONG, () => {
    // A child process runs the stage so its workflow commands on stdout can be read back.
    const script = [
      `import { buildBinary } from ${JSON.stringify(path.join(repoRoot, 'src', 'artifact', 'compile.ts'))};`,
      `try { await buildBinary(JSON.parse(process.argv[1]), new AbortController().signal); console.log('RESULT ok'); }`,
      `catch (e) { console.log('RESULT ' + e.name + ': ' + e.message); }`,
    ].join('\n');
    const req = request({ workingDirectory: path.join(fixtures, 'broken'), repositoryRoot: undefined });
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(req)], {
      encoding: 'utf8',
      env: { ...process.env, GITHUB_WORKSPACE: repoRoot, GITHUB_ACTIONS: 'true' },
      timeout: 240_000,
    });
    const errors = run.stdout.split('\n').filter((l) => l.startsWith('::error '));
    const parsed = errors.map((l) => {
      const m = /^::error (.*?)::(.*)$/.exec(l);
      assert.ok(m, l);
      const props = Object.fromEntries(m[1].split(',').map((kv) => kv.split('=') as [string, string]));
      return { ...props, message: m[2] };
    });
    assert.deepEqual(parsed, [
      { title: 'go build', file: 'test/fixtures/broken/main.go', line: '12', col: '14', message: 'undefined: notDeclared' },
      {
        title: 'go build',
        file: 'test/fixtures/broken/main.go',
        line: '13',
        col: '14',
        message: 'cannot use "text" (untyped string constant) as int value in variable declaration',
      },
    ]);
    const result = run.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    assert.equal(
      result,
      'RESULT ActionError: go build of "." for windows/amd64 failed with 2 compile errors; first: ' +
        'test/fixtures/broken/main.go:12:14: undefined: notDeclared. Each error is annotated on its line; the full output is in the log above.',
    );
  });
});

describe('git state', () => {
  function copyFixture(name: string): string {
    const dir = fs.mkdtempSync(path.join(scratch, `${name}-`));
    fs.cpSync(path.join(fixtures, name), dir, { recursive: true });
    return dir;
  }
  const git = (dir: string, ...args: string[]): string =>
    execFileSync('git', ['-C', dir, ...args], {
      encoding: 'utf8',
      env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
    });

  // GOFLAGS=-buildvcs=auto: the machine's go env file may turn stamping off for every build.
  test('a usable checkout is built with VCS stamping', LONG, async () => {
    const dir = copyFixture('hello');
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    git(dir, 'commit', '-q', '-m', 'init');
    const head = git(dir, 'rev-parse', 'HEAD').trim();
    const res = await buildBinary(request({ workingDirectory: dir, goos: 'linux', env: { GOWORK: 'off', GOFLAGS: '-buildvcs=auto' } }), never);
    assert.equal(res.vcsStampingDisabled, false);
    assert.match(execFileSync(goBin, ['version', '-m', res.binaryPath], { encoding: 'utf8' }), new RegExp(`vcs.revision=${head}`));
  });

  test('the package\'s entry time: the committer time of HEAD where the build runs, else the build\'s start', async () => {
    const dir = copyFixture('hello');
    const started = new Date(Date.UTC(2026, 5, 1, 12, 0, 0));
    assert.equal(await headCommitTime(dir), undefined, 'not a checkout');
    assert.deepEqual(packageEntryTime(await headCommitTime(dir), started), { time: started, source: 'build start' });
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    const commitAt = (when: string): void => {
      execFileSync('git', ['-C', dir, 'commit', '-q', '--allow-empty', '-m', when], {
        env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com', GIT_AUTHOR_DATE: '2020-01-01T00:00:00Z', GIT_COMMITTER_DATE: when },
      });
    };
    commitAt('2026-03-29T01:30:45Z');
    assert.equal((await headCommitTime(dir))?.toISOString(), '2026-03-29T01:30:45.000Z', 'the committer time, not the author time');
    // From a folder inside the checkout too, as working-directory may be.
    assert.equal((await headCommitTime(path.join(dir, 'static')))?.toISOString(), '2026-03-29T01:30:45.000Z');
    commitAt('2026-03-29T03:00:00+02:00');
    assert.deepEqual(packageEntryTime(await headCommitTime(dir), started), { time: new Date('2026-03-29T01:00:00Z'), source: 'commit' });
  });

  test('a checkout git refuses (dubious ownership) still builds, without VCS stamping', { ...LONG, skip: process.getuid?.() !== 0 && 'needs root to hand the folder to another user' }, async () => {
    const dir = copyFixture('hello');
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    git(dir, 'commit', '-q', '-m', 'init');
    execFileSync('chown', ['-R', '65534:65534', dir]);
    const env = { ...process.env, GOWORK: 'off', GOFLAGS: '-buildvcs=auto', GOOS: 'linux', CGO_ENABLED: '0' };
    // The premise: a plain build of this tree fails on VCS stamping.
    const plain = spawnSync(goBin, ['build', '-o', path.join(scratch, 'plain'), '.'], { cwd: dir, env, encoding: 'utf8' });
    assert.notEqual(plain.status, 0);
    assert.match(plain.stderr, /error obtaining VCS status/);
    const res = await buildBinary(request({ workingDirectory: dir, goos: 'linux', env: { GOWORK: 'off', GOFLAGS: '-buildvcs=auto' } }), never);
    assert.equal(res.vcsStampingDisabled, true);
    assert.match(execFileSync(res.binaryPath, [], { encoding: 'utf8' }), /^version=/);
  });
});
