// Entra ID sign-in (client secret, GitHub OIDC, Azure CLI) and the ARM lookup of the site: which
// Kudu (SCM) host to call, the site's URL, and a bearer token for Kudu. docs/ARCHITECTURE.md, "The flow".

import * as core from '@actions/core';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { AzureCliCredential, ClientAssertionCredential, ClientSecretCredential } from '@azure/identity';
import { WebSiteManagementClient, type Site } from '@azure/arm-appservice';
import type { Config } from '../common/inputs.ts';
import type { ArmSite, ArmSiteSettings, SiteConnection } from './connection.ts';
import { ActionError, messageOf } from '../common/errors.ts';
import { safeUrl } from '../common/http.ts';
import { untilAborted } from '../common/retry.ts';
import { cloudEndpoints, isKnownAuthorityHost, type CloudEndpoints } from './clouds.ts';

/** What later stages (slot swap, verification) need to talk to ARM about the same site. */
/** The YAML a workflow needs so that GitHub hands out OIDC ID tokens. */
export const ID_TOKEN_PERMISSIONS_YAML = 'permissions:\n  id-token: write\n  contents: read';

/** Renewing a little before expiry keeps a long upload from starting with a token about to lapse. */
const TOKEN_RENEW_MARGIN_MS = 5 * 60_000;

/** Signs in, finds the site (or slot) through ARM and returns its Kudu connection with bearer auth. */
export async function connectionFromAzure(cfg: Config, signal: AbortSignal): Promise<SiteConnection> {
  if (cfg.auth.kind === 'publish-profile') {
    throw new Error('connectionFromAzure called for a publish profile');
  }
  const endpoints = cloudEndpoints(cfg.environment);
  if (endpoints.overridden) {
    core.info(`Using the endpoints from the environment: sign-in ${endpoints.authorityHost}, ARM ${endpoints.armEndpoint}`);
  }
  if (cfg.auth.kind === 'entra-id') requireSubscription(cfg);

  const credential = createCredential(cfg, endpoints);
  const identity = describeIdentity(cfg);
  core.info(`Signing in to ${cfg.environment} as ${identity} (${describeMethod(cfg)})`);
  // One token up front: a sign-in problem is reported as such, not as a failed ARM call.
  const first = await getTokenExplained(cfg, credential, endpoints, signal);
  core.setSecret(first.token);
  requireSubscription(cfg);

  const client = armClient(credential, cfg.subscriptionId, endpoints);
  const found = await findSite(client, cfg, identity, signal);
  // A Linux site is refused by the preflight stage (site/preflight.ts), with everything else it finds.
  let shown: Site = found.site;
  if (!isProduction(cfg.slotName)) {
    shown = await readSlot(client, found.resourceGroup, cfg, identity, signal);
  }
  const hosts = siteHosts(shown, isProduction(cfg.slotName) ? cfg.appName : `${cfg.appName}/${cfg.slotName}`);
  const kuduUrl = cfg.kuduUrl !== '' ? cfg.kuduUrl : `https://${hosts.scmHost}`;
  const webappUrl = `https://${hosts.appHost}`;
  core.info(`Site ${cfg.appName}${isProduction(cfg.slotName) ? '' : ` slot ${cfg.slotName}`} in resource group ${found.resourceGroup}: Kudu ${safeUrl(kuduUrl).replace(/\/$/, '')}, URL ${webappUrl}`);

  let current: AccessToken = first;
  const where = {
    identity,
    siteName: found.site.name ?? cfg.appName,
    slotName: isProduction(cfg.slotName) ? 'production' : cfg.slotName,
    siteId: found.site.id ?? siteResourceId(cfg.subscriptionId, found.resourceGroup, cfg.appName),
  };
  const arm: ArmSite = {
    ...where,
    credential,
    endpoints,
    subscriptionId: cfg.subscriptionId,
    resourceGroup: found.resourceGroup,
    kuduPermissionHint: permissionHintFor(where),
    listInstances: (listSignal) => listInstances(client, found.resourceGroup, where.siteName, where.slotName, identity, listSignal),
    readSettings: (readSignal) => readSiteSettings(client, found.resourceGroup, where.siteName, where.slotName, shown, readSignal),
  };
  return {
    kuduUrl: kuduUrl.replace(/\/+$/, ''),
    webappUrl,
    authKind: 'bearer',
    arm,
    async authorization(requestSignal?: AbortSignal): Promise<string> {
      if (current.expiresOnTimestamp - Date.now() < TOKEN_RENEW_MARGIN_MS) {
        // The deploy's signal by default, so a refresh stalled at Entra ID never outlives timeout.
        current = await getTokenExplained(cfg, credential, endpoints, requestSignal ?? signal);
        core.setSecret(current.token);
      }
      return `Bearer ${current.token}`;
    },
  };
}

export function isProduction(slot: string): boolean {
  return slot === '' || slot.toLowerCase() === 'production';
}

/** The ARM client for the site's subscription, in the chosen cloud. */
export function armClient(credential: TokenCredential, subscriptionId: string, endpoints: CloudEndpoints): WebSiteManagementClient {
  return new WebSiteManagementClient(credential, subscriptionId, {
    endpoint: endpoints.armEndpoint,
    credentials: { scopes: [endpoints.scope] },
  });
}

/**
 * What to tell the user when Kudu answers 401 or 403 to this connection's bearer token: the permission
 * the identity lacks and how to grant it. Empty for a publish-profile connection.
 */
export function kuduPermissionHint(connection: Pick<SiteConnection, 'authKind' | 'arm'>): string {
  return connection.authKind === 'bearer' && connection.arm !== undefined ? connection.arm.kuduPermissionHint : '';
}

/** The 401/403 advice for an identity deploying to a site or one of its slots. */
export function permissionHintFor(site: { identity: string; siteName: string; slotName: string; siteId: string }): string {
  const slot = !isProduction(site.slotName);
  const permission = slot ? 'Microsoft.Web/sites/slots/publish/action' : 'Microsoft.Web/sites/publish/action';
  const scope = slot ? `${site.siteId}/slots/${site.slotName}` : site.siteId;
  const prefix = 'the app registration ';
  const assignee = site.identity.startsWith(prefix) ? site.identity.slice(prefix.length) : '<object ID of the signed-in identity>';
  return (
    `Kudu refused the Entra ID token of ${site.identity}: it needs the permission ${permission} on ` +
    `${slot ? `slot ${site.slotName} of ` : ''}site ${site.siteName}. Grant the built-in "Website Contributor" role ` +
    `(or a custom role with ${permission} and Microsoft.Web/sites/read) scoped to the site, e.g.\n` +
    `  az role assignment create --assignee ${assignee} --role "Website Contributor" --scope ${scope}\n` +
    `Role assignments can take a few minutes to apply.`
  );
}

// --- credentials --------------------------------------------------------------------------------

function requireSubscription(cfg: Config): void {
  if (cfg.subscriptionId === '') {
    throw new ActionError(
      `subscription-id: required when signing in with ${cfg.auth.kind === 'entra-id' ? 'Entra ID (client-id and tenant-id)' : 'an Azure CLI session'}; ` +
        `give the ID of the subscription that holds ${cfg.appName} (az account show --query id -o tsv).`,
    );
  }
}

function describeIdentity(cfg: Config): string {
  return cfg.auth.kind === 'entra-id' ? `the app registration ${cfg.auth.clientId}` : 'the Azure CLI account';
}

function describeMethod(cfg: Config): string {
  if (cfg.auth.kind === 'entra-id') return cfg.auth.clientSecret !== '' ? 'client secret' : 'GitHub OIDC';
  return 'Azure CLI session';
}

/** The credential for the configured sign-in; pure apart from the OIDC variables check. */
function createCredential(cfg: Config, endpoints: CloudEndpoints): TokenCredential {
  // The sign-in library validates authorities it does not know against the public cloud; a
  // private cloud or a local test authority must skip that, a public cloud keeps it.
  const common = {
    authorityHost: endpoints.authorityHost,
    disableInstanceDiscovery: !isKnownAuthorityHost(endpoints.authorityHost),
  };
  const auth = cfg.auth;
  if (auth.kind === 'entra-id') {
    if (auth.clientSecret !== '') {
      return new ClientSecretCredential(auth.tenantId, auth.clientId, auth.clientSecret, common);
    }
    requireIdTokenPermission();
    const audience = auth.audience;
    return new ClientAssertionCredential(auth.tenantId, auth.clientId, () => core.getIDToken(audience), common);
  }
  return new AzureCliCredential({ processTimeoutInMs: 60_000 });
}

/** GitHub only sets these variables for jobs granted `id-token: write`. */
function requireIdTokenPermission(): void {
  const missing = ['ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'].filter((v) => (process.env[v] ?? '') === '');
  if (missing.length === 0) return;
  throw new ActionError(
    `GitHub OIDC sign-in (client-id and tenant-id given, client-secret empty) needs an ID token from GitHub, ` +
      `but ${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not set: the job is not allowed to request one. ` +
      `Add this to the job (or the workflow):\n\n${ID_TOKEN_PERMISSIONS_YAML}\n\n` +
      `Pull requests from forks never get ID tokens. To sign in without OIDC, give client-secret instead.`,
  );
}

/** The error for "no way to sign in": the three ways, so the user can pick one. */
function noCredentialsError(reason: string): ActionError {
  return new ActionError(
    `Could not sign in to Azure: publish-profile, client-id and tenant-id are empty, so an Azure CLI session was tried, ` +
      `and ${reason}. Authenticate in one of three ways:\n` +
      `  1. publish-profile: the site's publish profile XML, stored as a secret;\n` +
      `  2. client-id, tenant-id and subscription-id of an app registration, with client-secret, or with GitHub OIDC ` +
      `(leave client-secret empty, add a federated credential for this repository, and give the job ` +
      `"permissions: id-token: write");\n` +
      `  3. run azure/login before this step and give subscription-id.`,
  );
}

async function getTokenExplained(
  cfg: Config,
  credential: TokenCredential,
  endpoints: CloudEndpoints,
  signal: AbortSignal | undefined,
): Promise<AccessToken> {
  let token: AccessToken | null;
  try {
    // Raced against the signal as well: the sign-in library does not stop every request on it.
    token = await untilAborted(credential.getToken(endpoints.scope, { abortSignal: signal }), signal);
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw signInError(cfg, err, endpoints.scope, endpoints.authorityHost);
  }
  if (token === null) throw signInError(cfg, new Error('no token was returned'), endpoints.scope, endpoints.authorityHost);
  return token;
}

/** Turns a sign-in library error into a message naming the inputs involved. */
export function signInError(cfg: Config, err: unknown, scope: string, authorityHost = ''): ActionError {
  const detail = firstLines(messageOf(err));
  const auth = cfg.auth;
  if (auth.kind === 'entra-id' && /network_error|endpoints_resolution_error|ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EAI_AGAIN/.test(detail)) {
    return new ActionError(
      `Could not reach Entra ID${authorityHost ? ` at ${authorityHost}` : ''} to sign in (${detail}). Check that the runner can reach it ` +
        `(environment is ${cfg.environment}), and HTTPS_PROXY/NO_PROXY if the runner sits behind a proxy.`,
    );
  }
  if (auth.kind === 'azure-cli') {
    if (/Azure CLI could not be found|az: .*not found|'az' is not recognized/i.test(detail)) return noCredentialsError('the Azure CLI (az) is not installed on this runner');
    if (/az login/i.test(detail)) return noCredentialsError('the Azure CLI is not signed in (no azure/login step ran before this one)');
    return new ActionError(`Could not get a token for ${scope} from the Azure CLI session: ${detail}. Run azure/login before this step, or sign in with client-id and tenant-id.`);
  }
  if (auth.kind !== 'entra-id') return new ActionError(`Could not sign in: ${detail}`);
  const who = `client-id ${auth.clientId} in tenant-id ${auth.tenantId}`;
  if (/AADSTS7000215|AADSTS7000222|invalid client secret/i.test(detail)) {
    return new ActionError(`Entra ID refused client-secret for ${who} (${detail}). The secret is wrong or expired: create a new one for the app registration and update the secret the workflow passes.`);
  }
  if (/AADSTS700016|AADSTS90002|not found in the directory|tenant .* not found/i.test(detail)) {
    return new ActionError(`Entra ID does not know ${who} (${detail}). Check client-id and tenant-id, and environment (${cfg.environment}).`);
  }
  if (auth.clientSecret === '') {
    if (/ID token|ACTIONS_ID_TOKEN/i.test(detail) && !/AADSTS/.test(detail)) {
      return new ActionError(`Could not get an OIDC ID token from GitHub for audience ${auth.audience}: ${detail}. The job needs:\n\n${ID_TOKEN_PERMISSIONS_YAML}`);
    }
    return new ActionError(
      `Entra ID refused the GitHub OIDC token for ${who} (${detail}). The app registration needs a federated credential ` +
        `whose issuer is https://token.actions.githubusercontent.com, whose subject matches this run ` +
        `(e.g. repo:OWNER/REPO:ref:refs/heads/main or repo:OWNER/REPO:environment:NAME) and whose audience is ${auth.audience} (the audience input).`,
    );
  }
  return new ActionError(`Could not sign in to Entra ID as ${who}: ${detail}`);
}

function firstLines(text: string): string {
  return text.split(/\r?\n/).filter((l) => l.trim() !== '').slice(0, 3).join(' ').trim();
}

// --- ARM lookup ---------------------------------------------------------------------------------

interface FoundSite {
  site: Site;
  resourceGroup: string;
}

function siteResourceId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Web/sites/${name}`;
}

/** The resource group named in an ARM resource ID. */
export function resourceGroupOf(site: Pick<Site, 'id' | 'resourceGroup'>): string {
  if (site.resourceGroup) return site.resourceGroup;
  const m = /\/resourceGroups\/([^/]+)\//i.exec(site.id ?? '');
  return m ? m[1] : '';
}

/**
 * Picks the site named `name` (App Service names are case-insensitive) among a subscription's
 * sites; none or several is an error naming what to change.
 */
export function pickSiteByName<S extends Pick<Site, 'name' | 'id' | 'resourceGroup'>>(
  sites: readonly S[],
  name: string,
  subscriptionId: string,
): { site: S; resourceGroup: string } {
  const wanted = name.toLowerCase();
  const matches = sites.filter((s) => (s.name ?? '').toLowerCase() === wanted);
  if (matches.length === 0) {
    throw new ActionError(
      `app-name: no App Service site named ${name} in subscription-id ${subscriptionId} ` +
        `(${sites.length} site${sites.length === 1 ? '' : 's'} visible to this identity). Check app-name and subscription-id, ` +
        `and that the identity has the Website Contributor role on the site (it includes Microsoft.Web/sites/read, which ARM needs to list the site; a role on the resource group or subscription is not required).`,
    );
  }
  if (matches.length > 1) {
    const groups = matches.map(resourceGroupOf);
    throw new ActionError(
      `app-name: ${matches.length} sites named ${name} in subscription-id ${subscriptionId}, in resource groups ` +
        `${groups.join(', ')}; set resource-group-name to the one to deploy to.`,
    );
  }
  return { site: matches[0], resourceGroup: resourceGroupOf(matches[0]) };
}

async function findSite(client: WebSiteManagementClient, cfg: Config, identity: string, signal: AbortSignal): Promise<FoundSite> {
  if (cfg.resourceGroupName !== '') {
    try {
      const site = await client.webApps.get(cfg.resourceGroupName, cfg.appName, { abortSignal: signal });
      return { site, resourceGroup: resourceGroupOf(site) || cfg.resourceGroupName };
    } catch (err) {
      throw armError(err, signal, identity, `read site ${cfg.appName} in resource group ${cfg.resourceGroupName}`, () =>
        `app-name/resource-group-name: no site ${cfg.appName} in resource group ${cfg.resourceGroupName} of subscription-id ${cfg.subscriptionId}. ` +
          `Check both names, or leave resource-group-name empty to search the subscription.`,
      );
    }
  }
  const sites: Site[] = [];
  try {
    for await (const site of client.webApps.list({ abortSignal: signal })) sites.push(site);
  } catch (err) {
    throw armError(err, signal, identity, `list the sites of subscription-id ${cfg.subscriptionId}`, () =>
      `subscription-id: ${cfg.subscriptionId} was not found; check the subscription ID and the environment (${cfg.environment}).`,
    );
  }
  return pickSiteByName(sites, cfg.appName, cfg.subscriptionId);
}

async function readSlot(client: WebSiteManagementClient, resourceGroup: string, cfg: Config, identity: string, signal: AbortSignal): Promise<Site> {
  try {
    return await client.webApps.getSlot(resourceGroup, cfg.appName, cfg.slotName, { abortSignal: signal });
  } catch (err) {
    throw armError(err, signal, identity, `read slot ${cfg.slotName} of site ${cfg.appName}`, () =>
      `slot-name: site ${cfg.appName} has no slot ${cfg.slotName}. Create it (az webapp deployment slot create) or fix slot-name.`,
    );
  }
}

/** An ARM failure as a message: 404 through `notFound`, 401/403 naming the role to grant. */
export function armError(err: unknown, signal: AbortSignal | undefined, identity: string, what: string, notFound: () => string): unknown {
  if (signal?.aborted) return signal.reason;
  if (err instanceof ActionError) return err;
  const status = (err as { statusCode?: number }).statusCode;
  const code = (err as { code?: string }).code;
  const detail = firstLines(messageOf(err));
  if (status === 404) return new ActionError(`${notFound()} (ARM answered 404${code ? ` ${code}` : ''}: ${detail})`);
  if (status === 401 || status === 403) {
    return new ActionError(
      `ARM refused to ${what} for ${identity} (HTTP ${status}${code ? ` ${code}` : ''}: ${detail}). ` +
        `Give the identity the "Website Contributor" role on the site (it includes Microsoft.Web/sites/read and the publish permission).`,
    );
  }
  return new ActionError(`Could not ${what} through ARM${status ? ` (HTTP ${status}${code ? ` ${code}` : ''})` : ''}: ${detail}`);
}

async function listInstances(
  client: WebSiteManagementClient,
  resourceGroup: string,
  siteName: string,
  slotName: string,
  identity: string,
  signal: AbortSignal,
): Promise<string[]> {
  const ids: string[] = [];
  try {
    const pages = isProduction(slotName)
      ? client.webApps.listInstanceIdentifiers(resourceGroup, siteName, { abortSignal: signal })
      : client.webApps.listInstanceIdentifiersSlot(resourceGroup, siteName, slotName, { abortSignal: signal });
    for await (const instance of pages) if (instance.name) ids.push(instance.name);
  } catch (err) {
    throw armError(err, signal, identity, `list the instances of ${isProduction(slotName) ? '' : `slot ${slotName} of `}site ${siteName}`, () =>
      `app-name: site ${siteName}${isProduction(slotName) ? '' : ` slot ${slotName}`} disappeared while deploying.`,
    );
  }
  return ids;
}

/**
 * The site's (or slot's) configuration from ARM, for the preflight stage: its kind and state (from
 * the site already read), siteConfig (GET .../config/web), the app settings (POST
 * .../config/appsettings/list), the SCM basic auth policy (GET
 * .../basicPublishingCredentialsPolicies/scm) and App Service Authentication (GET
 * .../config/authsettingsV2). Each read that fails is named in `unread` rather than
 * failing the deploy: the identity may hold a role that can publish but not read settings.
 */
async function readSiteSettings(
  client: WebSiteManagementClient,
  resourceGroup: string,
  siteName: string,
  slotName: string,
  site: Site,
  signal: AbortSignal,
): Promise<ArmSiteSettings> {
  const slot = !isProduction(slotName);
  const out: ArmSiteSettings = { kind: site.kind ?? '', state: site.state ?? '', unread: [] };
  const read = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const status = (err as { statusCode?: number }).statusCode;
      out.unread.push(`${what} (${status ? `ARM answered ${status}: ` : ''}${firstLines(messageOf(err))})`);
      return undefined;
    }
  };
  const opts = { abortSignal: signal };
  const config = await read('the site configuration', () =>
    slot ? client.webApps.getConfigurationSlot(resourceGroup, siteName, slotName, opts) : client.webApps.getConfiguration(resourceGroup, siteName, opts),
  );
  if (config !== undefined) {
    out.alwaysOn = config.alwaysOn;
    out.healthCheckPath = config.healthCheckPath ?? '';
  }
  const settings = await read('the app settings', () =>
    slot ? client.webApps.listApplicationSettingsSlot(resourceGroup, siteName, slotName, opts) : client.webApps.listApplicationSettings(resourceGroup, siteName, opts),
  );
  if (settings !== undefined) out.appSettings = settings.properties ?? {};
  const scm = await read('the SCM basic auth policy', () =>
    slot ? client.webApps.getScmAllowedSlot(resourceGroup, siteName, slotName, opts) : client.webApps.getScmAllowed(resourceGroup, siteName, opts),
  );
  if (scm !== undefined) out.scmBasicAuth = scm.allow;
  const auth = await read('the authentication settings', () =>
    slot ? client.webApps.getAuthSettingsV2WithoutSecretsSlot(resourceGroup, siteName, slotName, opts) : client.webApps.getAuthSettingsV2WithoutSecrets(resourceGroup, siteName, opts),
  );
  if (auth !== undefined) {
    out.authentication = {
      enabled: auth.platform?.enabled === true,
      requireAuthentication: auth.globalValidation?.requireAuthentication === true,
      unauthenticatedClientAction: auth.globalValidation?.unauthenticatedClientAction ?? '',
      excludedPaths: auth.globalValidation?.excludedPaths ?? [],
    };
  }
  return out;
}

/**
 * The SCM (Kudu) host and the public host of a site or slot, from ARM's hostNameSslStates: the
 * `Repository` entry is the SCM host (never built by hand: slots and regional names differ), and
 * the default host name, else the first `Standard` entry, is the app's.
 */
export function siteHosts(site: Pick<Site, 'hostNameSslStates' | 'defaultHostName'>, label: string): { scmHost: string; appHost: string } {
  const states = site.hostNameSslStates ?? [];
  const scm = states.find((s) => s.hostType === 'Repository' && s.name);
  if (scm?.name === undefined) {
    throw new ActionError(
      `ARM lists no SCM (Kudu) host for ${label} (no hostNameSslStates entry with hostType Repository). ` +
        `Give the Kudu base URL in the kudu-url input.`,
    );
  }
  const standard = states.filter((s) => s.hostType === 'Standard' && s.name).map((s) => s.name as string);
  const appHost = site.defaultHostName && standard.includes(site.defaultHostName) ? site.defaultHostName : (standard[0] ?? site.defaultHostName);
  if (!appHost) throw new ActionError(`ARM lists no host name for ${label}; the site may be stopped or misconfigured.`);
  return { scmHost: scm.name, appHost };
}
