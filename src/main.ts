// The pipeline: the stages of docs/ARCHITECTURE.md, "The flow", in order, data flowing one way.
// Each stage lives in its own module (the artifact: src/artifact/make.ts; going live and coming
// back: src/site/golive.ts); this file only wires them, sets outputs and turns failures into one
// clear message.

import * as path from 'node:path';
import * as core from '@actions/core';
import { parseInputs, secretValues, type Config } from './common/inputs.ts';
import { ActionError, DeployCancelledError, DeployTimeoutError, messageOf } from './common/errors.ts';
import { watchForCancel, type CancelWatch } from './common/cancel.ts';
import { unsupportedRunner } from './common/runner.ts';
import { Deadline } from './common/deadline.ts';
import { StageLog, writeSummary, uploadProgressLogger, type DeployFacts } from './common/report.ts';
import type { DeployContext, SiteContext, SiteState } from './context.ts';
import { buildHere, buildPackage, checkPackage, packageBuilt } from './artifact/make.ts';
import { connectToSite } from './signin/signin.ts';
import type { SiteConnection } from './signin/connection.ts';
import { swapSlots } from './signin/swap.ts';
import { KuduClient, isDirectory } from './site/kudu.ts';
import { runPreflight } from './site/preflight.ts';
import { readLiveArtifact } from './site/switch.ts';
import { uploadArtifact } from './site/upload.ts';
import { bootstrapSite } from './site/bootstrap.ts';
import { rollBack, undoUnverifiedSwitch, switchTo, verifyOrRollBack } from './site/golive.ts';
import { removeStalePointers, runCanary, undoCanary } from './site/canary.ts';
import { savedSiteState } from './post.ts';
import { pruneArtifacts, pruneRequest } from './site/prune.ts';
import { planDeploy } from './site/plan.ts';
import { newEntryId, readRecord, RecordWriter, runInfo } from './site/history.ts';
import { Release } from './site/release.ts';
import { chooseArtifactName, choosePackagedName, goingBackwards } from './site/record.ts';
import { ARTIFACTS_DIR, ARTIFACT_FILE } from './site/layout.ts';
import { healthPathFor, type HealthCheck } from './site/verify.ts';
import { redactQuery } from './common/redact.ts';
import { readIdentityKey } from './site/identity.ts';

/** Runs the action: reads inputs, deploys, and reports. Never throws. */
export async function run(): Promise<void> {
  const cancel = watchForCancel();
  try {
    await runWith(cancel);
  } finally {
    cancel.stop();
  }
}

async function runWith(cancel: CancelWatch): Promise<void> {
  maskSecretInputs();
  const runner = unsupportedRunner(process.env);
  if (runner !== undefined) {
    fail(new ActionError(runner));
    return;
  }
  let cfg: Config;
  try {
    cfg = parseInputs((name) => core.getInput(name), process.env, process.cwd(), (message) => core.warning(message));
  } catch (err) {
    fail(err);
    return;
  }
  const stages = new StageLog();
  const facts: DeployFacts = { appName: cfg.appName, slotName: cfg.slotName, commit: cfg.commit };
  // One clock for the stages, verify's budget and the auto-rollback after it fires; a cancel
  // aborts the same signal.
  const deadline = new Deadline(cfg.timeoutSeconds, stages, cancel.signal);
  // Saved for the post entry as it changes (src/post.ts): a run killed before it could undo its
  // unverified switch is finished there.
  const state: SiteState = savedSiteState(() => ctx.connection?.kuduUrl);
  const ctx: DeployContext = { cfg, signal: deadline.signal, stages, facts, deadline, state };
  try {
    await deadline.run(() => deploy(ctx));
    await writeSummary(facts, stages, cfg.buildOnly ? 'built' : cfg.dryRun ? 'dry run' : cfg.rollback ? 'rolled back' : 'deployed');
  } catch (err) {
    let final = err;
    const { connection } = ctx;
    if (err instanceof DeployCancelledError) {
      facts.cancel = await afterCancel(cfg, connection, state, stages, facts, cancel);
      core.info(facts.cancel);
      await writeSummary(facts, stages, 'cancelled');
      fail(new DeployCancelledError(`${err.message} ${facts.cancel}`));
      return;
    }
    if (err instanceof DeployTimeoutError && state.canary !== undefined && connection !== undefined) {
      let line = await undoCanary(connection, state, 'deadline', deadline.graceMs());
      // Cut short between the promotion's switch and the pointer's removal: that switch is undone too, as after a cancel.
      if (state.unverified !== undefined && cfg.autoRollback) line += `\n${(await undoUnverifiedSwitch(connection, state, stages, facts, 'deadline', deadline.graceMs())).line}`;
      final = new DeployTimeoutError(`${err.message}\n${line}`);
    } else if (state.unverified !== undefined && connection !== undefined && cfg.autoRollback) {
      // Any failure between the switch and its verification (the deadline, a Kudu error the
      // auto-rollback could not get past) takes the same way back: _artifact.txt never stays on
      // a version nobody verified.
      const { line } = await undoUnverifiedSwitch(connection, state, stages, facts, 'deadline', deadline.graceMs());
      if (err instanceof DeployTimeoutError) final = new DeployTimeoutError(`${err.message}\n${line}`);
      else if (err instanceof ActionError) final = new ActionError(`${err.message}\n${line}`);
      else core.info(line);
    }
    await writeSummary(facts, stages, 'failed');
    fail(final);
  }
}

/**
 * What a cancel does, by where the deploy got to: before the switch, nothing more (an upload in
 * flight is abandoned, and prune removes it later); after the switch and before verification, the
 * switch is undone within the time the runner leaves before it kills the step; a verified version
 * stays live. Returns the line for the log and the summary.
 */
async function afterCancel(cfg: Config, connection: SiteConnection | undefined, state: SiteState, stages: StageLog, facts: DeployFacts, cancel: CancelWatch): Promise<string> {
  if (state.canary !== undefined && connection !== undefined) {
    const line = await undoCanary(connection, state, 'cancel', cancel.msLeft());
    // Cut short between the promotion's switch and the pointer's removal: that switch is undone too.
    if (state.unverified === undefined) return line;
    return `${line} ${(await undoUnverifiedSwitch(connection, state, stages, facts, 'cancel', cancel.msLeft())).line}`;
  }
  if (state.unverified !== undefined && connection !== undefined) {
    return (await undoUnverifiedSwitch(connection, state, stages, facts, 'cancel', cancel.msLeft())).line;
  }
  const live = state.live?.name;
  if (live !== undefined && live !== '' && facts.artifactName !== undefined && live.toLowerCase() === facts.artifactName.toLowerCase()) {
    return `Cancelled after ${cfg.verify ? `${live} was verified` : `the switch (verify is off)`}: ${live} stays live; nothing was undone.`;
  }
  return `Cancelled before the switch: nothing on the site was changed.`;
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

/** Consecutive healthy answers an instance must give before it counts as healthy. */
const STABLE_CHECKS = 3;

async function deploy(ctx: DeployContext): Promise<void> {
  const { cfg, signal, stages, facts } = ctx;
  if (cfg.rollback) {
    await rollBack(await signIn(ctx));
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
          `To deploy it anyway set allow-older: true; to go back to a version that served, use rollback: previous, or rollback: <version> to name one.`,
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
      planDeploy(kudu, { artifactName: name, pkg, previous: live.name, keep: cfg.keep, bootstrap: cfg.bootstrap, alreadyThere, record }),
    );
    facts.dryRunPlan = plan;
    for (const line of plan) core.info(`would: ${line}`);
    core.notice('Dry run: nothing on the site was changed.');
    return;
  }

  // An instance's own pointer left by a canary that was killed would keep that instance on its
  // version whatever this deploy switches to.
  await removeStalePointers(kudu);

  // Recorded before the first byte is sent: an upload cut short leaves a name and content hash the
  // next run can upload again (record.ts, unfinishedUpload), and prune leaves it while in flight.
  const release = new Release(
    new RecordWriter(
      kudu,
      { id: newEntryId(), kind: 'deploy', artifact: name, content, commit: cfg.commit, from: live.name, run, at: new Date().toISOString(), outcome: 'uploading', ...(prebuilt ? { source: 'package' as const, manifest: prebuilt.manifestSha256 } : {}) },
      signal,
    ),
    ctx.state,
  );
  await release.begin();
  const uploaded = await stages.run('Upload', () =>
    uploadArtifact(kudu, pkg, name, { onProgress: uploadProgressLogger(pkg.zipSize), alreadyThere }),
  );
  facts.uploadSkipped = uploaded.skipped;
  await release.uploaded();
  if (cfg.bootstrap) await stages.run('Bootstrap', () => bootstrapSite(kudu));

  if (live.name === name) {
    core.info(`_artifact.txt already names ${name}; nothing to switch.`);
    await release.switched(live);
    // No new process starts: verify identifies the running one with the key it started with.
    ctx.state.identityKey = await readIdentityKey(kudu);
  } else if (cfg.canary && (await runCanary(site, release, live))) {
    // The canary passed and was promoted: _artifact.txt names the release, and the gate below runs on every instance.
  } else {
    await release.switched(await stages.run('Switch', () => switchTo(site, release, live)));
  }

  if (cfg.verify) await verifyOrRollBack(site, release, { artifact: name, previous: live.name });
  await release.publish(process.env);

  const pruned = await stages.run('Prune', async () => {
    // Another deploy's upload, not switched to yet, is never pruned under it.
    const now = await readRecord(kudu).catch(() => ({ record }));
    return pruneArtifacts(kudu, pruneRequest(now.record, cfg.keep, name, live.name), signal);
  });
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
  const { cfg, stages, signal, facts } = ctx;
  const connection = await stages.run('Sign in', () => connectToSite(cfg, signal));
  facts.webappUrl = connection.webappUrl;
  ctx.connection = connection;
  core.setOutput('webapp-url', connection.webappUrl);
  const kudu = new KuduClient(connection, signal);
  // Before anything changes, and in a dry run too: a site this action cannot work with is refused here.
  const label = cfg.slotName === 'production' ? cfg.appName : `${cfg.appName}/${cfg.slotName}`;
  const pre = await stages.run('Preflight', () =>
    runPreflight(kudu, connection, label, { bootstrap: cfg.bootstrap, verify: cfg.verify, healthPath: cfg.healthPath }, signal),
  );
  facts.preflight = pre.lines;
  const fromArm = pre.facts.arm?.healthCheckPath ?? '';
  const path = healthPathFor(cfg.healthPath, fromArm);
  if (cfg.healthPath === '' && fromArm !== '') core.info(`Health path: ${redactQuery(fromArm)}, the site's health check path in ARM.`);
  const health: HealthCheck = { path, statuses: cfg.healthStatus, stableChecks: STABLE_CHECKS };
  // Shown in the summary: with its query values redacted (src/common/redact.ts).
  facts.healthPath = redactQuery(path);
  return { ...ctx, connection, kudu, health };
}
