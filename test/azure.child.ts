// Runs the Entra ID target stage (and, when asked, the slot swap or a Kudu read) in its own process,
// as the action would: NODE_EXTRA_CA_CERTS, proxy variables and AZURE_AUTHORITY_HOST are read when
// a process starts, so each test scenario gets a fresh one. Inputs come as JSON in GAD_TEST_INPUTS;
// the outcome is one line on stdout: `RESULT <json>` or `FAILED <json>`.

import { parseInputs } from '../src/common/inputs.ts';
import { connectionFromAzure, kuduPermissionHint } from '../src/signin/azure.ts';
import { swapSlots } from '../src/signin/swap.ts';
import { messageOf } from '../src/common/errors.ts';
import { KuduClient, KuduError } from '../src/site/kudu.ts';
import { runPreflight } from '../src/site/preflight.ts';

const inputs = JSON.parse(process.env.GAD_TEST_INPUTS ?? '{}') as Record<string, string>;
const controller = new AbortController();
const timer = setTimeout(() => controller.abort(new Error('the child ran out of time')), Number(process.env.GAD_TEST_TIMEOUT_MS ?? 60_000));

try {
  const cfg = parseInputs((name) => inputs[name] ?? '', process.env, process.cwd());
  const target = await connectionFromAzure(cfg, controller.signal);
  const result: Record<string, unknown> = {
    kuduUrl: target.kuduUrl,
    webappUrl: target.webappUrl,
    authKind: target.authKind,
    authorization: await target.authorization(),
    arm: target.arm === undefined ? undefined : { ...target.arm, credential: undefined, listInstances: undefined },
    instances: process.env.GAD_TEST_INSTANCES ? await target.arm?.listInstances(controller.signal) : undefined,
    permissionHint: kuduPermissionHint(target),
  };
  // A later request, as the Kudu client makes one per call: renewed only when close to expiry.
  if (process.env.GAD_TEST_AUTH_AGAIN) result.authorizationAgain = await target.authorization();
  // A refresh stalled at Entra ID, abandoned when the deploy's signal aborts after this many ms.
  if (process.env.GAD_TEST_AUTH_ABORT_MS) {
    const deploy = new AbortController();
    const reason = new Error('the deploy timed out');
    setTimeout(() => deploy.abort(reason), Number(process.env.GAD_TEST_AUTH_ABORT_MS));
    try {
      await target.authorization(deploy.signal);
      result.refresh = { ok: true };
    } catch (err) {
      result.refresh = { ok: false, isAbortReason: err === reason, message: messageOf(err) };
    }
  }
  if (process.env.GAD_TEST_KUDU_LIST) {
    // One Kudu read through the action's own Kudu client, with the bearer token.
    const kudu = new KuduClient(target, controller.signal, { attempts: 1 });
    try {
      result.kudu = { listing: await kudu.listDir(process.env.GAD_TEST_KUDU_LIST) };
    } catch (err) {
      result.kudu = { status: err instanceof KuduError ? err.status : undefined, message: messageOf(err) };
    }
  }
  if (process.env.GAD_TEST_PREFLIGHT) {
    // The preflight stage with the action's Kudu client; a refusal ends the child as FAILED.
    const kudu = new KuduClient(target, controller.signal, { attempts: 1 });
    result.preflight = (await runPreflight(kudu, target, cfg.appName, { bootstrap: true }, controller.signal)).lines;
  }
  if (cfg.swapSlot !== '') result.swap = await swapSlots(cfg, target, controller.signal);
  console.log(`RESULT ${JSON.stringify(result)}`);
} catch (err) {
  console.log(`FAILED ${JSON.stringify({ name: err instanceof Error ? err.name : typeof err, message: messageOf(err) })}`);
} finally {
  clearTimeout(timer);
}
// As the action's entry does: a request abandoned on abort must not keep the process alive.
process.exit();
