// The verify stage: after the switch, wake the site and wait, bounded, until the new binary is the
// process serving on every instance and its health path answers well three times in a row; then,
// optionally, watch it for a while. On failure, gather what a user needs to see why.
// docs/ARCHITECTURE.md, "The flow" and "The health gate".

import * as core from '@actions/core';
import { affinityCookie, firstHeader, sendRequest } from '../common/http.ts';
import { sleep } from '../common/retry.ts';
import type { SiteConnection } from '../signin/connection.ts';
import { messageOf } from '../common/errors.ts';
import { artifactStem } from './layout.ts';
import { statusAllowed, type StatusSet } from '../common/inputs.ts';
import { answeredByPinned, IDENTITY_KEY_HEADER, INSTANCE_HEADER } from './identity.ts';
import { redactQuery } from '../common/redact.ts';

/**
 * A process as Kudu's /api/processes lists it; `name` is the exe name without `.exe`. The list
 * holds every process of the site's sandbox (Kudu.Services/Diagnostics/ProcessController.cs,
 * GetAllProcesses): w3wp (two during an overlapped recycle), the cmd running the launcher, conhost,
 * WebJobs and the app, maybe twice; `machineName` (Kudu.Contracts/Diagnostics/ProcessInfo.cs) is
 * the instance whose Kudu answered.
 */
export interface ServingProcess {
  id: number;
  name: string;
  machineName?: string;
}

/** The app process verify follows on one machine, and the site's worker processes when it was first seen. */
interface TrackedProcess {
  pid: number;
  /** Ids of the w3wp processes listed when `pid` was first seen. */
  workers: number[];
}

/** What verify needs from Kudu: a narrow view of the Kudu client. */
export interface VerifyKudu {
  /** Processes of one instance (pinned with the ARRAffinity cookie), or of whichever answers. */
  processes(instance?: string): Promise<ServingProcess[]>;
  getFileTail(path: string, bytes: number): Promise<Buffer | null>;
  listDir(path: string): Promise<{ name: string; mtime: string; mime: string; size: number }[] | null>;
}

/** The health gate: what verify requests on each instance and what counts as healthy. */
export interface HealthCheck {
  /** Path on the site, starting with `/`. */
  path: string;
  /** Statuses of `path` that count as healthy. */
  statuses: StatusSet;
  /** Consecutive healthy answers needed before an instance counts as healthy (the stable window). */
  stableChecks: number;
}

export interface VerifyRequest {
  artifactName: string;
  previous: string;
  timeoutSeconds: number;
  /** Instance ids of a scaled-out site (from ARM); empty checks whichever instance answers. */
  instances?: string[];
  /** Pause between polls (default 500 ms): the app notices a switch within about a second. */
  pollIntervalMs?: number;
  /**
   * The health gate. Absent: any answer from the app (not IIS's 502/503/504) will do, as after a
   * rollback to a version that served before.
   */
  health?: HealthCheck;
  /** performance.now() of the switch, for the time to healthy; default: when verify starts. */
  switchedAt?: number;
  /** The identity key this run wrote to the site (src/site/identity.ts), sent with every probe. */
  identityKey?: string;
}

/** One request to the site, pinned to an instance: what answered, how, and how fast. */
export interface Probe {
  /** undefined: no answer at all. */
  status?: number;
  /** X-Goazure-Artifact of the answer: the file name of the binary that answered; '' when absent. */
  artifact: string;
  /** X-Goazure-Instance of the answer: the first characters of the instance's id; '' when absent (an app without goazure, or goazure 1.0.0). */
  instance?: string;
  latencyMs: number;
  /** Where a 3xx answer sends the client: the host when it is another one, else the path. */
  location?: string;
  /** The answer asked for credentials (a WWW-Authenticate header). */
  challenge?: boolean;
}

export interface InstanceResult {
  /** Instance id, or '' for "whichever instance answered". */
  instance: string;
  ok: boolean;
  /** Process names last seen on that instance. */
  seen: string[];
  /** Status of the last request to the site (undefined: no answer at all). */
  lastStatus?: number;
  /** The binary that sent the last answer (X-Goazure-Artifact), '' when the answer did not say. */
  artifact?: string;
  /** Latency of the last request, ms. */
  latencyMs?: number;
  /** Process id of the new artifact on this instance when it became healthy. */
  pid?: number;
  /**
   * The new artifact's process on each machine that answered for this instance (by Kudu's
   * `machineName`; '' when the list does not say): several when the process lists were not pinned
   * and a scaled-out site's instances took turns answering.
   */
  tracked?: Record<string, TrackedProcess>;
  /** Seconds from the switch until this instance was healthy. */
  secondsToHealthy?: number;
  /** Consecutive healthy checks so far. */
  streak: number;
  /** The last few answers, e.g. `500 from site-0123456789.exe in 3 ms`, for the failure message. */
  answers: string[];
  /** Why the last check was not healthy ('' when it was). */
  why: string;
  /** Some answer came from App Service Authentication's sign-in rather than the app (answeredBySignIn). */
  signIn?: boolean;
  /** Consecutive checks answered by that sign-in while Kudu listed no new process. */
  signInStreak?: number;
}

/**
 * Checks in a row answered by App Service Authentication's sign-in, with the new process not
 * running, after which verify stops waiting: such requests never reach HttpPlatformHandler, so
 * nothing verify sends will start the app, however long it waits.
 */
export const SIGN_IN_CHECKS = 3;

export interface VerifyResult {
  ok: boolean;
  /** One line for the log and the summary. */
  detail: string;
  instances: InstanceResult[];
  /** Seconds from the start of verification until every instance served the new binary. */
  seconds: number;
  /**
   * How the new version's answers were told from the old one's: by the X-Goazure-Artifact header,
   * or, for an app that does not link goazure, by Kudu's process list alone.
   */
  identifiedBy: 'header' | 'processes';
}

/** Kudu names a process after its executable without `.exe`; Windows compares names without case. */
function processKey(artifactName: string): string {
  return artifactStem(artifactName).toLowerCase();
}

/** Pure: does this process list show the new artifact serving and the previous one gone? */
export function isServing(processes: ServingProcess[], artifactName: string, previous: string): boolean {
  const names = processes.map((p) => p.name.toLowerCase());
  const wanted = processKey(artifactName);
  const old = previous === '' ? '' : processKey(previous);
  return names.includes(wanted) && (old === '' || old === wanted || !names.includes(old));
}

/**
 * Whether the site itself answered, rather than the platform in front of it: 502 (the process
 * refused the connection or did not start listening), 503 (stopped after rapid fails) and 504 are
 * IIS's own answers; any other status, even a 404 or 500, came from the app.
 */
export function siteAnswered(status: number | undefined): boolean {
  return status !== undefined && status !== 502 && status !== 503 && status !== 504;
}

/**
 * Pure: whether an answer came from App Service Authentication rather than the app: no
 * X-Goazure-Artifact, and a redirect to its sign-in (/.auth/login/… on the site, then Entra ID's
 * login.* host) or a 401 asking for credentials. Such a request never reaches HttpPlatformHandler,
 * so it does not start the app either.
 */
export function answeredBySignIn(p: Probe): boolean {
  if (p.artifact !== '' || p.status === undefined) return false;
  if (p.status >= 300 && p.status < 400) return /^login\.|^\/\.auth\/login\//i.test(p.location ?? '');
  return p.status === 401 && p.challenge === true;
}

/** Pure: the path verify requests: the health-path input, else the site's health check path in ARM, else `/`. */
export function healthPathFor(input: string, armHealthCheckPath: string | undefined): string {
  if (input !== '') return input;
  return armHealthCheckPath !== undefined && armHealthCheckPath !== '' ? armHealthCheckPath : '/';
}

/**
 * The header naming the running binary's file name: goazure sends it to requests that carry the
 * identity key (src/site/identity.ts); release 1.0.0 never sends it.
 */
export const ARTIFACT_HEADER = 'x-goazure-artifact';

/** Whether a X-Goazure-Artifact value names this artifact (with or without `.exe`, any case). */
export function sameArtifact(header: string, artifactName: string): boolean {
  return header !== '' && processKey(header) === processKey(artifactName);
}

/** Pure: one check of one instance. */
export interface CheckOutcome {
  /** The instance counts this check as healthy. */
  healthy: boolean;
  /** Why not, for the log and the failure message; '' when healthy. */
  why: string;
}

/**
 * Pure: judges one check of one instance from its process list and one answer of the site. The
 * new artifact must be the process running (and the previous one gone); the answer must come from
 * the new binary when it says which binary it is; and it must have a healthy status, or with no
 * health gate at least come from the app rather than from IIS.
 */
export function judgeCheck(processes: ServingProcess[], probe: Probe, req: Pick<VerifyRequest, 'artifactName' | 'previous' | 'health'>, pinned = ''): CheckOutcome {
  if (!isServing(processes, req.artifactName, req.previous)) {
    return { healthy: false, why: `Kudu lists ${processes.map((p) => p.name).join(', ') || 'no processes'}` };
  }
  return judgeAnswer(probe, req, pinned);
}

/**
 * Pure: judges the site's answer alone (judgeCheck without the process list). An answer from
 * another instance than the one `pinned` with ARRAffinity says nothing about the pinned one: it is
 * reported, never counted.
 */
function judgeAnswer(probe: Probe, req: Pick<VerifyRequest, 'artifactName' | 'health'>, pinned = ''): CheckOutcome {
  if (answeredByPinned(pinned, probe.instance ?? '') === false) {
    return { healthy: false, why: `answered by instance ${probe.instance}, not ${pinned} that the ARRAffinity cookie named (the front end did not route by it)` };
  }
  if (probe.artifact !== '' && !sameArtifact(probe.artifact, req.artifactName)) {
    return { healthy: false, why: `answered by ${probe.artifact}, not the new version` };
  }
  if (req.health !== undefined) {
    if (!statusAllowed(req.health.statuses, probe.status)) {
      return { healthy: false, why: `not ${req.health.statuses.text}` };
    }
    return { healthy: true, why: '' };
  }
  if (!siteAnswered(probe.status)) {
    return { healthy: false, why: 'from IIS, not the app' };
  }
  return { healthy: true, why: '' };
}

/** The process ids of the artifact in a process list: none, one, or two during an overlapped recycle. */
function pidsOf(processes: ServingProcess[], artifactName: string): number[] {
  return processes.filter((p) => p.name.toLowerCase() === processKey(artifactName)).map((p) => p.id);
}

/** The machine whose Kudu listed these processes (Kudu's `machineName`), '' when the list does not say. */
function machineOf(processes: ServingProcess[]): string {
  return processes.find((p) => typeof p.machineName === 'string' && p.machineName !== '')?.machineName ?? '';
}

/**
 * How the new artifact's process changed on one machine since `before`:
 * - `first`: nothing was followed there yet (`now` names the process, if one runs);
 * - `same`: the followed process still runs (during an overlapped recycle beside a new one);
 * - `exited`: no process of the artifact runs, under the same workers;
 * - `recycled`: the followed process is gone and a w3wp that was not there before is listed: IIS
 *   started a new worker process (an overlapped recycle on a setting change or platform
 *   maintenance), which starts its own copy of the app on its first request (`now` names it once
 *   it runs);
 * - `restarted`: the followed process is gone and another runs under the same workers:
 *   HttpPlatformHandler started the app again after it exited (a crash).
 * Whether a recycle is good is the health answer's to say; a crash is never one.
 */
export function processChange(
  before: TrackedProcess | undefined,
  processes: ServingProcess[],
  artifactName: string,
): { change: 'first' | 'same' | 'exited' | 'recycled' | 'restarted'; now?: TrackedProcess } {
  const pids = pidsOf(processes, artifactName);
  const workers = processes.filter((p) => p.name.toLowerCase() === 'w3wp').map((p) => p.id);
  if (before === undefined) return { change: 'first', now: pids.length > 0 ? { pid: Math.min(...pids), workers } : undefined };
  // The workers stay those of the moment the process was first seen: a new one listed since then
  // (even while the old process still runs beside it) is what tells a recycle.
  if (pids.includes(before.pid)) return { change: 'same', now: before };
  const newWorker = workers.some((w) => !before.workers.includes(w));
  if (pids.length === 0) return newWorker ? { change: 'recycled' } : { change: 'exited' };
  const now = { pid: Math.min(...pids.filter((p) => p !== before.pid)), workers };
  return { change: newWorker ? 'recycled' : 'restarted', now };
}

/**
 * Requests `path` on the site, pinned to an instance with the ARRAffinity cookie; this also wakes
 * the site, so IIS starts the process if none runs. Never throws for a failed request.
 */
async function probe(baseUrl: string, path: string, instance: string, signal: AbortSignal, identityKey?: string): Promise<Probe> {
  const started = performance.now();
  try {
    const headers: Record<string, string> = instance ? { Cookie: affinityCookie(instance) } : {};
    if (identityKey !== undefined) headers[IDENTITY_KEY_HEADER] = identityKey;
    // Redirects within the site's host are followed: with "HTTPS Only" the front end answers an
    // http:// URL (a publish profile's destinationAppUrl is one) with 301 to https:// on the same
    // host without reaching the app, so only the followed request starts the process. A redirect
    // to another host (Easy Auth sending to the sign-in page) is the answer: following it would
    // only send requests away from the site.
    const url = joinUrl(baseUrl, path);
    const res = await sendRequest({ method: 'GET', url, headers, signal, idleTimeoutMs: 10_000, redirects: 'same-host' });
    const first = (name: string): string | undefined => firstHeader(res.headers[name]);
    const probed: Probe = { status: res.status, artifact: first(ARTIFACT_HEADER) ?? '', instance: first(INSTANCE_HEADER) ?? '', latencyMs: performance.now() - started };
    const location = first('location');
    if (res.status >= 300 && res.status < 400 && location !== undefined) probed.location = whereTo(location, url);
    if (first('www-authenticate') !== undefined) probed.challenge = true;
    return probed;
  } catch {
    if (signal.aborted) throw signal.reason;
    return { artifact: '', latencyMs: performance.now() - started };
  }
}

/** A redirect's target for the log: the host when it leaves the site's, else the path (never the query). */
function whereTo(location: string, from: string): string {
  try {
    const to = new URL(location, from);
    return to.host !== new URL(from).host ? to.host : to.pathname;
  } catch {
    return '(an unreadable Location)';
  }
}

function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
}

function describeAnswer(p: Probe): string {
  if (p.status === undefined) return 'no answer';
  return `${p.status}${p.location !== undefined ? ` to ${p.location}` : ''}${p.artifact ? ` from ${p.artifact}` : ''} in ${Math.round(p.latencyMs)} ms`;
}

function remember(result: InstanceResult, p: Probe, why: string): void {
  result.lastStatus = p.status;
  result.artifact = p.artifact;
  result.latencyMs = Math.round(p.latencyMs);
  result.why = why;
  if (answeredBySignIn(p)) result.signIn = true;
  result.answers.push(describeAnswer(p));
  if (result.answers.length > 5) result.answers.shift();
}

/**
 * Waits until the new artifact is healthy on every instance, or `timeoutSeconds` pass. Never throws
 * for a slow or failing site: the result says what was seen, and the caller decides what to do.
 */
export async function verifyDeployment(
  kudu: VerifyKudu,
  connection: SiteConnection,
  req: VerifyRequest,
  signal: AbortSignal,
): Promise<VerifyResult> {
  const started = performance.now();
  const switchedAt = req.switchedAt ?? started;
  const deadline = started + req.timeoutSeconds * 1000;
  const interval = req.pollIntervalMs ?? 500;
  const path = req.health?.path ?? '/';
  const needed = req.health?.stableChecks ?? 1;
  const instances = req.instances && req.instances.length > 0 ? req.instances : [''];
  const results = new Map<string, InstanceResult>(instances.map((i) => [i, { instance: i, ok: false, seen: [], streak: 0, answers: [], why: '' }]));
  let lastError = '';
  let headerSeen = false;
  let headerMissing = false;
  while (true) {
    for (const result of results.values()) {
      if (result.ok) continue;
      const answer = await probe(connection.webappUrl, path, result.instance, signal, req.identityKey);
      try {
        const processes = await kudu.processes(result.instance || undefined);
        result.seen = processes.map((p) => p.name);
        const outcome = judgeCheck(processes, answer, req, result.instance);
        remember(result, answer, outcome.why);
        const blocked = answeredBySignIn(answer) && pidsOf(processes, req.artifactName).length === 0;
        result.signInStreak = blocked ? (result.signInStreak ?? 0) + 1 : 0;
        if (siteAnswered(answer.status) && isServing(processes, req.artifactName, req.previous)) {
          if (answer.artifact !== '') headerSeen = true;
          else headerMissing = true;
        }
        // A restart (a crash) during the stable window starts the window again; an overlapped
        // recycle of a healthy process does not, nor a list that another machine answered (the
        // unpinned list of a scaled-out site: each instance runs its own copy of the app).
        const machine = machineOf(processes);
        const change = processChange(result.tracked?.[machine], processes, req.artifactName);
        if (outcome.healthy && result.streak > 0 && change.change !== 'restarted' && change.change !== 'exited') {
          result.streak++;
        } else {
          result.streak = outcome.healthy ? 1 : 0;
          result.tracked = undefined;
        }
        if (outcome.healthy && change.now !== undefined) {
          result.tracked = { ...result.tracked, [machine]: change.now };
          result.pid ??= change.now.pid;
        }
        if (!outcome.healthy) result.pid = undefined;
        if (result.streak >= needed) {
          result.ok = true;
          result.secondsToHealthy = (performance.now() - switchedAt) / 1000;
        }
      } catch (err) {
        remember(result, answer, '');
        lastError = messageOf(err);
      }
    }
    const identifiedBy = headerSeen || !headerMissing ? 'header' : 'processes';
    const waiting = [...results.values()].filter((r) => !r.ok);
    if (waiting.length === 0) {
      const seconds = (performance.now() - started) / 1000;
      const where = instances.length > 1 ? ` on all ${instances.length} instances` : '';
      const how = req.health !== undefined ? `healthy (${redactQuery(path)} answered ${req.health.statuses.text} ${needed} times in a row)` : 'serving';
      if (identifiedBy === 'processes') noticeNoHeader(req.artifactName);
      return { ok: true, detail: `${req.artifactName} is ${how}${where} (after ${seconds.toFixed(1)} s)`, instances: [...results.values()], seconds, identifiedBy };
    }
    const signedOut = waiting.every((r) => (r.signInStreak ?? 0) >= SIGN_IN_CHECKS);
    if (signedOut || performance.now() + interval > deadline) {
      const seconds = (performance.now() - started) / 1000;
      const seen = waiting
        .map(
          (r) =>
            `${r.instance ? `instance ${r.instance}: ` : ''}${r.seen.length > 0 ? r.seen.join(', ') : 'no processes'}; ` +
            `${redactQuery(path)} answered ${r.answers.length > 0 ? r.answers.join(', ') : 'nothing'}${r.why ? ` (${r.why})` : ''}`,
        )
        .join(' | ');
      const what = req.health !== undefined ? 'healthy' : 'serving';
      const when = signedOut
        ? `after ${seconds.toFixed(1)} s, when App Service Authentication's sign-in had answered ${SIGN_IN_CHECKS} checks in a row (waiting longer cannot help: such requests never start the app)`
        : `after ${req.timeoutSeconds} s`;
      const detail = `${req.artifactName} was not ${what} ${when} (seen: ${seen})` + (lastError ? `; last Kudu error: ${lastError}` : '');
      if (identifiedBy === 'processes') noticeNoHeader(req.artifactName);
      return { ok: false, detail, instances: [...results.values()], seconds, identifiedBy };
    }
    await sleep(interval, signal);
  }
}

/** The hint for an app that does not serve through goazure: what goes wrong, and the fix. */
const NO_GOAZURE_HINT =
  'the app must serve through goazure.ListenAndServe (go get github.com/go-azure-deploy/go-azure-deploy/goazure): ' +
  'without it the running version never exits when _artifact.txt changes, so IIS never starts the new one';

/**
 * A warning, not a notice: a deploy of an app without goazure passes only when nothing was
 * running before it (a first deploy, a restarted site). The next deploy cannot hand over.
 */
function noticeNoHeader(artifactName: string): void {
  core.warning(
    `The answers of ${artifactName} carry no X-Goazure-Artifact header, so verify told it from the old version by Kudu's ` +
      `process list alone. If the app does not serve through goazure, the NEXT deploy will fail: the running version never ` +
      `exits when _artifact.txt changes, so IIS keeps serving it, the new version never starts, and that deploy waits out ` +
      `verify-timeout-seconds and rolls back. Link goazure (go get github.com/go-azure-deploy/go-azure-deploy/goazure) and serve ` +
      `through goazure.ListenAndServe before the next deploy. (An app that links goazure release 1.0.0 hands over but sends no ` +
      `such header: update goazure for answers that name the binary that sent them.)`,
  );
}

export interface WatchRequest {
  artifactName: string;
  /** The instances as verify left them: each with the process id the new artifact had. */
  instances: InstanceResult[];
  health: HealthCheck;
  seconds: number;
  pollIntervalMs?: number;
  /** Failed health checks in a row on one instance that end the watch (default 3). */
  failuresInARow?: number;
  /** The identity key this run wrote to the site, sent with every probe. */
  identityKey?: string;
}

export interface WatchResult {
  ok: boolean;
  detail: string;
}

/**
 * After the gate: keeps checking every instance for `seconds`. A crash of the new artifact's
 * process (it exited, or HttpPlatformHandler runs a new one in its place under the same worker)
 * or a run of failed health checks ends the watch as failed. An overlapped recycle (a new worker
 * process with its own, healthy copy of the same artifact; see processChange) does not: the watch
 * follows the new process from then on.
 */
export async function watchDeployment(kudu: VerifyKudu, connection: SiteConnection, req: WatchRequest, signal: AbortSignal): Promise<WatchResult> {
  const interval = req.pollIntervalMs ?? 1000;
  const limit = req.failuresInARow ?? 3;
  const started = performance.now();
  const deadline = started + req.seconds * 1000;
  const failures = new Map<string, number>();
  let rounds = 0;
  let unlisted = 0;
  let recycles = 0;
  while (performance.now() < deadline) {
    for (const inst of req.instances) {
      const where = inst.instance ? `instance ${inst.instance}: ` : '';
      let processes: ServingProcess[] | undefined;
      try {
        processes = await kudu.processes(inst.instance || undefined);
      } catch (err) {
        // The health answer is still judged; only a restart cannot be seen in this round.
        unlisted++;
        core.debug(`Watch: could not list the processes (${messageOf(err)})`);
      }
      const machine = processes === undefined ? '' : machineOf(processes);
      // A verify result from before processes were followed per machine carries only `pid`.
      const before = inst.tracked?.[machine] ?? (machine === '' && inst.pid !== undefined && inst.tracked === undefined ? { pid: inst.pid, workers: [] } : undefined);
      const change = processes === undefined ? undefined : processChange(before, processes, req.artifactName);
      if (before !== undefined && (change?.change === 'exited' || change?.change === 'restarted')) {
        const after = ((performance.now() - started) / 1000).toFixed(1);
        const how = change.change === 'exited' ? `exited (process id ${before.pid})` : `restarted (process id ${before.pid} became ${change.now?.pid}; the same worker process ran it again, as after a crash)`;
        return { ok: false, detail: `${where}${req.artifactName} ${how} ${after} s into the ${req.seconds} s watch window` };
      }
      const answer = await probe(connection.webappUrl, req.health.path, inst.instance, signal, req.identityKey);
      const judged = { artifactName: req.artifactName, previous: '', health: req.health };
      const outcome = processes === undefined ? judgeAnswer(answer, judged, inst.instance) : judgeCheck(processes, answer, judged, inst.instance);
      remember(inst, answer, outcome.why);
      // A recycle is followed once its new process answers well; until then its checks count as failed ones.
      if (change?.now !== undefined && change.change !== 'same' && outcome.healthy) {
        if (change.change === 'recycled') {
          recycles++;
          core.info(`${where}${req.artifactName} was recycled by the platform: process id ${before?.pid} became ${change.now.pid} in a new worker process, and it answers well.`);
        }
        inst.tracked = { ...inst.tracked, [machine]: change.now };
        if (machine === '' || inst.pid === before?.pid) inst.pid = change.now.pid;
      }
      const failed = outcome.healthy ? 0 : (failures.get(inst.instance) ?? 0) + 1;
      failures.set(inst.instance, failed);
      if (failed >= limit) {
        return {
          ok: false,
          detail: `${where}${req.artifactName} failed ${failed} health checks in a row in the watch window: ${redactQuery(req.health.path)} answered ${inst.answers.slice(-failed).join(', ')} (${outcome.why})`,
        };
      }
    }
    rounds++;
    await sleep(Math.min(interval, Math.max(0, deadline - performance.now())), signal);
  }
  const where = req.instances.length > 1 ? ` on all ${req.instances.length} instances` : '';
  const blind = unlisted > 0 ? `; Kudu's process list failed ${unlisted} times, so those checks saw the health answers alone` : '';
  const recycled = recycles > 0 ? `; the platform recycled it ${recycles === 1 ? 'once' : `${recycles} times`}, each time healthy` : '';
  return { ok: true, detail: `${req.artifactName} stayed healthy${where} through the ${req.seconds} s watch window (${rounds} rounds of checks${recycled}${blind})` };
}

/** How much of the stdout log is fetched: enough for the last lines, never the whole file. */
export const LOG_TAIL_BYTES = 16 * 1024;

/**
 * The last lines of the newest stdout log under LogFiles, where HttpPlatformHandler writes what the
 * launcher and the app printed; '' when there is none or it cannot be read. Only the file's last
 * LOG_TAIL_BYTES are fetched (a Range request): the log of a long-running site can be large.
 */
export async function tailOfStdoutLog(kudu: VerifyKudu, lines = 30): Promise<string> {
  try {
    const entries = (await kudu.listDir('LogFiles/')) ?? [];
    const logs = entries
      .filter((e) => e.mime !== 'inode/directory' && /stdout|go-azure/i.test(e.name))
      .sort((a, b) => Date.parse(b.mtime) - Date.parse(a.mtime));
    if (logs.length === 0) return '';
    const tail = await kudu.getFileTail(`LogFiles/${logs[0].name}`, LOG_TAIL_BYTES);
    if (tail === null) return '';
    let text = tail.toString('utf8').replace(/\r\n/g, '\n').trimEnd();
    // A tail cut mid-file starts inside a line: drop that partial line.
    if (logs[0].size > tail.length && text.includes('\n')) text = text.slice(text.indexOf('\n') + 1);
    return `LogFiles/${logs[0].name}:\n${text.split('\n').slice(-lines).join('\n')}`;
  } catch (err) {
    core.debug(`Could not read the stdout log: ${messageOf(err)}`);
    return '';
  }
}

/** Hints for the usual reasons a new binary does not come up, for the failure message. */
export function notServingHints(artifactName: string, goos: string, signIn = false, withoutGoazure = false): string[] {
  const hints = [
    'the app must listen on the port in HTTP_PLATFORM_PORT (the goazure package does this), and accept the port as a positional argument',
    `the binary may exit at start: run ${artifactName} locally and read the log above`,
    'web.config must run go-azure.bat through HttpPlatformHandler (bootstrap: true writes one if absent)',
  ];
  // First when the answers showed the app does not link goazure (no X-Goazure-Artifact), else last.
  if (withoutGoazure) hints.unshift(`${NO_GOAZURE_HINT} (its answers carry no X-Goazure-Artifact header)`);
  else hints.push(NO_GOAZURE_HINT);
  if (goos !== 'windows') hints.unshift(`goos is ${goos}: App Service on Windows runs only windows binaries`);
  if (signIn) {
    hints.unshift(
      'the site answered with App Service Authentication\'s sign-in, not the app, and such a request never starts the app: ' +
        'set health-path to a path Authentication lets through (globalValidation.excludedPaths in the site\'s authsettingsV2), or set verify: false',
    );
  }
  return hints;
}
