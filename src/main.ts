// The pipeline: the stages of docs/ARCHITECTURE.md, "The flow", in order, data flowing one way. Each stage lives in its
// own module; this file only wires them, sets outputs and turns failures into one clear message.

import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as core from '@actions/core';
import { parseInputs, type Config } from './common/inputs.ts';
import { ActionError, DeployTimeoutError, messageOf } from './common/errors.ts';
import { setupGo } from './toolchain/install.ts';
import { buildBinary } from './build/compile.ts';
import { restoreGoCache, saveGoCache, needsSave, type GoCacheRequest, type GoCacheState } from './build/gocache.ts';
import { artifactName } from './build/name.ts';
import { packageArtifact } from './build/pack.ts';
import { connectToSite } from './signin/signin.ts';
import type { SiteConnection } from './signin/connection.ts';
import { KuduClient } from './site/kudu.ts';
import { uploadArtifact } from './site/upload.ts';
import { bootstrapSite } from './site/bootstrap.ts';
import { readCurrentArtifact, switchArtifact } from './site/switch.ts';
import { verifyDeployment, tailOfStdoutLog, notServingHints } from './site/verify.ts';
import { pruneArtifacts } from './site/prune.ts';
import { rollbackArtifact } from './site/rollback.ts';
import { planDeploy } from './site/plan.ts';
import { swapSlots } from './signin/swap.ts';
import { StageLog, writeSummary, uploadProgressLogger, type DeployFacts } from './common/report.ts';

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
  try {
    await withDeadline(cfg.timeoutSeconds, stages, (signal) => deploy({ cfg, signal, stages, facts }));
    await writeSummary(facts, stages, cfg.dryRun ? 'dry run' : cfg.rollback ? 'rolled back' : 'deployed');
  } catch (err) {
    await writeSummary(facts, stages, 'failed');
    fail(err);
  }
}

/** Secrets must be masked before anything can log them. */
function maskSecretInputs(): void {
  for (const name of ['publish-profile', 'client-secret']) {
    const value = core.getInput(name);
    if (value !== '') core.setSecret(value);
  }
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
 * that happens even if a stage ignores the signal: the whole deploy never outlives `timeout`.
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
 * What every stage after sign-in works with: the inputs, the deploy's abort signal, the stage log
 * and the facts that end up in the outputs and the summary, and, once signed in, the site.
 */
interface DeployContext {
  cfg: Config;
  signal: AbortSignal;
  stages: StageLog;
  facts: DeployFacts;
}

interface SiteContext extends DeployContext {
  connection: SiteConnection;
  kudu: KuduClient;
}

async function deploy(ctx: DeployContext): Promise<void> {
  const { cfg, signal, stages, facts } = ctx;
  if (cfg.rollback) {
    await rollback(await signIn(ctx));
    return;
  }

  const prefixInput = core.getInput('artifact-prefix') !== '' ? 'artifact-prefix' : 'app-name';
  const name = artifactName(cfg.artifactPrefix, cfg.commit, cfg.goos, prefixInput);
  facts.artifactName = name;
  core.setOutput('artifact-name', name);

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
        outputPath: path.join(workDir, name),
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

  const pkg = await stages.run('Package', () =>
    packageArtifact({
      binaryPath: built.binaryPath,
      artifactName: name,
      workingDirectory: cfg.workingDirectory,
      include: cfg.include,
      outputPath: path.join(workDir, `${name}.zip`),
    }),
  );
  facts.zipSize = pkg.zipSize;

  const site = await signIn(ctx);
  const { kudu } = site;
  const previous = await stages.run('Read the site', () => readCurrentArtifact(kudu));
  facts.previousArtifact = previous;
  core.setOutput('previous-artifact', previous);

  if (cfg.dryRun) {
    const plan = await stages.run('Dry run', () =>
      planDeploy(kudu, { artifactName: name, pkg, previous, keep: cfg.keep, bootstrap: cfg.bootstrap }),
    );
    facts.dryRunPlan = plan;
    for (const line of plan) core.info(`would: ${line}`);
    core.notice('Dry run: nothing on the site was changed.');
    return;
  }

  const uploaded = await stages.run('Upload', () =>
    uploadArtifact(kudu, pkg, name, { onProgress: uploadProgressLogger(pkg.zipSize) }),
  );
  facts.uploadSkipped = uploaded.skipped;
  if (cfg.bootstrap) await stages.run('Bootstrap', () => bootstrapSite(kudu));

  if (previous === name) {
    core.info(`_artifact.txt already names ${name}; nothing to switch.`);
  } else {
    await stages.run('Switch', () => switchArtifact(kudu, name));
  }

  if (cfg.verify) await verifyOrRollBack(site, { artifact: name, previous });

  const pruned = await stages.run('Prune', () =>
    pruneArtifacts(kudu, { keep: cfg.keep, current: name, previous }, signal),
  );
  facts.pruned = pruned.deleted;
  facts.pruneSkipped = pruned.skipped;

  if (cfg.swapSlot !== '') {
    if (!cfg.verify) core.warning(`verify is off: swapping ${cfg.slotName} into ${cfg.swapSlot} without checking the new version serves.`);
    const swapped = await stages.run('Swap', () => swapSlots(cfg, site.connection, signal));
    core.info(`Swapped ${cfg.slotName} into ${cfg.swapSlot}: ${swapped.swappedIntoUrl}`);
  }
}

/** Signs in to the site: from here on the stages reach it through one Kudu client. */
async function signIn(ctx: DeployContext): Promise<SiteContext> {
  const connection = await ctx.stages.run('Sign in', () => connectToSite(ctx.cfg, ctx.signal));
  ctx.facts.webappUrl = connection.webappUrl;
  core.setOutput('webapp-url', connection.webappUrl);
  return { ...ctx, connection, kudu: new KuduClient(connection, ctx.signal) };
}

async function rollback(site: SiteContext): Promise<void> {
  const { cfg, kudu, stages, facts } = site;
  const result = await stages.run('Rollback', () => rollbackArtifact(kudu));
  facts.previousArtifact = result.from;
  facts.artifactName = result.to;
  core.setOutput('previous-artifact', result.from);
  core.setOutput('artifact-name', result.to);
  if (cfg.verify) {
    const instances = await instancesOf(site);
    const verified = await stages.run('Verify', () => verifyServing(site, { artifact: result.to, previous: result.from }, instances));
    facts.verification = verified.detail;
    facts.instances = verified.instances;
    if (!verified.ok) throw new ActionError(`The rolled-back version did not come up: ${verified.detail}`);
  }
}

/** A switch from one artifact to another, as verify and rollback see it. */
interface Switch {
  /** The artifact _artifact.txt names now. */
  artifact: string;
  /** What it named before ('' on a first deploy). */
  previous: string;
}

function verifyServing(site: SiteContext, change: Switch, instances: string[] | undefined) {
  return verifyDeployment(
    site.kudu,
    site.connection,
    { artifactName: change.artifact, previous: change.previous, timeoutSeconds: site.cfg.verifyTimeoutSeconds, instances },
    site.signal,
  );
}

/**
 * Waits for the new artifact to serve. If it does not, and auto-rollback is on, points
 * _artifact.txt back at the previous artifact and waits for that to serve again; either way the
 * step then fails with what was seen.
 */
async function verifyOrRollBack(site: SiteContext, change: Switch): Promise<void> {
  const { cfg, kudu, stages, facts } = site;
  const { artifact: name, previous } = change;
  const instances = await instancesOf(site);
  const verified = await stages.run('Verify', () => verifyServing(site, change, instances));
  facts.verification = verified.detail;
  facts.instances = verified.instances;
  if (verified.ok) {
    core.info(verified.detail);
    return;
  }
  const log = await tailOfStdoutLog(kudu);
  let rollbackLine = 'auto-rollback is off, so _artifact.txt still names the new artifact.';
  if (cfg.autoRollback && previous !== '' && previous !== name) {
    rollbackLine = await stages.run('Auto-rollback', async () => {
      await switchArtifact(kudu, previous);
      const back = await verifyServing(site, { artifact: previous, previous: name }, instances);
      return back.ok
        ? `rolled back: _artifact.txt names ${previous} again and it is serving.`
        : `rolled back _artifact.txt to ${previous}, but it is not serving either: ${back.detail}`;
    });
    facts.verification = `${verified.detail}; ${rollbackLine}`;
  } else if (cfg.autoRollback) {
    rollbackLine = 'there is no previous artifact to roll back to.';
  }
  const hints = notServingHints(name, cfg.goos).map((h) => `  - ${h}`).join('\n');
  throw new ActionError(
    `The new version did not come up: ${verified.detail}.\n${rollbackLine[0].toUpperCase()}${rollbackLine.slice(1)}\n` +
      (log ? `${log}\n` : 'No stdout log was found under LogFiles.\n') +
      `Things to check:\n${hints}`,
  );
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
