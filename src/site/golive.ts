// Going live, and coming back: the compare-and-swap switch, the health gate and the watch window,
// auto-rollback (also after the deadline), and rollback: true. Every outcome is written to the
// deploy record. See docs/ARCHITECTURE.md, "The deploy record" and "The health gate".

import * as fs from 'node:fs';
import * as core from '@actions/core';
import type { Config } from '../common/inputs.ts';
import { ActionError, messageOf } from '../common/errors.ts';
import { ROLLBACK_GRACE_SECONDS, rollbackReserveSeconds, verifyBudgetSeconds } from '../common/deadline.ts';
import type { StageLog, DeployFacts } from '../common/report.ts';
import type { SiteConnection } from '../signin/connection.ts';
import type { SiteContext, SiteState } from '../context.ts';
import { KuduClient } from './kudu.ts';
import { readLiveArtifact, switchArtifact, SiteChangedError } from './switch.ts';
import { verifyDeployment, watchDeployment, tailOfStdoutLog, notServingHints, type HealthCheck, type VerifyResult } from './verify.ts';
import { rollbackArtifact } from './rollback.ts';
import { newEntryId, publishToKudu, readRecord, RecordWriter, runInfo } from './history.ts';
import { describeRun, emptyRecord, knownContent, whoSwitchedTo, type DeployEntry } from './record.ts';
import { ARTIFACT_FILE } from './layout.ts';
import { writeIdentityKey } from './identity.ts';

/**
 * The compare-and-swap switch. When another deploy changed _artifact.txt since this run read it,
 * this run stops: it says what is live and which run put it there, and changes nothing more.
 */
export async function switchTo(site: SiteContext, entry: RecordWriter, name: string, live: { name: string; etag: string }): Promise<void> {
  // From before the write on: should the deadline fire once Kudu has taken it, and before verify
  // is done, rollBackAfterDeadline finds the file naming this artifact and rolls back.
  // The version the switch starts reads the key when it starts: written first.
  site.state.identityKey = await writeIdentityKey(site.kudu);
  if (site.cfg.verify) site.state.unverified = { artifact: name, previous: live.name, record: entry };
  try {
    const etag = await switchArtifact(site.kudu, name, live.etag);
    site.state.live = { name, etag };
  } catch (err) {
    if (err instanceof SiteChangedError) site.state.unverified = undefined;
    if (!(err instanceof SiteChangedError)) throw err;
    const now = await readLiveArtifact(site.kudu).catch(() => ({ name: '?', etag: '' }));
    const { record } = await readRecord(site.kudu).catch(() => ({ record: emptyRecord() }));
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

export async function rollBack(site: SiteContext): Promise<void> {
  const { cfg, kudu, stages, facts } = site;
  const result = await stages.run('Rollback', async () => {
    site.state.identityKey = await writeIdentityKey(kudu);
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
      content: result.toEntry?.content || knownContent(result.record, result.to),
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
export interface Switch {
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
  identityKey: string | undefined,
  health?: HealthCheck,
) {
  return verifyDeployment(
    site.kudu,
    site.connection,
    { artifactName: change.artifact, previous: change.previous, timeoutSeconds: seconds, instances, health, identityKey },
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
  const verified = await stages.run('Verify', () => verifyServing(site, change, instances, seconds, site.state.identityKey, isRollback ? undefined : site.health));
  facts.verification = verified.detail;
  facts.instances = verified.instances;
  if (!verified.ok || isRollback || cfg.watchSeconds <= 0) return verified;
  core.info(verified.detail);
  // The watch never eats into the time auto-rollback needs before the deadline.
  const watchSeconds = Math.max(1, Math.min(cfg.watchSeconds, Math.floor(deadline.secondsLeft() - reserve)));
  if (watchSeconds < cfg.watchSeconds) core.info(`The watch lasts ${watchSeconds} s: the rest of timeout is kept for auto-rollback (${reserve} s).`);
  const watched = await stages.run('Watch', () =>
    watchDeployment(site.kudu, site.connection, { artifactName: change.artifact, instances: verified.instances, health: site.health, seconds: watchSeconds, identityKey: site.state.identityKey }, site.signal),
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
export async function verifyOrRollBack(site: SiteContext, entry: RecordWriter, change: Switch): Promise<void> {
  const { cfg, stages, facts, deadline } = site;
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
  const signIn = verified.instances.some((i) => i.signIn === true);
  const hints = notServingHints(name, cfg.goos, signIn).map((h) => `  - ${h}`).join('\n');
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
    // The compare-and-swap is on this run's own switch: without its ETag, the file is read again,
    // and left alone unless it still names the version being rolled back.
    const live = state.live ?? (await readLiveArtifact(kudu));
    if (live.name.toLowerCase() !== name.toLowerCase()) throw new SiteChangedError(`${ARTIFACT_FILE} names ${live.name || '(nothing)'}, not ${name}.`, 412);
    const etag = await switchArtifact(kudu, previous, live.etag);
    state.live = { name: previous, etag };
  } catch (err) {
    if (!(err instanceof SiteChangedError)) throw err;
    await failed?.save({ outcome: 'failed', detail: 'did not come up; another deploy changed _artifact.txt meanwhile, so it was not rolled back' });
    return `another deploy changed _artifact.txt meanwhile, so it was left as that deploy set it (no rollback).`;
  }
  await failed?.save({ outcome: 'rolled-back', detail: `did not come up; rolled back to ${previous}` });
  const back = await verifyServing(site, { artifact: previous, previous: name }, instances, seconds, state.identityKey);
  const { record } = await readRecord(kudu).catch(() => ({ record: emptyRecord() }));
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
export async function rollBackAfterDeadline(cfg: Config, connection: SiteConnection, state: SiteState, stages: StageLog, facts: DeployFacts): Promise<string> {
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
    // The deadline may have cut the switch itself short: what the file names now decides.
    const live = await readLiveArtifact(kudu);
    if (live.name.toLowerCase() !== pending.artifact.toLowerCase()) {
      return `_artifact.txt names ${live.name || '(nothing)'}, not ${pending.artifact}: this run's switch did not take effect or another deploy changed it since, so there is nothing to roll back.`;
    }
    state.live = live;
  } catch (err) {
    return `It may have switched to ${pending.artifact} without verifying it, and reading _artifact.txt within the ${ROLLBACK_GRACE_SECONDS} s grace period failed: ${messageOf(err)}. Check what it names, and run the deploy with rollback: true if it names ${pending.artifact}.`;
  }
  try {
    const line = await stages.run('Auto-rollback after the deadline', () =>
      autoRollback(site, state, { artifact: pending.artifact, previous: pending.previous }, undefined, ROLLBACK_GRACE_SECONDS - 5),
    );
    facts.verification = `${facts.verification ?? ''}; deadline: ${line}`;
    return `It had switched to ${pending.artifact} without verifying it; auto-rollback within a ${ROLLBACK_GRACE_SECONDS} s grace period: ${line}`;
  } catch (err) {
    const names = state.live?.name ?? pending.artifact;
    return (
      `It had switched to ${pending.artifact} without verifying it, and rolling back within ${ROLLBACK_GRACE_SECONDS} s failed: ${messageOf(err)}. ` +
      `_artifact.txt names ${names}${names === pending.previous ? ', the previous version, which was not verified serving again' : ''}; run the deploy with rollback: true (or rollback-to) to go back to a version that served.`
    );
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
      `The app's stdout log (under LogFiles/ in Kudu) is not shown: this repository is public, or the event payload does not say it is private, and the log may hold secrets. Set show-app-log: true to show its tail here.`,
    );
    return;
  }
  const log = await tailOfStdoutLog(site.kudu);
  core.startGroup('App log');
  core.info(log !== '' ? log : 'No stdout log was found under LogFiles.');
  core.endGroup();
}

/**
 * Whether the app log must be taken for public: true unless the workflow's event payload says the
 * repository is private (`repository.private`, or `visibility` private or internal). A payload
 * that is missing, unreadable or silent counts as public: the log is then hidden, not published.
 */
export function repositoryIsPublic(env: NodeJS.ProcessEnv): boolean {
  const file = env.GITHUB_EVENT_PATH;
  if (!file) return true;
  try {
    const event = JSON.parse(fs.readFileSync(file, 'utf8')) as { repository?: { private?: unknown; visibility?: unknown } } | null;
    const repo = event?.repository;
    if (repo?.private === false || repo?.visibility === 'public') return true;
    return !(repo?.private === true || repo?.visibility === 'private' || repo?.visibility === 'internal');
  } catch {
    return true;
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
