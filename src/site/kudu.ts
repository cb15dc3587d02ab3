// The one Kudu client: VFS, zip, processes and settings APIs over the one retry policy. See docs/ARCHITECTURE.md, "Kudu".
// Paths are relative to D:\home with forward slashes, e.g. `site/wwwroot/_artifact.txt`.

import * as fs from 'node:fs';
import type { SiteConnection } from '../signin/connection.ts';
import { ActionError } from '../common/errors.ts';
import { RetryableError, isRetryableStatus, isTransientNetworkError, parseRetryAfter, withRetry } from '../common/retry.ts';
import { affinityCookie, affinityOf, firstHeader, sendRequest, safeUrl, type HttpResponse } from '../common/http.ts';

/** One entry of a VFS directory listing, as Kudu returns it. */
export interface VfsEntry {
  name: string;
  size: number;
  /** ISO date of the last write. */
  mtime: string;
  crtime?: string;
  mime: string;
  href: string;
  path: string;
}

/** One entry of GET /api/processes; `name` is the exe name without `.exe`. */
interface KuduProcess {
  id: number;
  name: string;
  href: string;
  /** The machine whose Kudu answered (Kudu's ProcessInfo.machineName): tells the instances of a scaled-out site apart. */
  machineName?: string;
  [more: string]: unknown;
}

export interface KuduClientOptions {
  /** Attempts per request, the first included (default 5). */
  attempts?: number;
  /** First retry delay; doubles each time with jitter (default 1000 ms). */
  retryBaseDelayMs?: number;
  /** A request with no bytes moving either way for this long is cut and retried (default 120 s). */
  idleTimeoutMs?: number;
}

/** A Kudu answer the caller may want to act on (412, 409, …); the message says what to do. */
export class KuduError extends ActionError {
  override name = 'KuduError';
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

/**
 * The zip upload got no answer from Kudu itself: a 5xx (the front end gives up on a request after
 * about 230 s and answers 504 while Kudu keeps extracting), or the connection failed. Kudu may
 * still be extracting, each entry open with FileShare.None (Kudu.Core/Infrastructure/
 * ZipArchiveExtensions.cs, Extract), so sending the zip again at once would fail on files in use.
 */
export class ZipAnswerLostError extends KuduError {
  override name = 'ZipAnswerLostError';
}

export function isDirectory(entry: VfsEntry): boolean {
  return entry.mime === 'inode/directory';
}

interface Call {
  method: string;
  /** Path after the base URL, already encoded, e.g. `/api/vfs/site/wwwroot/`. */
  apiPath: string;
  headers?: Record<string, string>;
  body?: Buffer | (() => fs.ReadStream);
  bodyLength?: number;
  onProgress?: (bytesSent: number) => void;
  /** Statuses the caller handles itself (besides 2xx). */
  accept?: number[];
  /** Send the deploy's ARRAffinity cookie (default); false for requests that choose their instance themselves. */
  pinned?: boolean;
  /** Whether a failed attempt may have been carried out by Kudu all the same: then it is thrown as ZipAnswerLostError, not retried. */
  answerLost?: (err: unknown) => boolean;
}

export class KuduClient {
  readonly baseUrl: string;
  private readonly connection: SiteConnection;
  /** The deploy's signal: every request and every wait of this client stops on it. */
  readonly signal: AbortSignal;
  private readonly attempts: number;
  private readonly retryBaseDelayMs: number;
  private readonly idleTimeoutMs: number;
  /**
   * The Kudu instance every request of this deploy goes to: the ARRAffinity cookie of the first
   * answer that set one. A scaled-out site runs one Kudu per instance over the shared D:\home, an
   * SMB share whose clients cache attributes and listings for seconds, and Kudu's ETag comes from
   * those attributes: requests spread over instances could read a listing without the file just
   * uploaded, or an ETag another instance no longer agrees with.
   */
  private affinity: string | undefined;

  constructor(connection: SiteConnection, signal: AbortSignal, opts: KuduClientOptions = {}) {
    this.connection = connection;
    this.baseUrl = connection.kuduUrl.replace(/\/+$/, '');
    this.signal = signal;
    this.attempts = opts.attempts ?? 5;
    this.retryBaseDelayMs = opts.retryBaseDelayMs ?? 1000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 120_000;
  }

  /**
   * A file's content and ETag; null when it does not exist. Kudu answers 404 also to a read of a
   * file another writer holds exclusively (VfsController.CreateItemGetResponse turns any failure to
   * open it into 404, and its own writes hold files with FileShare.None): a 404 for a file the
   * folder's listing shows is "busy", waited out and read again, never taken as "absent".
   */
  async getFile(path: string): Promise<{ body: Buffer; etag: string } | null> {
    try {
      return await withRetry(
        async () => {
          const res = await this.call({ method: 'GET', apiPath: vfsPath(path, false), accept: [404] });
          if (res.status !== 404) return { body: res.body, etag: headerOf(res, 'etag') };
          if (!(await this.listed(path))) return null;
          throw new RetryableError(`${path} is busy: the folder lists it, but Kudu answered 404 to reading it (another writer holds it open)`);
        },
        { what: `Reading ${path}`, signal: this.signal, attempts: this.attempts + 1, baseDelayMs: 250, maxDelayMs: 2000 },
      );
    } catch (err) {
      if (this.signal.aborted) throw this.signal.reason;
      if (!(err instanceof RetryableError)) throw err;
      throw new KuduError(
        `${path} is on the site, but Kudu answered 404 to every read of it for a while: something keeps it open for writing. ` +
          `Nothing was changed; run the deploy again once no other deploy or tool is writing to the site.`,
        404,
      );
    }
  }

  /** Whether the file's folder lists it (a file Kudu cannot open is still listed). */
  private async listed(path: string): Promise<boolean> {
    const slash = path.lastIndexOf('/');
    const name = path.slice(slash + 1).toLowerCase();
    const entries = await this.listDir(slash < 0 ? '' : path.slice(0, slash));
    return entries?.some((e) => !isDirectory(e) && e.name.toLowerCase() === name) ?? false;
  }

  /**
   * Writes a file. Without `ifMatch` this only creates: Kudu refuses (412) to replace an existing
   * file, which is what the bootstrap stage relies on to never overwrite a user's file.
   */
  async putFile(path: string, body: Buffer | string, opts: { ifMatch?: string } = {}): Promise<{ etag: string }> {
    const headers: Record<string, string> = {};
    if (opts.ifMatch !== undefined) headers['If-Match'] = opts.ifMatch;
    const res = await this.call({
      method: 'PUT',
      apiPath: vfsPath(path, false),
      headers,
      body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
      accept: [409, 412],
    });
    if (res.status === 412) {
      throw new KuduError(
        opts.ifMatch === undefined
          ? `${path} already exists on the site and was left as it is (Kudu answered 412).`
          : `${path} changed on the site while the action was writing it (Kudu answered 412 to If-Match ${opts.ifMatch}); run the deploy again.`,
        412,
      );
    }
    if (res.status === 409) {
      throw new KuduError(
        `Kudu could not write ${path} (409 Conflict: ${briefBody(res)}): the file is in use or a folder has that name. ` +
          `Stop whatever holds it open on the site, then run the deploy again.`,
        409,
      );
    }
    return { etag: headerOf(res, 'etag') };
  }

  /**
   * The last `bytes` of a file, with a suffix `Range` request (Kudu's VfsController answers it with
   * 206 and only those bytes); null when the file does not exist. A server that ignores Range
   * answers 200 with the whole file, of which the tail is kept.
   */
  async getFileTail(path: string, bytes: number): Promise<Buffer | null> {
    const res = await this.call({ method: 'GET', apiPath: vfsPath(path, false), headers: { Range: `bytes=-${bytes}` }, accept: [404, 416] });
    if (res.status === 404) return null;
    if (res.status === 416) return Buffer.alloc(0);
    return res.body.length > bytes ? res.body.subarray(res.body.length - bytes) : res.body;
  }

  /**
   * Records a deployment made by another tool in Kudu's deployment history, which the portal's
   * Deployment Center lists (Kudu's DeploymentController: PUT /api/deployments/{id} creates; an
   * id that exists answers 409).
   */
  async putDeployment(id: string, deployment: Record<string, unknown>): Promise<void> {
    await this.call({
      method: 'PUT',
      apiPath: `/api/deployments/${encodeURIComponent(id)}`,
      headers: { 'Content-Type': 'application/json' },
      body: Buffer.from(JSON.stringify(deployment), 'utf8'),
    });
  }

  /**
   * Deletes a file, or a folder with everything in it when `recursive`. Kudu answers 404 both
   * for a missing file and for one Windows keeps locked (a running exe), so a 404 is told apart
   * by looking again.
   */
  async deletePath(path: string, opts: { recursive?: boolean; ifMatch?: string } = {}): Promise<'deleted' | 'locked' | 'missing'> {
    const folder = opts.recursive === true || path.endsWith('/');
    const apiPath = vfsPath(path, folder) + (opts.recursive ? '?recursive=true' : '');
    const res = await this.call({
      method: 'DELETE',
      apiPath,
      headers: { 'If-Match': opts.ifMatch ?? '*' },
      accept: [404, 409, 412],
    });
    if (res.status === 409) return 'locked';
    if (res.status === 412) {
      throw new KuduError(`${path} changed on the site before it could be deleted (Kudu answered 412); it is left in place.`, 412);
    }
    if (res.status === 404) {
      const still = folder ? await this.listDir(path) : await this.exists(path);
      return still ? 'locked' : 'missing';
    }
    return 'deleted';
  }

  /** A folder's entries; null when the folder does not exist. */
  async listDir(path: string): Promise<VfsEntry[] | null> {
    const res = await this.call({ method: 'GET', apiPath: vfsPath(path, true), accept: [404] });
    if (res.status === 404) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new ActionError(
        `Kudu's listing of ${path} is not JSON (${briefBody(res)}). The kudu-url or publishUrl may point at something other than the site's SCM endpoint.`,
      );
    }
    if (!Array.isArray(parsed)) throw new ActionError(`Kudu's listing of ${path} is not a JSON array (${briefBody(res)}).`);
    return parsed.map((e: Record<string, unknown>) => ({
      name: String(e.name ?? ''),
      size: Number(e.size ?? 0),
      mtime: String(e.mtime ?? ''),
      crtime: e.crtime === undefined ? undefined : String(e.crtime),
      mime: String(e.mime ?? ''),
      href: String(e.href ?? ''),
      path: String(e.path ?? ''),
    }));
  }

  /**
   * Streams a zip from disk to Kudu's zip API, which extracts it over `dir` and deletes nothing.
   * Each attempt re-opens the file, so a connection cut mid-body (or throttled with 429) is retried
   * from the start. With `lostAnswer: 'throw'`, an attempt that sent the whole zip and then got a
   * 5xx or a cut connection is not retried but thrown as ZipAnswerLostError: Kudu may still be
   * extracting it, and upload.ts looks at what landed before it sends anything again.
   */
  async putZip(dir: string, zipPath: string, opts: { onProgress?: (bytesSent: number) => void; lostAnswer?: 'retry' | 'throw' } = {}): Promise<{ bytesSent: number }> {
    const size = fs.statSync(zipPath).size;
    let sentThisAttempt = 0;
    const res = await this.call({
      method: 'PUT',
      apiPath: `/api/zip/${encodePath(dir)}/`,
      headers: { 'Content-Type': 'application/zip' },
      body: () => fs.createReadStream(zipPath, { highWaterMark: 256 * 1024 }),
      bodyLength: size,
      onProgress: (n) => {
        sentThisAttempt = n;
        opts.onProgress?.(n);
      },
      accept: [400, 409],
      answerLost:
        opts.lostAnswer === 'throw'
          ? (err) => {
              // Kudu extracts only a zip it has whole (its central directory is at the end), and a
              // 429 is the front end's, before Kudu: those attempts are retried as any other.
              const whole = sentThisAttempt >= size;
              sentThisAttempt = 0;
              if (!whole) return false;
              return err instanceof RetryableError ? !/^HTTP 429\b/.test(err.message) : isTransientNetworkError(err);
            }
          : undefined,
    });
    if (res.status === 400 || res.status === 409) {
      throw new KuduError(
        `Kudu could not extract the package into ${dir} (HTTP ${res.status}: ${briefBody(res)}). ` +
          `A file in it is probably in use on the site (a running exe is locked), or the zip is damaged. ` +
          `Nothing was switched; the site still runs the previous version.`,
        res.status,
      );
    }
    return { bytesSent: res.bytesSent };
  }

  /**
   * Ends a process and the processes it started, on one instance (Kudu's DELETE
   * /api/processes/{id}, ProcessController.KillProcess). `gone` when it was no longer running.
   */
  async killProcess(id: number, instance?: string): Promise<'killed' | 'gone'> {
    const headers: Record<string, string> = {};
    if (instance !== undefined && instance !== '') headers.Cookie = affinityCookie(instance);
    const res = await this.call({ method: 'DELETE', apiPath: `/api/processes/${id}`, headers, accept: [404] });
    return res.status === 404 ? 'gone' : 'killed';
  }

  /**
   * The running processes of one instance. A scaled-out site answers from whichever instance the
   * front end picks, unless the ARRAffinity cookie names one: these reads are never pinned to the
   * deploy's own Kudu instance, and each entry's `machineName` says which instance answered.
   */
  async processes(instance?: string): Promise<KuduProcess[]> {
    const headers: Record<string, string> = {};
    if (instance !== undefined && instance !== '') headers.Cookie = affinityCookie(instance);
    const res = await this.call({ method: 'GET', apiPath: '/api/processes', headers, pinned: false });
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new ActionError(`Kudu's process list is not JSON (${briefBody(res)}).`);
    }
    if (!Array.isArray(parsed)) throw new ActionError(`Kudu's process list is not a JSON array (${briefBody(res)}).`);
    return parsed as KuduProcess[];
  }

  /**
   * The site's app settings as Kudu sees them (`GET /api/settings`, Kudu's SettingsController): a
   * JSON object of names and values; null when this Kudu has no such API (404).
   */
  async settings(): Promise<Record<string, string> | null> {
    const res = await this.call({ method: 'GET', apiPath: '/api/settings', accept: [404] });
    if (res.status === 404) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new ActionError(`Kudu's settings are not JSON (${briefBody(res)}).`);
    }
    const out: Record<string, string> = {};
    // An object of name → value, as Kudu answers; a list of Key/Value pairs is read as well.
    if (Array.isArray(parsed)) {
      for (const e of parsed as { Key?: unknown; Value?: unknown; key?: unknown; value?: unknown }[]) {
        const k = e?.Key ?? e?.key;
        if (typeof k === 'string') out[k] = String(e.Value ?? e.value ?? '');
      }
    } else if (parsed !== null && typeof parsed === 'object') {
      for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) out[k] = v === null || v === undefined ? '' : String(v);
    }
    return out;
  }

  private async exists(path: string): Promise<boolean> {
    const res = await this.call({ method: 'GET', apiPath: vfsPath(path, false), accept: [404, 307] });
    return res.status !== 404;
  }

  /** One request through the retry policy; failures become messages that say what to check. */
  private async call(c: Call): Promise<HttpResponse> {
    const url = this.baseUrl + c.apiPath;
    const what = `${c.method} ${safeUrl(url)}`;
    try {
      return await withRetry(
        this.lostAnswerAware(c, what, async () => {
          // Redirects are not followed: Kudu's VFS answers 307 to a folder named without its
          // trailing slash (Kudu's VfsControllerBase.cs), which exists() reads as "something is
          // there", and an Authorization header is for Kudu alone.
          const pin: Record<string, string> = c.pinned !== false && this.affinity !== undefined ? { Cookie: affinityCookie(this.affinity) } : {};
          const res = await sendRequest({
            method: c.method,
            url,
            headers: { Authorization: await this.connection.authorization(this.signal), ...pin, ...c.headers },
            body: c.body,
            bodyLength: c.bodyLength,
            onProgress: c.onProgress,
            signal: this.signal,
            idleTimeoutMs: this.idleTimeoutMs,
          });
          // The front end sets the cookie on an answer it routed by itself: the first one, or one whose
          // pinned instance is gone (scaled in): from then on, that instance.
          const routed = c.pinned !== false ? affinityOf(res.headers) : undefined;
          if (routed !== undefined) this.affinity = routed;
          if (res.status >= 200 && res.status < 300) return res;
          if (c.accept?.includes(res.status)) return res;
          if (isRetryableStatus(res.status)) {
            throw new RetryableError(`HTTP ${res.status}${briefBody(res) ? `: ${briefBody(res)}` : ''}`, parseRetryAfter(headerOf(res, 'retry-after')));
          }
          throw this.statusError(res, what);
        }),
        { what, signal: this.signal, attempts: this.attempts, baseDelayMs: this.retryBaseDelayMs },
      );
    } catch (err) {
      if (this.signal.aborted) throw this.signal.reason;
      if (err instanceof ActionError) throw err;
      if (err instanceof RetryableError) {
        throw new ActionError(
          `Kudu kept failing: ${what} answered ${err.message} ${this.attempts} times. ` +
            `The site's SCM endpoint may be restarting or overloaded; run the deploy again in a few minutes.`,
        );
      }
      if (isTransientNetworkError(err)) {
        throw new ActionError(
          `Could not reach Kudu at ${new URL(url).host} after ${this.attempts} attempts (${(err as Error).message}). ` +
            `Check the app-name and slot-name (or kudu-url), that the runner can reach the site (a private endpoint needs a runner inside its network), ` +
            `and HTTPS_PROXY/NO_PROXY if the runner sits behind a proxy.`,
        );
      }
      throw err;
    }
  }

  /** An attempt whose failure the caller may read as "carried out, answer lost" (Call.answerLost). */
  private lostAnswerAware(c: Call, what: string, attempt: () => Promise<HttpResponse>): () => Promise<HttpResponse> {
    return async () => {
      try {
        return await attempt();
      } catch (err) {
        if (!this.signal.aborted && c.answerLost?.(err) === true) {
          const status = err instanceof RetryableError ? Number(/^HTTP (\d{3})/.exec(err.message)?.[1] ?? 0) : 0;
          throw new ZipAnswerLostError(`${what} got no answer from Kudu itself (${(err as Error).message})`, status);
        }
        throw err;
      }
    };
  }

  private statusError(res: HttpResponse, what: string): ActionError {
    const host = new URL(this.baseUrl).host;
    const how = this.connection.authKind === 'basic' ? 'the publish profile' : 'the Entra ID sign-in';
    // Signed in through ARM, the connection knows which permission the identity lacks and how to grant it.
    const hint = this.connection.arm?.kuduPermissionHint ? ` ${this.connection.arm.kuduPermissionHint}` : '';
    switch (res.status) {
      case 401:
        return new KuduError(
          `Kudu at ${host} refused the credentials (401) ` +
            (this.connection.authKind === 'basic'
              ? `of the publish profile for ${what}. ${PROFILE_REFUSED}`
              : `for ${what}. Check that the identity has a role on the site that allows deployment (e.g. Website Contributor).${hint}`),
          401,
        );
      case 403:
        // App Service's front end answers every request to a stopped site, its SCM site included,
        // with 403 and a page headed "Error 403 - This web app is stopped."; so it does for a site
        // on a Free or Shared plan that has used up its quota.
        if (/this web app is stopped/i.test(res.body.toString('utf8'))) {
          return new KuduError(`The site is stopped: Kudu at ${host} answered ${what} with 403 "This web app is stopped". ${SITE_STOPPED}`, 403);
        }
        return new KuduError(
          `Kudu at ${host} forbade ${what} (403). ` +
            (this.connection.authKind === 'basic' ? '' : `The identity may lack deploy rights on the site. `) +
            `Access restrictions or a private endpoint on the SCM site answer 403 to runners outside the allowed network: ` +
            `allow the runner under Networking → Access restrictions (the Advanced tool site's rules), or deploy from a runner inside that network.${hint}`,
          403,
        );
      case 404:
        return new KuduError(
          `Kudu at ${host} answered 404 to ${what}: that is not this site's SCM endpoint. ` +
            `Check app-name and slot-name (and kudu-url, or the publishUrl in ${how}).`,
          404,
        );
      default:
        return new KuduError(`Kudu answered HTTP ${res.status} to ${what}: ${briefBody(res) || '(no body)'}.`, res.status);
    }
  }
}

/**
 * What a stopped site means and what to do, in the words both the Kudu client (its 403 page) and
 * preflight (ARM's state) use.
 */
export const SITE_STOPPED =
  `App Service refuses every request to a stopped site, its SCM site too (a Free or Shared plan's site that used up its quota is stopped the same way). ` +
  `Start it (az webapp start, or Start in the portal) and run the deploy again.`;

/**
 * Why Kudu refuses a publish profile's credentials (401) and what to do, in the words both the
 * Kudu client and preflight use.
 */
export const PROFILE_REFUSED =
  `SCM basic auth publishing credentials are probably off for the site (the default for new sites): turn on "SCM Basic Auth Publishing Credentials" under ` +
  `Configuration → General settings, or sign in with Entra ID (client-id, tenant-id, subscription-id) instead. If they are on, ` +
  `the profile's password was reset: download the publish profile again and update the secret.`;

/** `site/wwwroot/x y` → `site/wwwroot/x%20y`; each segment encoded, slashes kept. */
export function encodePath(path: string): string {
  return path
    .replace(/\\/g, '/')
    .split('/')
    .filter((s) => s !== '')
    .map(encodeURIComponent)
    .join('/');
}

function vfsPath(path: string, folder: boolean): string {
  const encoded = encodePath(path);
  return `/api/vfs/${encoded}${folder && encoded !== '' ? '/' : ''}`;
}

function headerOf(res: HttpResponse, name: string): string {
  return firstHeader(res.headers[name]) ?? '';
}

/** The start of an error body, on one line, for messages. */
function briefBody(res: HttpResponse): string {
  const text = res.body.toString('utf8').replace(/\s+/g, ' ').trim();
  if (text === '') return '';
  try {
    const json = JSON.parse(text) as { Message?: unknown; message?: unknown; ExceptionMessage?: unknown };
    const msg = json.ExceptionMessage ?? json.Message ?? json.message;
    if (typeof msg === 'string') return msg.slice(0, 300);
  } catch {
    // not JSON: use the text itself
  }
  return text.slice(0, 300);
}
