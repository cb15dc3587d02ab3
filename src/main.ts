// The pipeline: the stages of docs/ARCHITECTURE.md, "The flow", in order, data flowing one way. Each stage lives in its
// own module; this file only wires them, sets outputs and turns failures into one clear message.

import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as core from '@actions/core';
import { parseInputs, secretValues, type Config } from './common/inputs.ts';
import { ActionError, DeployTimeoutError, messageOf } from './common/errors.ts';
import { setupGo } from './toolchain/install.ts';
import { buildBinary } from './build/compile.ts';
import { restoreGoCache, saveGoCache, needsSave, type GoCacheRequest, type GoCacheState } from './build/gocache.ts';
import { artifactName } from './build/name.ts';
import { contentHash, packageArtifact, resolveIncludes, type ArtifactPackage, type IncludedFile } from './build/pack.ts';
import { verifyPackage, writeManifest, type LoadedPackage } from './build/prebuilt.ts';
import { connectToSite } from './signin/signin.ts';
import type { SiteConnection } from './signin/connection.ts';
import { KuduClient, isDirectory } from './site/kudu.ts';
import { uploadArtifact } from './site/upload.ts';
import { bootstrapSite } from './site/bootstrap.ts';
import { readLiveArtifact, switchArtifact, SiteChangedError } from './site/switch.ts';
import { verifyDeployment, watchDeployment, tailOfStdoutLog, notServingHints, type HealthCheck, type VerifyResult } from './site/verify.ts';
import { runPreflight } from './site/preflight.ts';
import { pruneArtifacts } from './site/prune.ts';
import { rollbackArtifact } from './site/rollback.ts';
import { planDeploy } from './site/plan.ts';
import { newEntryId, publishToKudu, readRecord, RecordWriter, runInfo } from './site/history.ts';
import { chooseArtifactName, choosePackagedName, describeRun, goingBackwards, inFlight, knownContent, whoSwitchedTo, type DeployEntry } from './site/record.ts';
import { ARTIFACTS_DIR, ARTIFACT_FILE, artifactStem } from './site/layout.ts';
import { swapSlots } from './signin/swap.ts';
import { StageLog, writeSummary, uploadProgressLogger, type DeployFacts } from './common/report.ts';

/** Seconds auto-rollback may still run after the deploy's deadline, when the deadline fired after a switch. */
export const ROLLBACK_GRACE_SECONDS = 30;

/**
 * Seconds of the deploy's time kept back from verify for auto-rollback (a switch back and the old
 * version's start): a fifth of timeout, at least 10 s and at most 60 s.
 */
export function rollbackReserveSeconds(timeoutSeconds: number): number {
  return Math.min(60, Math.max(10, timeoutSeconds / 5));
}

/**
 * How long verify may wait: verify-timeout, but never into the time auto-rollback needs before the
 * deadline. At least 1 s, so a late switch is still looked at once.
 */
export function verifyBudgetSeconds(verifyTimeout: number, secondsLeft: number, reserve: number): number {
  return Math.max(1, Math.min(verifyTimeout, Math.floor(secondsLeft - reserve)));
}

/** The deploy's clock: when the global timeout fires. */
class Deadline {
  readonly endsAt: number;
  constructor(seconds: number) {
    this.endsAt = performance.now() + seconds * 1000;
  }
  secondsLeft(): number {
    return (this.endsAt - performance.now()) / 1000;
  }
}

/**
 * What the site looks like to this run, kept up to date as it changes it: what _artifact.txt
 * names and its ETag, and, between a switch and its verification, the switch to undo when the
 * deadline fires.
 */
interface SiteState {
  live?: { name: string; etag: string };
  /** Switched to `artifact` from `previous`, not verified yet; `record` is its entry. */
  unverified?: { artifact: string; previous: string; record: RecordWriter };
}

/** Runs the action: reads inputs, deploys, and reports. Never throws. */
export async function run(): Promise<void> {
  maskSecretInputs();
  let cfg: Config;
  try {
    cfg = parseInputs((name) => core.getInput(name), process.env, process.cwd());
  } catch (err) {
    fail(err);
    return;
  }
  const stages = new StageLog();
  const facts: DeployFacts = { appName: cfg.appName, slotName: cfg.slotName, commit: cfg.commit };
  const deadline = new Deadline(cfg.timeoutSeconds);
  const state: SiteState = {};
  let connection: SiteConnection | undefined;
  try {
    await withDeadline(cfg.timeoutSeconds, stages, (signal) =>
      deploy({ cfg, signal, stages, facts, deadline, state, onSignedIn: (c) => (connection = c) }),
    );
    await writeSummary(facts, stages, cfg.buildOnly ? 'built' : cfg.dryRun ? 'dry run' : cfg.rollback ? 'rolled back' : 'deployed');
  } catch (err) {
    let final = err;
    if (err instanceof DeployTimeoutError && state.unverified !== undefined && connection !== undefined && cfg.autoRollback) {
      const line = await rollBackAfterDeadline(cfg, connection, state, stages, facts);
      final = new DeployTimeoutError(`${err.message}\n${line}`);
    }
    await writeSummary(facts, stages, 'failed');
    fail(final);
  }
}

/** Secrets must be masked before anything can log them. */
function maskSecretInputs(): void {
  for (const secret of secretValues((name) => core.getInput(name))) core.setSecret(secret);
}

function fail(err: unknown): void {
  if (err instanceof ActionError) {
    core.setFailed(err.message);
  } else {
    core.debug(err instanceof Error && err.stack ? err.stack : String(err));
    core.setFailed(`go-azure-deploy hit an unexpected error: ${messageOf(err)}. Please report it with the log above.`);
  }
}

/**
 * Runs `body` with an AbortSignal that fires after `seconds`, and fails with a clear message when
 * that happens even if a stage ignores the signal: the whole deploy never outlives `timeout`
 * (except for auto-rollback's short grace period, see run()).
 */
async function withDeadline(
  seconds: number,
  stages: StageLog,
  body: (signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const running = stages.current ?? 'the deploy';
      const err = new DeployTimeoutError(
        `The deploy took longer than timeout (${seconds} s) and was stopped during ${running}. ` +
          `_artifact.txt was not changed unless the log above says it was switched. ` +
          `Raise the timeout input or look at the slow stage in the log.`,
      );
      controller.abort(err);
      reject(err);
    }, seconds * 1000);
  });
  try {
    await Promise.race([body(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What every stage after sign-in works with: the inputs, the deploy's abort signal and clock, the
 * stage log, the facts that end up in the outputs and the summary, and, once signed in, the site.
 */
interface DeployContext {
  cfg: Config;
  signal: AbortSignal;
  stages: StageLog;
  facts: DeployFacts;
  deadline: Deadline;
  state: SiteState;
  onSignedIn: (connection: SiteConnection) => void;
}

interface SiteContext extends DeployContext {
  connection: SiteConnection;
  kudu: KuduClient;
  /** The health gate verify applies: health-path, else the site's health check path from ARM, else `/`. */
  health: HealthCheck;
}

/** Consecutive healthy answers an instance must give before it counts as healthy. */
const STABLE_CHECKS = 3;

async function deploy(ctx: DeployContext): Promise<void> {
  const { cfg, signal, stages, facts } = ctx;
  if (cfg.rollback) {
    await rollback(await signIn(ctx));
    return;
  }

  const prebuilt = cfg.fromPackage;
  // A package built earlier (from-package) is proved to be what its manifest says before anything
  // else; otherwise this run builds, and with build-only: true stops at the package.
  const made = prebuilt !== undefined ? await checkPackage(ctx, prebuilt) : await buildHere(ctx);
  const { content, baseName } = made;
  core.setOutput('content-hash', content);
  if (cfg.buildOnly && 'binaryPath' in made) {
    await buildPackage(ctx, made);
    return;
  }

  const site = await signIn(ctx);
  const { kudu } = site;
  const { live, record, listing } = await stages.run('Read the site', async () => ({
    live: await readLiveArtifact(kudu),
    record: (await readRecord(kudu)).record,
    listing: (await kudu.listDir(ARTIFACTS_DIR)) ?? [],
  }));
  facts.previousArtifact = live.name;
  core.setOutput('previous-artifact', live.name);
  const run = runInfo(process.env);

  if (!cfg.allowOlder) {
    const why = goingBackwards(record, live.name, cfg.commit, run);
    if (why !== undefined) {
      throw new ActionError(
        `Refusing to deploy commit ${cfg.commit.slice(0, 10)}: it would take the site back to an older version. ${why}. ` +
          `Nothing was changed; ${ARTIFACT_FILE} still names ${live.name}. ` +
          `To deploy it anyway set allow-older: true; to go back to a version that served, use rollback: true or rollback-to.`,
      );
    }
  }

  const present = (n: string): boolean => listing.some((e) => !isDirectory(e) && e.name.toLowerCase() === n.toLowerCase());
  const choice = (prebuilt ? choosePackagedName : chooseArtifactName)(record, present, baseName, content);
  const name = choice.name;
  core.info(`Artifact name: ${name} (${choice.reason}).`);
  facts.artifactName = name;
  core.setOutput('artifact-name', name);

  const pkg = 'pkg' in made ? made.pkg : await stages.run('Package', () => packageBuilt(made, name, path.join(made.workDir, `${name}.zip`), signal));
  facts.zipSize = pkg.zipSize;
  const alreadyThere = choice.upload ? undefined : choice.reason;

  if (cfg.dryRun) {
    const plan = await stages.run('Dry run', () =>
      planDeploy(kudu, { artifactName: name, pkg, previous: live.name, keep: cfg.keep, bootstrap: cfg.bootstrap, alreadyThere }),
    );
    facts.dryRunPlan = plan;
    for (const line of plan) core.info(`would: ${line}`);
    core.notice('Dry run: nothing on the site was changed.');
    return;
  }

  const uploaded = await stages.run('Upload', () =>
    uploadArtifact(kudu, pkg, name, { onProgress: uploadProgressLogger(pkg.zipSize), alreadyThere }),
  );
  facts.uploadSkipped = uploaded.skipped;
  const entry = new RecordWriter(
    kudu,
    { id: newEntryId(), kind: 'deploy', artifact: name, content, commit: cfg.commit, from: live.name, run, at: new Date().toISOString(), outcome: 'uploaded', ...(prebuilt ? { source: 'package' as const, manifest: prebuilt.manifestSha256 } : {}) },
    signal,
  );
  await entry.save();
  if (cfg.bootstrap) await stages.run('Bootstrap', () => bootstrapSite(kudu));

  if (live.name === name) {
    core.info(`_artifact.txt already names ${name}; nothing to switch.`);
    ctx.state.live = live;
  } else {
    await stages.run('Switch', () => switchTo(site, entry, name, live));
  }
  await entry.save({ outcome: 'switched' });

  if (cfg.verify) await verifyOrRollBack(site, entry, { artifact: name, previous: live.name });
  await entry.publish(process.env);

  const pruned = await stages.run('Prune', async () => {
    // Another deploy's upload, not switched to yet, is never pruned under it.
    const now = await readRecord(kudu).catch(() => ({ record }));
    return pruneArtifacts(kudu, { keep: cfg.keep, current: name, previous: live.name, inUse: inFlight(now.record, Date.now()) }, signal);
  });
  facts.pruned = pruned.deleted;
  facts.pruneSkipped = pruned.skipped;

  if (cfg.swapSlot !== '') {
    if (!cfg.verify) core.warning(`verify is off: swapping ${cfg.slotName} into ${cfg.swapSlot} without checking the new version serves.`);
    const swapped = await stages.run('Swap', () => swapSlots(cfg, site.connection, signal));
    core.info(`Swapped ${cfg.slotName} into ${cfg.swapSlot}: ${swapped.swappedIntoUrl}`);
  }
}

/** from-package: the package proved to be what its manifest says, ready for the upload stage. */
async function checkPackage(ctx: DeployContext, prebuilt: LoadedPackage): Promise<{ baseName: string; content: string; pkg: ArtifactPackage }> {
  const { cfg, signal, stages, facts } = ctx;
  const { manifest, manifestSha256 } = prebuilt;
  const pkg = await stages.run('Check package', () => verifyPackage(prebuilt, cfg, signal));
  core.info(`Package ${manifest.artifact} of commit ${cfg.commit.slice(0, 10)}, built with Go ${manifest.goVersion} by go-azure-deploy ${manifest.actionVersion}: every hash matches its manifest (sha256 ${manifestSha256.slice(0, 12)}…).`);
  Object.assign(facts, { goVersion: manifest.goVersion, zipSize: pkg.zipSize, binarySize: pkg.binarySize, packageManifest: manifestSha256 });
  return { baseName: manifest.artifact, content: manifest.content, pkg };
}

/** A binary built by this run, with its include files and content hash. */
interface Built {
  baseName: string;
  binaryPath: string;
  files: IncludedFile[];
  content: string;
  workDir: string;
  goVersion: string;
}

/** The toolchain, build and content hash stages: a binary named `<prefix>-<commit10>`. */
async function buildHere(ctx: DeployContext): Promise<Built> {
  const { cfg, signal, stages, facts } = ctx;
  const prefixInput = core.getInput('artifact-prefix') !== '' ? 'artifact-prefix' : 'app-name';
  const baseName = artifactName(cfg.artifactPrefix, cfg.commit, cfg.goos, prefixInput);

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

  // Saved before anything touches the site, so a failed deploy still leaves a warm cache.
  if (goCache !== undefined && facts.goCache !== undefined) {
    const state = goCache;
    const saved = needsSave(state)
      ? await stages.run('Save Go cache', () => saveGoCache(cacheReq, state))
      : await saveGoCache(cacheReq, state);
    Object.assign(facts.goCache, { saved: saved.saved, saveSeconds: needsSave(state) ? saved.seconds : undefined, savedBytes: saved.bytes, saveNote: saved.reason });
  }

  const { files, content } = await stages.run('Content hash', async () => {
    const files = await resolveIncludes(cfg.workingDirectory, cfg.include);
    const content = await contentHash(built.binaryPath, files);
    core.info(`Content sha256 of the binary and ${files.length} include file(s): ${content}`);
    return { files, content };
  });
  return { baseName, binaryPath: built.binaryPath, files, content, workDir, goVersion: go.version };
}

function packageBuilt(made: Built, name: string, outputPath: string, signal: AbortSignal): Promise<ArtifactPackage> {
  return packageArtifact({ binaryPath: made.binaryPath, artifactName: name, workingDirectory: '', include: [], files: made.files, outputPath }, signal);
}

/**
 * build-only: the zip under the name it will have on every site, and its manifest, in a folder of
 * their own (the package-path output) for actions/upload-artifact.
 */
async function buildPackage(ctx: DeployContext, made: Built): Promise<void> {
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

/**
 * The compare-and-swap switch. When another deploy changed _artifact.txt since this run read it,
 * this run stops: it says what is live and which run put it there, and changes nothing more.
 */
async function switchTo(site: SiteContext, entry: RecordWriter, name: string, live: { name: string; etag: string }): Promise<void> {
  try {
    const etag = await switchArtifact(site.kudu, name, live.etag);
    site.state.live = { name, etag };
  } catch (err) {
    if (!(err instanceof SiteChangedError)) throw err;
    const now = await readLiveArtifact(site.kudu).catch(() => ({ name: '?', etag: '' }));
    const { record } = await readRecord(site.kudu).catch(() => ({ record: { version: 1 as const, entries: [] } }));
    const who = whoSwitchedTo(record, now.name);
    const detail = `switch refused: another deploy changed ${ARTIFACT_FILE} to ${now.name || '(nothing)'} while this run was deploying`;
    await entry.save({ outcome: 'failed', detail });
    await entry.publish(process.env);
    throw new ActionError(
      `Another deploy changed the site while this one ran: ${ARTIFACT_FILE} named ${live.name || '(nothing)'} when this run read it and names ` +
        `${now.name || '(nothing)'} now, put there by ${who !== undefined ? describeRun(who) : 'a deploy the record does not know'}. ` +
        `This run changed nothing more: ${name} was uploaded but not switched to; no prune, no rollback. ` +
        `Serialise deploys to this site with a concurrency group in the workflow (see the README, "Deploys that overlap").`,
    );
  }
}

/** Signs in to the site: from here on the stages reach it through one Kudu client. */
async function signIn(ctx: DeployContext): Promise<SiteContext> {
  const { cfg, stages, signal, facts } = ctx;
  const connection = await stages.run('Sign in', () => connectToSite(cfg, signal));
  facts.webappUrl = connection.webappUrl;
  ctx.onSignedIn(connection);
  core.setOutput('webapp-url', connection.webappUrl);
  const kudu = new KuduClient(connection, signal);
  // Before anything changes, and in a dry run too: a site this action cannot work with is refused here.
  const label = cfg.slotName === 'production' ? cfg.appName : `${cfg.appName}/${cfg.slotName}`;
  const pre = await stages.run('Preflight', () => runPreflight(kudu, connection, label, { bootstrap: cfg.bootstrap }, signal));
  facts.preflight = pre.lines;
  const fromArm = pre.facts.arm?.healthCheckPath ?? '';
  const path = cfg.healthPath !== '' ? cfg.healthPath : fromArm !== '' ? fromArm : '/';
  if (cfg.healthPath === '' && fromArm !== '') core.info(`Health path: ${fromArm}, the site's health check path in ARM.`);
  const health: HealthCheck = { path, statuses: cfg.healthStatus, stableChecks: STABLE_CHECKS };
  facts.healthPath = path;
  return { ...ctx, connection, kudu, health };
}

async function rollback(site: SiteContext): Promise<void> {
  const { cfg, kudu, stages, facts } = site;
  const result = await stages.run('Rollback', async () => {
    try {
      return await rollbackArtifact(kudu, cfg.rollbackTo);
    } catch (err) {
      if (!(err instanceof SiteChangedError)) throw err;
      throw new ActionError(`Another deploy changed ${ARTIFACT_FILE} while the rollback ran; nothing was changed. Run the rollback again once that deploy is done.`);
    }
  });
  site.state.live = { name: result.to, etag: result.etag };
  facts.previousArtifact = result.from;
  facts.artifactName = result.to;
  core.setOutput('previous-artifact', result.from);
  core.setOutput('artifact-name', result.to);
  const entry = new RecordWriter(
    kudu,
    {
      id: newEntryId(),
      kind: 'rollback',
      artifact: result.to,
      content: result.toEntry?.content ?? knownContent(result.record, result.to),
      commit: result.toEntry?.commit ?? '',
      from: result.from,
      run: runInfo(process.env),
      at: new Date().toISOString(),
      outcome: 'switched',
    },
    site.signal,
  );
  await entry.save();
  if (cfg.verify) await verifyOrRollBack(site, entry, { artifact: result.to, previous: result.from });
  await entry.publish(process.env);
}

/** A switch from one artifact to another, as verify and rollback see it. */
interface Switch {
  /** The artifact _artifact.txt names now. */
  artifact: string;
  /** What it named before ('' on a first deploy). */
  previous: string;
}

/** Verify with the health gate (`health`), or, going back to a version that served before, any answer from the app. */
function verifyServing(
  site: { kudu: KuduClient; connection: SiteConnection; signal: AbortSignal },
  change: Switch,
  instances: string[] | undefined,
  seconds: number,
  health?: HealthCheck,
) {
  return verifyDeployment(
    site.kudu,
    site.connection,
    { artifactName: change.artifact, previous: change.previous, timeoutSeconds: seconds, instances, health },
    site.signal,
  );
}

/**
 * The gate, then the watch window: the new version is good when it is healthy on every instance
 * and, with watch-seconds, stays so (same process, health checks passing) for that long. A
 * rollback's target served before: it only has to serve again, and is not watched.
 */
async function gateAndWatch(site: SiteContext, change: Switch, instances: string[] | undefined, seconds: number, isRollback: boolean, reserve: number): Promise<VerifyResult> {
  const { cfg, stages, facts, deadline } = site;
  const verified = await stages.run('Verify', () => verifyServing(site, change, instances, seconds, isRollback ? undefined : site.health));
  facts.verification = verified.detail;
  facts.instances = verified.instances;
  if (!verified.ok || isRollback || cfg.watchSeconds <= 0) return verified;
  core.info(verified.detail);
  // The watch never eats into the time auto-rollback needs before the deadline.
  const watchSeconds = Math.max(1, Math.min(cfg.watchSeconds, Math.floor(deadline.secondsLeft() - reserve)));
  if (watchSeconds < cfg.watchSeconds) core.info(`The watch lasts ${watchSeconds} s: the rest of timeout is kept for auto-rollback (${reserve} s).`);
  const watched = await stages.run('Watch', () =>
    watchDeployment(site.kudu, site.connection, { artifactName: change.artifact, instances: verified.instances, health: site.health, seconds: watchSeconds }, site.signal),
  );
  facts.verification = `${verified.detail}; ${watched.detail}`;
  return { ...verified, ok: watched.ok, detail: watched.ok ? `${verified.detail}; ${watched.detail}` : `${watched.detail} (it had been healthy: ${verified.detail})` };
}

/**
 * Waits for the new artifact to be healthy (the gate, then the watch), within the time left
 * before the deadline minus what auto-rollback needs. If it is not, and auto-rollback is on, points
 * _artifact.txt back at the previous artifact and waits for that to serve again; either way the
 * step then fails with what was seen. The record's entry says how it ended.
 */
async function verifyOrRollBack(site: SiteContext, entry: RecordWriter, change: Switch): Promise<void> {
  const { cfg, kudu, stages, facts, deadline } = site;
  const { artifact: name, previous } = change;
  const instances = await instancesOf(site);
  const reserve = cfg.autoRollback && previous !== '' ? rollbackReserveSeconds(cfg.timeoutSeconds) : 0;
  const budget = verifyBudgetSeconds(cfg.verifyTimeoutSeconds, deadline.secondsLeft(), reserve);
  if (budget < cfg.verifyTimeoutSeconds) core.info(`Verify waits at most ${budget} s: the rest of timeout is kept for auto-rollback (${reserve} s).`);
  site.state.unverified = { artifact: name, previous, record: entry };
  const verified = await gateAndWatch(site, change, instances, budget, entry.entry.kind === 'rollback', reserve);
  if (verified.ok) {
    site.state.unverified = undefined;
    core.info(verified.detail);
    await entry.save({ outcome: 'verified', instances: verified.instances.length, detail: verified.detail });
    return;
  }
  await showAppLog(site);
  let rollbackLine = 'auto-rollback is off, so _artifact.txt still names the new artifact.';
  if (cfg.autoRollback && previous !== '' && previous !== name) {
    const seconds = Math.max(5, Math.min(cfg.verifyTimeoutSeconds, Math.floor(deadline.secondsLeft() - 1)));
    rollbackLine = await stages.run('Auto-rollback', () => autoRollback(site, site.state, change, instances, seconds));
    site.state.unverified = undefined;
    facts.verification = `${verified.detail}; ${rollbackLine}`;
  } else {
    site.state.unverified = undefined;
    if (cfg.autoRollback) rollbackLine = 'there is no previous artifact to roll back to.';
    await entry.save({ outcome: 'failed', detail: verified.detail });
  }
  await entry.publish(process.env);
  const hints = notServingHints(name, cfg.goos).map((h) => `  - ${h}`).join('\n');
  const what = entry.entry.kind === 'rollback' ? 'The rolled-back version' : 'The new version';
  throw new ActionError(
    `${what} did not come up${entry.entry.kind === 'rollback' ? '' : ' healthy'}: ${verified.detail}.\n${rollbackLine[0].toUpperCase()}${rollbackLine.slice(1)}\n` +
      `The app's stdout log, if any, is in the "App log" group above.\nThings to check:\n${hints}`,
  );
}

/**
 * Points _artifact.txt back at `change.previous` (a compare-and-swap on this run's own switch, so
 * another deploy's later switch is never undone) and waits for it to serve. Records both the
 * failed version's outcome and the auto-rollback. Returns one line for the failure message.
 */
async function autoRollback(
  site: { kudu: KuduClient; connection: SiteConnection; signal: AbortSignal },
  state: SiteState,
  change: Switch,
  instances: string[] | undefined,
  seconds: number,
): Promise<string> {
  const { kudu } = site;
  const failed = state.unverified?.record;
  const { artifact: name, previous } = change;
  try {
    const etag = await switchArtifact(kudu, previous, state.live?.etag ?? '*');
    state.live = { name: previous, etag };
  } catch (err) {
    if (!(err instanceof SiteChangedError)) throw err;
    await failed?.save({ outcome: 'failed', detail: 'did not come up; another deploy changed _artifact.txt meanwhile, so it was not rolled back' });
    return `another deploy changed _artifact.txt meanwhile, so it was left as that deploy set it (no rollback).`;
  }
  await failed?.save({ outcome: 'rolled-back', detail: `did not come up; rolled back to ${previous}` });
  const back = await verifyServing(site, { artifact: previous, previous: name }, instances, seconds);
  const { record } = await readRecord(kudu).catch(() => ({ record: { version: 1 as const, entries: [] as DeployEntry[] } }));
  const earlier = whoSwitchedTo(record, previous);
  const rolled: DeployEntry = {
    id: newEntryId(),
    kind: 'auto-rollback',
    artifact: previous,
    content: knownContent(record, previous),
    commit: earlier?.commit ?? '',
    from: name,
    run: runInfo(process.env),
    at: new Date().toISOString(),
    outcome: back.ok ? 'verified' : 'failed',
    instances: back.ok ? back.instances.length : undefined,
    detail: back.detail,
  };
  await new RecordWriter(kudu, rolled, site.signal).save();
  await publishToKudu(kudu, rolled, process.env);
  return back.ok
    ? `rolled back: _artifact.txt names ${previous} again and it is serving.`
    : `rolled back _artifact.txt to ${previous}, but it is not serving either: ${back.detail}`;
}

/**
 * The deadline fired after this run switched and before the new version was verified: roll back
 * under a short grace period with a fresh signal, so a broken version is not left live.
 */
async function rollBackAfterDeadline(cfg: Config, connection: SiteConnection, state: SiteState, stages: StageLog, facts: DeployFacts): Promise<string> {
  const pending = state.unverified;
  if (pending === undefined) return '';
  if (pending.previous === '' || pending.previous === pending.artifact) {
    return `_artifact.txt names ${pending.artifact}, which was not verified, and there is no previous version to roll back to.`;
  }
  const grace = AbortSignal.timeout(ROLLBACK_GRACE_SECONDS * 1000);
  const kudu = new KuduClient(connection, grace, { attempts: 3 });
  const site = { kudu, connection, signal: grace };
  pending.record = new RecordWriter(kudu, pending.record.entry, grace);
  try {
    const line = await stages.run('Auto-rollback after the deadline', () =>
      autoRollback(site, state, { artifact: pending.artifact, previous: pending.previous }, undefined, ROLLBACK_GRACE_SECONDS - 5),
    );
    facts.verification = `${facts.verification ?? ''}; deadline: ${line}`;
    return `It had switched to ${pending.artifact} without verifying it; auto-rollback within a ${ROLLBACK_GRACE_SECONDS} s grace period: ${line}`;
  } catch (err) {
    return `It had switched to ${pending.artifact} without verifying it, and rolling back within ${ROLLBACK_GRACE_SECONDS} s failed: ${messageOf(err)}. _artifact.txt may still name ${pending.artifact}.`;
  }
}

/**
 * Prints the tail of the app's stdout log in its own log group (never inside the error annotation,
 * which GitHub shows on the run's page). On a public repository the log, which may hold secrets
 * the app printed, is shown only when show-app-log is true.
 */
async function showAppLog(site: SiteContext): Promise<void> {
  const mode = site.cfg.showAppLog;
  if (mode === 'false') return;
  if (mode === 'auto' && repositoryIsPublic(process.env)) {
    core.info(
      `The app's stdout log (under LogFiles/ in Kudu) is not shown: this repository is public and the log may hold secrets. Set show-app-log: true to show its tail here.`,
    );
    return;
  }
  const log = await tailOfStdoutLog(site.kudu);
  core.startGroup('App log');
  core.info(log !== '' ? log : 'No stdout log was found under LogFiles.');
  core.endGroup();
}

/** Whether the workflow's event payload says the repository is public; false when it cannot tell. */
export function repositoryIsPublic(env: NodeJS.ProcessEnv): boolean {
  const file = env.GITHUB_EVENT_PATH;
  if (!file) return false;
  try {
    const event = JSON.parse(fs.readFileSync(file, 'utf8')) as { repository?: { private?: unknown; visibility?: unknown } };
    return event.repository?.private === false || event.repository?.visibility === 'public';
  } catch {
    return false;
  }
}

/** Instance ids of a scaled-out site, from ARM; none (check whichever answers) without ARM. */
async function instancesOf(site: SiteContext): Promise<string[] | undefined> {
  const arm = site.connection.arm;
  if (arm === undefined) return undefined;
  try {
    return await arm.listInstances(site.signal);
  } catch (err) {
    core.warning(`Could not list the site's instances from ARM (${messageOf(err)}); verifying whichever instance answers.`);
    return undefined;
  }
}
