// Runs the action as a GitHub runner would: a child Node process with INPUT_* variables and the
// runner's files, and collects what it wrote. It runs the sources (src/index.ts, on Node 24's type
// stripping) so that tests always see the code as it is; test/dist.test.ts runs the committed
// bundle (dist/index.js) the same way, which is what action.yml starts.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, type StartedProcess } from './process.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** What the runner starts: the bundle action.yml names, or the sources it is built from. */
export const actionEntries = {
  dist: path.join(repoRoot, 'dist', 'index.js'),
  sources: path.join(repoRoot, 'src', 'index.ts'),
} as const;

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
  /** What the step saved with core.saveState (its GITHUB_STATE file), by name: the post entry's STATE_*. */
  state: Record<string, string>;
  /** The signal that ended the process, when one did (a cancel that was not honoured). */
  signal: NodeJS.Signals | null;
  runnerTemp: string;
}

export interface RunActionOptions {
  inputs: Record<string, string>;
  /** Extra environment, e.g. GITHUB_SHA or proxy variables. */
  env?: Record<string, string>;
  cwd?: string;
  /** Shared tool cache folder (a fresh one when absent); wins over RUNNER_TOOL_CACHE in `env`. */
  toolCache?: string;
  timeoutMs?: number;
  /** Which entry to start; the sources unless a test is about the bundle. */
  entry?: keyof typeof actionEntries;
  /**
   * Run as the action's post entry: the main step's saved state (ActionRun.state), given as
   * STATE_<name> variables, as actions/runner does (src/Runner.Worker/ActionRunner.cs, "Apply
   * action's intra-action state"). The runner gives the post the same inputs.
   */
  postState?: Record<string, string>;
  /** The event payload, written to a file GITHUB_EVENT_PATH names as the runner does; none when absent. */
  event?: Record<string, unknown>;
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

/** A started action step: the process, and what it wrote once it ends. */
export interface StartedAction {
  process: StartedProcess;
  result: Promise<ActionRun>;
}

/** Starts the action as runAction does, and hands back the process, so a test can signal it. */
export function startAction(opts: RunActionOptions): StartedAction {
  const runnerTemp = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-runner-'));
  const outputFile = path.join(runnerTemp, 'github_output');
  const summaryFile = path.join(runnerTemp, 'step_summary');
  const stateFile = path.join(runnerTemp, 'github_state');
  fs.writeFileSync(outputFile, '');
  fs.writeFileSync(summaryFile, '');
  fs.writeFileSync(stateFile, '');
  const toolCache = opts.toolCache ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gad-toolcache-'));

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('INPUT_') || k.startsWith('GITHUB_') || k.startsWith('RUNNER_') || k.startsWith('STATE_')) continue;
    env[k] = v;
  }
  Object.assign(env, {
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_STATE: stateFile,
    GITHUB_WORKSPACE: opts.cwd ?? repoRoot,
    RUNNER_TEMP: runnerTemp,
    RUNNER_TOOL_CACHE: toolCache,
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
  });
  for (const [name, value] of Object.entries(opts.inputs)) {
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  }
  for (const [name, value] of Object.entries(opts.postState ?? {})) env[`STATE_${name}`] = value;
  if (opts.event !== undefined) {
    const eventFile = path.join(runnerTemp, 'event.json');
    fs.writeFileSync(eventFile, JSON.stringify(opts.event));
    env.GITHUB_EVENT_PATH = eventFile;
  }
  Object.assign(env, opts.env ?? {});
  // A tool cache given on its own wins over one in `env` (a site's env names an empty one).
  if (opts.toolCache !== undefined) env.RUNNER_TOOL_CACHE = opts.toolCache;

  const started = startProcess(process.execPath, [actionEntries[opts.entry ?? 'sources']], {
    cwd: opts.cwd ?? repoRoot,
    env,
    timeoutMs: opts.timeoutMs ?? 300_000,
  });
  const result = started.done.then(({ code, signal, stdout, stderr }) => ({
    code,
    signal,
    stdout,
    stderr,
    outputs: parseOutputFile(fs.readFileSync(outputFile, 'utf8')),
    summary: fs.readFileSync(summaryFile, 'utf8'),
    errors: stdout.split('\n').filter((l) => l.startsWith('::error')),
    // The state file has the output file's format (both are read by the runner's EnvFileKeyValuePairs).
    state: parseOutputFile(fs.readFileSync(stateFile, 'utf8')),
    runnerTemp,
  }));
  return { process: started, result };
}

export function runAction(opts: RunActionOptions): Promise<ActionRun> {
  return startAction(opts).result;
}

/**
 * Cancels a step as GitHub's runner does: SIGINT to the step's process (not its group), SIGTERM
 * 7.5 s later if it still runs, and 2.5 s after that the whole process tree is killed (actions/runner,
 * src/Runner.Sdk/ProcessInvoker.cs, CancelAndKillProcessTree: _sigintTimeout 7500 ms,
 * _sigtermTimeout 2500 ms, then KillProcessTree). Returns the signals sent.
 */
export async function cancelAsGitHubDoes(p: StartedProcess): Promise<NodeJS.Signals[]> {
  const sent: NodeJS.Signals[] = [];
  const endedWithin = (ms: number): Promise<boolean> =>
    Promise.race([p.done.then(() => true, () => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(p.exited()), ms).unref())]);
  for (const [sig, wait] of [['SIGINT', 7500], ['SIGTERM', 2500]] as const) {
    if (p.exited()) return sent;
    p.signal(sig);
    sent.push(sig);
    if (await endedWithin(wait)) return sent;
  }
  p.killTree();
  sent.push('SIGKILL');
  await p.done.catch(() => undefined);
  return sent;
}
