// The artifact this run deploys: built here (toolchain, Go cache, build, content hash), or a package
// of an earlier build-only run, proved to be what its manifest says; and, for build-only, the
// package and its manifest written for the next jobs. See docs/ARCHITECTURE.md, "The flow".

import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as core from '@actions/core';
import type { DeployContext } from '../context.ts';
import { setupGo } from '../toolchain/install.ts';
import { buildBinary, headCommitTime, packageEntryTime } from './compile.ts';
import { restoreGoCache, saveGoCache, needsSave, type GoCacheRequest, type GoCacheState } from './gocache.ts';
import { artifactName } from './name.ts';
import { contentHash, packageArtifact, resolveIncludes, type ArtifactPackage, type IncludedFile } from './pack.ts';
import { verifyPackage, writeManifest, type LoadedPackage } from './prebuilt.ts';
import { artifactStem } from '../site/layout.ts';

/** from-package: the package proved to be what its manifest says, ready for the upload stage. */
export async function checkPackage(ctx: DeployContext, prebuilt: LoadedPackage): Promise<{ baseName: string; content: string; pkg: ArtifactPackage }> {
  const { cfg, signal, stages, facts } = ctx;
  const { manifest, manifestSha256 } = prebuilt;
  const pkg = await stages.run('Check package', () => verifyPackage(prebuilt, cfg, signal));
  core.info(`Package ${manifest.artifact} of commit ${cfg.commit.slice(0, 10)}, built with Go ${manifest.goVersion} by go-azure-deploy ${manifest.actionVersion}: every hash matches its manifest (sha256 ${manifestSha256.slice(0, 12)}…).`);
  Object.assign(facts, { goVersion: manifest.goVersion, zipSize: pkg.zipSize, binarySize: pkg.binarySize, packageManifest: manifestSha256 });
  return { baseName: manifest.artifact, content: manifest.content, pkg };
}

/** A binary built by this run, with its include files and content hash. */
export interface Built {
  baseName: string;
  binaryPath: string;
  files: IncludedFile[];
  content: string;
  workDir: string;
  goVersion: string;
  /** The time the package's entries carry: the commit's, else the build's start (packageEntryTime). */
  entryTime: Date;
}

/** The toolchain, build and content hash stages: a binary named `<prefix>-<commit10>`. */
export async function buildHere(ctx: DeployContext): Promise<Built> {
  const { cfg, signal, stages, facts } = ctx;
  const buildStarted = new Date();
  // parseInputs checked the prefix (and reported it with the other input problems).
  const baseName = artifactName(cfg.artifactPrefix, cfg.commit, cfg.goos);

  const go = await stages.run('Go toolchain', () =>
    setupGo(
      {
        goVersion: cfg.goVersion,
        goVersionFile: cfg.goVersionFile,
        goVersionFileExplicit: cfg.goVersionFileExplicit,
        downloadBaseUrl: cfg.goDownloadBaseUrl,
        checkLatest: cfg.checkLatest,
      },
      signal,
    ),
  );
  facts.goVersion = go.version;
  facts.toolchainCacheHit = go.cacheHit;
  core.setOutput('go-version', go.version);
  core.setOutput('toolchain-cache-hit', String(go.cacheHit));

  const cacheReq: GoCacheRequest = {
    goBin: go.goBin,
    goVersion: go.version,
    workingDirectory: cfg.workingDirectory,
    goos: cfg.goos,
    goarch: cfg.goarch,
    dependencyPath: cfg.cacheDependencyPath,
    cacheWrite: cfg.cacheWrite,
  };
  let goCache: GoCacheState | undefined;
  if (cfg.cache) {
    goCache = await stages.run('Restore Go cache', () => restoreGoCache(cacheReq));
    facts.goCache = { outcome: goCache.outcome, key: goCache.key, matchedKey: goCache.matchedKey, restoreSeconds: goCache.seconds, restoredBytes: goCache.restoredBytes };
  } else {
    core.info('cache is false: Go modules and the build cache are not restored or saved.');
  }
  core.setOutput('cache-hit', String(goCache?.outcome === 'hit'));

  const workDir = fs.mkdtempSync(path.join(process.env.RUNNER_TEMP || os.tmpdir(), 'go-azure-deploy-'));
  const built = await stages.run('Build', () =>
    buildBinary(
      {
        goBin: go.goBin,
        workingDirectory: cfg.workingDirectory,
        package: cfg.package,
        goos: cfg.goos,
        goarch: cfg.goarch,
        ldflags: cfg.ldflags,
        buildFlags: cfg.buildFlags,
        buildTags: cfg.buildTags,
        commit: cfg.commit,
        versionLabel: cfg.versionLabel,
        outputPath: path.join(workDir, baseName),
      },
      signal,
    ),
  );
  facts.binarySize = built.size;
  core.setOutput('artifact-path', built.binaryPath);
  const entryTime = packageEntryTime(await headCommitTime(cfg.workingDirectory, signal), buildStarted);
  core.info(
    entryTime.source === 'commit'
      ? `Package entries carry the time of the commit checked out in ${cfg.workingDirectory}: ${entryTime.time.toISOString()}.`
      : `${cfg.workingDirectory} is not a git checkout git will read: package entries carry the build's start time, ${entryTime.time.toISOString()}.`,
  );

  // Saved before anything touches the site, so a failed deploy still leaves a warm cache.
  if (goCache !== undefined && facts.goCache !== undefined) {
    const state = goCache;
    const saved = needsSave(state)
      ? await stages.run('Save Go cache', () => saveGoCache(cacheReq, state))
      : await saveGoCache(cacheReq, state);
    Object.assign(facts.goCache, { saved: saved.saved, saveSeconds: needsSave(state) ? saved.seconds : undefined, savedBytes: saved.bytes, saveNote: saved.reason });
  }

  const { files, content } = await stages.run('Content hash', async () => {
    const files = await resolveIncludes(cfg.workingDirectory, cfg.include, ctx.signal);
    const content = await contentHash(built.binaryPath, files);
    core.info(`Content sha256 of the binary and ${files.length} include file(s): ${content}`);
    return { files, content };
  });
  return { baseName, binaryPath: built.binaryPath, files, content, workDir, goVersion: go.version, entryTime: entryTime.time };
}

/** Packages a binary built here, every entry stamped with its entry time. */
export function packageBuilt(made: Pick<Built, 'binaryPath' | 'files' | 'entryTime'>, name: string, outputPath: string, signal: AbortSignal): Promise<ArtifactPackage> {
  return packageArtifact({ binaryPath: made.binaryPath, artifactName: name, workingDirectory: '', include: [], files: made.files, mtime: made.entryTime, outputPath }, signal);
}

/**
 * build-only: the zip under the name it will have on every site, and its manifest, in a folder of
 * their own (the package-path output) for actions/upload-artifact.
 */
export async function buildPackage(ctx: DeployContext, made: Built): Promise<void> {
  const { cfg, stages, facts, signal } = ctx;
  const dir = path.join(process.env.RUNNER_TEMP || os.tmpdir(), `go-azure-package-${artifactStem(made.baseName)}`);
  await fs.promises.rm(dir, { recursive: true, force: true });
  const written = await stages.run('Package', async () => {
    const pkg = await packageBuilt(made, made.baseName, path.join(dir, `${artifactStem(made.baseName)}.zip`), signal);
    facts.zipSize = pkg.zipSize;
    const { manifest, manifestPath } = await writeManifest(
      { zipPath: pkg.zipPath, artifact: made.baseName, commit: cfg.commit, goVersion: made.goVersion, goos: cfg.goos, goarch: cfg.goarch, content: made.content },
      signal,
    );
    core.info(`Wrote ${manifestPath}: ${manifest.files.length} file(s), zip sha256 ${manifest.zip.sha256}.`);
    return manifest;
  });
  facts.artifactName = written.artifact;
  core.setOutput('artifact-name', written.artifact);
  core.setOutput('package-path', dir);
  core.notice(`Built ${written.artifact} for ${cfg.goos}/${cfg.goarch} into ${dir}; no site was changed. Deploy it with from-package.`);
}
