// The bundled action, signed in with Entra ID: a real Go build deployed to a slot of the Kudu
// emulator with a bearer token from the local Entra ID, then the slot swapped into production
// through the local ARM. Everything runs as a GitHub runner runs it (dist/index.js in a child).

import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runAction } from '../sandbox/runner.ts';
import { startAzureSandbox, type AzureSandbox } from '../sandbox/azure.ts';
import { startKudu, type KuduEmulator } from '../sandbox/kudu.ts';
import { machineGoVersion, seedToolCache } from '../sandbox/gomirror.ts';
import { makeApp } from '../sandbox/fixture.ts';

const TENANT = '11111111-2222-3333-4444-555555555555';
const SUB = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const APP = '0a0a0a0a-0000-0000-0000-000000000001';
const SECRET = 'sandbox-secret~value.456';
const SHA = 'c0ffee0123456789abcdef0123456789abcdef01';

let sandbox: AzureSandbox;
let kudu: KuduEmulator;
let toolCache: string;
let appDir: string;

before(async () => {
  sandbox = await startAzureSandbox({
    tenantId: TENANT,
    subscriptionId: SUB,
    clients: [{ clientId: APP, secret: SECRET }],
    sites: [{ name: 'shop', resourceGroup: 'rg-shop', slots: ['staging'] }],
  });
  kudu = await startKudu({ siteName: 'shop', slot: 'staging', acceptBearer: (t) => sandbox.acceptsToken(t, `${sandbox.url}/.default`) });
  toolCache = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-azure-toolcache-'));
  seedToolCache(toolCache);
  appDir = makeApp();
});

after(async () => {
  await kudu.close();
  await sandbox.close();
  fs.rmSync(toolCache, { recursive: true, force: true });
  fs.rmSync(appDir, { recursive: true, force: true });
});

test('Entra ID deploy to a slot, then swap into production', { timeout: 240_000 }, async () => {
  const run = await runAction({
    inputs: {
      'app-name': 'shop',
      'slot-name': 'staging',
      'swap-slot': 'production',
      'client-id': APP,
      'tenant-id': TENANT,
      'client-secret': SECRET,
      'subscription-id': SUB,
      // ARM names the slot's real SCM host; the emulator stands in for it.
      'kudu-url': kudu.url,
      'working-directory': appDir,
      'go-version': machineGoVersion().replace(/^go/, ''),
      // Verification wakes the public site URL, which does not exist offline.
      verify: 'false',
    },
    toolCache,
    cwd: appDir,
    env: {
      GITHUB_SHA: SHA,
      NODE_EXTRA_CA_CERTS: sandbox.caFile,
      AZURE_AUTHORITY_HOST: sandbox.url,
      GO_AZURE_DEPLOY_ARM_ENDPOINT: sandbox.url,
      NO_PROXY: '127.0.0.1',
    },
    timeoutMs: 200_000,
  });
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  if (process.env.GAD_SHOW_LOG) console.log(run.stdout);
  const name = `shop-${SHA.slice(0, 10)}.exe`;
  assert.equal(run.outputs['artifact-name'], name);
  assert.equal(run.outputs['webapp-url'], 'https://shop-staging.azurewebsites.net');
  assert.equal(fs.readFileSync(path.join(kudu.home, 'site', 'wwwroot', '_artifact.txt'), 'utf8'), `_target\\${name}\r\n`);
  assert.ok(fs.statSync(path.join(kudu.home, 'site', 'wwwroot', '_target', name)).size > 0);

  // Every Kudu call carried a token the local Entra ID issued for the ARM scope.
  assert.ok(kudu.requests.length > 0);
  assert.deepEqual(kudu.requests.filter((r) => r.status === 401 || r.status === 403), []);
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
