import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { runProcess } from '../sandbox/process.ts';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLOUD_HOSTS, startAzureSandbox, type AzureSandbox } from '../sandbox/azure.ts';
import { startKudu } from '../sandbox/kudu.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const childScript = path.join(repoRoot, 'test', 'azure.child.ts');

const TENANT = '11111111-2222-3333-4444-555555555555';
const SUB = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const SECRET_APP = '0a0a0a0a-0000-0000-0000-000000000001';
const OIDC_APP = '0a0a0a0a-0000-0000-0000-000000000002';
const NO_ROLE_APP = '0a0a0a0a-0000-0000-0000-000000000003';
const SECRET = 'sandbox-secret~value.123';
const SHA = '0123456789abcdef0123456789abcdef01234567';

let sandbox: AzureSandbox;
const sharedSandbox = (): AzureSandbox => sandbox;
/** A folder with nothing but a shell: PATH for "no Azure CLI installed". */
let barePath: string;

before(async () => {
  sandbox = await startAzureSandbox({
    tenantId: TENANT,
    subscriptionId: SUB,
    clients: [
      { clientId: SECRET_APP, secret: SECRET },
      { clientId: OIDC_APP, federatedAudience: 'api://AzureADTokenExchange' },
      { clientId: NO_ROLE_APP, secret: SECRET, noRole: true },
    ],
    sites: [
      { name: 'shop', resourceGroup: 'rg-shop', slots: ['staging', 'canary'], instances: ['inst-one', 'inst-two'] },
      { name: 'twin', resourceGroup: 'rg-one' },
      { name: 'Twin', resourceGroup: 'rg-two' },
      { name: 'penguin', resourceGroup: 'rg-linux', kind: 'app,linux' },
    ],
  });
  barePath = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-bare-path-'));
  fs.symlinkSync('/bin/sh', path.join(barePath, 'sh'));
});

after(async () => {
  await sandbox.close();
  fs.rmSync(barePath, { recursive: true, force: true });
});

interface ChildOutcome {
  ok: boolean;
  result: Record<string, any>;
  message: string;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  /** Use the built-in cloud endpoints, reached through the sandbox's proxy, instead of the overrides. */
  viaProxy?: boolean;
  env?: Record<string, string>;
  /** Another sandbox than the shared one. */
  sandbox?: AzureSandbox;
  /** A folder to list through the Kudu client after sign-in. */
  kuduList?: string;
}

/** Runs test/azure.child.ts with these inputs against the sandbox, in a fresh Node process. */
async function runChild(inputs: Record<string, string>, opts: RunOptions = {}): Promise<ChildOutcome> {
  const sandbox = opts.sandbox ?? sharedSandbox();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(INPUT_|GITHUB_|RUNNER_|ACTIONS_|AZURE_|GO_AZURE_DEPLOY_)/.test(k) || /_proxy$/i.test(k)) continue;
    env[k] = v;
  }
  Object.assign(env, {
    NODE_EXTRA_CA_CERTS: sandbox.caFile,
    GAD_TEST_INPUTS: JSON.stringify({ commit: SHA, ...inputs }),
    NO_PROXY: '127.0.0.1',
  });
  if (opts.viaProxy) {
    env.HTTPS_PROXY = sandbox.proxyUrl;
  } else {
    env.AZURE_AUTHORITY_HOST = sandbox.url;
    env.GO_AZURE_DEPLOY_ARM_ENDPOINT = sandbox.url;
  }
  if (opts.kuduList) env.GAD_TEST_KUDU_LIST = opts.kuduList;
  Object.assign(env, opts.env ?? {});
  const { stdout, stderr } = await runProcess(process.execPath, [childScript], { cwd: repoRoot, env, timeoutMs: 90_000 });
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT ') || l.startsWith('FAILED '));
  assert.ok(line, `the child printed no outcome.\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  const parsed = JSON.parse(line.slice(7)) as Record<string, any>;
  return { ok: line.startsWith('RESULT '), result: parsed, message: String(parsed.message ?? ''), stdout, stderr };
}

function expectOk(outcome: ChildOutcome): Record<string, any> {
  assert.ok(outcome.ok, `expected success, got: ${outcome.message}\nstderr:\n${outcome.stderr}`);
  return outcome.result;
}

function expectFailure(outcome: ChildOutcome): string {
  assert.ok(!outcome.ok, `expected a failure, got: ${JSON.stringify(outcome.result)}`);
  assert.equal(outcome.result.name, 'ActionError', `expected an ActionError, got ${outcome.result.name}: ${outcome.message}`);
  return outcome.message;
}

const secretInputs = {
  'app-name': 'shop',
  'client-id': SECRET_APP,
  'tenant-id': TENANT,
  'client-secret': SECRET,
  'subscription-id': SUB,
};

test('client secret: signs in, reads the site from its resource group, bearer target for Kudu', { timeout: 120_000 }, async () => {
  const before = sandbox.requests.length;
  const result = expectOk(await runChild({ ...secretInputs, 'resource-group-name': 'rg-shop' }));
  assert.equal(result.kuduUrl, 'https://shop.scm.azurewebsites.net');
  assert.equal(result.webappUrl, 'https://shop.azurewebsites.net');
  assert.equal(result.authKind, 'bearer');
  const token = String(result.authorization).replace(/^Bearer /, '');
  assert.ok(sandbox.acceptsToken(token, `${sandbox.url}/.default`), 'the Kudu token was issued by the sandbox for <ARM endpoint>/.default');
  const grant = sandbox.grants.find((g) => g.token === token);
  assert.equal(grant?.method, 'secret');
  assert.equal(grant?.clientId, SECRET_APP);
  const seen = sandbox.requests.slice(before);
  assert.deepEqual(seen.filter((r) => r.route === 'unknown'), []);
  assert.ok(seen.some((r) => r.route === 'site' && r.status === 200 && r.path.includes('/resourceGroups/rg-shop/')));
  assert.ok(!seen.some((r) => r.route === 'list-sites'), 'no subscription search when resource-group-name is given');
  assert.equal(result.arm.resourceGroup, 'rg-shop');
  assert.equal(result.arm.slotName, 'production');
});

test('client secret: tokens are masked and the secret never printed', { timeout: 120_000 }, async () => {
  const outcome = await runChild({ ...secretInputs, 'resource-group-name': 'rg-shop' });
  const result = expectOk(outcome);
  const token = String(result.authorization).replace(/^Bearer /, '');
  assert.ok(outcome.stdout.includes(`::add-mask::${token}`), 'the Kudu token is masked before use');
  const withoutResult = outcome.stdout.split('\n').filter((l) => !l.startsWith('RESULT ')).join('\n');
  assert.ok(!withoutResult.replace(`::add-mask::${token}`, '').includes(token), 'the token appears nowhere but in its mask command');
  assert.ok(!outcome.stdout.includes(SECRET) && !outcome.stderr.includes(SECRET), 'the client secret is not printed');
});

test('kudu-url with user info: the Entra ID path logs it without the credentials', { timeout: 120_000 }, async () => {
  const KUDU_TOKEN = 'kudu-url-t0ken-in-userinfo';
  const outcome = await runChild({ ...secretInputs, 'resource-group-name': 'rg-shop', 'kudu-url': `https://deployer:${KUDU_TOKEN}@shop.scm.example.net` });
  expectOk(outcome);
  assert.match(outcome.stdout, /Kudu https:\/\/shop\.scm\.example\.net, URL/);
  const withoutResult = outcome.stdout.split('\n').filter((l) => !l.startsWith('RESULT ')).join('\n');
  assert.ok(!withoutResult.includes(KUDU_TOKEN) && !outcome.stderr.includes(KUDU_TOKEN), 'the credentials in kudu-url are not printed');
});

test('bearer token: reused while fresh, renewed (and masked) when close to expiry', { timeout: 120_000 }, async () => {
  const fresh = expectOk(await runChild({ ...secretInputs, 'resource-group-name': 'rg-shop' }, { env: { GAD_TEST_AUTH_AGAIN: '1' } }));
  assert.equal(fresh.authorizationAgain, fresh.authorization);

  const shortLived = await startAzureSandbox({
    tenantId: TENANT,
    subscriptionId: SUB,
    clients: [{ clientId: SECRET_APP, secret: SECRET }],
    sites: [{ name: 'shop', resourceGroup: 'rg-shop' }],
    tokenLifetimeSeconds: 120,
  });
  try {
    const outcome = await runChild({ ...secretInputs, 'resource-group-name': 'rg-shop' }, { sandbox: shortLived, env: { GAD_TEST_AUTH_AGAIN: '1' } });
    const result = expectOk(outcome);
    assert.notEqual(result.authorizationAgain, result.authorization);
    const again = String(result.authorizationAgain).replace(/^Bearer /, '');
    assert.ok(shortLived.acceptsToken(again, `${shortLived.url}/.default`));
    assert.ok(outcome.stdout.includes(`::add-mask::${again}`), 'the renewed token is masked too');
  } finally {
    await shortLived.close();
  }
});

test('a token refresh that hangs at Entra ID is abandoned when the deploy aborts', { timeout: 120_000 }, async () => {
  // Short-lived tokens make the next Authorization a refresh. A first run counts the token requests
  // the sign-in itself makes (the ARM calls renew short-lived tokens too); a second sandbox answers
  // only those and holds the refresh open.
  const options = {
    tenantId: TENANT,
    subscriptionId: SUB,
    clients: [{ clientId: SECRET_APP, secret: SECRET }],
    sites: [{ name: 'shop', resourceGroup: 'rg-shop' }],
    tokenLifetimeSeconds: 120,
  };
  const counting = await startAzureSandbox(options);
  let signInGrants: number;
  try {
    expectOk(await runChild({ ...secretInputs, 'resource-group-name': 'rg-shop' }, { sandbox: counting }));
    signInGrants = counting.grants.length;
  } finally {
    await counting.close();
  }
  const stalling = await startAzureSandbox({ ...options, answerTokenRequests: signInGrants });
  try {
    const result = expectOk(await runChild({ ...secretInputs, 'resource-group-name': 'rg-shop' }, { sandbox: stalling, env: { GAD_TEST_AUTH_ABORT_MS: '1500' } }));
    assert.deepEqual(result.refresh, { ok: false, isAbortReason: true, message: 'the deploy timed out' });
    assert.equal(stalling.grants.length, signInGrants, 'the refresh got no token');
  } finally {
    await stalling.close();
  }
});

test('client secret: a wrong secret names client-secret', { timeout: 120_000 }, async () => {
  const message = expectFailure(await runChild({ ...secretInputs, 'client-secret': 'not-the-secret' }));
  assert.match(message, /client-secret/);
  assert.match(message, /AADSTS7000215/);
  assert.match(message, new RegExp(SECRET_APP));
  assert.ok(!message.includes('not-the-secret'));
});

test('client-id unknown to the tenant: names client-id and tenant-id', { timeout: 120_000 }, async () => {
  const message = expectFailure(await runChild({ ...secretInputs, 'client-id': '0a0a0a0a-0000-0000-0000-00000000dead' }));
  assert.match(message, /client-id 0a0a0a0a-0000-0000-0000-00000000dead in tenant-id/);
  assert.match(message, /AADSTS700016/);
});

test('Entra ID unreachable: says where it tried and mentions the proxy variables', { timeout: 120_000 }, async () => {
  // A port nothing listens on: the connection is refused at once.
  const closed = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
  const message = expectFailure(await runChild(secretInputs, { env: { AZURE_AUTHORITY_HOST: `https://127.0.0.1:${closed}` } }));
  assert.match(message, new RegExp(`^Could not reach Entra ID at https://127\\.0\\.0\\.1:${closed} to sign in`));
  assert.match(message, /HTTPS_PROXY\/NO_PROXY/);
});

test('subscription-id missing with Entra ID: named, and nothing is sent', { timeout: 120_000 }, async () => {
  const before = sandbox.requests.length;
  const message = expectFailure(await runChild({ ...secretInputs, 'subscription-id': '' }));
  assert.match(message, /^subscription-id: required/);
  assert.equal(sandbox.requests.length, before);
});

const oidcEnv = (): Record<string, string> => ({
  ACTIONS_ID_TOKEN_REQUEST_URL: sandbox.idTokenRequestUrl,
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: sandbox.idTokenRequestToken,
});
const oidcInputs = { 'app-name': 'shop', 'client-id': OIDC_APP, 'tenant-id': TENANT, 'subscription-id': SUB, 'resource-group-name': 'rg-shop' };

test('GitHub OIDC: the ID token for the audience is the client assertion', { timeout: 120_000 }, async () => {
  const idBefore = sandbox.idTokens.length;
  const outcome = await runChild(oidcInputs, { env: oidcEnv() });
  const result = expectOk(outcome);
  const issued = sandbox.idTokens.slice(idBefore);
  assert.ok(issued.length >= 1, 'an ID token was requested from the GitHub stand-in');
  assert.equal(issued[0].audience, 'api://AzureADTokenExchange');
  assert.ok(outcome.stdout.includes(`::add-mask::${issued[0].token}`), 'the ID token is masked');
  const token = String(result.authorization).replace(/^Bearer /, '');
  const grant = sandbox.grants.find((g) => g.token === token);
  assert.equal(grant?.method, 'assertion');
  assert.equal(grant?.clientId, OIDC_APP);
  assert.equal(result.kuduUrl, 'https://shop.scm.azurewebsites.net');
});

test('GitHub OIDC: an audience the federated credential does not list is explained', { timeout: 120_000 }, async () => {
  const message = expectFailure(await runChild({ ...oidcInputs, audience: 'api://SomethingElse' }, { env: oidcEnv() }));
  assert.match(message, /AADSTS70021/);
  assert.match(message, /federated credential/);
  assert.match(message, /api:\/\/SomethingElse \(the audience input\)/);
});

test('GitHub OIDC without id-token permission: the error shows the YAML to add', { timeout: 120_000 }, async () => {
  const before = sandbox.requests.length;
  const message = expectFailure(await runChild(oidcInputs));
  assert.ok(message.includes('permissions:\n  id-token: write\n  contents: read'), message);
  assert.match(message, /ACTIONS_ID_TOKEN_REQUEST_URL/);
  assert.match(message, /client-secret/);
  assert.equal(sandbox.requests.length, before, 'nothing was sent to Entra ID');
});

test('Azure CLI: no az on PATH lists the three ways to authenticate', { timeout: 120_000 }, async () => {
  const message = expectFailure(await runChild({ 'app-name': 'shop', 'subscription-id': SUB }, { env: { PATH: barePath } }));
  assert.match(message, /Azure CLI \(az\) is not installed/);
  assert.match(message, /1\. publish-profile/);
  assert.match(message, /2\. client-id, tenant-id and subscription-id/);
  assert.match(message, /3\. run azure\/login before this step/);
});

test('Azure CLI: a signed-in session (az on PATH) is used for ARM and Kudu', { timeout: 120_000 }, async () => {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-fake-az-'));
  try {
    // The az stand-in answers only the exact token request the credential makes, with a token the
    // sandbox issued for the ARM scope.
    const token = sandbox.mintToken(`${sandbox.url}/.default`, 'cli');
    const expires = Math.floor(Date.now() / 1000) + 3600;
    fs.writeFileSync(
      path.join(bin, 'az'),
      `#!/bin/sh\ncase "$*" in\n  "account get-access-token --output json --resource ${sandbox.url}") printf '%s' '{"accessToken":"${token}","expires_on":${expires},"tokenType":"Bearer"}' ;;\n  *) echo "unexpected az call: $*" >&2; exit 2 ;;\nesac\n`,
      { mode: 0o755 },
    );
    const result = expectOk(await runChild({ 'app-name': 'shop', 'subscription-id': SUB }, { env: { PATH: `${bin}:${barePath}` } }));
    assert.equal(result.authorization, `Bearer ${token}`);
    assert.equal(result.arm.identity, 'the Azure CLI account');
    assert.equal(result.arm.resourceGroup, 'rg-shop');
  } finally {
    fs.rmSync(bin, { recursive: true, force: true });
  }
});

test('Azure CLI signed in but subscription-id empty: named', { timeout: 120_000 }, async () => {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-fake-az-'));
  try {
    const token = sandbox.mintToken(`${sandbox.url}/.default`, 'cli');
    fs.writeFileSync(path.join(bin, 'az'), `#!/bin/sh\nprintf '%s' '{"accessToken":"${token}","expires_on":${Math.floor(Date.now() / 1000) + 3600}}'\n`, { mode: 0o755 });
    const message = expectFailure(await runChild({ 'app-name': 'shop' }, { env: { PATH: `${bin}:${barePath}` } }));
    assert.match(message, /^subscription-id: required when signing in with an Azure CLI session/);
  } finally {
    fs.rmSync(bin, { recursive: true, force: true });
  }
});

test('site found by searching the subscription when resource-group-name is empty', { timeout: 120_000 }, async () => {
  const before = sandbox.requests.length;
  const result = expectOk(await runChild({ ...secretInputs, 'app-name': 'SHOP' }));
  assert.equal(result.arm.resourceGroup, 'rg-shop');
  assert.equal(result.kuduUrl, 'https://shop.scm.azurewebsites.net');
  const seen = sandbox.requests.slice(before);
  assert.ok(seen.some((r) => r.route === 'list-sites' && r.path === `/subscriptions/${SUB}/providers/Microsoft.Web/sites`));
});

test('two sites with the same name: the error lists their resource groups and asks for resource-group-name', { timeout: 120_000 }, async () => {
  const message = expectFailure(await runChild({ ...secretInputs, 'app-name': 'twin' }));
  assert.match(message, /2 sites named twin/);
  assert.match(message, /rg-one, rg-two/);
  assert.match(message, /set resource-group-name/);
});

test('no site of that name in the subscription: names app-name and subscription-id', { timeout: 120_000 }, async () => {
  const message = expectFailure(await runChild({ ...secretInputs, 'app-name': 'nowhere' }));
  assert.match(message, /^app-name: no App Service site named nowhere in subscription-id/);
});

test('wrong resource-group-name: named with ARM\'s answer', { timeout: 120_000 }, async () => {
  const message = expectFailure(await runChild({ ...secretInputs, 'resource-group-name': 'rg-elsewhere' }));
  assert.match(message, /resource-group-name: no site shop in resource group rg-elsewhere/);
  assert.match(message, /404 ResourceNotFound/);
});

test('an identity without a role on the site: ARM\'s 403 is explained, and search says what it could see', { timeout: 120_000 }, async () => {
  const forbidden = expectFailure(await runChild({ ...secretInputs, 'client-id': NO_ROLE_APP, 'resource-group-name': 'rg-shop' }));
  assert.match(forbidden, new RegExp(`^ARM refused to read site shop in resource group rg-shop for the app registration ${NO_ROLE_APP} \\(HTTP 403 AuthorizationFailed`));
  assert.match(forbidden, /"Website Contributor" role on the site/);
  const searched = expectFailure(await runChild({ ...secretInputs, 'client-id': NO_ROLE_APP }));
  assert.match(searched, /no App Service site named shop in subscription-id .* \(0 sites visible to this identity\).*Website Contributor role on the site/);
});

test('slot deploy: the slot\'s own SCM host and URL, and the slot permission in the hint', { timeout: 120_000 }, async () => {
  const before = sandbox.requests.length;
  const result = expectOk(await runChild({ ...secretInputs, 'slot-name': 'staging' }, { env: { GAD_TEST_INSTANCES: '1' } }));
  assert.equal(result.kuduUrl, 'https://shop-staging.scm.azurewebsites.net');
  assert.deepEqual(result.instances, ['inst-one', 'inst-two']);
  assert.equal(result.webappUrl, 'https://shop-staging.azurewebsites.net');
  assert.equal(result.arm.slotName, 'staging');
  assert.match(result.permissionHint, /Microsoft\.Web\/sites\/slots\/publish\/action/);
  assert.match(result.permissionHint, /--scope \/subscriptions\/.+\/sites\/shop\/slots\/staging/);
  const seen = sandbox.requests.slice(before);
  assert.ok(seen.some((r) => r.route === 'slot' && r.path.endsWith('/sites/shop/slots/staging') && r.status === 200));
  assert.ok(seen.some((r) => r.route === 'instances' && r.path.endsWith('/sites/shop/slots/staging/instances') && r.status === 200));
});

test('slot that does not exist: names slot-name', { timeout: 120_000 }, async () => {
  const message = expectFailure(await runChild({ ...secretInputs, 'slot-name': 'qa' }));
  assert.match(message, /^slot-name: site shop has no slot qa/);
});

test('kudu-url overrides the SCM host read from ARM', { timeout: 120_000 }, async () => {
  const result = expectOk(await runChild({ ...secretInputs, 'kudu-url': 'https://shop.scm.ase-internal.example/' }));
  assert.equal(result.kuduUrl, 'https://shop.scm.ase-internal.example');
  assert.equal(result.webappUrl, 'https://shop.azurewebsites.net');
});

test('Linux site refused by preflight: HttpPlatformHandler is Windows-only', { timeout: 120_000 }, async () => {
  const kudu = await startKudu({ siteName: 'penguin', acceptBearer: (t) => sandbox.acceptsToken(t, `${sandbox.url}/.default`) });
  try {
    const message = expectFailure(await runChild({ ...secretInputs, 'app-name': 'penguin', 'kudu-url': kudu.url }, { env: { GAD_TEST_PREFLIGHT: '1' } }));
    assert.match(message, /^Preflight: penguin cannot be deployed to by this action \(1 problem\)/);
    assert.match(message, /app-name: penguin is a Linux App Service site \(kind "app,linux"\)/);
    assert.match(message, /HttpPlatformHandler/);
    assert.deepEqual(kudu.requests.filter((r) => r.method !== 'GET'), [], 'nothing was written');
  } finally {
    await kudu.close();
  }
});

test('swap: the staging slot goes into production through the long-running operation', { timeout: 120_000 }, async () => {
  const before = sandbox.requests.length;
  const swapsBefore = sandbox.swaps.length;
  const prodBefore = sandbox.serving.get('shop');
  const stagingBefore = sandbox.serving.get('shop/staging');
  const result = expectOk(await runChild({ ...secretInputs, 'slot-name': 'staging', 'swap-target-slot': 'production' }));
  assert.deepEqual(result.swap, { swappedIntoUrl: 'https://shop.azurewebsites.net', sourceUrl: 'https://shop-staging.azurewebsites.net' });
  assert.deepEqual(sandbox.swaps.slice(swapsBefore), [
    { site: 'shop', resourceGroup: 'rg-shop', source: 'production', target: 'staging', preserveVnet: true },
  ]);
  assert.equal(sandbox.serving.get('shop'), stagingBefore);
  assert.equal(sandbox.serving.get('shop/staging'), prodBefore);
  const seen = sandbox.requests.slice(before);
  const statuses = seen.filter((r) => r.route === 'operation-status');
  assert.ok(statuses.length >= 2, `the operation was polled until it succeeded (${statuses.length} polls)`);
  assert.ok(seen.some((r) => r.route === 'swap' && r.status === 202 && r.path.endsWith('/sites/shop/slotsswap')));
});

for (const [environment, authority, tokenHost, armHost] of [
  ['AzureUSGovernment', 'login.microsoftonline.us', 'login.microsoftonline.us', 'management.usgovcloudapi.net'],
  // The sign-in library sends China cloud token requests to that cloud's preferred network host.
  ['AzureChinaCloud', 'login.chinacloudapi.cn', 'login.partner.microsoftonline.cn', 'management.chinacloudapi.cn'],
  ['AzureCloud', 'login.microsoftonline.com', 'login.microsoftonline.com', 'management.azure.com'],
] as const) {
  test(`${environment}: sign-in, ARM and the Kudu token scope use that cloud's endpoints`, { timeout: 120_000 }, async () => {
    // No endpoint overrides here: the built-in table is used, and the sandbox's proxy routes the
    // cloud's real host names to the local server, which sees exactly which hosts were asked for.
    const before = sandbox.requests.length;
    const tunnelsBefore = sandbox.tunnels.length;
    const result = expectOk(await runChild({ ...secretInputs, environment, 'resource-group-name': 'rg-shop' }, { viaProxy: true }));
    const token = String(result.authorization).replace(/^Bearer /, '');
    const grant = sandbox.grants.find((g) => g.token === token);
    assert.equal(grant?.host, tokenHost);
    assert.equal(grant?.scope, `https://${armHost}/.default`);
    assert.deepEqual(result.arm.endpoints, {
      authorityHost: `https://${authority}`,
      armEndpoint: `https://${armHost}`,
      scope: `https://${armHost}/.default`,
      overridden: false,
    });
    const seen = sandbox.requests.slice(before);
    assert.deepEqual(
      [...new Set(seen.map((r) => `${r.route} ${r.host} ${r.status}`))].sort(),
      [`site ${armHost} 200`, `token ${tokenHost} 200`].sort(),
    );
    const tunnels = [...new Set(sandbox.tunnels.slice(tunnelsBefore))].sort();
    assert.deepEqual(tunnels, [`${tokenHost}:443`, `${armHost}:443`].sort());
  });
}

test('Kudu accepts the bearer token: a listing through the Kudu client', { timeout: 120_000 }, async () => {
  const kudu = await startKudu({ siteName: 'shop', acceptBearer: (t) => sandbox.acceptsToken(t, `${sandbox.url}/.default`) });
  try {
    fs.writeFileSync(path.join(kudu.home, 'site', 'wwwroot', '_artifact.txt'), '_target\\shop-0123456789.exe\r\n');
    const result = expectOk(await runChild({ ...secretInputs, 'kudu-url': kudu.url }, { kuduList: 'site/wwwroot/' }));
    assert.equal(result.kuduUrl, kudu.url);
    const names = (result.kudu.listing as { name: string }[]).map((e) => e.name);
    assert.ok(names.includes('_artifact.txt'), `listing: ${names.join(', ')}`);
    assert.ok(kudu.requests.some((r) => r.method === 'GET' && r.path.startsWith('/api/vfs/site/wwwroot/') && r.status === 200));
  } finally {
    await kudu.close();
  }
});

for (const [status, slot] of [[401, 'production'], [403, 'staging']] as const) {
  test(`Kudu answers ${status} to the bearer token: the message names the missing permission (${slot})`, { timeout: 120_000 }, async () => {
    const kudu = await startKudu({ siteName: 'shop', acceptBearer: () => false });
    try {
      if (status === 403) kudu.fault({ route: '/api/vfs/', status: 403 });
      const result = expectOk(await runChild({ ...secretInputs, 'slot-name': slot, 'kudu-url': kudu.url }, { kuduList: 'site/wwwroot/' }));
      assert.equal(result.kudu.status, status);
      const permission = slot === 'production' ? 'Microsoft.Web/sites/publish/action' : 'Microsoft.Web/sites/slots/publish/action';
      assert.ok(String(result.permissionHint).includes(permission), result.permissionHint);
      assert.ok(String(result.permissionHint).includes(`--assignee ${SECRET_APP} --role "Website Contributor"`), result.permissionHint);
      // The Kudu client's own message carries the hint.
      assert.ok(String(result.kudu.message).includes(permission), result.kudu.message);
      assert.ok(String(result.kudu.message).includes(`(${status})`), result.kudu.message);
    } finally {
      await kudu.close();
    }
  });
}

test('swap between two slots, and from production into a slot', { timeout: 120_000 }, async () => {
  const swapsBefore = sandbox.swaps.length;
  const before = sandbox.requests.length;
  const betweenSlots = expectOk(await runChild({ ...secretInputs, 'slot-name': 'staging', 'swap-target-slot': 'canary' }));
  assert.deepEqual(betweenSlots.swap, { swappedIntoUrl: 'https://shop-canary.azurewebsites.net', sourceUrl: 'https://shop-staging.azurewebsites.net' });
  const fromProduction = expectOk(await runChild({ ...secretInputs, 'swap-target-slot': 'staging' }));
  assert.deepEqual(fromProduction.swap, { swappedIntoUrl: 'https://shop-staging.azurewebsites.net', sourceUrl: 'https://shop.azurewebsites.net' });
  assert.deepEqual(sandbox.swaps.slice(swapsBefore), [
    { site: 'shop', resourceGroup: 'rg-shop', source: 'staging', target: 'canary', preserveVnet: true },
    { site: 'shop', resourceGroup: 'rg-shop', source: 'production', target: 'staging', preserveVnet: true },
  ]);
  const posts = sandbox.requests.slice(before).filter((r) => r.route === 'swap').map((r) => r.path.replace(/^.*\/sites\//, ''));
  assert.deepEqual(posts, ['shop/slots/staging/slotsswap', 'shop/slotsswap']);
});

test('swap into a slot that does not exist: ARM\'s refusal is shown and nothing changes', { timeout: 120_000 }, async () => {
  const before = new Map(sandbox.serving);
  const message = expectFailure(await runChild({ ...secretInputs, 'slot-name': 'staging', 'swap-target-slot': 'nope' }));
  assert.match(message, /^swap-target-slot: ARM refused to swap slot staging into nope of site shop \(HTTP 400 BadRequest/);
  assert.match(message, /slot 'nope' does not exist/);
  assert.deepEqual(sandbox.serving, before);
});

test('swap: bounded by the deadline while ARM keeps answering InProgress', { timeout: 120_000 }, async () => {
  const slow = await startAzureSandbox({
    tenantId: TENANT,
    subscriptionId: SUB,
    clients: [{ clientId: SECRET_APP, secret: SECRET }],
    sites: [{ name: 'shop', resourceGroup: 'rg-shop', slots: ['staging'] }],
    swapPolls: 1_000_000,
  });
  try {
    const started = Date.now();
    const outcome = await runChild(
      { ...secretInputs, 'slot-name': 'staging', 'swap-target-slot': 'production', 'resource-group-name': 'rg-shop' },
      { sandbox: slow, env: { GAD_TEST_TIMEOUT_MS: '5000' } },
    );
    assert.ok(!outcome.ok);
    assert.match(outcome.message, /the child ran out of time/);
    assert.ok(Date.now() - started < 30_000);
    assert.equal(slow.swaps.length, 1);
    assert.ok(slow.requests.some((r) => r.route === 'operation-status'), 'the operation was being polled');
    assert.equal(slow.serving.get('shop'), 'shop production version', 'production is untouched');
  } finally {
    await slow.close();
  }
});

test('the sandbox saw no request it does not serve, and no tunnel outside the cloud hosts', () => {
  assert.deepEqual(sandbox.requests.filter((r) => r.route === 'unknown' || r.route === 'error'), []);
  assert.deepEqual(sandbox.tunnels.filter((t) => !CLOUD_HOSTS.includes(t.replace(/:443$/, ''))), []);
});
