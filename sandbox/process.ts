// One way for tests, the sandbox and the benchmarks to run a program to its end: start it, collect
// what it writes, and stop it by its PID if it runs past a time limit. The program runs as its own
// process group, so a time limit stops what it started too (the action's go build and its
// compilers). A program that ends by itself is left to end what it started: Wine's wineserver,
// shared by every Wine process of a prefix, outlives the `wine` that started it on purpose.

import { spawn } from 'node:child_process';

export interface ProcessRun {
  /** The exit code; null when the process was killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr as they came, interleaved. */
  output: string;
  /** Whether the time limit ran out and the process was killed. */
  timedOut: boolean;
}

export interface RunProcessOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Killed with its process group (SIGKILL, by PID) after this long; two minutes unless given. */
  timeoutMs?: number;
}

/** Runs `cmd args` to its end and returns its exit code and output; rejects only when it cannot start. */
export function runProcess(cmd: string, args: string[], opts: RunProcessOptions = {}): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is gone already.
      }
    };
    let stdout = '';
    let stderr = '';
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      output += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      output += d;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, output, timedOut });
    });
  });
}
