// The bundled action, signed in with Entra ID with its default endpoints: a real Go build deployed
// to a slot with a bearer token from login.microsoftonline.com, the slot found through
// management.azure.com, verified on https://<site>-<slot>.azurewebsites.net, then swapped into
// production through ARM. Everything runs as a GitHub runner runs it (dist/index.js in a child),
// reaching the real host names through the sandbox's internet; the app runs under Wine as on
// App Service on Windows.

import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runAction } from '../sandbox/runner.ts';
import { startAzureSandbox, type AzureSandbox } from '../sandbox/azure.ts';
import { startAppService, type AppService } from '../sandbox/appservice.ts';
import { startInternet, type Internet } from '../sandbox/internet.ts';
import { machineGoVersion, seedToolCache } from '../sandbox/gomirror.ts';
import { wineAvailable } from '../sandbox/wine.ts';
import { makeApp } from '../sandbox/fixture.ts';

const TENANT = '11111111-2222-3333-4444-555555555555';
const SUB = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const APP = '0a0a0a0a-0000-0000-0000-000000000001';
const OIDC_APP = '0a0a0a0a-0000-0000-0000-000000000002';
const SECRET = 'sandbox-secret~value.456';
const SHA = 'c0ffee0123456789abcdef0123456789abcdef01';
const ARM_SCOPE = 'https://management.azure.com/.default';
const skip = wineAvailable() ? false : 'wine is not installed (CI installs it)';

let internet: Internet;
let sandbox: AzureSandbox;
let site: AppService;
let canary: AppService;
let appDir: string;

before(async () => {
  if (skip !== false) return;
  internet = await startInternet();
  sandbox = await startAzureSandbox({
    tenantId: TENANT,
    subscriptionId: SUB,
    clients: [{ clientId: APP, secret: SECRET }, { clientId: OIDC_APP, federatedAudience: 'api://AzureADTokenExchange' }],
    sites: [{ name: 'shop', resourceGroup: 'rg-shop', slots: ['staging', 'canary'] }],
    internet,
  });
  site = await startAppService({
    siteName: 'shop',
    slot: 'staging',
    launcher: 'wine',
    internet,
    acceptBearer: (t) => sandbox.acceptsToken(t, ARM_SCOPE),
  });
  seedToolCache(site.toolCache);
  canary = await startAppService({
    siteName: 'shop',
    slot: 'canary',
    launcher: 'wine',
    internet,
    goMirror: false,
    acceptBearer: (t) => sandbox.acceptsToken(t, ARM_SCOPE),
  });
  seedToolCache(canary.toolCache);
  appDir = makeApp();
});

after(async () => {
  if (skip !== false) return;
  await site.close();
  await canary.close();
  await sandbox.close();
  await internet.close();
  fs.rmSync(appDir, { recursive: true, force: true });
});

test('Entra ID deploy to a slot, verified, then swapped into production', { timeout: 240_000, skip }, async () => {
  const run = await runAction({
    inputs: {
      'app-name': 'shop',
      'slot-name': 'staging',
      'swap-target-slot': 'production',
      'client-id': APP,
      'tenant-id': TENANT,
      'client-secret': SECRET,
      'subscription-id': SUB,
      'working-directory': appDir,
      'go-version': machineGoVersion().replace(/^go/, ''),
    },
    toolCache: site.toolCache,
    cwd: appDir,
    env: { ...site.env, GITHUB_SHA: SHA },
    timeoutMs: 200_000,
  });
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  if (process.env.GAD_SHOW_LOG) console.log(run.stdout);
  const name = `shop-${SHA.slice(0, 10)}.exe`;
  assert.equal(run.outputs['artifact-name'], name);
  assert.equal(run.outputs['webapp-url'], 'https://shop-staging.azurewebsites.net');
  assert.equal(fs.readFileSync(path.join(site.wwwroot, '_artifact.txt'), 'utf8'), `_target\\${name}\r\n`);
  assert.ok(fs.statSync(path.join(site.wwwroot, '_target', name)).size > 0);
  // Verified: the windows build runs under go-azure.bat and answers with its commit.
  assert.match(run.stdout, new RegExp(`shop-${SHA.slice(0, 10)}\\.exe is healthy \\(/ answered 200-299 3 times in a row\\) on all 2 instances`));
  // This app does not serve through goazure: verify says it fell back to Kudu's process list.
  assert.match(run.stdout, /::warning::The answers of shop-[0-9a-f]{10}\.exe carry no X-Goazure-Artifact header, .*the NEXT deploy will fail/);
  assert.equal((await (await fetch(site.localAppUrl)).text()).trim(), SHA);

  // Every Kudu call carried a token the local Entra ID issued for the ARM scope.
  assert.ok(site.kudu.requests.length > 0);
  assert.deepEqual(site.kudu.requests.filter((r) => r.status === 401 || r.status === 403), []);
  // The real names, and nothing else: sign-in, ARM, the slot's SCM site over https, the slot's site.
  const hosts = new Set(internet.requests.map((r) => `${r.scheme}://${r.host}`));
  assert.deepEqual([...hosts].sort(), [
    'https://login.microsoftonline.com',
    'https://management.azure.com',
    'https://shop-staging.azurewebsites.net',
    'https://shop-staging.scm.azurewebsites.net',
  ]);
  assert.deepEqual(internet.refused, []);
  const grant = sandbox.grants.find((g) => g.clientId === APP);
  assert.equal(grant?.method, 'secret');
  assert.ok(run.stdout.includes(`::add-mask::${grant?.token}`), 'the token is masked');
  assert.deepEqual(run.stdout.split('\n').filter((l) => l.includes(SECRET)), [`::add-mask::${SECRET}`], 'the client secret only appears in its mask command');

  // The swap ran after the deploy, through the long-running operation.
  assert.deepEqual(sandbox.swaps, [{ site: 'shop', resourceGroup: 'rg-shop', source: 'production', target: 'staging', preserveVnet: true }]);
  assert.equal(sandbox.serving.get('shop'), 'shop staging version');
  assert.match(run.stdout, /Swapped staging into production: https:\/\/shop\.azurewebsites\.net/);
  assert.match(run.stdout, /staging \(https:\/\/shop-staging\.azurewebsites\.net\) serves what production served before/);
  assert.deepEqual(sandbox.requests.filter((r) => r.route === 'unknown'), []);
});

test('GitHub OIDC: the ID token from the runner token service is exchanged at Entra ID, and the slot is deployed and verified', { timeout: 240_000, skip }, async () => {
  const commit = 'beef00112233445566778899aabbccddeeff0011';
  const run = await runAction({
    inputs: {
      'app-name': 'shop',
      'slot-name': 'canary',
      'client-id': OIDC_APP,
      'tenant-id': TENANT,
      'subscription-id': SUB,
      'working-directory': appDir,
      'go-version': machineGoVersion().replace(/^go/, ''),
    },
    toolCache: canary.toolCache,
    cwd: appDir,
    env: { ...canary.env, ...sandbox.runnerEnv, GITHUB_SHA: commit },
    timeoutMs: 200_000,
  });
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  assert.ok(sandbox.idTokens.length > 0, 'an ID token was asked for');
  assert.deepEqual([...new Set(sandbox.idTokens.map((t) => t.audience))], ['api://AzureADTokenExchange']);
  assert.equal(sandbox.grants.find((g) => g.clientId === OIDC_APP)?.method, 'assertion');
  assert.ok(internet.requests.some((r) => r.host === 'pipelines.actions.githubusercontent.com' && r.path.includes('/idtoken?') && r.status === 200));
  assert.equal((await (await fetch(canary.localAppUrl)).text()).trim(), commit);
  assert.deepEqual(internet.refused, []);
});
