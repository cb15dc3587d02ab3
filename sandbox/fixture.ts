// Shared by the deploy tests and the deploy benchmark: real windows/amd64 Go binaries packaged by
// the real package stage, a Kudu target from the emulator's publish profile, and the deploy
// stages run in the order the pipeline runs them.

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../src/common/inputs.ts';
import { connectionFromPublishProfile } from '../src/signin/publishprofile.ts';
import { KuduClient, type KuduClientOptions } from '../src/site/kudu.ts';
import { contentHash, packageArtifact, resolveIncludes, type ArtifactPackage } from '../src/artifact/pack.ts';
import { artifactName } from '../src/artifact/name.ts';
import { uploadArtifact, type UploadResult } from '../src/site/upload.ts';
import { bootstrapSite } from '../src/site/bootstrap.ts';
import { readLiveArtifact, switchArtifact } from '../src/site/switch.ts';
import { newEntryId, readRecord, RecordWriter } from '../src/site/history.ts';
import { knownContent } from '../src/site/record.ts';
import { isDirectory } from '../src/site/kudu.ts';
import { ARTIFACTS_DIR } from '../src/site/layout.ts';
import { pruneArtifacts, type PruneResult } from '../src/site/prune.ts';
import type { KuduEmulator } from './kudu.ts';

const run = promisify(execFile);

const MAIN_GO = `package main

import (
	"fmt"
	"net/http"
	"os"
)

var version = "dev"

func main() {
	port := os.Getenv("HTTP_PLATFORM_PORT")
	if port == "" {
		fmt.Println(version)
		return
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, version) })
	if err := http.ListenAndServe("127.0.0.1:"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`;

/** A folder with a tiny web app and one static file, ready to build. */
export function makeApp(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-app-'));
  fs.writeFileSync(path.join(dir, 'go.mod'), 'module example.com/deployapp\n\ngo 1.22\n');
  fs.writeFileSync(path.join(dir, 'main.go'), MAIN_GO);
  fs.mkdirSync(path.join(dir, 'static'));
  fs.writeFileSync(path.join(dir, 'static', 'app.css'), 'body { color: #333; }\n');
  return dir;
}

export interface BuiltArtifact {
  name: string;
  pkg: ArtifactPackage;
  binaryPath: string;
  /** The content hash of the binary and its include files (pack.ts, contentHash). */
  content: string;
  commit: string;
}

/**
 * Builds the app for windows/amd64 with `commit` stamped in, and packages it as the action does,
 * its entries carrying `entryTime` (the action's is the commit's time; the app folder here is no
 * git checkout, so, as the action does then, the build's time by default).
 */
export async function buildArtifact(appDir: string, commit: string, site = 'go-sandbox', entryTime = new Date()): Promise<BuiltArtifact> {
  const name = artifactName(site, commit, 'windows');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-build-'));
  const binaryPath = path.join(out, name);
  await run('go', ['build', '-trimpath', '-ldflags', `-s -w -X main.version=${commit}`, '-o', binaryPath, '.'], {
    cwd: appDir,
    env: { ...process.env, GOOS: 'windows', GOARCH: 'amd64', CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-buildvcs=false' },
  });
  const files = await resolveIncludes(appDir, ['static/**']);
  const pkg = await packageArtifact({
    binaryPath,
    artifactName: name,
    workingDirectory: appDir,
    include: ['static/**'],
    files,
    mtime: entryTime,
    outputPath: path.join(out, `${name}.zip`),
  });
  return { name, pkg, binaryPath, content: await contentHash(binaryPath, files), commit };
}

/** A commit id, different for each `n`. */
export function commitOf(n: number): string {
  return (n.toString(16).padStart(4, '0') + 'c0ffee0123456789abcdef0123456789abcdef').slice(0, 40);
}

/** The Config fields the publish-profile target reads. */
export function profileConfig(appName: string, slotName = 'production', kuduUrl = ''): Config {
  return { appName, slotName, kuduUrl } as Config;
}

/**
 * A client for the emulator, signed in with its publish profile (as the portal writes it), reaching
 * the emulator directly through the kudu-url override, retrying fast.
 */
export function clientFor(kudu: KuduEmulator, signal: AbortSignal, opts: KuduClientOptions = {}): KuduClient {
  const target = connectionFromPublishProfile(profileConfig(kudu.siteName, 'production', kudu.url), kudu.publishProfileXml());
  return new KuduClient(target, signal, { retryBaseDelayMs: 20, ...opts });
}

export interface DeployOutcome {
  previous: string;
  upload: UploadResult;
  pruned: PruneResult;
}

/**
 * The deploy stages in the pipeline's order (main.ts): read the site and the deploy record, upload
 * unless the record shows this content there, bootstrap, switch (a compare-and-swap on the ETag
 * read first), prune. The record gets an entry when something was uploaded or switched.
 */
export async function deployStages(client: KuduClient, art: BuiltArtifact, signal: AbortSignal, keep = 3): Promise<DeployOutcome> {
  const live = await readLiveArtifact(client);
  const { record } = await readRecord(client);
  const listing = (await client.listDir(ARTIFACTS_DIR)) ?? [];
  const present = listing.some((e) => !isDirectory(e) && e.name === art.name);
  const alreadyThere = present && knownContent(record, art.name) === art.content ? `${art.name} is already on the site with the same content` : undefined;
  const upload = await uploadArtifact(client, art.pkg, art.name, { alreadyThere });
  const entry = new RecordWriter(client, {
    id: newEntryId(),
    kind: 'deploy',
    artifact: art.name,
    content: art.content,
    commit: art.commit,
    from: live.name,
    run: { repository: '', runId: '', runAttempt: '', actor: '' },
    at: new Date().toISOString(),
    outcome: 'uploaded',
  });
  if (!upload.skipped) await entry.save();
  await bootstrapSite(client);
  if (live.name !== art.name) {
    await switchArtifact(client, art.name, live.etag);
    await entry.save({ outcome: 'switched' });
  }
  const pruned = await pruneArtifacts(client, { keep, current: art.name, previous: live.name }, signal);
  return { previous: live.name, upload, pruned };
}

/** Every file under `dir` with its bytes, for a byte-for-byte comparison of two moments. */
export function snapshotTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        out.set(`${r}/`, '');
        walk(path.join(d, e.name), r);
      } else {
        out.set(r, fs.readFileSync(path.join(d, e.name)).toString('base64'));
      }
    }
  };
  walk(dir, '');
  return out;
}

export function artifactTxt(kudu: KuduEmulator): string | null {
  const file = path.join(kudu.home, 'site', 'wwwroot', '_artifact.txt');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
}

/** Runs `fn` with process.stdout captured (where @actions/core writes), returning what it wrote. */
export async function captureStdout<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; out: string }> {
  const chunks: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  // Only strings are taken: @actions/core writes strings, while the test runner talks to its
  // parent through this same stdout in binary messages that must pass untouched.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk !== 'string') return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
    chunks.push(chunk);
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof process.stdout.write;
  try {
    const value = await fn();
    return { value, out: chunks.join('') };
  } catch (error) {
    return { error, out: chunks.join('') };
  } finally {
    process.stdout.write = original;
  }
}
