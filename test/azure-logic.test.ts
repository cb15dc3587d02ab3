import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { CLOUD_ENDPOINTS, cloudEndpoints, isKnownAuthorityHost } from '../src/signin/clouds.ts';
import {
  kuduPermissionHint,
  permissionHintFor,
  pickSiteByName,
  resourceGroupOf,
  siteHosts,
  signInError,
  ID_TOKEN_PERMISSIONS_YAML,
} from '../src/signin/azure.ts';
import { swapSlots } from '../src/signin/swap.ts';
import { preflightFindings, type SiteFacts } from '../src/site/preflight.ts';
import { parseInputs, type Config } from '../src/common/inputs.ts';
import { ActionError } from '../src/common/errors.ts';

const SHA = '0123456789abcdef0123456789abcdef01234567';
function config(inputs: Record<string, string>): Config {
  return parseInputs((n) => ({ commit: SHA, 'app-name': 'shop', ...inputs })[n] ?? '', {}, process.cwd());
}

test('cloud table: authority host, ARM endpoint and scope per environment', () => {
  assert.deepEqual(cloudEndpoints('AzureCloud', {}), {
    authorityHost: 'https://login.microsoftonline.com',
    armEndpoint: 'https://management.azure.com',
    scope: 'https://management.azure.com/.default',
    overridden: false,
  });
  assert.deepEqual(cloudEndpoints('AzureUSGovernment', {}), {
    authorityHost: 'https://login.microsoftonline.us',
    armEndpoint: 'https://management.usgovcloudapi.net',
    scope: 'https://management.usgovcloudapi.net/.default',
    overridden: false,
  });
  assert.deepEqual(cloudEndpoints('AzureChinaCloud', {}), {
    authorityHost: 'https://login.chinacloudapi.cn',
    armEndpoint: 'https://management.chinacloudapi.cn',
    scope: 'https://management.chinacloudapi.cn/.default',
    overridden: false,
  });
});

test('cloud overrides: AZURE_AUTHORITY_HOST and GO_AZURE_DEPLOY_ARM_ENDPOINT, trailing slashes dropped', () => {
  const e = cloudEndpoints('AzureUSGovernment', {
    AZURE_AUTHORITY_HOST: 'https://login.stack.example/',
    GO_AZURE_DEPLOY_ARM_ENDPOINT: 'https://management.stack.example/',
  });
  assert.deepEqual(e, {
    authorityHost: 'https://login.stack.example',
    armEndpoint: 'https://management.stack.example',
    scope: 'https://management.stack.example/.default',
    overridden: true,
  });
  const onlyArm = cloudEndpoints('AzureCloud', { GO_AZURE_DEPLOY_ARM_ENDPOINT: 'https://arm.example' });
  assert.equal(onlyArm.authorityHost, 'https://login.microsoftonline.com');
  assert.equal(onlyArm.scope, 'https://arm.example/.default');
  assert.equal(onlyArm.overridden, true);
});

test('known authority hosts keep instance discovery; others are private', () => {
  for (const c of Object.values(CLOUD_ENDPOINTS)) assert.equal(isKnownAuthorityHost(c.authorityHost), true);
  assert.equal(isKnownAuthorityHost('https://login.microsoftonline.us/'), true);
  assert.equal(isKnownAuthorityHost('https://127.0.0.1:8443'), false);
});

const site = (name: string, resourceGroup: string, kind = 'app') => ({
  name,
  kind,
  id: `/subscriptions/s/resourceGroups/${resourceGroup}/providers/Microsoft.Web/sites/${name}`,
});

test('site search: case-insensitive match, none, several', () => {
  const sites = [site('alpha', 'rg-a'), site('Beta', 'rg-b'), site('beta', 'rg-c'), site('gamma', 'rg-g')];
  assert.equal(pickSiteByName(sites, 'ALPHA', 's').resourceGroup, 'rg-a');
  assert.throws(() => pickSiteByName(sites, 'delta', 'sub-1'), (err: unknown) => {
    assert.ok(err instanceof ActionError);
    assert.match(err.message, /^app-name: no App Service site named delta in subscription-id sub-1 \(4 sites visible/);
    return true;
  });
  assert.throws(() => pickSiteByName(sites, 'beta', 's'), /app-name: 2 sites named beta .* resource groups rg-b, rg-c; set resource-group-name/);
});

test('resource group: from the property, else from the resource ID', () => {
  assert.equal(resourceGroupOf({ resourceGroup: 'rg-x', id: '/subscriptions/s/resourceGroups/rg-y/providers/x' }), 'rg-x');
  assert.equal(resourceGroupOf({ id: '/subscriptions/s/resourceGroups/rg-y/providers/Microsoft.Web/sites/a' }), 'rg-y');
});

test('hosts: SCM from the Repository entry, app from the default host even with custom domains', () => {
  const hosts = siteHosts(
    {
      defaultHostName: 'shop-staging.azurewebsites.net',
      hostNameSslStates: [
        { name: 'www.shop.example', hostType: 'Standard' },
        { name: 'shop-staging.azurewebsites.net', hostType: 'Standard' },
        { name: 'shop-staging.scm.azurewebsites.net', hostType: 'Repository' },
      ],
    },
    'shop/staging',
  );
  assert.deepEqual(hosts, { scmHost: 'shop-staging.scm.azurewebsites.net', appHost: 'shop-staging.azurewebsites.net' });
  assert.throws(
    () => siteHosts({ defaultHostName: 'a.azurewebsites.net', hostNameSslStates: [{ name: 'a.azurewebsites.net', hostType: 'Standard' }] }, 'a'),
    /no SCM \(Kudu\) host for a .*kudu-url/,
  );
});

test('Linux sites refused by preflight, Windows sites kept', () => {
  const facts = (kind: string | undefined): SiteFacts => ({
    label: 'shop',
    authKind: 'bearer',
    arm: { kind: kind ?? '', state: 'Running', unread: [] },
    webConfig: null,
    unread: [],
  });
  const refusals = (kind: string | undefined) => preflightFindings(facts(kind), { bootstrap: true }).filter((f) => f.severity === 'refuse').map((f) => f.text);
  assert.match(refusals('app,linux').join('\n'), /app-name: shop is a Linux App Service site .*HttpPlatformHandler/);
  assert.match(refusals('app,linux,container').join('\n'), /Linux/);
  assert.deepEqual(refusals('app'), []);
  assert.deepEqual(refusals(undefined), []);
});

test('permission hint: site and slot permissions, scope and assignee', () => {
  const id = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/shop';
  const prod = permissionHintFor({ identity: 'the app registration abc', siteName: 'shop', slotName: 'production', siteId: id });
  assert.match(prod, /Microsoft\.Web\/sites\/publish\/action on site shop/);
  assert.ok(prod.includes(`az role assignment create --assignee abc --role "Website Contributor" --scope ${id}\n`));
  const slot = permissionHintFor({ identity: 'the Azure CLI account', siteName: 'shop', slotName: 'staging', siteId: id });
  assert.match(slot, /Microsoft\.Web\/sites\/slots\/publish\/action on slot staging of site shop/);
  assert.ok(slot.includes(`--scope ${id}/slots/staging`));
  assert.ok(slot.includes('--assignee <object ID of the signed-in identity>'));
  assert.equal(kuduPermissionHint({ authKind: 'basic' }), '');
});

test('sign-in errors name the inputs involved', () => {
  const oidc = config({ 'client-id': 'cid', 'tenant-id': 'tid' });
  assert.match(signInError(oidc, new Error('Error message: Failed to get ID Token.'), 'x').message, new RegExp(ID_TOKEN_PERMISSIONS_YAML));
  const cli = config({});
  assert.match(signInError(cli, new Error("Please run 'az login' from a command prompt"), 'x').message, /not signed in .*azure\/login/);
  assert.match(signInError(cli, new Error('Azure CLI could not be found.'), 'x').message, /not installed/);
  assert.doesNotMatch(signInError(cli, new Error("ERROR: Subscription 'x' not found."), 'x').message, /not installed/);
  const secret = config({ 'client-id': 'cid', 'tenant-id': 'tid', 'client-secret': 's' });
  assert.match(
    signInError(secret, new Error('network_error: See https://aka.ms/msal.js.errors#network_error'), 'x', 'https://login.microsoftonline.us').message,
    /^Could not reach Entra ID at https:\/\/login\.microsoftonline\.us .*HTTPS_PROXY\/NO_PROXY/,
  );
});

test('swap with a publish-profile target names swap-target-slot', async () => {
  const cfg = config({ 'slot-name': 'staging', 'swap-target-slot': 'production', 'publish-profile': '<x/>' });
  await assert.rejects(
    swapSlots(cfg, { kuduUrl: 'https://k', webappUrl: 'https://w', authKind: 'basic', authorization: async () => 'Basic x' }, new AbortController().signal),
    /^ActionError: swap-target-slot: swapping slots goes through Azure Resource Manager/,
  );
});
