// The verify stage: after the switch, wake the site and wait, bounded, until the new binary is the
// process serving on every instance. On failure, gather what a user needs to see why. docs/ARCHITECTURE.md, "The flow".

import * as core from '@actions/core';
import { sendRequest } from '../common/http.ts';
import { sleep } from '../common/retry.ts';
import type { SiteConnection } from '../signin/connection.ts';
import { messageOf } from '../common/errors.ts';
import { artifactStem } from './layout.ts';

/** A process as Kudu's /api/processes lists it; `name` is the exe name without `.exe`. */
export interface ServingProcess {
  id: number;
  name: string;
}

/** What verify needs from Kudu: a narrow view of the Kudu client. */
export interface VerifyKudu {
  /** Processes of one instance (pinned with the ARRAffinity cookie), or of whichever answers. */
  processes(instance?: string): Promise<ServingProcess[]>;
  getFileTail(path: string, bytes: number): Promise<Buffer | null>;
  listDir(path: string): Promise<{ name: string; mtime: string; mime: string; size: number }[] | null>;
}

export interface VerifyRequest {
  artifactName: string;
  previous: string;
  timeoutSeconds: number;
  /** Instance ids of a scaled-out site (from ARM); empty checks whichever instance answers. */
  instances?: string[];
  /** Pause between polls (default 500 ms): the app notices a switch within about a second. */
  pollIntervalMs?: number;
}

export interface InstanceResult {
  /** Instance id, or '' for "whichever instance answered". */
  instance: string;
  ok: boolean;
  /** Process names last seen on that instance. */
  seen: string[];
  /** Status of the last request to the site (undefined: no answer at all). */
  lastStatus?: number;
}

export interface VerifyResult {
  ok: boolean;
  /** One line for the log and the summary. */
  detail: string;
  instances: InstanceResult[];
  /** Seconds from the start of verification until every instance served the new binary. */
  seconds: number;
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
 * Sends one request to the site so IIS starts the process if none runs. Any answer will do, even
 * an error status; only the request matters. Pinned to an instance with the ARRAffinity cookie.
 */
async function wake(url: string, instance: string, signal: AbortSignal): Promise<number | undefined> {
  try {
    const headers: Record<string, string> = instance ? { Cookie: `ARRAffinity=${instance}; ARRAffinitySameSite=${instance}` } : {};
    // Redirects within the site's host are followed: with "HTTPS Only" the front end answers an
    // http:// URL (a publish profile's destinationAppUrl is one) with 301 to https:// on the same
    // host without reaching the app, so only the followed request starts the process. A redirect
    // to another host (Easy Auth sending to the sign-in page) already shows the site answered, and
    // following it would only send requests away from the site.
    const res = await sendRequest({ method: 'GET', url, headers, signal, idleTimeoutMs: 10_000, redirects: 'same-host' });
    return res.status;
  } catch {
    if (signal.aborted) throw signal.reason;
    return undefined;
  }
}

/**
 * Waits until the new artifact serves on every instance, or `timeoutSeconds` pass. Never throws for
 * a slow or failing site: the result says what was seen, and the caller decides what to do.
 */
export async function verifyDeployment(
  kudu: VerifyKudu,
  connection: SiteConnection,
  req: VerifyRequest,
  signal: AbortSignal,
): Promise<VerifyResult> {
  const started = performance.now();
  const deadline = started + req.timeoutSeconds * 1000;
  const interval = req.pollIntervalMs ?? 500;
  const instances = req.instances && req.instances.length > 0 ? req.instances : [''];
  const results = new Map<string, InstanceResult>(instances.map((i) => [i, { instance: i, ok: false, seen: [] }]));
  let lastError = '';
  while (true) {
    for (const result of results.values()) {
      if (result.ok) continue;
      const status = await wake(connection.webappUrl, result.instance, signal);
      result.lastStatus = status;
      try {
        const processes = await kudu.processes(result.instance || undefined);
        result.seen = processes.map((p) => p.name);
        result.ok = isServing(processes, req.artifactName, req.previous) && siteAnswered(status);
      } catch (err) {
        lastError = messageOf(err);
      }
    }
    const waiting = [...results.values()].filter((r) => !r.ok);
    if (waiting.length === 0) {
      const seconds = (performance.now() - started) / 1000;
      const where = instances.length > 1 ? ` on all ${instances.length} instances` : '';
      return { ok: true, detail: `${req.artifactName} is serving${where} (after ${seconds.toFixed(1)} s)`, instances: [...results.values()], seconds };
    }
    if (performance.now() + interval > deadline) {
      const seconds = (performance.now() - started) / 1000;
      const seen = waiting
        .map(
          (r) =>
            `${r.instance ? `instance ${r.instance}: ` : ''}${r.seen.length > 0 ? r.seen.join(', ') : 'no processes'}, ` +
            `site ${r.lastStatus === undefined ? 'did not answer' : `answered ${r.lastStatus}`}`,
        )
        .join('; ');
      const detail =
        `${req.artifactName} was not serving after ${req.timeoutSeconds} s (seen: ${seen})` +
        (lastError ? `; last Kudu error: ${lastError}` : '');
      return { ok: false, detail, instances: [...results.values()], seconds };
    }
    await sleep(interval, signal);
  }
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
export function notServingHints(artifactName: string, goos: string): string[] {
  const hints = [
    'the app must listen on the port in HTTP_PLATFORM_PORT (the goazure package does this)',
    `the binary may exit at start: run ${artifactName} locally and read the log above`,
    'web.config must run go-azure.bat through HttpPlatformHandler (bootstrap: true writes one if absent)',
  ];
  if (goos !== 'windows') hints.unshift(`goos is ${goos}: App Service on Windows runs only windows binaries`);
  return hints;
}
