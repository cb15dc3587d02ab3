// One way for tests, the sandbox and the benchmarks to run a program to its end: start it, collect
// what it writes, and stop it by its PID if it runs past a time limit. The program runs as its own
// process group, so a time limit stops what it started too (the action's go build and its
// compilers). A program that ends by itself is left to end what it started: Wine's wineserver,
// shared by every Wine process of a prefix, outlives the `wine` that started it on purpose.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

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

/** A program started by startProcess: its PID, what it wrote so far, and its end. */
export interface StartedProcess {
  pid: number;
  /** stdout and stderr as they came so far, interleaved. */
  output(): string;
  /** Resolves when `pattern` shows up in the output (rejects if the program ends first). */
  waitForOutput(pattern: RegExp): Promise<void>;
  /** Whether the program has ended. */
  exited(): boolean;
  /** Sends `signal` to the program itself (not its group), as a runner does. */
  signal(signal: NodeJS.Signals): void;
  /** Kills the program's process group (SIGKILL, by PID). */
  killGroup(): void;
  /**
   * Kills the program and every process it started, by parent PID, whatever their process group
   * (the go build the action starts runs in a group of its own), as the runner kills a step.
   */
  killTree(): void;
  done: Promise<ProcessRun & { signal: NodeJS.Signals | null }>;
}

/** Starts `cmd args` in its own process group; the caller decides how it ends. */
export function startProcess(cmd: string, args: string[], opts: RunProcessOptions = {}): StartedProcess {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  // Without a PID the program did not start: `done` rejects with the spawn error.
  const pid = child.pid ?? 0;
  let ended = false;
  const killGroup = (): void => {
    if (pid === 0) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // The group is gone already.
    }
  };
  const killTree = (): void => {
    if (pid === 0) return;
    for (const p of [pid, ...descendantsOf(pid)]) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    killGroup();
  };
  let stdout = '';
  let stderr = '';
  let output = '';
  const waiters: { pattern: RegExp; resolve: () => void; reject: (e: Error) => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      if (w.pattern.test(output)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    output += d;
    check();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    output += d;
    check();
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, opts.timeoutMs ?? 120_000);
  const done = new Promise<ProcessRun & { signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      ended = true;
      clearTimeout(timer);
      for (const w of waiters.splice(0)) w.reject(new Error(`the program ended before ${w.pattern} showed in its output:\n${output}`));
      resolve({ code, signal, stdout, stderr, output, timedOut });
    });
  });
  return {
    pid,
    output: () => output,
    waitForOutput: (pattern) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(output)) return resolve();
        if (ended) return reject(new Error(`the program ended before ${pattern} showed in its output:\n${output}`));
        waiters.push({ pattern, resolve, reject });
      }),
    exited: () => ended,
    signal: (sig) => {
      if (!ended && pid !== 0) process.kill(pid, sig);
    },
    killGroup,
    killTree,
    done,
  };
}

/** Every process below `root`, from /proc's parent PIDs (Linux; none elsewhere). */
export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  for (const d of entries) {
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // The process ended while the list was read.
    }
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift() as number) ?? []) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/** Runs `cmd args` to its end and returns its exit code and output; rejects only when it cannot start. */
export async function runProcess(cmd: string, args: string[], opts: RunProcessOptions = {}): Promise<ProcessRun> {
  const { code, stdout, stderr, output, timedOut } = await startProcess(cmd, args, opts).done;
  return { code, stdout, stderr, output, timedOut };
}
