// The build stage: cross-compile the main package with the chosen toolchain. See docs/ARCHITECTURE.md, "The flow".
//
// The binary is stamped with the version and the commit (-X main.version / main.commit), built
// reproducibly (-trimpath, no cgo), and checked before anything else sees it: a Go archive from a
// non-main package or an executable for another platform never reaches the site.

import { spawn, execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as core from '@actions/core';
import { ActionError } from '../common/errors.ts';
import { checkWindowsExecutable } from './pe.ts';
import { childEnv } from '../common/childenv.ts';

export interface BuildRequest {
  goBin: string;
  workingDirectory: string;
  package: string;
  goos: string;
  goarch: string;
  /** User ldflags, appended after the stamping flags. */
  ldflags: string;
  buildFlags: string[];
  buildTags: string[];
  commit: string;
  versionLabel: string;
  /** Where the binary is written (under RUNNER_TEMP). */
  outputPath: string;
  /** Folder annotation paths are relative to; GITHUB_WORKSPACE, else the working directory. */
  repositoryRoot?: string;
  /** Extra environment for go (tests use it for GOCACHE and the like). */
  env?: Record<string, string>;
}

interface BuildResult {
  binaryPath: string;
  size: number;
  /** Whether VCS stamping was turned off because the tree is not a usable git checkout. */
  vcsStampingDisabled?: boolean;
}

/** One `file.go:line:col: message` line of compiler output. */
interface Diagnostic {
  /** As go printed it (relative to the working directory, or absolute). */
  file: string;
  line: number;
  column?: number;
  message: string;
}

// Flags this stage sets itself; given again in build-flags they would silently override (or be
// overridden by) the stage's own, so they are refused with a pointer to the right input.
const OWNED_FLAGS: Readonly<Record<string, string>> = {
  '-o': 'the output path is chosen by the action',
  '-ldflags': 'use the ldflags input; it is appended after the version stamping',
  '-tags': 'use the build-tags input',
};

/** Validates build-flags against the flags the stage owns; returns the problems found. */
export function checkBuildFlags(flags: readonly string[]): string[] {
  const problems: string[] = [];
  for (const f of flags) {
    const name = f.replace(/^--/, '-').split('=')[0];
    const why = OWNED_FLAGS[name];
    if (why !== undefined) problems.push(`build-flags: "${f}" is not allowed here; ${why}.`);
  }
  return problems;
}

/**
 * Quotes one -X value for the ldflags parser in cmd/go (fields split on spaces, '…' and "…"
 * group). Plain values go as they are.
 */
function ldflagsValue(name: string, value: string): string {
  const field = `${name}=${value}`;
  if (!/[\s'"]/.test(field)) return field;
  if (!field.includes("'")) return `'${field}'`;
  if (!field.includes('"')) return `"${field}"`;
  throw new ActionError(`The version label "${value}" holds both kinds of quote and cannot be stamped with -X; use a simpler tag name.`);
}

/** The full `-ldflags` value: strip symbols, stamp version and commit, then the user's flags. */
function ldflagsFor(req: Pick<BuildRequest, 'versionLabel' | 'commit' | 'ldflags'>): string {
  const parts = ['-s', '-w', '-X', ldflagsValue('main.version', req.versionLabel), '-X', ldflagsValue('main.commit', req.commit)];
  if (req.ldflags.trim() !== '') parts.push(req.ldflags.trim());
  return parts.join(' ');
}

/** The arguments after `go`: `build -trimpath -ldflags … [-buildvcs=false] <build-flags> [-tags …] -o <out> <package>`. */
export function goBuildArgs(req: BuildRequest, disableVcs: boolean): string[] {
  const args = ['build', '-trimpath', `-ldflags=${ldflagsFor(req)}`];
  if (disableVcs) args.push('-buildvcs=false');
  args.push(...req.buildFlags);
  if (req.buildTags.length > 0) args.push(`-tags=${req.buildTags.join(',')}`);
  args.push('-o', req.outputPath, req.package);
  return args;
}

/** The environment go runs with: the runner's without the secrets, plus the target and a pinned toolchain. */
export function goBuildEnv(req: BuildRequest, cgo = false, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...childEnv(base),
    ...req.env,
    GOOS: req.goos,
    GOARCH: req.goarch,
    CGO_ENABLED: cgo ? '1' : '0',
    // The toolchain chosen by the toolchain stage is the one that builds; go.mod's toolchain line
    // must not make go fetch another one.
    GOTOOLCHAIN: 'local',
  };
}

const DIAGNOSTIC_LINE = /^(.+?\.go):(\d+)(?::(\d+))?: (.+)$/;

/** Picks the `file.go:line[:col]: message` lines out of go build's output. */
export function parseDiagnostics(output: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const raw of output.split(/\r?\n/)) {
    // Indented lines continue the message above (have/want and the like); they are not positions.
    if (/^\s/.test(raw)) continue;
    const m = DIAGNOSTIC_LINE.exec(raw.trimEnd());
    if (m === null) continue;
    out.push({
      file: m[1],
      line: Number(m[2]),
      ...(m[3] !== undefined ? { column: Number(m[3]) } : {}),
      message: m[4],
    });
  }
  return out;
}

/**
 * A diagnostic's file relative to the repository root with forward slashes, as annotations need;
 * undefined when the file is not inside the repository (a module cache path, say).
 */
export function annotationPath(file: string, workingDirectory: string, repositoryRoot: string): string | undefined {
  const abs = path.resolve(workingDirectory, file);
  const rel = path.relative(repositoryRoot, abs);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  if (!fs.existsSync(abs)) return undefined;
  return rel.split(path.sep).join('/');
}

/** Reports each diagnostic as an error annotation on its line. */
export function annotate(diags: readonly Diagnostic[], workingDirectory: string, repositoryRoot: string): void {
  for (const d of diags) {
    const file = annotationPath(d.file, workingDirectory, repositoryRoot);
    if (file === undefined) {
      core.error(`${d.file}:${d.line}${d.column !== undefined ? `:${d.column}` : ''}: ${d.message}`);
    } else {
      core.error(d.message, {
        title: 'go build',
        file,
        startLine: d.line,
        ...(d.column !== undefined ? { startColumn: d.column } : {}),
      });
    }
  }
}

interface GoRun {
  code: number | null;
  output: string;
}

// Output kept from go; a build that prints more than this is failing anyway, and the tail is what matters.
const MAX_OUTPUT = 4 * 1024 * 1024;

/** Runs go, killing it (and the compilers it started) when the signal fires. */
function runGo(goBin: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<GoRun> {
  return new Promise<GoRun>((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(signal));
      return;
    }
    // Its own process group on Unix, so an abort stops the compile and link children too.
    const detached = process.platform !== 'win32';
    const child = spawn(goBin, args, { cwd, env, detached, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let output = '';
    const collect = (d: string): void => {
      output += d;
      if (output.length > MAX_OUTPUT) output = output.slice(-MAX_OUTPUT);
    };
    child.stdout.setEncoding('utf8').on('data', collect);
    child.stderr.setEncoding('utf8').on('data', collect);
    const onAbort = (): void => {
      try {
        if (detached && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(new ActionError(`Could not run the Go toolchain at ${goBin}: ${err.message}.`));
    });
    child.on('close', (code) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) reject(abortError(signal));
      else resolve({ code, output });
    });
  });
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new ActionError('The build was stopped before it finished.');
}

/**
 * Whether the working directory is inside a git checkout that git will read. A copy without .git,
 * or one owned by another user ("dubious ownership", common on self-hosted runners and in
 * containers), makes go's VCS stamping fail the build; such trees are built with -buildvcs=false.
 */
function isUsableGitCheckout(workingDirectory: string, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(
      'git',
      ['-C', workingDirectory, 'rev-parse', '--is-inside-work-tree'],
      { timeout: 15_000, windowsHide: true, ...(signal ? { signal } : {}) },
      (err, stdout) => resolve(err === null && stdout.trim() === 'true'),
    );
  });
}

/**
 * The committer time of HEAD in the working directory, from git (`%ct`, whole seconds); undefined
 * when the folder is no checkout git will read, or git is missing. The time the package's entries
 * carry (packageEntryTime).
 */
export function headCommitTime(workingDirectory: string, signal?: AbortSignal): Promise<Date | undefined> {
  return new Promise((resolve) => {
    execFile(
      'git',
      ['-C', workingDirectory, 'log', '-1', '--format=%ct', 'HEAD'],
      { timeout: 15_000, windowsHide: true, env: childEnv(), ...(signal ? { signal } : {}) },
      (err, stdout) => {
        const seconds = Number(stdout.trim());
        resolve(err === null && /^\d+$/.test(stdout.trim()) ? new Date(seconds * 1000) : undefined);
      },
    );
  });
}

/**
 * The time every entry of the package carries: the commit's, so the zip is the same for a commit
 * and a newer commit's files are newer on the site (Kudu's zip API keeps entry times); without a
 * commit time (no git checkout), the build's start.
 */
export function packageEntryTime(commitTime: Date | undefined, buildStarted: Date): { time: Date; source: 'commit' | 'build start' } {
  return commitTime !== undefined ? { time: commitTime, source: 'commit' } : { time: buildStarted, source: 'build start' };
}

/**
 * Whether build-flags already decide about VCS stamping. GOFLAGS is not consulted: a flag on the
 * command line overrides it, and overriding it towards a build that works is the point.
 */
function vcsFlagGiven(req: BuildRequest): boolean {
  return req.buildFlags.some((f) => /^--?buildvcs(=|$)/.test(f));
}

/**
 * The packages (outside the standard library) that have cgo files for this target: what a build
 * with CGO_ENABLED=0 cannot compile. Asked only after a build failed.
 */
async function cgoPackages(req: BuildRequest, signal: AbortSignal): Promise<string[]> {
  const run = await runGo(
    req.goBin,
    ['list', '-e', '-deps', ...(req.buildTags.length > 0 ? [`-tags=${req.buildTags.join(',')}`] : []),
      '-f', '{{if and .CgoFiles (not .Standard)}}{{.ImportPath}} ({{join .CgoFiles ", "}}){{end}}', req.package],
    req.workingDirectory,
    goBuildEnv(req, true),
    signal,
  );
  if (run.code !== 0) return [];
  return run.output.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('go:'));
}

/** Turns a failed go build into annotations and one clear ActionError. */
async function buildFailure(req: BuildRequest, run: GoRun, signal: AbortSignal): Promise<ActionError> {
  const platform = `${req.goos}/${req.goarch}`;
  const out = run.output;
  if (/go\.mod file not found|cannot find main module/.test(out)) {
    return new ActionError(
      `working-directory: no go.mod in ${req.workingDirectory} or any folder above it, so go cannot build "${req.package}". ` +
        `Point working-directory at the folder of your Go module, or create one with "go mod init".`,
    );
  }
  const diags = parseDiagnostics(out);
  const repoRoot = req.repositoryRoot ?? process.env.GITHUB_WORKSPACE ?? req.workingDirectory;
  annotate(diags, req.workingDirectory, repoRoot);

  if (/build constraints exclude all Go files|undefined: C\b|could not import C\b/.test(out)) {
    const cgo = await cgoPackages(req, signal).catch(() => []);
    if (cgo.length > 0) {
      return new ActionError(
        `main-package: "${req.package}" needs cgo (import "C" in ${cgo.join('; ')}), and the build runs with CGO_ENABLED=0: ` +
          `a cross-build for ${platform} cannot compile C code. Replace the cgo dependency with a pure-Go one ` +
          `(e.g. modernc.org/sqlite for mattn/go-sqlite3), or give it a pure-Go fallback behind a build tag.`,
      );
    }
    if (/build constraints exclude all Go files/.test(out)) {
      return new ActionError(
        `main-package: every Go file of "${req.package}" is excluded by build constraints for ${platform}` +
          `${req.buildTags.length > 0 ? ` with build-tags ${req.buildTags.join(',')}` : ''}. Check goos, goarch and build-tags. ${lastLine(out)}`,
      );
    }
  }
  if (/is not a main package|non-main package/.test(out)) return notMainError(req);
  if (diags.length === 0 && /directory not found|is not in std|no required module provides package|no Go files in|cannot write multiple packages|matched no packages/.test(out)) {
    return new ActionError(
      `main-package: go cannot build "${req.package}" from ${req.workingDirectory}: ${lastLine(out)} ` +
        `Give the main package as a path relative to working-directory (e.g. . or ./cmd/server).`,
    );
  }
  if (/error obtaining VCS status/.test(out)) {
    return new ActionError(`go build could not read the git state of ${req.workingDirectory}: ${lastLine(out)} Add -buildvcs=false to build-flags.`);
  }
  if (diags.length > 0) {
    const first = diags[0];
    const where = `${annotationPath(first.file, req.workingDirectory, repoRoot) ?? first.file}:${first.line}${first.column !== undefined ? `:${first.column}` : ''}`;
    return new ActionError(
      `go build of "${req.package}" for ${platform} failed with ${diags.length} compile error${diags.length === 1 ? '' : 's'}; ` +
        `first: ${where}: ${first.message}. Each error is annotated on its line; the full output is in the log above.`,
    );
  }
  return new ActionError(`go build of "${req.package}" for ${platform} failed (exit code ${run.code}): ${lastLine(out)} Check main-package, build-flags and the log above.`);
}

function lastLine(out: string): string {
  const lines = out.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  return lines.length > 0 ? lines[lines.length - 1] : '(no output)';
}

function notMainError(req: BuildRequest): ActionError {
  return new ActionError(
    `main-package: "${req.package}" in ${req.workingDirectory} is not a main package (it needs "package main" and "func main"), ` +
      `so go build makes no program. Set main-package to the folder of your program, e.g. ./cmd/server.`,
  );
}

/** Reads the first bytes of the output; a Go archive means the package was not `main`. */
async function checkOutput(req: BuildRequest): Promise<number> {
  let size: number;
  try {
    size = (await fs.promises.stat(req.outputPath)).size;
  } catch {
    throw new ActionError(`go build finished but wrote no file at ${req.outputPath}; check package ("${req.package}") and build-flags.`);
  }
  const fh = await fs.promises.open(req.outputPath, 'r');
  const head = Buffer.alloc(8);
  try {
    await fh.read(head, 0, 8, 0);
  } finally {
    await fh.close();
  }
  if (head.toString('latin1') === '!<arch>\n') {
    await fs.promises.rm(req.outputPath, { force: true });
    throw notMainError(req);
  }
  if (req.goos === 'windows') {
    try {
      await checkWindowsExecutable(req.outputPath, req.goarch);
    } catch (err) {
      // The wrong file is not left where a later step could pick it up.
      await fs.promises.rm(req.outputPath, { force: true });
      throw err;
    }
  }
  return size;
}

export async function buildBinary(req: BuildRequest, signal: AbortSignal): Promise<BuildResult> {
  // The inputs stage refuses these already; checked again for callers that skip it.
  const flagProblems = checkBuildFlags(req.buildFlags);
  if (flagProblems.length > 0) throw new ActionError(flagProblems.join(' '));
  await fs.promises.mkdir(path.dirname(req.outputPath), { recursive: true });
  // A stale file from an earlier attempt must not pass for this build's output.
  await fs.promises.rm(req.outputPath, { force: true });

  const env = goBuildEnv(req);
  let disableVcs = false;
  if (!vcsFlagGiven(req)) disableVcs = !(await isUsableGitCheckout(req.workingDirectory, signal));
  if (disableVcs) core.info('The working directory is not a usable git checkout; building with -buildvcs=false.');

  let args = goBuildArgs(req, disableVcs);
  core.info(`${req.goBin} ${args.join(' ')}`);
  let run = await runGo(req.goBin, args, req.workingDirectory, env, signal);
  if (run.code !== 0 && !disableVcs && !vcsFlagGiven(req) && /error obtaining VCS status/.test(run.output)) {
    // git answered rev-parse but go still could not read the state (a git too old for go, say):
    // stamping is a nicety, so build without it rather than fail.
    core.notice(`go could not read the git state (${lastLine(run.output)}); building again with -buildvcs=false.`);
    disableVcs = true;
    args = goBuildArgs(req, true);
    run = await runGo(req.goBin, args, req.workingDirectory, env, signal);
  }
  if (run.output.trim() !== '') core.info(run.output.trimEnd());
  if (run.code !== 0) throw await buildFailure(req, run, signal);

  const size = await checkOutput(req);
  core.info(`Built ${req.outputPath} (${size} bytes) for ${req.goos}/${req.goarch}.`);
  return { binaryPath: req.outputPath, size, vcsStampingDisabled: disableVcs };
}
