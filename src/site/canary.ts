// The canary stage: on a scaled-out site, the new version goes live on one instance first, through
// that instance's own pointer (_artifact.<instance>.txt, read before _artifact.txt by the launcher,
// templates/go-azure.bat, and by goazure, goazure/canary.go), while the others keep the previous
// version. The canary passes the health gate, then is watched for canary-seconds: its process must
// stay up, its health path healthy, and its share of 5xx answers (goazure's counters, read at
// /.goazure/stats with the identity key, pinned with ARRAffinity) may exceed the other instances'
// by at most canary-max-error-rate-increase percentage points. Then the release is promoted:
// _artifact.txt is switched (the usual compare-and-swap, switch.ts) and the pointer removed, and
// the usual gate runs on every instance (golive.ts). A canary that fails loses its pointer, so its
// instance goes back to what _artifact.txt names; the other instances never ran it.
// See docs/ARCHITECTURE.md, "A canary release".

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as core from '@actions/core';
import { ActionError, messageOf } from '../common/errors.ts';
import { affinityCookie, firstHeader, sendRequest } from '../common/http.ts';
import { RetryableError, sleep, withRetry } from '../common/retry.ts';
import type { SiteContext, SiteState } from '../context.ts';
import type { SiteConnection } from '../signin/connection.ts';
import { templatesDir } from './bootstrap.ts';
import { IDENTITY_KEY_HEADER, readIdentityKey, writeIdentityKey } from './identity.ts';
import { KuduClient } from './kudu.ts';
import { ARTIFACT_FILE, LAUNCHER_FILE, SITE_ROOT, artifactFileContent, instanceIdUsable, instanceOfPointer, instancePointerFile } from './layout.ts';
import type { Release } from './release.ts';
import { switchArtifact, SiteChangedError } from './switch.ts';
import { verifyDeployment, watchDeployment } from './verify.ts';
import { verifyBudgetSeconds } from '../common/deadline.ts';

/** goazure's counters path and the header naming what a release of it supports (goazure/canary.go). */
const STATS_PATH = '/.goazure/stats';
const FEATURES_HEADER = 'x-goazure-features';

/** What goazure's StatsPath answers (goazure/canary.go, Stats). */
export interface GoazureStats {
  artifact: string;
  instance: string;
  requests: number;
  errors: number;
  latencyBoundsMillis: number[];
  latency: number[];
}

/** What one instance served between two readings of its counters. */
export interface Served {
  requests: number;
  errors: number;
  /** Requests per latency bucket (bounds as goazure gives them; the last bucket is open). */
  latency: number[];
  latencyBoundsMillis: number[];
}

/** The counters' growth from `before` to `after`; a process that restarted (counters went down) counts from zero. */
export function servedBetween(before: GoazureStats | undefined, after: GoazureStats): Served {
  const restarted = before === undefined || after.requests < before.requests || before.artifact.toLowerCase() !== after.artifact.toLowerCase();
  const base = restarted ? undefined : before;
  return {
    requests: after.requests - (base?.requests ?? 0),
    errors: after.errors - (base?.errors ?? 0),
    latency: after.latency.map((n, i) => n - (base?.latency[i] ?? 0)),
    latencyBoundsMillis: after.latencyBoundsMillis,
  };
}

/** Adds up what several instances served. */
export function addServed(all: Served[]): Served {
  const bounds = all[0]?.latencyBoundsMillis ?? [];
  return {
    requests: all.reduce((n, s) => n + s.requests, 0),
    errors: all.reduce((n, s) => n + s.errors, 0),
    latency: bounds.concat(0).map((_, i) => all.reduce((n, s) => n + (s.latency[i] ?? 0), 0)),
    latencyBoundsMillis: bounds,
  };
}

/** The `p`th percentile's bucket bound in ms ('> last bound' for the open bucket); '' without requests. */
export function percentile(s: Served, p: number): string {
  const total = s.latency.reduce((a, b) => a + b, 0);
  if (total === 0) return '';
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (let i = 0; i < s.latency.length; i++) {
    seen += s.latency[i];
    if (seen >= rank) return i < s.latencyBoundsMillis.length ? `≤ ${s.latencyBoundsMillis[i]} ms` : `> ${s.latencyBoundsMillis.at(-1)} ms`;
  }
  return '';
}

/** Share of 5xx answers in percent; 0 without requests. */
const errorRate = (s: Served): number => (s.requests === 0 ? 0 : (100 * s.errors) / s.requests);

/** Requests the canary must have served before its error rate can end the window early. */
export const EARLY_VERDICT_REQUESTS = 20;

/**
 * Whether the canary's error rate is too high against the baseline's (the other instances', on the
 * previous version, over the same time): more than `margin` percentage points above it. Early in
 * the window (`final` false) only once the canary served EARLY_VERDICT_REQUESTS; at its end on any
 * count. A line saying why, or undefined when it is within the margin.
 */
export function errorRateTooHigh(canary: Served, baseline: Served, margin: number, final: boolean): string | undefined {
  if (canary.errors === 0) return undefined;
  if (!final && canary.requests < EARLY_VERDICT_REQUESTS) return undefined;
  const c = errorRate(canary);
  const b = errorRate(baseline);
  if (c - b <= margin) return undefined;
  return (
    `its 5xx rate was ${c.toFixed(1)} % (${canary.errors} of ${canary.requests} requests) against ${b.toFixed(1)} % on the other instances ` +
    `(${baseline.errors} of ${baseline.requests}), more than canary-max-error-rate-increase (${margin} percentage points) above it`
  );
}

/** One line on what an instance served, for the log and the summary. */
export function describeServed(s: Served): string {
  if (s.requests === 0) return 'no requests';
  const p = (n: number) => percentile(s, n);
  return `${s.requests} requests, ${s.errors} 5xx (${errorRate(s).toFixed(1)} %), latency p50 ${p(50)}, p90 ${p(90)}, p99 ${p(99)}`;
}

/** Reads goazure's counters on `instance` (pinned with ARRAffinity) with `key`; undefined when it does not answer them. */
async function readStats(connection: SiteConnection, instance: string, key: string | undefined, signal: AbortSignal): Promise<{ stats?: GoazureStats; features: string[]; why: string }> {
  if (key === undefined) return { features: [], why: 'there is no identity key on the site to ask with' };
  try {
    const res = await sendRequest({
      method: 'GET',
      url: connection.webappUrl.replace(/\/+$/, '') + STATS_PATH,
      headers: { Cookie: affinityCookie(instance), [IDENTITY_KEY_HEADER]: key },
      signal,
      idleTimeoutMs: 10_000,
    });
    const features = (firstHeader(res.headers[FEATURES_HEADER]) ?? '').split(/\s+/).filter(Boolean);
    if (res.status !== 200 || !/json/.test(firstHeader(res.headers['content-type']) ?? '')) return { features, why: `${STATS_PATH} answered ${res.status}, not goazure's counters` };
    const stats = JSON.parse(res.body.toString('utf8')) as GoazureStats;
    if (typeof stats.requests !== 'number' || !Array.isArray(stats.latency)) return { features, why: `${STATS_PATH} did not answer goazure's counters` };
    return { stats, features, why: '' };
  } catch (err) {
    if (signal.aborted) throw err;
    return { features: [], why: `${STATS_PATH} did not answer (${messageOf(err)})` };
  }
}

/** Whether the site's go-azure.bat is this version's launcher, the first to read an instance's own pointer. */
async function launcherIsCurrent(kudu: KuduClient): Promise<boolean> {
  const file = await kudu.getFile(`${SITE_ROOT}/${LAUNCHER_FILE}`);
  if (file === null) return false;
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  return sha(file.body) === sha(fs.readFileSync(templatesDir() + LAUNCHER_FILE));
}

/** Attempts at writing or removing an instance's pointer while Kudu answers 409 (the instance reads it). */
const POINTER_ATTEMPTS = 6;

async function writePointer(kudu: KuduClient, instance: string, artifact: string): Promise<void> {
  await withRetry(
    async () => {
      try {
        // Created only (no If-Match): a pointer left by another run was removed before (removeStalePointers).
        await kudu.putFile(instancePointerFile(instance), artifactFileContent(artifact));
      } catch (err) {
        if ((err as { status?: number }).status === 409) throw new RetryableError(`${instancePointerFile(instance)} is briefly in use on the site (Kudu answered 409)`);
        throw err;
      }
    },
    { what: `Writing ${instancePointerFile(instance)}`, signal: kudu.signal, attempts: POINTER_ATTEMPTS, baseDelayMs: 250, maxDelayMs: 2000 },
  );
}

/** Removes an instance's pointer (nothing to do when it is not there). Kudu's 409 (the instance reads it) is tried again. */
async function removePointer(kudu: KuduClient, instance: string): Promise<void> {
  const file = instancePointerFile(instance);
  await withRetry(
    async () => {
      const r = await kudu.deletePath(file);
      if (r === 'locked') throw new RetryableError(`${file} is briefly in use on the site (Kudu answered 409)`);
    },
    { what: `Removing ${file}`, signal: kudu.signal, attempts: POINTER_ATTEMPTS, baseDelayMs: 250, maxDelayMs: 2000 },
  );
}

/**
 * Removes every instance's own pointer found in site/wwwroot, and says so: a run killed mid-canary
 * whose post entry could not run leaves one, and the instance it names would keep running that
 * version whatever _artifact.txt says. Every deploy does this before it changes anything else.
 */
export async function removeStalePointers(kudu: KuduClient): Promise<string[]> {
  const listing = (await kudu.listDir(SITE_ROOT)) ?? [];
  const removed: string[] = [];
  for (const e of listing) {
    const instance = instanceOfPointer(e.name);
    if (instance === undefined) continue;
    const names = (await kudu.getFile(instancePointerFile(instance)))?.body.toString('utf8').trim() ?? '?';
    await removePointer(kudu, instance);
    removed.push(instance);
    core.warning(
      `Removed ${SITE_ROOT}/${e.name}, an instance's own pointer a canary release left behind (it named ${names}): instance ${instance} runs what ${ARTIFACT_FILE} names again.`,
    );
  }
  return removed;
}

/** The canary in progress, as SiteState keeps it for a cancel, the deadline and the post entry. */
export interface CanaryState {
  instance: string;
  artifact: string;
  previous: string;
  release?: Release;
  /** The identity key the instances read before the canary, written back when it is undone; never saved for the post entry. */
  oldKey?: string;
}

/** What the summary shows of a canary (src/common/report.ts). */
export interface CanaryFacts {
  instance?: string;
  /** Why no canary ran, when it did not. */
  skipped?: string;
  seconds?: number;
  served?: string;
  baseline?: string;
  /** Seconds from the canary's start to the promotion of the release to every instance. */
  promotedAfter?: number;
  outcome?: string;
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/**
 * Runs the canary and, when it passes, promotes the release: _artifact.txt names it afterwards and
 * `release` is `switched`. Returns false, having changed nothing, when a canary makes no sense
 * (one instance, a first deploy): the caller then switches as usual. Throws an ActionError when
 * the canary is refused (nothing changed) or fails (its instance is back on the previous version).
 */
export async function runCanary(site: SiteContext, release: Release, live: { name: string; etag: string }): Promise<boolean> {
  const { kudu, connection, stages, cfg, facts, signal, deadline } = site;
  const name = release.entry.artifact;
  const canaryFacts: CanaryFacts = {};
  facts.canary = canaryFacts;
  if (live.name === '') {
    canaryFacts.skipped = 'first deploy: there is no previous version to keep on the other instances';
    core.info(`canary: ${canaryFacts.skipped}; deploying to every instance at once.`);
    return false;
  }
  if (connection.arm === undefined) throw new ActionError('canary: the site\'s instances cannot be listed without ARM; sign in with Entra ID to use canary.');
  const instances = await connection.arm.listInstances(signal);
  if (instances.length < 2) {
    canaryFacts.skipped = `the site runs on ${instances.length === 1 ? 'one instance' : 'no instance ARM lists'}`;
    core.info(`canary: ${canaryFacts.skipped}, so there is no other instance to keep on the previous version; deploying as usual.`);
    return false;
  }
  const instance = [...instances].sort()[0];
  const refuse = async (why: string): Promise<never> => {
    await release.failed(`canary refused: ${why}`);
    await release.publish(process.env);
    throw new ActionError(`canary: ${why}. Nothing on the site was changed; ${ARTIFACT_FILE} still names ${live.name}. Set canary: false to deploy to every instance at once.`);
  };
  if (!instanceIdUsable(instance)) await refuse(`the instance id ${instance} cannot name a pointer of its own (A-Z, a-z, 0-9, "-" and "_", at most 64)`);
  if (!(await launcherIsCurrent(kudu))) {
    await refuse(
      `${SITE_ROOT}/${LAUNCHER_FILE} is not this version's launcher, so it may not read an instance's own pointer (an earlier release's, or your own); ` +
        `put templates/${LAUNCHER_FILE} of this version of the action in its place and restart the site`,
    );
  }
  // The version running now hands over to the canary and back: it must read the instance's pointer.
  const oldKey = await readIdentityKey(kudu);
  const running = await readStats(connection, instance, oldKey, signal);
  if (!running.features.includes('instance-pointer') || running.stats === undefined) {
    await refuse(
      `the version running now on instance ${instance} does not say it reads an instance's own pointer (${running.why || `it names no "instance-pointer" in X-Goazure-Features`}): ` +
        `it links a goazure release from before canary support, or none. Deploy once without canary with an app that links this goazure`,
    );
  }

  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) / 100) / 10;
  canaryFacts.instance = instance;
  site.state.identityKey = await writeIdentityKey(kudu);
  if (site.state.identityKey === undefined) await refuse(`the identity key could not be written (see the warning above), and without it the canary's counters cannot be read`);
  site.state.canary = { instance, artifact: name, previous: live.name, release, oldKey };
  try {
    return await goLive();
  } catch (err) {
    // Anything unforeseen after the pointer was written (a cancel and the deadline have their own
    // way back, src/main.ts): the canary is taken back, so no instance is left on a version
    // nothing verified.
    if (site.state.canary === undefined || signal.aborted) throw err;
    const back = await takeBack(site, site.state, instance, name, live.name, oldKey).catch((e: unknown) => `removing ${instancePointerFile(instance)} failed too (${messageOf(e)}); the next deploy removes it`);
    await release.failed(`canary stopped by an error: ${messageOf(err)}; ${back}`).catch(() => undefined);
    throw new ActionError(`The canary on instance ${instance} stopped: ${messageOf(err)}. ${back[0].toUpperCase()}${back.slice(1)}.`);
  }

  async function goLive(): Promise<boolean> {
    await stages.run('Canary', () => writePointer(kudu, instance, name));
    core.info(`canary: instance ${instance} runs ${name} (${instancePointerFile(instance)}); the other ${instances.length - 1} keep ${live.name}.`);
    await release.canary(instance);

    const fail = async (why: string): Promise<never> => {
      canaryFacts.seconds = elapsed();
      canaryFacts.outcome = `failed: ${why}`;
      const back = await stages.run('Canary rollback', () => takeBack(site, site.state, instance, name, live.name, oldKey));
      await release.rolledBack(`canary on instance ${instance} failed: ${why}; ${back}`);
      await release.publish(process.env);
      throw new ActionError(
        `The canary failed on instance ${instance} after ${canaryFacts.seconds} s: ${why}.\n` +
          `${back[0].toUpperCase()}${back.slice(1)} The other instances never ran ${name}; ${ARTIFACT_FILE} still names ${live.name}.`,
      );
    };

    const budget = verifyBudgetSeconds(cfg.verifyTimeoutSeconds, deadline.secondsLeft(), 30);
    const gate = await stages.run('Canary verify', () =>
      verifyDeployment(kudu, connection, { artifactName: name, previous: live.name, timeoutSeconds: budget, instances: [instance], health: site.health, identityKey: site.state.identityKey }, signal),
    );
    if (!gate.ok) return fail(`it did not come up healthy: ${gate.detail}`);
    const first = await readStats(connection, instance, site.state.identityKey, signal);
    if (first.stats === undefined || !first.features.includes('instance-pointer') || !same(first.stats.artifact, name)) {
      return fail(
        `${name} does not report goazure's counters, or does not read an instance's own pointer (${first.why || `it answered as ${first.stats?.artifact ?? '?'} with X-Goazure-Features "${first.features.join(' ')}"`}); ` +
          `a canary needs an app that links this release of goazure`,
      );
    }
    const others = instances.filter((i) => i !== instance);
    const baseStart = await Promise.all(others.map((i) => readStats(connection, i, oldKey, signal)));

    // The watch and the error-rate check run side by side; either ends the window.
    const window = Math.max(1, Math.min(cfg.canarySeconds, Math.floor(deadline.secondsLeft() - 60)));
    if (window < cfg.canarySeconds) core.info(`The canary is watched for ${window} s: the rest of timeout-seconds is kept for the promotion and the gate on every instance.`);
    const stop = new AbortController();
    const both = AbortSignal.any([signal, stop.signal]);
    let tooHigh: string | undefined;
    let canaryServed: Served = servedBetween(first.stats, first.stats);
    let baseline: Served = addServed([]);
    const measure = async (final: boolean): Promise<void> => {
      const now = await readStats(connection, instance, site.state.identityKey, signal);
      if (now.stats !== undefined) canaryServed = servedBetween(first.stats, now.stats);
      const base = await Promise.all(others.map((i) => readStats(connection, i, oldKey, signal)));
      const served = base.flatMap((b, k) => (b.stats === undefined ? [] : [servedBetween(baseStart[k].stats, b.stats)]));
      if (served.length > 0) baseline = addServed(served);
      tooHigh ??= errorRateTooHigh(canaryServed, baseline, cfg.canaryMaxErrorRateIncrease, final);
    };
    const watching = stages.run('Canary watch', async () => {
      const counting = (async () => {
        while (!both.aborted) {
          await sleep(2000, both).catch(() => undefined);
          if (both.aborted) break;
          await measure(false);
          if (tooHigh !== undefined) stop.abort();
        }
      })();
      try {
        return await watchDeployment(kudu, connection, { artifactName: name, instances: gate.instances, health: site.health, seconds: window, identityKey: site.state.identityKey }, both);
      } catch (err) {
        if (signal.aborted || !stop.signal.aborted) throw err;
        return { ok: true, detail: '' };
      } finally {
        stop.abort();
        await counting;
      }
    });
    const watched = await watching;
    if (watched.detail !== '') core.info(`canary: ${watched.detail}`);
    await measure(true);
    canaryFacts.served = describeServed(canaryServed);
    canaryFacts.baseline = describeServed(baseline);
    core.info(`canary: instance ${instance} served ${canaryFacts.served}; the other instances served ${canaryFacts.baseline}.`);
    if (!watched.ok) return fail(watched.detail);
    if (tooHigh !== undefined) return fail(tooHigh);

    // Promotion: _artifact.txt names the release, then the pointer goes; the canary instance reads
    // the same name from either, so it keeps running.
    canaryFacts.seconds = elapsed();
    release.unverified(live.name);
    let etag: string;
    try {
      etag = await stages.run('Switch', () => switchArtifact(kudu, name, live.etag, { fallback: live.name }));
    } catch (err) {
      if (!(err instanceof SiteChangedError)) throw err;
      release.settled();
      const back = await takeBack(site, site.state, instance, name, live.name);
      await release.failed(`promotion refused: another deploy changed ${ARTIFACT_FILE} during the canary; ${back}`);
      await release.publish(process.env);
      throw new ActionError(`Another deploy changed ${ARTIFACT_FILE} while the canary ran, so ${name} was not promoted; ${back}`);
    }
    await release.switched({ name, etag });
    // Should this fail, the pointer names what _artifact.txt names: harmless, and the next deploy removes it.
    await removePointer(kudu, instance).catch((err: unknown) => core.warning(`Could not remove ${instancePointerFile(instance)} after the promotion (${messageOf(err)}); it names ${name}, as ${ARTIFACT_FILE} does, and the next deploy removes it.`));
    site.state.canary = undefined;
    canaryFacts.promotedAfter = elapsed();
    canaryFacts.outcome = `passed (${window} s window); promoted to every instance`;
    core.info(`canary: passed after ${canaryFacts.seconds} s; ${ARTIFACT_FILE} names ${name}: the other instances follow.`);
    return true;
  }
}

/**
 * Takes the canary back: removes its instance's pointer, so the instance runs what _artifact.txt
 * names, and waits a short while to see it serve the previous version again. One line on what was done.
 * With `oldKey`, the identity key the other instances read when they started is written back
 * first: goazure reads it once, at its start (goazure/identity.go), so the canary's instance,
 * restarting on the previous version, reads the same key as the others, and the next deploy asks
 * every instance with the key on the site.
 */
async function takeBack(site: { kudu: KuduClient; connection: SiteConnection; signal: AbortSignal }, state: SiteState, instance: string, artifact: string, previous: string, oldKey?: string): Promise<string> {
  if (oldKey !== undefined) await writeIdentityKey(site.kudu, oldKey);
  await removePointer(site.kudu, instance);
  state.canary = undefined;
  const back = await verifyDeployment(site.kudu, site.connection, { artifactName: previous, previous: artifact, timeoutSeconds: 30, instances: [instance] }, site.signal).catch(
    (err: unknown) => ({ ok: false, detail: messageOf(err) }),
  );
  return back.ok
    ? `removed ${instancePointerFile(instance)}: instance ${instance} serves ${previous} again`
    : `removed ${instancePointerFile(instance)}, so instance ${instance} runs ${previous} from its next start; it was not seen serving it yet (${back.detail})`;
}

/**
 * Undoes a canary a cancel, the deadline or the post entry cut short: removes its instance's
 * pointer with a fresh client and signal that end after `withinMs`, and records the release as
 * cancelled. One line for the log and the summary; '' when there is no canary to undo.
 */
export async function undoCanary(connection: SiteConnection, state: SiteState, cause: 'cancel' | 'deadline' | 'post', withinMs: number): Promise<string> {
  const pending = state.canary;
  if (pending === undefined) return '';
  const grace = AbortSignal.timeout(Math.max(1, Math.floor(withinMs)));
  const kudu = new KuduClient(connection, grace, { attempts: 3 });
  const how = cause === 'deadline' ? 'The deadline came during the canary' : 'Cancelled during the canary';
  try {
    // As takeBack does; not when the promotion's switch is to be undone, whose check asks with the new key.
    if (pending.oldKey !== undefined && state.unverified === undefined) await writeIdentityKey(kudu, pending.oldKey);
    await removePointer(kudu, pending.instance);
    state.canary = undefined;
    const line = `${how}: removed ${instancePointerFile(pending.instance)}, so instance ${pending.instance} runs ${pending.previous} again; the other instances never ran ${pending.artifact}.`;
    // A cut between the promotion's switch and the pointer's removal: the switch's undo records it.
    if (pending.release !== undefined && state.unverified === undefined) {
      pending.release.writeThrough(kudu, grace);
      const detail = `${cause === 'deadline' ? 'the deadline came' : 'cancelled'} during the canary on instance ${pending.instance}; its pointer was removed`;
      await (cause === 'deadline' ? pending.release.failed(detail) : pending.release.cancelled(detail)).catch((err: unknown) => core.warning(`Could not record the cancel: ${messageOf(err)}`));
    }
    return line;
  } catch (err) {
    return `${how}, and removing ${instancePointerFile(pending.instance)} failed: ${messageOf(err)}. Instance ${pending.instance} may still run ${pending.artifact}; the next deploy removes the pointer, or delete it in Kudu's VFS.`;
  }
}
