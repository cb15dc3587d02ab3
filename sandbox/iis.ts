// A local IIS with HttpPlatformHandler in front of a Go app: a reverse proxy on 127.0.0.1 that
// behaves as docs/ARCHITECTURE.md, "HttpPlatformHandler" says the real one does. It starts the launcher on the first request with
// a fresh port in HTTP_PLATFORM_PORT and holds that request until the port accepts (up to
// startupTimeLimit), forwards over a pool of keep-alive connections to the process, answers 502.3
// without retrying when the process is alive but refuses or resets a connection, starts the
// launcher again on the next request after the process exits, and stops starting it (503) once
// more than rapidFailsPerMinute exits fall within a minute. The process's stdout and stderr go to
// web.config's stdoutLogFile under <home> (LogFiles/stdout without one), one file per process.
//
// The launcher is the shell equivalent of go-azure.bat beside this file for a Linux build
// ('shell'), or the real templates' go-azure.bat in the site folder run by Wine's cmd for a
// windows/amd64 build ('wine').

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { defaultWinePrefix, wineVars } from './wine.ts';
import { runProcess } from './process.ts';

export type Launcher = 'shell' | 'wine';

export interface IisOptions {
  /** The folder playing D:\home; the site is <home>/site/wwwroot. */
  home: string;
  launcher: Launcher;
  /**
   * Seconds the first request waits for the port to accept. Default: web.config's
   * startupTimeLimit when the site has one, else 10 as in HttpPlatformHandler.
   */
  startupTimeLimit?: number;
  /** Start attempts per request before 502.5. Default: web.config's, else 10. */
  startupRetryCount?: number;
  /** Process exits allowed within a minute before 503. Default: web.config's, else 10. */
  rapidFailsPerMinute?: number;
  /** Extra environment for the launched process. */
  env?: Record<string, string>;
  /**
   * The instance's id, given to the launched process as WEBSITE_INSTANCE_ID as App Service does
   * (the id ARM lists under the site's instances and the ARRAffinity cookie names). Default: a
   * random one, 64 hexadecimal digits like App Service's.
   */
  instanceId?: string;
  /** WINEPREFIX for the 'wine' launcher; see wine.ts's ensureWinePrefix. Default: the shared one under .tmp/. */
  winePrefix?: string;
  /**
   * How often the running app reads _artifact.txt (goazure's poll interval; 1000 ms, its
   * DefaultPollInterval, unless the app sets another). See Iis.readingPointer.
   */
  pollMs?: number;
  /**
   * Local Cache (the app setting WEBSITE_LOCAL_CACHE_OPTION=Always), asked once, when the site
   * first starts a process: App Service then copies site/wwwroot to the instance's local disk and
   * runs the app from that copy, refreshed only when the site restarts (here: never, for the
   * emulator's lifetime). The launcher, the binary and goazure's poll of _artifact.txt all see the
   * copy, so a change to the real _artifact.txt is never seen.
   */
  localCache?: () => boolean;
  /**
   * Continuous WebJobs running in the site's sandbox: each is listed by Kudu (by this exe name)
   * beside the site's own processes. None by default.
   */
  webJobs?: string[];
}

/**
 * How long one read of _artifact.txt holds it open. On App Service D:\home is a network share:
 * an open, a read and a close of a small file are a few round trips to it. The launcher opens it
 * several times (go-azure.bat's FOR /F loops), goazure once per poll.
 */
export const POINTER_READ_MS = { launcher: 30, poll: 5 } as const;

export interface IisStats {
  /** Processes started. */
  starts: number;
  /** Processes that exited (each counts toward rapidFailsPerMinute). */
  exits: number;
  /** 502.3 answers: the process refused or reset the connection. */
  badGateway: number;
  /** 502.5 answers: the process did not start listening within startupTimeLimit. */
  startFailures: number;
  /** 503 answers: rapidFailsPerMinute exceeded. */
  unavailable: number;
}

export interface Iis {
  url: string;
  port: number;
  /** The app's running processes (two during an overlapped recycle): the exe name without .exe. */
  processes(): { id: number; name: string }[];
  /**
   * Every process of the site's sandbox as Kudu's GET /api/processes lists them
   * (Kudu.Services/Diagnostics/ProcessController.cs, GetAllProcesses: all of the sandbox's
   * processes, ordered by name without case): the SCM site's w3wp, the site's w3wp (two during an
   * overlapped recycle), for each app process the cmd that runs the launcher and its conhost, the
   * app itself, and any WebJobs. Only the app's ids are real; the others stand for the platform's.
   */
  kuduProcesses(): { id: number; name: string }[];
  /**
   * An overlapped recycle, as IIS does on a setting change or platform maintenance: a new worker
   * process starts and takes every new request (its warm-up request starts a new app process, with
   * a new pid), while the old worker keeps its app process for `overlapMs` and then shuts it down
   * (SIGTERM, as HttpPlatformHandler ends its process when the worker stops). Resolves when the
   * new app process is serving; the old one is stopped later.
   */
  recycle(opts?: { overlapMs?: number }): Promise<void>;
  /**
   * Whether relPath (relative to home, either separator) is the running binary, which Windows
   * locks; for the Kudu emulator's isLocked option.
   */
  isLocked(relPath: string): boolean;
  /**
   * Whether the site's own readers hold _artifact.txt open right now: the launcher for a moment
   * after each start, and the running app for a moment at each of its polls (POINTER_READ_MS).
   * Kudu's write of the file cannot open it then and answers 409 (kudu.ts, `readers`).
   */
  readingPointer(): boolean;
  stats(): IisStats;
  /**
   * Ends the process with this id and everything it started (its process group), as Kudu's
   * process API does; false when no process of this site has that id. HttpPlatformHandler sees
   * the exit and starts the launcher again on the next request.
   */
  kill(pid: number): boolean;
  /** Resolves when the current process (if any) has exited. */
  backendExited(): Promise<void>;
  close(): Promise<void>;
}

interface Backend {
  child: ChildProcess;
  pid: number;
  port: number;
  /** The binary _artifact.txt named at launch, relative to home with forward slashes. */
  binaryRel: string;
  name: string;
  /** When the launcher was started (Date.now()). */
  startedAt: number;
  agent: http.Agent;
  exited: boolean;
  exitedPromise: Promise<void>;
  /** The (stand-in) pid of the site's w3wp that started this process. */
  workerPid: number;
  /** Stopped by a recycle: its exit is no rapid fail. */
  retiring?: boolean;
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const shellLauncherPath = path.join(here, 'go-azure.sh');

const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

/** Reads the httpPlatform attributes the emulator honours from the site's web.config, if any. */
export function readWebConfig(wwwroot: string): {
  startupTimeLimit?: number;
  startupRetryCount?: number;
  rapidFailsPerMinute?: number;
  /** stdoutLogFile relative to %HOME%, forward slashes. */
  stdoutLogFile?: string;
} {
  let xml: string;
  try {
    xml = fs.readFileSync(path.join(wwwroot, 'web.config'), 'utf8');
  } catch {
    return {};
  }
  const attr = (name: string): number | undefined => {
    const m = new RegExp(`\\b${name}\\s*=\\s*"(\\d+)"`).exec(xml);
    return m === null ? undefined : Number(m[1]);
  };
  return {
    startupTimeLimit: attr('startupTimeLimit'),
    startupRetryCount: attr('startupRetryCount'),
    rapidFailsPerMinute: attr('rapidFailsPerMinute'),
    stdoutLogFile: /\bstdoutLogFile\s*=\s*"(?:\\\\\?\\)?%HOME%\\([^"]+)"/.exec(xml)?.[1]?.replace(/\\/g, '/'),
  };
}

/**
 * The first line of the pointer the launcher reads, as it reads it: `_target/<name>`, or '' if
 * none. With `instanceId`, the instance's own pointer `_artifact.<id>.txt` comes first while it
 * exists (templates/go-azure.bat; goazure/canary.go, InstanceArtifactFileName).
 */
export function readArtifactLine(wwwroot: string, instanceId?: string): string {
  try {
    const own = instanceId ? path.join(wwwroot, `_artifact.${instanceId}.txt`) : '';
    const file = own !== '' && fs.existsSync(own) ? own : path.join(wwwroot, '_artifact.txt');
    const text = fs.readFileSync(file, 'utf8').replace(/^\ufeff/, '');
    return (text.split(/\r?\n/)[0] ?? '').trim().replace(/\\/g, '/');
  } catch {
    return '';
  }
}

/** A free port on 127.0.0.1, as HttpPlatformHandler picks one for each process it starts. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The Windows path Wine maps a Unix path to (drive Z: is the root). */
export function winePath(unixPath: string): string {
  return `Z:${path.resolve(unixPath).replace(/\//g, '\\')}`;
}

/**
 * Whether the process has not terminated. IIS learns of an exit from the process handle, which
 * the kernel signals at termination; Node's 'exit' event comes only once the event loop gets to
 * the SIGCHLD, which under load is milliseconds later. A terminated but not yet reaped process is a
 * zombie ('Z') in /proc, so the emulator looks there before each request, as IIS would know.
 */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return process.platform !== 'linux';
  }
}

/** Ends a process and everything it started: each launcher runs as its own process group. */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

export async function startIis(opts: IisOptions): Promise<Iis> {
  const home = path.resolve(opts.home);
  const wwwroot = path.join(home, 'site', 'wwwroot');
  fs.mkdirSync(wwwroot, { recursive: true });
  fs.mkdirSync(path.join(home, 'LogFiles'), { recursive: true });
  const instanceId = opts.instanceId ?? randomBytes(32).toString('hex');

  const settings = () => {
    const fromConfig = readWebConfig(wwwroot);
    return {
      startupTimeLimit: opts.startupTimeLimit ?? fromConfig.startupTimeLimit ?? 10,
      startupRetryCount: Math.max(1, opts.startupRetryCount ?? fromConfig.startupRetryCount ?? 10),
      rapidFailsPerMinute: opts.rapidFailsPerMinute ?? fromConfig.rapidFailsPerMinute ?? 10,
      stdoutLogFile: fromConfig.stdoutLogFile ?? 'LogFiles/stdout',
    };
  };

  const stats: IisStats = { starts: 0, exits: 0, badGateway: 0, startFailures: 0, unavailable: 0 };
  const exitTimes: number[] = [];
  const everyChild = new Set<number>();
  const agents: http.Agent[] = [];
  let backend: Backend | undefined;
  /** App processes of workers a recycle retired, until they exit. */
  const retiring = new Set<Backend>();
  let starting: Promise<Backend | undefined> | undefined;
  let closing = false;
  let lastLaunch = 0;
  /** The folder the site runs from: wwwroot, or with Local Cache its copy, decided at the first start. */
  let runRoot: { dir: string; copy?: string } | undefined;
  const siteRoot = (): { dir: string; copy?: string } => {
    if (runRoot !== undefined) return runRoot;
    if (opts.localCache?.() === true) {
      const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-localcache-'));
      const dir = path.join(copy, 'site', 'wwwroot');
      fs.cpSync(wwwroot, dir, { recursive: true });
      runRoot = { dir, copy };
    } else {
      runRoot = { dir: wwwroot };
    }
    return runRoot;
  };
  // Stand-in ids for the platform's processes (never real pids here: the emulator has none).
  let platformPid = 4000 + Math.floor(Math.random() * 1000) * 4;
  const nextPlatformPid = (): number => (platformPid += 4);
  const scmWorkerPid = nextPlatformPid();
  let workerPid = nextPlatformPid();
  const webJobPids = (opts.webJobs ?? []).map((name) => ({ id: nextPlatformPid(), name }));

  const spawnLauncher = (port: number): ChildProcess => {
    const root = siteRoot().dir;
    const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env, WEBSITE_INSTANCE_ID: instanceId, HTTP_PLATFORM_PORT: String(port) };
    // HttpPlatformHandler appends a unique suffix to stdoutLogFile for each process.
    const logName = path.join(home, `${settings().stdoutLogFile}_${new Date().toISOString().replace(/[-:.TZ]/g, '')}_${port}.log`);
    fs.mkdirSync(path.dirname(logName), { recursive: true });
    const log = fs.openSync(logName, 'a');
    let child: ChildProcess;
    try {
      if (opts.launcher === 'wine') {
        Object.assign(env, wineVars(opts.winePrefix ?? defaultWinePrefix));
        child = spawn('wine', ['cmd', '/c', `${winePath(root)}\\go-azure.bat`, String(port)], {
          cwd: root,
          env,
          detached: true,
          stdio: ['ignore', log, log],
        });
      } else {
        env.GO_AZURE_WWWROOT = root;
        child = spawn('/bin/sh', [shellLauncherPath, String(port)], { cwd: root, env, detached: true, stdio: ['ignore', log, log] });
      }
    } finally {
      fs.closeSync(log);
    }
    return child;
  };

  /** One start attempt: the process, once its port accepts; undefined when it did not start. */
  const startOnce = async (limitSeconds: number): Promise<Backend | undefined> => {
    const port = await freePort();
    // With Local Cache the running binary is the copy's: no file of the site itself is in use.
    const root = siteRoot();
    const binaryRel = `${root.copy === undefined ? 'site/wwwroot' : 'local-cache/site/wwwroot'}/${readArtifactLine(root.dir, instanceId)}`;
    const child = spawnLauncher(port);
    lastLaunch = Date.now();
    const pid = child.pid;
    if (pid === undefined) {
      await new Promise((resolve) => child.once('error', resolve));
      return undefined;
    }
    everyChild.add(pid);
    stats.starts++;
    let markExited: () => void = () => {};
    const b: Backend = {
      child,
      pid,
      port,
      binaryRel,
      name: path.basename(binaryRel).replace(/\.exe$/i, ''),
      startedAt: Date.now(),
      agent: new http.Agent({ keepAlive: true }),
      exited: false,
      exitedPromise: new Promise<void>((resolve) => (markExited = resolve)),
      workerPid,
    };
    agents.push(b.agent);
    child.once('exit', () => {
      b.exited = true;
      everyChild.delete(pid);
      retiring.delete(b);
      stats.exits++;
      if (b.retiring !== true) exitTimes.push(Date.now());
      // The pooled connections are left to end by themselves: an answer the process wrote
      // before it exited still reaches the client, as it does through IIS.
      // The group may hold more (Wine's cmd and the exe): nothing of it may outlive the process.
      killGroup(pid, 'SIGKILL');
      if (backend === b) backend = undefined;
      markExited();
    });
    const deadline = Date.now() + limitSeconds * 1000;
    while (!b.exited && !closing && Date.now() < deadline) {
      if (await canConnect(port)) return b;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (!b.exited) killGroup(pid, 'SIGKILL');
    return undefined;
  };

  const rapidFailsExceeded = (limit: number): boolean => {
    const since = Date.now() - 60_000;
    while (exitTimes.length > 0 && exitTimes[0]! < since) exitTimes.shift();
    return exitTimes.length >= limit;
  };

  /** The running process, started if there is none; undefined when it could not be started. */
  const ensureBackend = async (): Promise<Backend | 'rapid-fails' | undefined> => {
    if (backend !== undefined && !backend.exited) {
      if (alive(backend.pid)) return backend;
      backend.exited = true;
    }
    const s = settings();
    if (rapidFailsExceeded(s.rapidFailsPerMinute)) return 'rapid-fails';
    starting ??= (async () => {
      try {
        for (let attempt = 0; attempt < s.startupRetryCount && !closing; attempt++) {
          const b = await startOnce(s.startupTimeLimit);
          if (b !== undefined) {
            backend = b;
            return b;
          }
          if (rapidFailsExceeded(s.rapidFailsPerMinute)) return undefined;
        }
        return undefined;
      } finally {
        starting = undefined;
      }
    })();
    return starting;
  };

  const sockets = new Set<net.Socket>();
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    void (async () => {
      const b = await ensureBackend();
      if (b === 'rapid-fails') {
        stats.unavailable++;
        res.writeHead(503, { 'content-type': 'text/plain' }).end('503 Service Unavailable: the process failed too often (rapidFailsPerMinute)\n');
        return;
      }
      if (b === undefined) {
        stats.startFailures++;
        res.writeHead(502, { 'content-type': 'text/plain' }).end('502.5 Bad Gateway: the process failed to start (startupTimeLimit)\n');
        req.resume();
        return;
      }
      forward(b, req, res);
    })();
  });

  const forward = (b: Backend, req: http.IncomingMessage, res: http.ServerResponse): void => {
    const headers: http.OutgoingHttpHeaders = {};
    // Every request header goes on to the process, the front end's X-Forwarded-Proto and X-ARR-SSL
    // included (appservice.ts): an app learns from them that a request came over https.
    for (const [k, v] of Object.entries(req.headers)) if (!hopByHop.has(k) && v !== undefined) headers[k] = v;
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    headers['x-original-url'] = req.url ?? '/';
    let answered = false;
    const upstream = http.request(
      { host: '127.0.0.1', port: b.port, method: req.method, path: req.url, headers, agent: b.agent },
      (up) => {
        answered = true;
        const out: http.OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(up.headers)) if (!hopByHop.has(k) && v !== undefined) out[k] = v;
        res.writeHead(up.statusCode ?? 502, out);
        up.pipe(res);
        up.once('error', () => res.destroy());
        up.once('aborted', () => res.destroy());
      },
    );
    upstream.once('error', (err: NodeJS.ErrnoException) => {
      if (answered) {
        res.destroy();
        return;
      }
      // IIS does not retry: a refused or reset connection is the client's 502.3.
      stats.badGateway++;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`502.3 Bad Gateway: the connection to the process was refused or reset (${err.code ?? err.message})\n`);
      else res.destroy();
    });
    req.pipe(upstream);
  };

  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as net.AddressInfo).port;

  const normalize = (rel: string): string => rel.replace(/\\/g, '/').replace(/^\/+|\/+$/g, '').toLowerCase();

  const running = (): Backend[] => [...retiring, ...(backend !== undefined ? [backend] : [])].filter((b) => !b.exited);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    processes: () => running().map((b) => ({ id: b.pid, name: b.name })),
    kuduProcesses: () => {
      const workers = new Set([workerPid, ...running().map((b) => b.workerPid)]);
      const list = [
        { id: scmWorkerPid, name: 'w3wp' },
        ...[...workers].map((id) => ({ id, name: 'w3wp' })),
        ...running().flatMap((b) => [
          { id: b.pid + 1_000_000, name: 'cmd' },
          { id: b.pid + 2_000_000, name: 'conhost' },
          { id: b.pid, name: b.name },
        ]),
        ...webJobPids,
      ];
      return list.sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()) || a.id - b.id);
    },
    recycle: async (o = {}) => {
      const old = backend;
      workerPid = nextPlatformPid();
      backend = undefined;
      if (old !== undefined && !old.exited) {
        old.retiring = true;
        retiring.add(old);
      }
      await ensureBackend();
      if (old === undefined || old.exited) return;
      const stop = setTimeout(() => {
        killGroup(old.pid, 'SIGTERM');
        setTimeout(() => {
          if (!old.exited) killGroup(old.pid, 'SIGKILL');
        }, 5000).unref();
      }, o.overlapMs ?? 2000);
      stop.unref();
    },
    isLocked: (rel) => running().some((b) => normalize(rel) === normalize(b.binaryRel)),
    readingPointer: () => {
      // With Local Cache the launcher and the app read the local copy, never the shared file.
      if (runRoot?.copy !== undefined) return false;
      const now = Date.now();
      if (now - lastLaunch < POINTER_READ_MS.launcher) return true;
      // goazure reads the file as it starts serving, then at every tick of its poll; during a
      // recycle both copies poll.
      return running().some((b) => (now - b.startedAt) % (opts.pollMs ?? 1000) < POINTER_READ_MS.poll);
    },
    stats: () => ({ ...stats }),
    kill: (pid) => {
      if (!everyChild.has(pid)) return false;
      killGroup(pid, 'SIGKILL');
      return true;
    },
    backendExited: () => backend?.exitedPromise ?? Promise.resolve(),
    close: async () => {
      closing = true;
      await starting?.catch(() => undefined);
      for (const pid of everyChild) killGroup(pid, 'SIGTERM');
      const deadline = Date.now() + 3000;
      while (everyChild.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const pid of everyChild) killGroup(pid, 'SIGKILL');
      for (const s of sockets) s.destroy();
      for (const a of agents) a.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (runRoot?.copy !== undefined) fs.rmSync(runRoot.copy, { recursive: true, force: true });
    },
  };
}

const repoRoot = path.resolve(here, '..');

export interface ExampleBuild {
  /** Where the binary is written. */
  outPath: string;
  version: string;
  commit: string;
  goos?: string;
  goarch?: string;
  /** The app's folder, relative to the repository: example/ unless given. */
  appDir?: string;
}

/** Builds the example app (or another in `appDir`) with its version and commit stamped, as the build stage does. */
export async function buildExampleApp(b: ExampleBuild): Promise<string> {
  fs.mkdirSync(path.dirname(b.outPath), { recursive: true });
  const args = ['build', '-trimpath', '-ldflags', `-s -w -X main.version=${b.version} -X main.commit=${b.commit}`, '-o', b.outPath, '.'];
  const env = { ...process.env, CGO_ENABLED: '0', GOOS: b.goos ?? process.env.GOOS ?? 'linux', GOARCH: b.goarch ?? 'amd64', GOTOOLCHAIN: 'local', GOWORK: 'off', GOFLAGS: '-mod=mod' };
  const { code, output } = await runProcess('go', args, { cwd: path.join(repoRoot, b.appDir ?? 'example'), env, timeoutMs: 300_000 });
  if (code !== 0) throw new Error(`go ${args.join(' ')} in ${b.appDir ?? 'example'}/ failed (${code}):\n${output}`);
  return b.outPath;
}

/** Copies the action's web.config and go-azure.bat into the site, as bootstrap uploads them. */
export function installTemplates(wwwroot: string): void {
  fs.mkdirSync(wwwroot, { recursive: true });
  for (const f of ['web.config', 'go-azure.bat']) fs.copyFileSync(path.join(repoRoot, 'templates', f), path.join(wwwroot, f));
}

/** Points _artifact.txt at `_target\<name>` + CRLF, byte for byte what the switch stage writes. */
export function writeArtifact(wwwroot: string, name: string): void {
  fs.writeFileSync(path.join(wwwroot, '_artifact.txt'), `_target\\${name}\r\n`);
}

/**
 * Runs the emulator in a process of its own, as IIS is to its clients: `node iis.ts '<options
 * as JSON>'` prints its URL on the first line of stdout and stops (with its processes) when stdin
 * closes or on SIGTERM. The swap benchmark uses it so that its load generator and the proxy do
 * not share one event loop.
 */
export async function startIisProcess(opts: IisOptions): Promise<{ url: string; pid: number; close(): Promise<void> }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), JSON.stringify(opts)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl).trim());
    });
    child.once('exit', (code) => reject(new Error(`the IIS emulator process exited (${code}) before it listened`)));
  });
  return {
    url,
    pid: child.pid!,
    close: async () => {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const iis = await startIis(JSON.parse(process.argv[2] ?? '{}') as IisOptions);
  process.stdout.write(`${iis.url}\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void iis.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdin.resume();
  process.stdin.once('end', stop);
  process.stdin.once('close', stop);
}
