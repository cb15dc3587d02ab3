// The post entry: action.yml's `post:` (with `post-if: always()`) runs the same bundle again after
// the job's steps, also when the job was cancelled. actions/runner registers the post step when the
// main step starts (src/Runner.Worker/ActionRunner.cs, RegisterPostJobStep, with the action's
// post-if, `always()` by default) and gives it what the main step saved with core.saveState as
// STATE_<name> environment variables (ActionRunner.cs, "Apply action's intra-action state"); those
// come from the main step's GITHUB_STATE file, which the runner reads when the step ends however it
// ended, killed too (ActionRunner.RunAsync's finally, FileCommandManager.ProcessFiles).
//
// The main step saves `isPost` first (as actions/setup-go does), so a run that finds it is the
// post. It saves `done` when it finished, and, from just before its switch until the new version is
// verified or switched back, the switch (`switch`). The post does nothing unless the main step was
// killed before it finished with a switch it had not verified: then, as the cancel would have, it
// switches back (src/site/golive.ts, undoUnverifiedSwitch).
//
// State is a file on the runner (@actions/core's saveState appends `name<<delimiter` blocks to the
// file GITHUB_STATE names, and masks nothing), and the runner prints each value it reads from it
// in its debug log (FileCommandManager.cs, SaveStateFileCommand): only names, ETags, the site's
// SCM URL and the deploy record's entry are saved, never a credential. The post signs in again
// from its inputs, which the runner evaluates again from the same `with:` (ActionRunner.cs, "Load
// the inputs").

import * as core from '@actions/core';
import { parseInputs, secretValues } from './common/inputs.ts';
import { messageOf } from './common/errors.ts';
import { ROLLBACK_GRACE_SECONDS } from './common/deadline.ts';
import { StageLog, writeNote, type DeployFacts } from './common/report.ts';
import type { SiteState } from './context.ts';
import { connectToSite } from './signin/signin.ts';
import { KuduClient } from './site/kudu.ts';
import { RecordWriter } from './site/history.ts';
import { Release } from './site/release.ts';
import { undoUnverifiedSwitch } from './site/golive.ts';
import { undoCanary } from './site/canary.ts';
import type { DeployEntry } from './site/record.ts';
import { ARTIFACT_FILE } from './site/layout.ts';

const IS_POST = 'isPost';
const DONE = 'done';
const SWITCH = 'switch';
const CANARY = 'canary';

/** A canary the main step had live on one instance, as it saves it for the post entry (src/site/canary.ts). */
interface SavedCanary {
  kuduUrl: string;
  instance: string;
  artifact: string;
  previous: string;
  entry?: DeployEntry;
}

/** A switch the main step made and had not verified yet, as it saves it for the post entry. */
interface SavedSwitch {
  /** The SCM URL it switched through; the post's sign-in must reach the same one. */
  kuduUrl: string;
  artifact: string;
  previous: string;
  /** What _artifact.txt named and its ETag when the main step last knew. */
  live?: { name: string; etag: string };
  /** The deploy record's entry of the switch. */
  entry: DeployEntry;
}

/**
 * The SCM URL as saved and compared: without user info, which may carry a credential (kudu-url's
 * `https://user:password@host`, src/common/inputs.ts, secretValues); the state is never masked.
 */
function savedKuduUrl(url: string | undefined): string {
  if (url === undefined || url === '') return '';
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.href.replace(/\/+$/, '');
}

/** Whether this run is the post entry. */
export function isPostRun(): boolean {
  return core.getState(IS_POST) === 'true';
}

export function markMainStarted(): void {
  core.saveState(IS_POST, 'true');
}

/** The main step ended by itself (deployed, failed, or finished its own cancel): the post has nothing to do. */
export function markMainFinished(): void {
  core.saveState(DONE, 'true');
}

/**
 * The main step's SiteState: each change of the switch in progress, or of what _artifact.txt names,
 * is saved for the post entry as it happens (core.saveState appends to the state file at once).
 */
export function savedSiteState(kuduUrl: () => string | undefined): SiteState {
  let live: SiteState['live'];
  let unverified: SiteState['unverified'];
  let canary: SiteState['canary'];
  const saveCanary = (): void => {
    const saved: SavedCanary | undefined =
      canary === undefined ? undefined : { kuduUrl: savedKuduUrl(kuduUrl()), instance: canary.instance, artifact: canary.artifact, previous: canary.previous, entry: canary.release?.entry };
    core.saveState(CANARY, saved === undefined ? '' : JSON.stringify(saved));
  };
  const save = (): void => {
    const saved: SavedSwitch | undefined =
      unverified === undefined ? undefined : { kuduUrl: savedKuduUrl(kuduUrl()), artifact: unverified.artifact, previous: unverified.previous, live, entry: unverified.release.entry };
    core.saveState(SWITCH, saved === undefined ? '' : JSON.stringify(saved));
  };
  return {
    get live() {
      return live;
    },
    set live(value) {
      live = value;
      if (unverified !== undefined) save();
    },
    get unverified() {
      return unverified;
    },
    set unverified(value) {
      unverified = value;
      save();
    },
    get canary() {
      return canary;
    },
    set canary(value) {
      canary = value;
      saveCanary();
    },
  };
}

/** The post entry. Never throws; fails the post step only when an unverified version may still be live. */
export async function runPost(): Promise<void> {
  if (core.getState(DONE) === 'true') {
    core.info('The deploy step finished: nothing to do.');
    return;
  }
  const rawCanary = core.getState(CANARY);
  if (rawCanary !== '') await undoSavedCanary(rawCanary);
  const raw = core.getState(SWITCH);
  if (raw === '') {
    if (rawCanary !== '') return;
    const line = `The deploy step was stopped before it switched ${ARTIFACT_FILE}: nothing on the site was changed by it.`;
    core.info(line);
    return;
  }
  let saved: SavedSwitch;
  try {
    saved = JSON.parse(raw) as SavedSwitch;
  } catch (err) {
    core.warning(`The state the deploy step saved could not be read (${messageOf(err)}); check what ${ARTIFACT_FILE} names.`);
    return;
  }
  for (const secret of secretValues((name) => core.getInput(name))) core.setSecret(secret);
  const stillNames = `${ARTIFACT_FILE} may still name ${saved.artifact}, which was not verified: run the deploy with rollback: previous (or rollback: ${saved.previous}).`;
  core.info(`The deploy step was stopped after it switched ${ARTIFACT_FILE} to ${saved.artifact} and before it verified it: switching back to ${saved.previous}.`);
  try {
    const cfg = parseInputs((name) => core.getInput(name), process.env, process.cwd());
    const connection = await connectToSite(cfg, AbortSignal.timeout(ROLLBACK_GRACE_SECONDS * 1000));
    if (savedKuduUrl(connection.kuduUrl) !== saved.kuduUrl) {
      core.setFailed(`The inputs now lead to ${savedKuduUrl(connection.kuduUrl)}, not ${saved.kuduUrl} where the deploy step switched, so nothing was changed. ${stillNames}`);
      return;
    }
    const kudu = new KuduClient(connection, AbortSignal.timeout(ROLLBACK_GRACE_SECONDS * 1000));
    const state: SiteState = { live: saved.live };
    new Release(new RecordWriter(kudu, saved.entry), state).unverified(saved.previous);
    const facts: DeployFacts = { appName: cfg.appName, slotName: cfg.slotName, commit: cfg.commit };
    const undone = await undoUnverifiedSwitch(connection, state, new StageLog(), facts, 'post', ROLLBACK_GRACE_SECONDS * 1000);
    await writeNote('go-azure-deploy: cancelled', undone.line);
    if (undone.stillLive) core.setFailed(undone.line);
    else core.warning(undone.line);
  } catch (err) {
    core.setFailed(`Switching back failed: ${messageOf(err)}. ${stillNames}`);
  }
}

/** The main step was killed during a canary: removes the canary instance's own pointer, as a cancel would have. */
async function undoSavedCanary(raw: string): Promise<void> {
  let saved: SavedCanary;
  try {
    saved = JSON.parse(raw) as SavedCanary;
  } catch (err) {
    core.warning(`The canary state the deploy step saved could not be read (${messageOf(err)}); the next deploy removes any instance's own pointer it finds.`);
    return;
  }
  for (const secret of secretValues((name) => core.getInput(name))) core.setSecret(secret);
  core.info(`The deploy step was stopped during the canary of ${saved.artifact} on instance ${saved.instance}: removing that instance's own pointer.`);
  try {
    const cfg = parseInputs((name) => core.getInput(name), process.env, process.cwd());
    const connection = await connectToSite(cfg, AbortSignal.timeout(ROLLBACK_GRACE_SECONDS * 1000));
    if (savedKuduUrl(connection.kuduUrl) !== saved.kuduUrl) {
      core.setFailed(`The inputs now lead to ${savedKuduUrl(connection.kuduUrl)}, not ${saved.kuduUrl} where the canary ran, so nothing was changed; the next deploy there removes the pointer.`);
      return;
    }
    const kudu = new KuduClient(connection, AbortSignal.timeout(ROLLBACK_GRACE_SECONDS * 1000));
    const state: SiteState = {};
    const release = saved.entry === undefined ? undefined : new Release(new RecordWriter(kudu, saved.entry), state);
    state.canary = { instance: saved.instance, artifact: saved.artifact, previous: saved.previous, release };
    const line = await undoCanary(connection, state, 'post', ROLLBACK_GRACE_SECONDS * 1000);
    await writeNote('go-azure-deploy: cancelled', line);
    if (state.canary !== undefined) core.setFailed(line);
    else core.warning(line);
  } catch (err) {
    core.setFailed(`Removing the canary's pointer failed: ${messageOf(err)}. The next deploy removes it.`);
  }
}
