// A local GitHub Actions cache service, so that @actions/cache runs unmodified against it: the v2
// service that hosted runners use now (ACTIONS_CACHE_SERVICE_V2, ACTIONS_RESULTS_URL), a Twirp
// service `github.actions.results.api.v1.CacheService` with three JSON methods, as @actions/cache's
// generated client calls them (lib/generated/results/api/v1/cache.twirp-client.js, field names as
// in the .proto: useProtoFieldName):
//
//   CreateCacheEntry {key, version}            → {ok, signed_upload_url}
//   FinalizeCacheEntryUpload {key, version, size_bytes} → {ok, entry_id}
//   GetCacheEntryDownloadURL {key, restore_keys, version} → {ok, signed_download_url, matched_key}
//
// Every call carries `Authorization: Bearer <ACTIONS_RUNTIME_TOKEN>`; errors are Twirp errors
// (`{code, msg}` with the matching HTTP status). The archives themselves never pass through the
// service: as on GitHub, it hands out Azure Blob Storage SAS URLs and the client uploads with the
// Azure SDK (staged blocks, then a block list) and downloads with plain GETs. Here the storage is
// Azurite, Microsoft's Azure Storage emulator, run as a child process on a free port.
//
// Matching follows GitHub's cache service: an entry matches only with the same version (a hash of
// the cached paths and the compression); the key and then each restore key is tried in order, first exactly, then as a prefix of the newest
// entry that starts with it. A key with a finalized entry cannot be created again (409). Branch
// scopes are not modelled: every entry is visible to every run.
//
// Keys are compared without case, and matched_key is the key as it was saved, whatever the case
// asked for: GitHub's service treats keys that differ only in case as one key (a key saved in upper
// case is restored by its lower-case spelling, and answered in the case it was saved in), which is
// why actions/cache decides cache-hit without case (src/utils/actionUtils.ts, isExactKeyMatch:
// localeCompare with sensitivity "accent").
//
// A run's token may be read-only (GitHub downgrades it for runs it does not trust to write): it
// restores as any other, and CreateCacheEntry answers `ok: false` with a message that starts with
// `cache write denied:`, which @actions/cache turns into a CacheWriteDeniedError
// (packages/cache/src/cache.ts, saveCacheV2 and CACHE_WRITE_DENIED_PREFIX).

import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BlobSASPermissions,
  BlobServiceClient,
  generateBlobSASQueryParameters,
  SASProtocol,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { repoRoot } from './runner.ts';

// Azurite's fixed development account (documented in Azurite's README, "Default Storage Account").
const ACCOUNT = 'devstoreaccount1';
const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const CONTAINER = 'actions-cache';
const SERVICE = 'github.actions.results.api.v1.CacheService';

export interface CacheEntry {
  id: number;
  key: string;
  version: string;
  blob: string;
  /** Set by FinalizeCacheEntryUpload; only finalized entries are found. */
  sizeBytes?: number;
  createdAt: number;
}

export interface CacheServiceFaults {
  /** Every RPC answers this HTTP status with a Twirp error (e.g. 503 unavailable, 401). */
  rpcStatus?: number;
}

export interface CacheService {
  /** ACTIONS_RESULTS_URL for the runner environment. */
  url: string;
  token: string;
  /** A token that may read the cache but not write it. */
  readOnlyToken: string;
  /** Base URL of Azurite's blob endpoint. */
  blobUrl: string;
  entries: CacheEntry[];
  faults: CacheServiceFaults;
  /** Method names of the RPCs answered, in order. */
  calls: string[];
  /** The environment a runner gives a job so @actions/cache finds this service; `readOnly`: with the read-only token. */
  env(opts?: { readOnly?: boolean }): Record<string, string>;
  /** Bytes stored in finalized entries. */
  storedBytes(): number;
  /** Overwrites every stored archive with bytes that are not a tar.zst (a corrupt archive). */
  corrupt(): Promise<void>;
  close(): Promise<void>;
}

/** Starts Azurite on a free port and waits for the port it printed. */
async function startAzurite(location: string): Promise<{ child: ChildProcess; url: string }> {
  const main = fs.realpathSync(path.join(repoRoot, 'node_modules', '.bin', 'azurite-blob'));
  const child = spawn(
    process.execPath,
    [main, '--blobHost', '127.0.0.1', '--blobPort', '0', '--location', location, '--silent', '--skipApiVersionCheck', '--loose', '--disableTelemetry'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start: ${out}`)), 30_000);
    const onData = (d: string): void => {
      out += d;
      const m = /listens on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.stderr!.setEncoding('utf8').on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with ${code}: ${out}`));
    });
  });
  return { child, url };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }, 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    process.kill(child.pid!, 'SIGTERM');
  });
}

/** Twirp's error codes and the HTTP statuses its protocol gives them. */
const TWIRP_CODES: Record<number, string> = {
  400: 'invalid_argument',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  409: 'already_exists',
  429: 'resource_exhausted',
  500: 'internal',
  503: 'unavailable',
};

export async function startCacheService(opts: { token?: string } = {}): Promise<CacheService> {
  const location = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-azurite-'));
  const azurite = await startAzurite(location);
  const credential = new StorageSharedKeyCredential(ACCOUNT, ACCOUNT_KEY);
  const blobService = new BlobServiceClient(`${azurite.url}/${ACCOUNT}`, credential);
  const container = blobService.getContainerClient(CONTAINER);
  await container.createIfNotExists();

  const token = opts.token ?? `runtime-${randomUUID()}`;
  const readOnlyToken = `runtime-read-${randomUUID()}`;
  const entries: CacheEntry[] = [];
  const faults: CacheServiceFaults = {};
  const calls: string[] = [];
  let nextId = 1;

  const sasUrl = (blob: string, permissions: string): string => {
    const sas = generateBlobSASQueryParameters(
      {
        containerName: CONTAINER,
        blobName: blob,
        permissions: BlobSASPermissions.parse(permissions),
        startsOn: new Date(Date.now() - 60_000),
        expiresOn: new Date(Date.now() + 60 * 60_000),
        protocol: SASProtocol.HttpsAndHttp,
      },
      credential,
    ).toString();
    return `${azurite.url}/${ACCOUNT}/${CONTAINER}/${encodeURIComponent(blob)}?${sas}`;
  };

  const sameKey = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
  const find = (key: string, restoreKeys: string[], version: string): CacheEntry | undefined => {
    const ready = entries.filter((e) => e.sizeBytes !== undefined && e.version === version);
    for (const k of [key, ...restoreKeys]) {
      const exact = ready.find((e) => sameKey(e.key, k));
      if (exact) return exact;
      const prefixed = ready.filter((e) => e.key.toLowerCase().startsWith(k.toLowerCase())).sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);
      if (prefixed.length > 0) return prefixed[0];
    }
    return undefined;
  };

  type Body = Record<string, unknown>;
  const methods: Record<string, (req: Body, readOnly: boolean) => Promise<[number, Body]>> = {
    async CreateCacheEntry(req, readOnly) {
      const key = String(req.key ?? '');
      const version = String(req.version ?? '');
      if (key === '' || version === '') return [400, { code: 'invalid_argument', msg: 'key and version are required' }];
      if (readOnly) return [200, { ok: false, message: 'cache write denied: the token of this run is scoped to read the cache only' }];
      if (entries.some((e) => sameKey(e.key, key) && e.version === version && e.sizeBytes !== undefined)) {
        return [409, { code: 'already_exists', msg: 'cache entry with the same key, version, and scope already exists' }];
      }
      // An unfinished reservation of the same key is replaced (its upload never finalized).
      for (let i = entries.length - 1; i >= 0; i--) if (sameKey(entries[i].key, key) && entries[i].version === version && entries[i].sizeBytes === undefined) entries.splice(i, 1);
      const entry: CacheEntry = { id: nextId++, key, version, blob: `${randomUUID()}.tzst`, createdAt: Date.now() };
      entries.push(entry);
      return [200, { ok: true, signed_upload_url: sasUrl(entry.blob, 'cw') }];
    },
    async FinalizeCacheEntryUpload(req) {
      const key = String(req.key ?? '');
      const version = String(req.version ?? '');
      const size = Number(req.size_bytes ?? 0);
      const entry = entries.find((e) => e.key === key && e.version === version && e.sizeBytes === undefined);
      if (entry === undefined) return [404, { code: 'not_found', msg: 'no reserved cache entry for this key and version' }];
      let stored: number;
      try {
        stored = (await container.getBlobClient(entry.blob).getProperties()).contentLength ?? -1;
      } catch {
        return [400, { code: 'invalid_argument', msg: 'the archive was not uploaded' }];
      }
      if (stored !== size) return [400, { code: 'invalid_argument', msg: `size_bytes ${size} does not match the uploaded ${stored} bytes` }];
      entry.sizeBytes = size;
      entry.createdAt = Date.now();
      return [200, { ok: true, entry_id: String(entry.id) }];
    },
    async GetCacheEntryDownloadURL(req) {
      const key = String(req.key ?? '');
      const restoreKeys = Array.isArray(req.restore_keys) ? req.restore_keys.map(String) : [];
      const entry = find(key, restoreKeys, String(req.version ?? ''));
      // A miss is not an error: ok is false (and left out, as proto3 JSON leaves out defaults).
      if (entry === undefined) return [200, {}];
      return [200, { ok: true, signed_download_url: sasUrl(entry.blob, 'r'), matched_key: entry.key }];
    },
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: Body): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const m = new RegExp(`^/twirp/${SERVICE.replace(/\./g, '\\.')}/(\\w+)$`).exec(req.url ?? '');
      const method = m ? methods[m[1]] : undefined;
      if (req.method !== 'POST' || method === undefined) {
        reply(404, { code: 'bad_route', msg: `no handler for ${req.method} ${req.url}` });
        return;
      }
      calls.push(m![1]);
      const readOnly = req.headers.authorization === `Bearer ${readOnlyToken}`;
      if (req.headers.authorization !== `Bearer ${token}` && !readOnly) {
        reply(401, { code: 'unauthenticated', msg: 'invalid or missing runtime token' });
        return;
      }
      if (faults.rpcStatus !== undefined) {
        reply(faults.rpcStatus, { code: TWIRP_CODES[faults.rpcStatus] ?? 'unknown', msg: 'the cache service is failing (sandbox fault)' });
        return;
      }
      let body: Body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Body;
      } catch {
        reply(400, { code: 'malformed', msg: 'the body is not JSON' });
        return;
      }
      method(body, readOnly).then(
        ([status, out]) => reply(status, out),
        (err: unknown) => reply(500, { code: 'internal', msg: err instanceof Error ? err.message : String(err) }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  return {
    url,
    token,
    readOnlyToken,
    blobUrl: azurite.url,
    entries,
    faults,
    calls,
    env: (o = {}) => ({ ACTIONS_RUNTIME_TOKEN: o.readOnly === true ? readOnlyToken : token, ACTIONS_RESULTS_URL: url, ACTIONS_CACHE_SERVICE_V2: 'true' }),
    storedBytes: () => entries.reduce((n, e) => n + (e.sizeBytes ?? 0), 0),
    async corrupt() {
      for (const e of entries) {
        if (e.sizeBytes === undefined) continue;
        const junk = Buffer.alloc(e.sizeBytes, 0x5a);
        await container.getBlockBlobClient(e.blob).upload(junk, junk.length);
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await stopChild(azurite.child);
      fs.rmSync(location, { recursive: true, force: true });
    },
  };
}
