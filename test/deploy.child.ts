// Runs the deploy stages in a process of their own, as the action does, so a test can read every
// line they write. The emulator's profile comes in GAD_TEST_PROFILE, the packaged artifact in
// GAD_TEST_ARTIFACT (JSON). Each step's failure is reported as the entry point reports it; the
// last line names the steps that failed, for the test to compare with the faults it injected.

import * as core from '@actions/core';
import { KuduClient } from '../src/site/kudu.ts';
import { connectionFromPublishProfile } from '../src/signin/publishprofile.ts';
import { rollbackArtifact } from '../src/site/rollback.ts';
import { planDeploy } from '../src/site/plan.ts';
import { emptyRecord } from '../src/site/record.ts';
import { readLiveArtifact } from '../src/site/switch.ts';
import { ActionError, messageOf } from '../src/common/errors.ts';
import { deployStages, profileConfig, type BuiltArtifact } from '../sandbox/fixture.ts';

const art = JSON.parse(process.env.GAD_TEST_ARTIFACT ?? '{}') as BuiltArtifact;
const site = process.env.GAD_TEST_SITE ?? '';
const signal = new AbortController().signal;

const failed: string[] = [];

async function step(name: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    const value = await fn();
    core.info(`${name}: ${JSON.stringify(value)}`);
  } catch (err) {
    if (err instanceof ActionError) core.error(err.message);
    else core.debug(err instanceof Error && err.stack ? err.stack : String(err));
    core.info(`${name} failed: ${messageOf(err)}`);
    failed.push(name);
  }
}

const connection = connectionFromPublishProfile(profileConfig(site, 'production', process.env.GAD_TEST_KUDU_URL ?? ''), process.env.GAD_TEST_PROFILE ?? '');
core.debug(`connection: ${JSON.stringify(connection)}`);
const kudu = new KuduClient(connection, signal, { retryBaseDelayMs: 5, attempts: 3 });
await step('deploy', () => deployStages(kudu, art, signal));
await step('dry run', async () => planDeploy(kudu, { artifactName: art.name, pkg: art.pkg, previous: (await readLiveArtifact(kudu)).name, keep: 1, bootstrap: true, record: emptyRecord() }));
await step('rollback', () => rollbackArtifact(kudu));
await step('forbidden', () => kudu.processes());
await step('unauthorized', () => kudu.listDir('site/wwwroot/unauthorized'));
await step('failing', () => kudu.getFile('site/wwwroot/failing.txt'));
core.info(`failed steps: ${JSON.stringify(failed)}`);
