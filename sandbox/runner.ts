// Runs the bundled action (dist/index.js) as a GitHub runner would: a child Node process with
// INPUT_* variables and the runner's files, and collects what it wrote.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const distEntry = path.join(repoRoot, 'dist', 'index.js');
export const srcEntry = path.join(repoRoot, 'src', 'index.ts');

export interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Outputs written to GITHUB_OUTPUT, by name. */
  outputs: Record<string, string>;
  /** The job summary markdown written to GITHUB_STEP_SUMMARY. */
  summary: string;
  /** `::error::` and similar workflow commands found in stdout. */
  errors: string[];
  runnerTemp: string;
}

export interface RunActionOptions {
  inputs: Record<string, string>;
  /** Extra environment, e.g. GITHUB_SHA or proxy variables. */
  env?: Record<string, string>;
  cwd?: string;
  /** Shared tool cache folder (a fresh one when absent). */
  toolCache?: string;
  timeoutMs?: number;
  /** The script to run: dist/index.js when absent; srcEntry runs the sources as they are, unbundled. */
  entry?: string;
}

/** Parses the GITHUB_OUTPUT file format: `name=value` or `name<<DELIM ... DELIM`. */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delim] = heredoc;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delim; i++) value.push(lines[i]);
      out[name] = value.join('\n');
    } else if (line.includes('=')) {
      const at = line.indexOf('=');
      out[line.slice(0, at)] = line.slice(at + 1);
    }
  }
  return out;
}

export async function runAction(opts: RunActionOptions): Promise<ActionRun> {
  const runnerTemp = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-runner-'));
  const outputFile = path.join(runnerTemp, 'github_output');
  const summaryFile = path.join(runnerTemp, 'step_summary');
  fs.writeFileSync(outputFile, '');
  fs.writeFileSync(summaryFile, '');
  const toolCache = opts.toolCache ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gad-toolcache-'));

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('INPUT_') || k.startsWith('GITHUB_') || k.startsWith('RUNNER_')) continue;
    env[k] = v;
  }
  Object.assign(env, {
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_WORKSPACE: opts.cwd ?? repoRoot,
    RUNNER_TEMP: runnerTemp,
    RUNNER_TOOL_CACHE: toolCache,
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
  });
  for (const [name, value] of Object.entries(opts.inputs)) {
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  }
  Object.assign(env, opts.env ?? {});

  const child = spawn(process.execPath, [opts.entry ?? distEntry], { cwd: opts.cwd ?? repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);

  return {
    code,
    stdout,
    stderr,
    outputs: parseOutputFile(fs.readFileSync(outputFile, 'utf8')),
    summary: fs.readFileSync(summaryFile, 'utf8'),
    errors: stdout.split('\n').filter((l) => l.startsWith('::error')),
    runnerTemp,
  };
}
