// Going live, and coming back: the compare-and-swap switch, the health gate and the watch window,
// auto-rollback (also after the deadline, on a cancel, and in the post entry), and rollback: previous.
// Every outcome is written to the deploy record. See docs/ARCHITECTURE.md, "The deploy record",
// "The health gate" and "A cancelled run".

import * as fs from 'node:fs';
import * as core from '@actions/core';
import { ActionError, messageOf } from '../common/errors.ts';
import { ROLLBACK_GRACE_SECONDS, rollbackReserveSeconds, verifyBudgetSeconds } from '../common/deadline.ts';
import type { StageLog, DeployFacts } from '../common/report.ts';
import type { SiteConnection } from '../signin/connection.ts';
import type { SiteContext, SiteState } from '../context.ts';
import { KuduClient } from './kudu.ts';
import { readLiveArtifact, switchArtifact, switchBack, SiteChangedError } from './switch.ts';
import { verifyDeployment, watchDeployment, tailOfStdoutLog, notServingHints, type HealthCheck, type VerifyResult } from './verify.ts';
import { rollbackArtifact } from './rollback.ts';
import { newEntryId, publishToKudu, readRecord, RecordWriter, runInfo } from './history.ts';
import { Release } from './release.ts';
import { describeRun, emptyRecord, knownContent, whoSwitchedTo, type DeployEntry } from './record.ts';
import { ARTIFACT_FILE, artifactStem } from './layout.ts';
import { writeIdentityKey } from './identity.ts';

/**
 * The compare-and-swap switch; returns what _artifact.txt names now, for release.switched. When
 * another deploy changed _artifact.txt since this run read it, this run stops: it says what is live
 * and which run put it there, and changes nothing more.
 */
export async function switchTo(site: SiteContext, release: Release, live: { name: string; etag: string }): Promise<{ name: string; etag: string }> {
  const name = release.entry.artifact;
  // From before the write on: should the deadline fire or the run be cancelled once Kudu has
  // taken it, and before verify is done, undoUnverifiedSwitch finds the file naming this artifact.
  // The version the switch starts reads the key when it starts: written first.
  site.state.identityKey = await writeIdentityKey(site.kudu);
  if (site.cfg.verify) release.unverified(live.name);
  try {
    const etag = await switchArtifact(site.kudu, name, live.etag, { fallback: live.name || name });
    return { name, etag };
  } catch (err) {
    if (!(err instanceof SiteChangedError)) throw err;
    release.settled();
    const now = await readLiveArtifact(site.kudu).catch(() => ({ name: '?', etag: '' }));
    const { record } = await readRecord(site.kudu).catch(() => ({ record: emptyRecord() }));
    const who = whoSwitchedTo(record, now.name);
    const detail = `switch refused: another deploy changed ${ARTIFACT_FILE} to ${now.name || '(nothing)'} while this run was deploying`;
    await release.failed(detail);
    await release.publish(process.env);
    throw new ActionError(
      `Another deploy changed the site while this one ran: ${ARTIFACT_FILE} named ${live.name || '(nothing)'} when this run read it and names ` +
        `${now.name || '(nothing)'} now, put there by ${who !== undefined ? describeRun(who) : 'a deploy the record does not know'}. ` +
        `This run changed nothing more: ${name} was uploaded but not switched to; no prune, no rollback. ` +
        `Serialise deploys to this site with a concurrency group in the workflow (see docs/lifecycle.md, "Deploys that overlap").`,
    );
  }
}

export async function rollBack(site: SiteContext): Promise<void> {
  const { cfg, kudu, stages, facts } = site;
  const result = await stages.run('Rollback', async () => {
    try {
      return await rollbackArtifact(kudu, cfg.rollbackTo, async () => {
        site.state.identityKey = await writeIdentityKey(kudu);
      });
    } catch (err) {
      if (!(err instanceof SiteChangedError)) throw err;
      throw new ActionError(`Another deploy changed ${ARTIFACT_FILE} while the rollback ran; nothing was changed. Run the rollback again once that deploy is done.`);
    }
  });
  facts.previousArtifact = result.from;
  facts.artifactName = result.to;
  core.setOutput('previous-artifact', result.from);
  core.setOutput('artifact-name', result.to);
  const release = new Release(
    new RecordWriter(
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
    ),
    site.state,
  );
  release.seen({ name: result.to, etag: result.etag });
  await release.begin();
  if (cfg.verify) await verifyOrRollBack(site, release, { artifact: result.to, previous: result.from });
  await release.publish(process.env);
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
  if (watchSeconds < cfg.watchSeconds) core.info(`The watch lasts ${watchSeconds} s: the rest of timeout-seconds is kept for auto-rollback (${reserve} s).`);
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
export async function verifyOrRollBack(site: SiteContext, release: Release, change: Switch): Promise<void> {
  const { cfg, stages, facts, deadline } = site;
  const { artifact: name, previous } = change;
  const instances = await instancesOf(site);
  const reserve = cfg.autoRollback && previous !== '' ? rollbackReserveSeconds(cfg.timeoutSeconds) : 0;
  const budget = verifyBudgetSeconds(cfg.verifyTimeoutSeconds, deadline.secondsLeft(), reserve);
  if (budget < cfg.verifyTimeoutSeconds) core.info(`Verify waits at most ${budget} s: the rest of timeout-seconds is kept for auto-rollback (${reserve} s).`);
  release.unverified(previous);
  const isRollback = release.entry.kind === 'rollback';
  const verified = await gateAndWatch(site, change, instances, budget, isRollback, reserve);
  if (verified.ok) {
    core.info(verified.detail);
    await release.verified(verified.detail, verified.instances.length);
    return;
  }
  await showAppLog(site);
  let rollbackLine = 'auto-rollback is off, so _artifact.txt still names the new artifact.';
  if (cfg.autoRollback && previous !== '' && previous !== name) {
    const seconds = Math.max(5, Math.min(cfg.verifyTimeoutSeconds, Math.floor(deadline.secondsLeft() - 1)));
    rollbackLine = await stages.run('Auto-rollback', () => autoRollback(site, release, change, instances, seconds));
    release.settled();
    facts.verification = `${verified.detail}; ${rollbackLine}`;
  } else {
    release.settled();
    if (cfg.autoRollback) rollbackLine = 'there is no previous artifact to roll back to.';
    await release.failed(verified.detail);
  }
  await release.publish(process.env);
  const signIn = verified.instances.some((i) => i.signIn === true);
  const hints = notServingHints(name, cfg.goos, signIn, verified.identifiedBy === 'processes').map((h) => `  - ${h}`).join('\n');
  const what = isRollback ? 'The rolled-back version' : 'The new version';
  throw new ActionError(
    `${what} did not come up${isRollback ? '' : ' healthy'}: ${verified.detail}.\n${rollbackLine[0].toUpperCase()}${rollbackLine.slice(1)}\n` +
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
  failed: Release,
  change: Switch,
  instances: string[] | undefined,
  seconds: number,
  /** Why the failed version is switched back, when a cancel does it: its entry ends `cancelled` with this detail. */
  cancelled?: string,
): Promise<string> {
  const { kudu } = site;
  const { live } = failed.site;
  const { artifact: name, previous } = change;
  try {
    // The compare-and-swap is on this run's own switch: without its ETag, the file is read again,
    // and left alone unless it still names the version being rolled back.
    const own = live !== undefined && live.name.toLowerCase() === name.toLowerCase() ? live.etag : undefined;
    const etag = await switchBack(kudu, { from: name, to: previous, etag: own });
    failed.seen({ name: previous, etag });
  } catch (err) {
    if (!(err instanceof SiteChangedError)) throw err;
    await failed.failed('did not come up; another deploy changed _artifact.txt meanwhile, so it was not rolled back');
    return `another deploy changed _artifact.txt meanwhile, so it was left as that deploy set it (no rollback).`;
  }
  if (cancelled !== undefined) await failed.cancelled(cancelled);
  else await failed.rolledBack(`did not come up; rolled back to ${previous}`);
  const back = await serveAfterSwitchBack(site, { artifact: previous, previous: name }, instances, seconds, failed.site.identityKey);
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
    ? `rolled back: _artifact.txt names ${previous} again and it is serving${back.stopped.length > 0 ? ` (${stoppedLine(name, back.stopped)})` : ''}.`
    : `rolled back _artifact.txt to ${previous}, but it is not serving either: ${back.detail}`;
}

/**
 * Seconds a failed version gets, after _artifact.txt names the previous one again, to exit by
 * itself before its process is stopped: goazure notices the change within its poll interval (1 s)
 * and hands over, so a release that links it is gone long before.
 */
const STUCK_GRACE_SECONDS = 10;

/**
 * Waits up to `seconds` for the version switched back to to serve. Switching back only changes
 * which binary the launcher starts next: a failed version that does not link goazure, or hangs,
 * keeps running and answering, and IIS never starts another. So when the previous version does not
 * serve within a grace period and the failed one still runs, its processes are stopped through
 * Kudu's process API on every instance, and the next request makes IIS start the version
 * _artifact.txt names. `stopped` lists what was stopped, for the log and the failure message.
 */
async function serveAfterSwitchBack(
  site: { kudu: KuduClient; connection: SiteConnection; signal: AbortSignal },
  back: Switch,
  instances: string[] | undefined,
  seconds: number,
  identityKey: string | undefined,
): Promise<VerifyResult & { stopped: string[] }> {
  const started = performance.now();
  const grace = Math.max(1, Math.min(STUCK_GRACE_SECONDS, Math.floor(seconds / 2)));
  const first = await verifyServing(site, back, instances, grace, identityKey);
  if (first.ok) return { ...first, stopped: [] };
  const stopped = await stopFailedProcesses(site.kudu, back.previous, instances, site.signal);
  if (stopped.length > 0) core.warning(`${stoppedLine(back.previous, stopped)}, so that IIS starts ${back.artifact}.`);
  const left = Math.max(1, Math.floor(seconds - (performance.now() - started) / 1000));
  const again = await verifyServing(site, back, instances, left, identityKey);
  return { ...again, detail: stopped.length > 0 ? `${stoppedLine(back.previous, stopped)}; ${again.detail}` : again.detail, stopped };
}

/** For messages: which processes of the failed version were stopped, and why. */
function stoppedLine(failed: string, stopped: string[]): string {
  return `${failed} kept running after the switch back (it does not link goazure, or it hangs): its process ${stopped.join(', ')} was stopped through Kudu's process API`;
}

/** Stops every process of `artifact` on each instance (whichever answers without instances); what was stopped. */
async function stopFailedProcesses(kudu: KuduClient, artifact: string, instances: string[] | undefined, signal: AbortSignal): Promise<string[]> {
  const stopped: string[] = [];
  for (const instance of instances && instances.length > 0 ? instances : ['']) {
    try {
      const running = (await kudu.processes(instance || undefined)).filter((p) => artifactStem(p.name).toLowerCase() === artifactStem(artifact).toLowerCase());
      for (const p of running) {
        if ((await kudu.killProcess(p.id, instance || undefined)) === 'killed') stopped.push(`${p.id}${instance ? ` on instance ${instance}` : ''}`);
      }
    } catch (err) {
      if (signal.aborted) throw err;
      core.warning(`Could not stop ${artifact}'s process${instance ? ` on instance ${instance}` : ''} through Kudu (${messageOf(err)}).`);
    }
  }
  return stopped;
}

/**
 * Why this run's switch is undone before the new version was verified: the deadline fired
 * (src/main.ts), the run was cancelled (src/main.ts, on the runner's SIGINT or SIGTERM, see
 * src/common/cancel.ts), or the main step was killed before it could finish and the post entry
 * (src/post.ts) takes over.
 */
type UndoCause = 'deadline' | 'cancel' | 'post';

interface UndoResult {
  line: string;
  /** _artifact.txt may still name the unverified version: nothing could be switched back. */
  stillLive: boolean;
}

/**
 * The one way back from this run's unverified switch, shared by the deadline, the cancel and the
 * post entry: with a fresh signal that ends after `withinMs` (the deploy's own has fired, or this is
 * another process), reads _artifact.txt, and when it still names this run's artifact (with the ETag
 * this run got, when it knows one), points it back at the previous version with autoRollback's
 * compare-and-swap, then waits for that to serve in the time left. The switch back comes first.
 * Returns one line saying what was done.
 */
export async function undoUnverifiedSwitch(
  connection: SiteConnection,
  state: SiteState,
  stages: StageLog,
  facts: DeployFacts,
  cause: UndoCause,
  withinMs: number,
): Promise<UndoResult> {
  const result = await undo(connection, state, stages, facts, cause, withinMs);
  // Nothing of this run's is left to undo (for the post entry, src/post.ts, too).
  if (!result.stillLive) state.unverified?.release.settled();
  return result;
}

async function undo(connection: SiteConnection, state: SiteState, stages: StageLog, facts: DeployFacts, cause: UndoCause, withinMs: number): Promise<UndoResult> {
  const started = performance.now();
  const pending = state.unverified;
  if (pending === undefined) return { line: '', stillLive: false };
  const deadline = cause === 'deadline';
  const it = deadline ? 'It' : 'Cancelled after the switch: it';
  if (same(pending.previous, pending.artifact)) {
    return { line: `${deadline ? '' : 'Cancelled before verification: '}${ARTIFACT_FILE} named ${pending.artifact} before this run, which did not change it: nothing to switch back.`, stillLive: false };
  }
  if (pending.previous === '') {
    return { line: `${it} had switched to ${pending.artifact} without verifying it, and there is no previous version to go back to, so ${ARTIFACT_FILE} still names it.`, stillLive: true };
  }
  const grace = AbortSignal.timeout(Math.max(1, Math.floor(withinMs)));
  const kudu = new KuduClient(connection, grace, { attempts: 3 });
  const site = { kudu, connection, signal: grace };
  const release = pending.release;
  release.writeThrough(kudu, grace);
  const switchedEtag = state.live !== undefined && same(state.live.name, pending.artifact) ? state.live.etag : '';
  try {
    // The deadline or the cancel may have cut the switch itself short: what the file names now decides.
    const live = await readLiveArtifact(kudu);
    if (!same(live.name, pending.artifact)) {
      if (state.live !== undefined && same(state.live.name, pending.previous) && same(live.name, pending.previous)) {
        return { line: `${deadline ? 'This run had' : 'Cancelled after the switch: this run had'} already switched back to ${pending.previous}; ${ARTIFACT_FILE} names it.`, stillLive: false };
      }
      const line =
        `${deadline ? '' : 'Cancelled during the switch: '}${ARTIFACT_FILE} names ${live.name || '(nothing)'}, not ${pending.artifact}: this run's switch did not take effect ` +
        `or another deploy changed it since, so there is nothing to switch back${deadline ? '' : ' and nothing on the site was changed by this run'}.`;
      return { line, stillLive: false };
    }
    if (switchedEtag !== '' && live.etag !== switchedEtag) {
      return { line: `${ARTIFACT_FILE} names ${pending.artifact} but was written again after this run's switch (another deploy of the same build?), so it is left as it is.`, stillLive: false };
    }
    release.seen(live);
  } catch (err) {
    const line = `${it} may have switched to ${pending.artifact} without verifying it, and reading ${ARTIFACT_FILE} within ${(withinMs / 1000).toFixed(1)} s failed: ${messageOf(err)}. Check what it names, and run the deploy with rollback: previous if it names ${pending.artifact}.`;
    return { line, stillLive: true };
  }
  // What is left after the switch back and the record's writes is for seeing the old version serve.
  const waitSeconds = deadline ? ROLLBACK_GRACE_SECONDS - 5 : Math.max(1, Math.floor((withinMs - (performance.now() - started)) / 1000) - 2);
  const why = deadline ? undefined : `cancelled before it was verified; switched back to ${pending.previous}`;
  const stage = deadline ? 'Auto-rollback after the deadline' : 'Switch back (cancelled)';
  try {
    const line = await stages.run(stage, () => autoRollback(site, release, { artifact: pending.artifact, previous: pending.previous }, undefined, waitSeconds, why));
    const back = state.live !== undefined && same(state.live.name, pending.previous);
    if (!deadline && !back) await release.cancelled(`cancelled before it was verified; ${line}`);
    if (deadline) facts.verification = `${facts.verification ?? ''}; deadline: ${line}`;
    if (deadline) return { line: `It had switched to ${pending.artifact} without verifying it; auto-rollback within a ${ROLLBACK_GRACE_SECONDS} s grace period: ${line}`, stillLive: false };
    const what = back ? `Cancelled after the switch: switched back to ${pending.previous} (${pending.artifact} was not verified); ${line}` : `Cancelled after the switch to ${pending.artifact}: ${line}`;
    return { line: what, stillLive: false };
  } catch (err) {
    const names = state.live?.name ?? pending.artifact;
    if (!deadline && same(names, pending.previous)) {
      return { line: `Cancelled after the switch: switched back to ${pending.previous} (${pending.artifact} was not verified); it was not seen serving again in the time left: ${messageOf(err)}.`, stillLive: false };
    }
    const line =
      `${it} had switched to ${pending.artifact} without verifying it, and switching back within ${(withinMs / 1000).toFixed(1)} s failed: ${messageOf(err)}. ` +
      `${ARTIFACT_FILE} names ${names}${same(names, pending.previous) ? ', the previous version, which was not verified serving again' : ''}; run the deploy with rollback: previous (or rollback: <version>) to go back to a version that served.`;
    return { line, stillLive: !same(names, pending.previous) };
  }
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

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
