// A local Kudu (the SCM site of an App Service app): the VFS, zip and processes APIs over a real
// directory playing D:\home, with the status codes, ETags and redirects of Kudu's own
// VfsControllerBase/VfsController/ZipController (docs/ARCHITECTURE.md, "Kudu"). Tests and the demo deploy to it.
// Tests can mark files as locked, as Windows locks a running exe, or held open by a reader, and
// inject faults per route.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import yauzl from 'yauzl';
import yazl from 'yazl';

/** The page App Service answers a stopped site's requests with; its heading is what tells it. */
export const STOPPED_PAGE =
  '<!DOCTYPE html><html><head><title>Stopped</title></head><body><h1>Error 403 - This web app is stopped.</h1><p>The site refuses requests until it is started.</p></body></html>';

export interface KuduOptions {
  siteName?: string;
  /** A deployment slot; the user name becomes `$<site>__<slot>`. */
  slot?: string;
  /** destinationAppUrl in the publish profile. */
  appUrl?: string;
  /** Extra lock rule besides lock(): true → the file is in use. */
  isLocked?: (relPath: string) => boolean;
  /**
   * Whether a reader of the site holds the file open right now (relPath in lower case, forward
   * slashes): a PUT of it then answers 409, as Kudu's exclusive write cannot open it
   * (VfsControllerBase.GetFileWriteStream). appservice.ts says so for _artifact.txt while goazure
   * polls it or the launcher reads it.
   */
  readers?: (relPath: string) => boolean;
  /**
   * The processes GET /api/processes reports (exe names without .exe); `instance` is the
   * ARRAffinity cookie's value when the request pins one.
   */
  processes?: (instance?: string) => { id: number; name: string }[];
  /**
   * DELETE /api/processes/{id}: ends that process and everything it started on the instance the
   * ARRAffinity cookie names (or whichever answers); false when no such process runs there.
   */
  killProcess?: (id: number, instance?: string) => boolean;
  /**
   * The machine name each instance's Kudu puts on its process list (`machineName`, which
   * Kudu.Services/Diagnostics/ProcessController.cs, GetProcessInfo, fills with
   * Environment.MachineName); default: one made from the instance id.
   */
  machineName?: (instance?: string) => string;
  /**
   * Scale out: the instance ids (as ARM lists them). Each instance runs its own Kudu over the
   * shared D:\home, and the SCM host's front end picks one by the ARRAffinity cookie; a request
   * without one goes to the next instance in turn and its answer sets the cookie (as arr.ts does
   * for the site). Each instance's Kudu sees D:\home through its own SMB client, which keeps
   * directory listings for a while (`listingCacheMs`): a file another instance just wrote is not in
   * its listing until that runs out, while its own writes show at once. Default: one instance,
   * and `processes` gets the cookie's value as it is.
   */
  instances?: string[];
  /**
   * How long an instance's listing of a folder stays as it was read (scaled out only). Default
   * 10 s: the SMB client's DirectoryCacheLifetime default on Windows.
   */
  listingCacheMs?: number;
  /** When set, `Authorization: Bearer <token>` is accepted if this returns true. */
  acceptBearer?: (token: string) => boolean;
  /** The site's app settings, as GET /api/settings returns them (none when absent). */
  appSettings?: () => Record<string, string>;
  /** Use this directory as D:\home instead of a fresh temporary one. */
  home?: string;
  /**
   * Whether SCM basic auth publishing credentials are allowed (asked on every request; default
   * yes). When they are not, App Service answers Basic credentials with 401, as for a wrong
   * password; a bearer token still works.
   */
  basicAuth?: () => boolean;
  /**
   * Whether the site is stopped (asked on every request). App Service's front end then answers
   * every request to the SCM site, before any authentication, with 403 and an HTML page headed
   * "Error 403 - This web app is stopped." (Kudu's API URLs get it too, since the front end answers
   * before Kudu runs); a Free or Shared plan's site over its quota gets the same page.
   */
  stopped?: () => boolean;
}

/**
 * A fault for the requests matching `route` (a path prefix such as `/api/zip/` or
 * `/api/vfs/site/wwwroot/_artifact.txt`) and `method` (any when absent). Each matching request
 * uses up one of `times` (default 1).
 */
export interface FaultSpec {
  route: string;
  method?: string;
  times?: number;
  /** Let this many matching requests through untouched before the fault starts. */
  skip?: number;
  /** Answer this status instead of handling the request (the body is still read). */
  status?: number;
  /** Retry-After header sent with `status`. */
  retryAfter?: string;
  /** Reset the connection after reading this many bytes of the request body. */
  resetAfterRequestBytes?: number;
  /** Handle the request, then reset the connection after this many bytes of the answer's body. */
  resetAfterResponseBytes?: number;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Wait until this resolves before handling the request (a test's own gate). */
  hold?: () => Promise<void>;
  /**
   * For a zip PUT: the answer is lost while Kudu keeps working. Once the body is read, the client
   * gets `status` (default 504: App Service's front end gives up on a request after about 230 s)
   * while the extraction goes on, taking `msPerEntry` for each file. As in Kudu's
   * ZipArchiveExtensions.Extract (Kudu.Core/Infrastructure), each file is opened with
   * FileMode.Create and held (FileShare.None) while it is written: meanwhile its listing shows it
   * growing, a VFS GET of it answers 404 (as for a file a VFS PUT writes), a VFS PUT 409, and a
   * zip that writes it again fails with 400.
   * `stopAfterEntries`: the extraction ends after that many entries (the instance restarted).
   */
  keepExtracting?: { msPerEntry: number; stopAfterEntries?: number };
}

export interface KuduRequestLog {
  method: string;
  /** URL path and query, never credentials. */
  path: string;
  status: number;
  /** Request body bytes read. */
  bytesIn: number;
  /** The instance whose Kudu answered (scaled out only). */
  instance?: string;
  userAgent: string;
}

/**
 * How a profile writes publishUrl: `host:443` as the portal's download does (the default), or the
 * other forms profiles from older tools carry. None is the emulator's address: the emulator is
 * reached under the SCM name through the sandbox's internet, or with the kudu-url input.
 */
export type PublishUrlForm = 'host' | 'host:443' | 'https-url';

export interface KuduEmulator {
  url: string;
  /** The directory playing D:\home; site/wwwroot exists. */
  home: string;
  siteName: string;
  userName: string;
  password: string;
  /**
   * A publish profile as the portal writes it: an MSDeploy, an FTP and a ZipDeploy entry,
   * publishUrl `<site>.scm.azurewebsites.net:443` (no scheme), destinationAppUrl
   * `http://<site>.azurewebsites.net`, userName `$<site>` (`$<site>__<slot>` for a slot).
   */
  publishProfileXml(opts?: { siteName?: string; slot?: string; publishUrlForm?: PublishUrlForm; password?: string }): string;
  lock(relPath: string): void;
  unlock(relPath: string): void;
  /**
   * A reader holds the file open for `ms` (as goazure's poll or the launcher does, for longer):
   * until then a PUT of it answers 409 (Kudu's FileShare.None write cannot open it); a GET still
   * reads it, since Kudu's reads share.
   */
  holdOpen(relPath: string, ms: number): void;
  fault(spec: FaultSpec): void;
  clearFaults(): void;
  /** Request body bytes received since start (or the last resetCounters). */
  readonly bytesReceived: number;
  readonly requests: KuduRequestLog[];
  resetCounters(): void;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

const MIME: Record<string, string> = {
  '.exe': 'application/x-msdownload',
  '.txt': 'text/plain',
  '.config': 'application/xml',
  '.xml': 'text/xml',
  '.json': 'application/json',
  '.html': 'text/html',
  '.css': 'text/css',
  '.js': 'application/javascript',
  '.bat': 'application/x-msdownload',
  '.zip': 'application/x-zip-compressed',
};

export async function startKudu(opts: KuduOptions = {}): Promise<KuduEmulator> {
  const siteName = opts.siteName ?? 'go-sandbox';
  const slot = opts.slot;
  const userName = slot === undefined ? `$${siteName}` : `$${siteName}__${slot}`;
  const password = crypto.randomBytes(30).toString('base64').replace(/[+/=]/g, 'x');
  const home = opts.home ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kudu-home-'));
  fs.mkdirSync(path.join(home, 'site', 'wwwroot'), { recursive: true });
  const appUrl = opts.appUrl ?? `http://${slot === undefined ? siteName : `${siteName}-${slot}`}.azurewebsites.net`;

  const locks = new Set<string>();
  /** Files a streamed PUT holds open exclusively right now (lockKey form). */
  const writing = new Set<string>();
  /** Files a test says some reader holds open, until the time given (lockKey form → ms). */
  const heldOpen = new Map<string, number>();
  // Scaled out: the instance for each request, and each instance's cached listings (folder → when
  // read, and the entries then).
  const instanceIds = opts.instances !== undefined && opts.instances.length > 0 ? opts.instances : undefined;
  let nextInstance = 0;
  const listingCaches = new Map<string, Map<string, { at: number; body: string }>>();
  let faults: (FaultSpec & { left: number; toSkip: number })[] = [];
  const requests: KuduRequestLog[] = [];
  let bytesReceived = 0;
  const sockets = new Set<Socket>();
  const pendingDelays = new Set<() => void>();

  const lockKey = (rel: string): string => rel.replace(/\\/g, '/').replace(/^\/+|\/+$/g, '').toLowerCase();
  // Files an extraction is writing (open with FileShare.None).
  const held = new Set<string>();
  const extractions = new Set<Promise<unknown>>();
  let closing = false;
  const isLocked = (rel: string): boolean => locks.has(lockKey(rel)) || held.has(lockKey(rel)) || (opts.isLocked?.(lockKey(rel)) ?? false);
  /** Whether a reader has the file open: the site's own (opts.readers) or one a test holds (holdOpen). */
  const isHeldOpen = (rel: string): boolean => (heldOpen.get(lockKey(rel)) ?? 0) > Date.now() || (opts.readers?.(lockKey(rel)) ?? false);

  const authorized = (header: string | undefined): boolean => {
    if (header === undefined) return false;
    const [scheme, value] = header.split(' ', 2);
    if (scheme?.toLowerCase() === 'basic' && value !== undefined) {
      if (opts.basicAuth?.() === false) return false;
      const expected = Buffer.from(`${userName}:${password}`);
      const given = Buffer.from(value, 'base64');
      return given.length === expected.length && crypto.timingSafeEqual(given, expected);
    }
    if (scheme?.toLowerCase() === 'bearer' && value !== undefined && opts.acceptBearer !== undefined) {
      return opts.acceptBearer(value);
    }
    return false;
  };

  const takeFault = (method: string, urlPath: string): FaultSpec | undefined => {
    // `skip` counts matching requests from the moment the fault was added, whichever fault
    // (if any) then takes them; the first armed fault takes the request.
    let chosen: (FaultSpec & { left: number; toSkip: number }) | undefined;
    for (const f of faults) {
      if (f.left <= 0 || !urlPath.startsWith(f.route) || (f.method !== undefined && f.method.toUpperCase() !== method)) continue;
      if (f.toSkip > 0) {
        f.toSkip--;
        continue;
      }
      chosen ??= f;
    }
    if (chosen !== undefined) chosen.left--;
    return chosen;
  };

  const server = http.createServer((req, res) => {
    void handle(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
    const urlPath = rawUrl.split('?')[0];
    const log: KuduRequestLog = { method, path: rawUrl, status: 0, bytesIn: 0, userAgent: req.headers['user-agent'] ?? '' };
    requests.push(log);
    const cookieInstance = /(?:^|;\s*)ARRAffinity=([^;]*)/.exec(req.headers.cookie ?? '')?.[1]?.trim();
    let instance = cookieInstance;
    let setAffinity: Record<string, string[]> = {};
    if (instanceIds !== undefined) {
      if (instance === undefined || !instanceIds.includes(instance)) {
        // The front end routes a request it cannot pin by itself, and pins the client to that
        // instance from then on.
        instance = instanceIds[nextInstance++ % instanceIds.length]!;
        const host = (req.headers.host ?? '').replace(/:\d+$/, '');
        setAffinity = { 'Set-Cookie': [`ARRAffinity=${instance};Path=/;HttpOnly;Secure;Domain=${host}`, `ARRAffinitySameSite=${instance};Path=/;HttpOnly;SameSite=None;Secure;Domain=${host}`] };
      }
      log.instance = instance;
    }
    const fault = takeFault(method, urlPath);

    // A file PUT through the VFS is written as the body arrives (see putFileStreamed).
    if (method === 'PUT' && urlPath.startsWith('/api/vfs/') && !urlPath.endsWith('/') && fault?.status === undefined) {
      await pause(fault);
      if (res.destroyed) return;
      const refused = gate(req);
      if (refused !== undefined) {
        req.resume();
        send(req, res, log, fault, refused, setAffinity);
        return;
      }
      const reply = await putFileStreamed(req, urlPath, log, fault);
      // This instance's own writes show in its own listings at once.
      if (instance !== undefined) listingCaches.get(instance)?.clear();
      if (reply !== undefined) send(req, res, log, fault, reply, setAffinity);
      return;
    }

    // Read the body, counting bytes; a reset fault cuts the connection part-way.
    const chunks: Buffer[] = [];
    const cutAt = fault?.resetAfterRequestBytes;
    const complete = await new Promise<boolean>((resolve) => {
      req.on('data', (c: Buffer) => {
        log.bytesIn += c.length;
        bytesReceived += c.length;
        if (cutAt !== undefined && log.bytesIn >= cutAt) {
          req.socket.destroy();
          resolve(false);
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolve(true));
      req.on('error', () => resolve(false));
      req.on('close', () => resolve(req.complete));
    });
    if (!complete) {
      log.status = -1;
      return;
    }
    const body = Buffer.concat(chunks);

    await pause(fault);
    if (res.destroyed) return;

    let reply: Reply;
    if (fault?.keepExtracting !== undefined && method === 'PUT' && urlPath.startsWith('/api/zip/') && gate(req) === undefined) {
      const extraction = extractZip(decodeRel(urlPath.slice('/api/zip/'.length)), body, fault.keepExtracting.msPerEntry, fault.keepExtracting.stopAfterEntries, instance);
      extractions.add(extraction);
      void extraction.finally(() => extractions.delete(extraction));
      const status = fault.status ?? 504;
      reply = { status, headers: { 'Content-Type': 'text/html' }, body: `<html><body><h1>${status} - Gateway Timeout</h1><p>The front end stopped waiting for the answer.</p></body></html>` };
    } else if (fault?.status !== undefined) {
      reply = {
        status: fault.status,
        headers: fault.retryAfter !== undefined ? { 'Retry-After': fault.retryAfter } : {},
        body: JSON.stringify({ Message: `injected fault ${fault.status}` }),
      };
    } else {
      const refused = gate(req);
      if (refused !== undefined) {
        reply = refused;
      } else {
        try {
          reply = await route(method, rawUrl, req.headers, body, instance);
          // This instance's own writes show in its own listings at once.
          if (method !== 'GET' && method !== 'HEAD' && instance !== undefined) listingCaches.get(instance)?.clear();
        } catch (err) {
          reply = { status: 500, body: JSON.stringify({ Message: String(err) }) };
        }
      }
    }
    send(req, res, log, fault, reply, setAffinity);
  }

  /** A fault's delay and hold, before the request is handled; close() ends both. */
  async function pause(fault: FaultSpec | undefined): Promise<void> {
    if (fault?.delayMs !== undefined) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, fault.delayMs);
        // close() ends every pending delay, so a stalled answer never outlives the emulator.
        function done(): void {
          clearTimeout(timer);
          pendingDelays.delete(done);
          resolve();
        }
        pendingDelays.add(done);
      });
    }
    if (fault?.hold !== undefined) {
      const hold = fault.hold;
      await new Promise<void>((resolve) => {
        // close() releases a held request too.
        const done = (): void => {
          pendingDelays.delete(done);
          resolve();
        };
        pendingDelays.add(done);
        void hold().then(done, done);
      });
    }
  }

  /** What the front end answers before Kudu runs: a stopped site's page, or 401 to bad credentials. */
  function gate(req: http.IncomingMessage): Reply | undefined {
    if (opts.stopped?.() === true) return { status: 403, headers: { 'Content-Type': 'text/html' }, body: STOPPED_PAGE };
    if (!authorized(req.headers.authorization)) {
      return { status: 401, headers: { 'WWW-Authenticate': 'Basic realm="site"' }, body: '401 - Unauthorized: Access is denied due to invalid credentials.' };
    }
    return undefined;
  }

  function send(req: http.IncomingMessage, res: http.ServerResponse, log: KuduRequestLog, fault: FaultSpec | undefined, reply: Reply, setAffinity: Record<string, string[]> = {}): void {
    log.status = reply.status;
    const payload = typeof reply.body === 'string' ? Buffer.from(reply.body) : (reply.body ?? Buffer.alloc(0));
    const cutReply = fault?.resetAfterResponseBytes;
    if (cutReply !== undefined && cutReply >= payload.length) {
      // The request was carried out but its answer is lost: the client must cope by retrying.
      req.socket.destroy();
      log.status = -1;
      return;
    }
    res.writeHead(reply.status, { 'Content-Length': String(payload.length), ...reply.headers, ...setAffinity });
    if (cutReply !== undefined) {
      res.write(payload.subarray(0, cutReply), () => res.socket?.destroy());
      log.status = -1;
      return;
    }
    res.end(payload);
  }

  /**
   * PUT of a file, as Kudu's VfsController.CreateItemPutResponse does it: the If-Match check,
   * then the target is opened with FileMode.Create and FileShare.None
   * (VfsControllerBase.GetFileWriteStream) BEFORE the body is read, and the body is copied into it
   * as it arrives. So: a file anything else holds open (a reader, another writer, a running exe)
   * cannot be opened and the answer is 409; while the body streams in, the file is held
   * exclusively (a GET of it answers 404, another PUT 409); and a connection cut mid-body leaves
   * the file truncated to what arrived, with a new ETag. Undefined when the connection was cut
   * (there is no one to answer).
   */
  async function putFileStreamed(req: http.IncomingMessage, urlPath: string, log: KuduRequestLog, fault: FaultSpec | undefined): Promise<Reply | undefined> {
    const drained = (reply: Reply): Reply => {
      req.resume();
      return reply;
    };
    const rel = decodeRel(urlPath.slice('/api/vfs'.length)).replace(/\/+$/, '');
    const full = localPath(rel);
    if (full === null) return drained({ status: 400, body: JSON.stringify({ Message: 'path outside home' }) });
    const st = fs.statSync(full, { throwIfNoEntry: false });
    if (st?.isDirectory()) return drained({ status: 409, body: JSON.stringify({ Message: 'Cannot update a directory.' }) });
    if (st !== undefined) {
      const current = etagOf(full);
      const m = ifMatchOk(req.headers['if-match'], current);
      // Kudu answers a missing If-Match like a wrong one: 412 with the file's current ETag.
      if (m === 'missing') return drained({ status: 412, headers: { ETag: current }, body: JSON.stringify({ Message: 'Updating an existing resource requires an If-Match header.' }) });
      if (m === 'mismatch') return drained({ status: 412, headers: { ETag: current }, body: JSON.stringify({ Message: 'ETag mismatch.' }) });
    }
    if (st !== undefined && (isLocked(rel) || isHeldOpen(rel) || writing.has(lockKey(rel)))) {
      return drained({
        status: 409,
        body: JSON.stringify({ Message: `Could not write to '${windowsPath(rel)}': The process cannot access the file because it is being used by another process.` }),
      });
    }
    try {
      fs.mkdirSync(path.dirname(full), { recursive: true });
    } catch {
      return drained({ status: 409, body: JSON.stringify({ Message: 'A parent of the path is a file.' }) });
    }
    const key = lockKey(rel);
    const fd = fs.openSync(full, 'w');
    writing.add(key);
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      fs.closeSync(fd);
      wrote(full);
      writing.delete(key);
    };
    const cutAt = fault?.resetAfterRequestBytes;
    const complete = await new Promise<boolean>((resolve) => {
      req.on('data', (c: Buffer) => {
        if (closed) return;
        const room = cutAt === undefined ? c.length : Math.max(0, cutAt - log.bytesIn);
        const part = room < c.length ? c.subarray(0, room) : c;
        log.bytesIn += part.length;
        bytesReceived += part.length;
        fs.writeSync(fd, part);
        if (cutAt !== undefined && log.bytesIn >= cutAt) {
          close();
          req.socket.destroy();
          resolve(false);
        }
      });
      req.on('end', () => resolve(true));
      req.on('error', () => resolve(false));
      req.on('close', () => resolve(req.complete));
    });
    close();
    if (!complete) {
      log.status = -1;
      return undefined;
    }
    return { status: st === undefined ? 201 : 204, headers: { ETag: etagOf(full) } };
  }

  function localPath(rel: string): string | null {
    const full = path.resolve(home, ...rel.split('/').filter((s) => s !== ''));
    if (full !== home && !full.startsWith(home + path.sep)) return null;
    return full;
  }

  function windowsPath(rel: string): string {
    return ('D:\\home\\' + rel.split('/').filter((s) => s !== '').join('\\')).replace(/\\$/, '');
  }

  // Kudu's ETag is the file's last-write time in ticks (VfsController.CreateEntityTag); NTFS
  // keeps it to 100 ns, while Linux stamps files with a coarse clock, so two writes a few ms
  // apart can share a time. A count of this emulator's own writes to the path keeps every write's
  // ETag distinct, as on Windows.
  const writes = new Map<string, number>();
  function wrote(full: string): void {
    writes.set(full, (writes.get(full) ?? 0) + 1);
  }
  function etagOf(full: string): string {
    const st = fs.statSync(full, { bigint: true });
    return `"${st.mtimeNs.toString(16)}${(writes.get(full) ?? 0).toString(16).padStart(4, '0')}"`;
  }

  function ifMatchOk(header: string | undefined, current: string): 'missing' | 'match' | 'mismatch' {
    if (header === undefined) return 'missing';
    const tags = header.split(',').map((t) => t.trim());
    return tags.includes('*') || tags.includes(current) ? 'match' : 'mismatch';
  }

  function listing(full: string, rel: string, selfUrl: string, instance: string | undefined): Reply {
    const json = { 'Content-Type': 'application/json; charset=utf-8' };
    if (instanceIds !== undefined && instance !== undefined) {
      let cache = listingCaches.get(instance);
      if (cache === undefined) listingCaches.set(instance, (cache = new Map()));
      const hit = cache.get(full);
      if (hit !== undefined && Date.now() - hit.at < (opts.listingCacheMs ?? 10_000)) return { status: 200, headers: json, body: hit.body };
      const fresh = listing(full, rel, selfUrl, undefined);
      cache.set(full, { at: Date.now(), body: String(fresh.body) });
      return fresh;
    }
    const entries = fs.readdirSync(full, { withFileTypes: true }).map((d) => {
      const st = fs.statSync(path.join(full, d.name));
      const dir = d.isDirectory();
      return {
        name: d.name,
        size: dir ? 0 : st.size,
        mtime: st.mtime.toISOString(),
        crtime: st.birthtime.toISOString(),
        mime: dir ? 'inode/directory' : (MIME[path.extname(d.name).toLowerCase()] ?? 'application/octet-stream'),
        href: selfUrl + encodeURIComponent(d.name) + (dir ? '/' : ''),
        path: windowsPath(`${rel}/${d.name}`),
      };
    });
    return { status: 200, headers: json, body: JSON.stringify(entries) };
  }

  /** Deletes a tree, skipping locked files; true when everything went. */
  function deleteTree(full: string, rel: string): boolean {
    let all = true;
    for (const d of fs.readdirSync(full, { withFileTypes: true })) {
      const childRel = `${rel}/${d.name}`;
      const child = path.join(full, d.name);
      if (d.isDirectory()) {
        if (!deleteTree(child, childRel)) all = false;
      } else if (isLocked(childRel)) {
        all = false;
      } else {
        fs.rmSync(child);
      }
    }
    if (all) fs.rmdirSync(full);
    return all;
  }

  async function route(method: string, rawUrl: string, headers: http.IncomingHttpHeaders, body: Buffer, instance: string | undefined): Promise<Reply> {
    // Kudu builds hrefs and redirects from the request's own URL (VfsControllerBase's
    // Request.RequestUri), so through the sandbox's internet they carry the public SCM name and
    // https, and on 127.0.0.1 the emulator's address.
    const proto = headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
    const url = headers.host !== undefined ? `${proto}://${headers.host}` : emulatorUrl;
    const u = new URL(rawUrl, url);
    const p = u.pathname;
    const oneProcess = /^\/api\/processes\/(-?\d+)\/?$/.exec(p);
    if (oneProcess !== null && method === 'DELETE') {
      // Kudu's ProcessController.KillProcess (routed for DELETE /api/processes/{id} in Kudu's
      // NinjectServices.cs): GetProcessById, then Kill with includesChildren, so the process and
      // its children end; the action returns void, which Web API answers 204. An id that runs no
      // process makes Process.GetProcessById throw ArgumentException, answered 404 with its message.
      // The instance is the one the front end routed this request to (a cookie naming none of the
      // instances, or no cookie, is routed in turn like any other request), whose Kudu answers.
      const id = Number(oneProcess[1]);
      if (opts.killProcess?.(id, instance) === true) return { status: 204 };
      return { status: 404, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ Message: `Process with an Id of ${id} is not running.` }) };
    }
    if (p === '/api/processes' || p === '/api/processes/') {
      if (method !== 'GET') return { status: 405 };
      const selfUrl = `${url}/api/processes/`;
      // As ProcessController.GetAllProcesses: every process of the site's sandbox, each with the
      // answering machine's name (Kudu.Contracts/Diagnostics/ProcessInfo.cs), ordered by name.
      const machineName = opts.machineName?.(instance) ?? machineNameOf(instance ?? '');
      const list = (opts.processes?.(instance) ?? [])
        .map((x) => ({ id: x.id, name: x.name, machineName, href: `${selfUrl}${x.id}`, user_name: `IIS APPPOOL\\${siteName}` }))
        .sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()));
      return { status: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(list) };
    }
    if (p === '/api/settings' || p === '/api/settings/') {
      // Kudu's SettingsController.GetAll: one JSON object of names and values, never empty: Kudu's
      // own defaults, and on App Service the site's app settings among them.
      if (method !== 'GET') return { status: 405 };
      const settings = { deployment_branch: 'master', SCM_TRACE_LEVEL: '1', SCM_COMMAND_IDLE_TIMEOUT: '60', SCM_LOGSTREAM_TIMEOUT: '7200', SCM_BUILD_ARGS: '', ...opts.appSettings?.() };
      return { status: 200, headers: { 'Content-Type': 'application/json; charset=utf-8' }, body: JSON.stringify(settings) };
    }
    if (p === '/api/deployments' || p === '/api/deployments/' || p.startsWith('/api/deployments/')) {
      return deploymentsRoute(url, method, decodeURIComponent(p.slice('/api/deployments'.length).replace(/^\/+|\/+$/g, '')), body);
    }
    if (p.startsWith('/api/zip/')) {
      const rel = decodeRel(p.slice('/api/zip/'.length));
      if (method === 'GET') {
        // As ZipController's GetItem: a folder comes back as a zip of its content; anything else,
        // a file included, is 404.
        const full = localPath(rel.replace(/\/+$/, ''));
        const st = full === null ? undefined : fs.statSync(full, { throwIfNoEntry: false });
        if (full === null || !(st?.isDirectory() ?? false)) {
          return { status: 404, body: JSON.stringify({ Message: `'${windowsPath(rel)}' is not a directory.` }) };
        }
        return { status: 200, headers: { 'Content-Type': 'application/zip' }, body: await zipFolder(full) };
      }
      if (method !== 'PUT') return { status: 405 };
      // As ZipController: an existing folder, or any path ending in `/`, is extracted into; a
      // file path is not a zip target (404).
      const full = localPath(rel.replace(/\/+$/, ''));
      const st = full === null ? undefined : fs.statSync(full, { throwIfNoEntry: false });
      if (!(st?.isDirectory() ?? false) && !p.endsWith('/')) return { status: 404 };
      if (st !== undefined && !st.isDirectory()) return { status: 404 };
      return extractZip(rel, body);
    }
    if (p === '/api/vfs' || p.startsWith('/api/vfs/')) {
      const relRaw = decodeRel(p.slice('/api/vfs'.length));
      const slashed = p.endsWith('/');
      const rel = relRaw.replace(/\/+$/, '');
      const full = localPath(rel);
      if (full === null) return { status: 400, body: JSON.stringify({ Message: 'path outside home' }) };
      const st = fs.statSync(full, { throwIfNoEntry: false });
      const selfUrl = `${url}${p}`;
      switch (method) {
        case 'GET':
        case 'HEAD': {
          if (st === undefined) return { status: 404, body: JSON.stringify({ Message: `'${windowsPath(rel)}' not found.` }) };
          if (st.isDirectory()) {
            if (!slashed) return { status: 307, headers: { Location: `${url}${p}/${u.search}` } };
            return listing(full, rel, selfUrl, instance);
          }
          if (slashed) return { status: 307, headers: { Location: `${url}${p.replace(/\/+$/, '')}${u.search}` } };
          // VfsController.CreateItemGetResponse opens the file with FileShare.ReadWrite (Kudu's
          // VfsControllerBase.GetFileReadStream), which fails while a writer holds it with
          // FileShare.None, and answers any failure to open it with 404: a file being written
          // reads as missing, though the folder's listing shows it.
          if (writing.has(lockKey(rel)) || held.has(lockKey(rel))) {
            return { status: 404, body: JSON.stringify({ Message: `The process cannot access the file '${windowsPath(rel)}' because it is being used by another process.` }) };
          }
          const content = fs.readFileSync(full);
          const etag = etagOf(full);
          const type = MIME[path.extname(full).toLowerCase()] ?? 'application/octet-stream';
          // As Kudu's VfsController.CreateItemGetResponse: a Range request (honoured unless an
          // If-Range names another ETag) gets 206 with only those bytes (ByteRangeStreamContent);
          // a range past the end gets 416 with the size in Content-Range.
          const range = headers.range;
          const ifRange = headers['if-range'];
          if (range !== undefined && (ifRange === undefined || ifRange === etag)) {
            const part = byteRange(range, content.length);
            if (part === 'unsatisfiable') return { status: 416, headers: { 'Content-Range': `bytes */${content.length}` } };
            if (part !== undefined) {
              const [first, last] = part;
              return {
                status: 206,
                headers: { ETag: etag, 'Content-Type': type, 'Content-Range': `bytes ${first}-${last}/${content.length}` },
                body: method === 'HEAD' ? Buffer.alloc(0) : content.subarray(first, last + 1),
              };
            }
          }
          return {
            status: 200,
            headers: { ETag: etag, 'Content-Type': type, 'Accept-Ranges': 'bytes' },
            body: method === 'HEAD' ? Buffer.alloc(0) : content,
          };
        }
        case 'PUT': {
          if (st?.isDirectory() || (st === undefined && slashed)) {
            if (st !== undefined) return { status: 409, body: JSON.stringify({ Message: 'Cannot update a directory.' }) };
            fs.mkdirSync(full, { recursive: true });
            return { status: 201 };
          }
          // A file is written as its body streams in (putFileStreamed); only a path ending in "/"
          // comes here, and over a file VfsControllerBase.PutItem takes it as a folder: 409.
          return { status: 409, body: JSON.stringify({ Message: 'Cannot update a directory.' }) };
        }
        case 'DELETE': {
          // As VfsControllerBase: a folder needs no If-Match, but `?recursive=true` unless empty;
          // a file needs If-Match, and one Windows holds open comes back as 404.
          if (st === undefined) return { status: 404, body: JSON.stringify({ Message: `'${windowsPath(rel)}' not found.` }) };
          if (st.isDirectory()) {
            const recursive = u.searchParams.get('recursive')?.toLowerCase() === 'true';
            if (!recursive && fs.readdirSync(full).length > 0) {
              return { status: 409, body: JSON.stringify({ Message: 'The directory is not empty.' }) };
            }
            if (!deleteTree(full, rel)) return { status: 409, body: JSON.stringify({ Message: 'Cannot delete directory: a file in it is in use.' }) };
            return { status: 200 };
          }
          if (slashed) return { status: 307, headers: { Location: `${url}${p.replace(/\/+$/, '')}${u.search}` } };
          const current = etagOf(full);
          const m = ifMatchOk(headers['if-match'], current);
          if (m === 'missing') return { status: 412, headers: { ETag: current }, body: JSON.stringify({ Message: 'Deleting a resource requires an If-Match header.' }) };
          if (m === 'mismatch') return { status: 412, headers: { ETag: current }, body: JSON.stringify({ Message: 'ETag mismatch.' }) };
          // Windows refuses to open a running exe, or a file being written, for delete; Kudu reports that as 404.
          // A file a reader holds open cannot be deleted either: CreateFileDeleteResponse's open shares
          // everything, but FileInfo.Delete then needs the reader to have shared delete, which
          // goazure's poll does not (Go's syscall.Open on Windows shares read and write only).
          if (isLocked(rel) || writing.has(lockKey(rel)) || isHeldOpen(rel)) return { status: 404, body: JSON.stringify({ Message: `The process cannot access the file '${windowsPath(rel)}' because it is being used by another process.` }) };
          fs.rmSync(full);
          wrote(full);
          return { status: 200 };
        }
        default:
          return { status: 405 };
      }
    }
    return { status: 404, body: 'Not found' };
  }

  // Kudu's deployment history, as DeploymentController (Kudu.Services/Deployment) keeps it for a
  // deployment made by another tool: PUT /api/deployments/{id} with status 3 (failed) or 4
  // (success), message, deployer and author creates it (an id that exists: 409); `active`
  // defaults to status == success and only a success may be active; GET lists newest first.
  const deployments = new Map<string, Record<string, unknown>>();
  let activeDeployment = '';
  function deploymentsRoute(url: string, method: string, id: string, body: Buffer): Reply {
    const json = { 'Content-Type': 'application/json; charset=utf-8' };
    const view = (d: Record<string, unknown>): Record<string, unknown> => ({ ...d, active: d.id === activeDeployment });
    if (id === '') {
      if (method !== 'GET') return { status: 405 };
      const list = [...deployments.values()].sort((a, b) => String(b.received_time).localeCompare(String(a.received_time)));
      return { status: 200, headers: json, body: JSON.stringify(list.map(view)) };
    }
    if (method === 'GET') {
      const d = deployments.get(id);
      return d === undefined ? { status: 404, body: JSON.stringify({ Message: `Deployment '${id}' not found.` }) } : { status: 200, headers: json, body: JSON.stringify(view(d)) };
    }
    if (method !== 'PUT') return { status: 405 };
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return { status: 400, body: JSON.stringify({ Message: 'The body is not JSON.' }) };
    }
    const status = payload.status;
    const filled = (k: string): boolean => typeof payload[k] === 'string' && payload[k] !== '';
    // Without a valid status, message, deployer and author, Kudu takes the PUT as "redeploy {id}"
    // from its own repository, which a site deployed by this action does not have.
    if ((status !== 3 && status !== 4) || !filled('message') || !filled('deployer') || !filled('author')) {
      return { status: 404, body: JSON.stringify({ Message: 'Repository could not be found.' }) };
    }
    if (payload.active === true && status !== 4) return { status: 400, body: JSON.stringify({ Message: 'Only successful status can be active!' }) };
    if (deployments.has(id)) return { status: 409, body: JSON.stringify({ Message: `Deployment with id '${id}' exists` }) };
    const now = new Date().toISOString();
    const d = {
      id,
      status,
      status_text: '',
      author_email: typeof payload.author_email === 'string' ? payload.author_email : '',
      author: payload.author,
      deployer: payload.deployer,
      message: payload.message,
      progress: '',
      received_time: typeof payload.start_time === 'string' ? payload.start_time : now,
      start_time: typeof payload.start_time === 'string' ? payload.start_time : now,
      end_time: typeof payload.end_time === 'string' ? payload.end_time : now,
      last_success_end_time: typeof payload.end_time === 'string' ? payload.end_time : now,
      complete: true,
      is_temp: false,
      is_readonly: true,
      url: `${url}/api/deployments/${encodeURIComponent(id)}`,
      log_url: `${url}/api/deployments/${encodeURIComponent(id)}/log`,
      site_name: siteName,
      details: typeof payload.details === 'string' ? payload.details : '',
    };
    deployments.set(id, d);
    if (payload.active ?? status === 4) activeDeployment = id;
    return { status: 200, headers: json, body: JSON.stringify(view(d)) };
  }

  /** Extracts over `dirRel`, deleting nothing; stops with 400 at the first entry it cannot write. */
  /**
   * `target` (under `base`) as Windows finds it: each part of the path below `base` that matches an
   * existing entry without case takes that entry's name; the rest stays as given.
   */
  function existingCase(base: string, target: string): string {
    let at = base;
    for (const part of path.relative(base, target).split(path.sep)) {
      let names: string[] = [];
      try {
        names = fs.readdirSync(at);
      } catch {
        // Not there yet: the rest of the path is created as given.
      }
      const found = names.includes(part) ? part : names.find((n) => n.toLowerCase() === part.toLowerCase());
      at = path.join(at, found ?? part);
    }
    return at;
  }

  async function extractZip(dirRel: string, body: Buffer, msPerEntry?: number, stopAfterEntries = Number.POSITIVE_INFINITY, instance?: string): Promise<Reply> {
    // An extraction that outlives its request writes through its instance's own SMB client, whose
    // listings show its own writes at once (as route's writes do when they end).
    const ownWrite = (): void => {
      if (instance !== undefined) listingCaches.get(instance)?.clear();
    };
    let extracted = 0;
    const dirFull = localPath(dirRel.replace(/\/+$/, ''));
    if (dirFull === null) return { status: 400, body: JSON.stringify({ Message: 'path outside home' }) };
    let zip: yauzl.ZipFile;
    try {
      zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
        yauzl.fromBuffer(body, { lazyEntries: true, strictFileNames: false, validateEntrySizes: true }, (err, z) => (err ? reject(err) : resolve(z))),
      );
    } catch (err) {
      return { status: 400, body: JSON.stringify({ Message: `The zip could not be read: ${(err as Error).message}` }) };
    }
    fs.mkdirSync(dirFull, { recursive: true });
    const fail = (msg: string): Reply => {
      zip.close();
      return { status: 400, body: JSON.stringify({ Message: msg }) };
    };
    for (;;) {
      const entry = await new Promise<yauzl.Entry | null>((resolve, reject) => {
        zip.once('entry', (e: yauzl.Entry) => resolve(e));
        zip.once('end', () => resolve(null));
        zip.once('error', reject);
        zip.readEntry();
      }).catch((err: Error) => err);
      if (entry instanceof Error) return fail(`The zip is damaged: ${entry.message}`);
      if (entry === null || extracted++ >= stopAfterEntries) break;
      zip.removeAllListeners('entry');
      zip.removeAllListeners('end');
      zip.removeAllListeners('error');
      const asNamed = entry.fileName.replace(/\\/g, '/');
      // Kudu's path APIs are .NET Framework's, on Windows: a name they refuse fails the whole
      // extraction with 400 (ZipController catches it), and one they normalise lands renamed.
      const windows = windowsEntryPath(`${windowsPath(dirRel)}\\`, asNamed);
      if ('error' in windows) return fail(windows.error);
      const name = windows.name;
      const rel = `${dirRel.replace(/\/+$/, '')}/${name}`.replace(/\/+$/, '');
      const target = localPath(rel);
      if (target === null || (target !== dirFull && !target.startsWith(dirFull + path.sep))) return fail(`Entry ${name} points outside the folder.`);
      if (name.endsWith('/')) {
        fs.mkdirSync(target, { recursive: true });
        continue;
      }
      // NTFS compares names without case: Kudu's ZipArchiveExtensions.Extract opens an entry whose
      // name differs only in case from a file already there (FileInfo.Open with FileMode.Create)
      // as that file, and overwrites it under the name it already had.
      const onDisk = existingCase(dirFull, target);
      const onDiskRel = `${dirRel.replace(/\/+$/, '')}/${path.relative(dirFull, onDisk).split(path.sep).join('/')}`;
      // FileInfo.Open(FileMode.Create, FileAccess.Write) shares nothing: it cannot open a file a
      // reader holds open or a VFS PUT is writing, any more than a running exe.
      const inUse = isLocked(onDiskRel) || writing.has(lockKey(onDiskRel)) || (fs.existsSync(onDisk) && isHeldOpen(onDiskRel));
      if (inUse) return fail(`The process cannot access the file '${windowsPath(onDiskRel)}' because it is being used by another process.`);
      let content: Buffer;
      try {
        content = await new Promise<Buffer>((resolve, reject) =>
          zip.openReadStream(entry, (err, stream) => {
            if (err) return reject(err);
            const parts: Buffer[] = [];
            stream.on('data', (c: Buffer) => parts.push(c));
            stream.on('end', () => resolve(Buffer.concat(parts)));
            stream.on('error', reject);
          }),
        );
      } catch (err) {
        return fail(`The zip is damaged at ${name}: ${(err as Error).message}`);
      }
      fs.mkdirSync(path.dirname(onDisk), { recursive: true });
      // Written in place, as Kudu opens the file with FileMode.Create: an existing file keeps its
      // creation time. Kudu then sets the modification time to the entry's time (the package's:
      // the commit's), so only crtime tells when a new file landed.
      if (msPerEntry === undefined) {
        fs.writeFileSync(onDisk, content);
      } else {
        // Slowly, in pieces, the file held the while: what a large entry looks like from outside.
        held.add(lockKey(rel));
        try {
          const fd = fs.openSync(onDisk, 'w');
          try {
            const pieces = 8;
            for (let i = 0; i < pieces && !closing; i++) {
              fs.writeSync(fd, content.subarray(Math.floor((content.length * i) / pieces), Math.floor((content.length * (i + 1)) / pieces)));
              ownWrite();
              await new Promise((r) => setTimeout(r, msPerEntry / pieces));
            }
          } finally {
            fs.closeSync(fd);
          }
        } finally {
          held.delete(lockKey(rel));
        }
      }
      wrote(onDisk);
      const stamped = entryLastWriteTime(entry);
      if (!Number.isNaN(stamped.getTime())) fs.utimesSync(onDisk, new Date(), stamped);
      ownWrite();
    }
    zip.close();
    return { status: 200 };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const emulatorUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const scmHost = (site: string, slotName?: string): string =>
    `${slotName === undefined ? site : `${site}-${slotName}`}.scm.azurewebsites.net`;

  return {
    url: emulatorUrl,
    home,
    siteName,
    userName,
    password,
    publishProfileXml(o = {}) {
      const site = o.siteName ?? siteName;
      const slotName = o.slot ?? slot;
      const user = slotName === undefined ? `$${site}` : `$${site}__${slotName}`;
      const pwd = o.password ?? password;
      const host = scmHost(site, slotName);
      const form = o.publishUrlForm ?? 'host:443';
      const publishUrl = form === 'host' ? host : form === 'host:443' ? `${host}:443` : `https://${host}`;
      const display = slotName === undefined ? site : `${site}-${slotName}`;
      const msdeploySite = slotName === undefined ? site : `${site}__${slotName}`;
      const attr = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
      return (
        `<publishData>` +
        `<publishProfile profileName="${attr(display)} - Web Deploy" publishMethod="MSDeploy" publishUrl="${attr(publishUrl)}" ` +
        `msdeploySite="${attr(msdeploySite)}" userName="${attr(user)}" userPWD="${attr(pwd)}" destinationAppUrl="${attr(appUrl)}" ` +
        `SQLServerDBConnectionString="" mySQLDBConnectionString="" hostingProviderForumLink="" controlPanelLink="https://portal.azure.com" webSystem="WebSites">` +
        `<databases /></publishProfile>` +
        `<publishProfile profileName="${attr(display)} - FTP" publishMethod="FTP" publishUrl="ftps://waws-prod-sandbox.ftp.azurewebsites.windows.net/site/wwwroot" ` +
        `ftpPassiveMode="True" userName="${attr(`${msdeploySite}\\${user}`)}" userPWD="${attr(pwd)}" destinationAppUrl="${attr(appUrl)}" ` +
        `SQLServerDBConnectionString="" mySQLDBConnectionString="" hostingProviderForumLink="" controlPanelLink="https://portal.azure.com" webSystem="WebSites">` +
        `<databases /></publishProfile>` +
        `<publishProfile profileName="${attr(display)} - Zip Deploy" publishMethod="ZipDeploy" publishUrl="${attr(publishUrl)}" ` +
        `userName="${attr(user)}" userPWD="${attr(pwd)}" destinationAppUrl="${attr(appUrl)}" ` +
        `SQLServerDBConnectionString="" mySQLDBConnectionString="" hostingProviderForumLink="" controlPanelLink="https://portal.azure.com" webSystem="WebSites">` +
        `<databases /></publishProfile>` +
        `</publishData>`
      );
    },
    lock(relPath) {
      locks.add(lockKey(relPath));
    },
    unlock(relPath) {
      locks.delete(lockKey(relPath));
    },
    holdOpen(relPath, ms) {
      heldOpen.set(lockKey(relPath), Date.now() + ms);
    },
    fault(spec) {
      faults.push({ ...spec, left: spec.times ?? 1, toSkip: spec.skip ?? 0 });
    },
    clearFaults() {
      faults = [];
    },
    get bytesReceived() {
      return bytesReceived;
    },
    requests,
    resetCounters() {
      bytesReceived = 0;
      requests.length = 0;
    },
    async close() {
      closing = true;
      await Promise.allSettled([...extractions]);
      return new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        for (const done of [...pendingDelays]) done();
        server.close(() => resolve());
      });
    },
  };
}

/**
 * The time Kudu gives an extracted file: ZipArchiveExtensions.Extract (Kudu.Core/Infrastructure/
 * ZipArchiveExtensions.cs, called by Kudu.Services/Zip/ZipController.cs) sets each file's
 * LastWriteTimeUtc from entry.LastWriteTime. .NET's ZipArchiveEntry (System.IO.Compression) reads
 * that from the entry's DOS date and time alone (2-second steps; extended timestamp fields such as
 * Info-ZIP's "UT" are not read) and takes it as the machine's local time, which on App Service is
 * UTC unless the site sets WEBSITE_TIME_ZONE. So the DOS fields are read as UTC here, whatever
 * time zone the tests run in.
 */
export function entryLastWriteTime(entry: yauzl.Entry): Date {
  return entry.getLastModDate({ forceDosFormat: true, timezone: 'UTC' });
}

/**
 * A Windows machine name for an instance, in the form App Service's workers carry (`RD` and twelve
 * hex digits, from the worker's MAC address); stable for an id.
 */
export function machineNameOf(instance: string): string {
  return `RD${crypto.createHash('sha256').update(`instance:${instance}`).digest('hex').slice(0, 12).toUpperCase()}`;
}

/** The files under `dir` as a zip, paths relative to it. */
function zipFolder(dir: string): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const walk = (full: string, rel: string): void => {
    for (const d of fs.readdirSync(full, { withFileTypes: true })) {
      const child = path.join(full, d.name);
      const name = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) {
        zip.addEmptyDirectory(name);
        walk(child, name);
      } else {
        zip.addBuffer(fs.readFileSync(child), name);
      }
    }
  };
  walk(dir, '');
  return finishZip(zip);
}

/** A zip of these files (name → content), each with `mtime`: what a test PUTs to the zip API. */
export function zipOfFiles(files: Record<string, string | Buffer>, mtime = new Date()): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, content] of Object.entries(files)) zip.addBuffer(Buffer.from(content), name, { mtime });
  return finishZip(zip);
}

/** Ends the zip and collects its bytes. */
function finishZip(zip: yazl.ZipFile): Promise<Buffer> {
  zip.end();
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => parts.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(parts)));
    zip.outputStream.on('error', reject);
  });
}

/**
 * One byte range of a `Range: bytes=…` header as [first, last], for a body of `size` bytes:
 * `a-b`, `a-` and the suffix form `-n`. Several ranges or another unit: undefined (served whole).
 */
function byteRange(header: string, size: number): [number, number] | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return [Math.max(0, size - n), size - 1];
  }
  const first = Number(m[1]);
  if (first >= size) return 'unsatisfiable';
  const last = m[2] === '' ? size - 1 : Math.min(size - 1, Number(m[2]));
  return last < first ? undefined : [first, last];
}

/**
 * How .NET Framework's path APIs on Windows take a zip entry's name under `folder` (a Windows path
 * ending in `\`), as Kudu's ZipArchiveExtensions.Extract meets them (Path.Combine, Path.GetFullPath,
 * FileInfo.Open): " < > | and control characters, and ? * (wildcards), are "Illegal characters in
 * path." (ArgumentException); a colon past the drive is NotSupportedException; a device name
 * (CON, PRN, AUX, NUL, COM1-9, LPT1-9, also with an extension: aux.css) opens the device, which
 * FileStream refuses; a full path of 260 characters or more, or a folder of 248 or more, is
 * PathTooLongException; and path normalisation drops each name's trailing dots and spaces, so
 * `a.txt.` lands as `a.txt`. The package stage refuses the same names first (src/artifact/pack.ts).
 */
function windowsEntryPath(folder: string, entryName: string): { name: string } | { error: string } {
  const parts = entryName.split('/');
  const dir = entryName.endsWith('/');
  const segments = dir ? parts.slice(0, -1) : parts;
  const full = folder + segments.join('\\');
  for (const seg of segments) {
    if (/["<>|\x00-\x1f?*]/.test(seg)) return { error: `Illegal characters in path. (${full})` };
    if (seg.includes(':')) return { error: `The given path's format is not supported. (${full})` };
  }
  const normalised = segments.map((seg) => seg.replace(/[. ]+$/, ''));
  for (const seg of normalised) {
    if (/^(con|prn|aux|nul|com[1-9]|lpt[1-9])$/i.test(seg.split('.')[0]!.trimEnd())) {
      return { error: `FileStream will not open Win32 devices such as disk partitions and tape drives. Avoid use of "\\\\.\\" in the path. (${full})` };
    }
  }
  const normalisedFull = folder + normalised.join('\\');
  if (normalisedFull.length >= 260 || normalisedFull.slice(0, normalisedFull.lastIndexOf('\\')).length >= 248) {
    return { error: `The specified path, file name, or both are too long. The fully qualified file name must be less than 260 characters, and the directory name must be less than 248 characters. (${full})` };
  }
  return { name: normalised.join('/') + (dir ? '/' : '') };
}

/** `/site/wwwroot/a%20b/` → `site/wwwroot/a b/` (the trailing slash kept). */
function decodeRel(p: string): string {
  const trailing = p.endsWith('/');
  const rel = p
    .split('/')
    .filter((s) => s !== '')
    .map((s) => decodeURIComponent(s))
    .join('/');
  return trailing && rel !== '' ? `${rel}/` : rel;
}
