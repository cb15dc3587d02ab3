// A local Azure for the tests: one HTTPS server that plays the Entra ID token endpoint and Azure
// Resource Manager (sites, slots, the subscription-wide site list, slot swap with its long-running
// operation), a stand-in for GitHub's OIDC ID-token service, and an HTTP CONNECT proxy that routes
// the public cloud host names to the HTTPS server, so code using the built-in endpoints of any cloud
// can be exercised without anything leaving 127.0.0.1.
//
// The certificate is self-signed and made here with the openssl CLI (Node cannot create X.509
// certificates); a child process trusts it through NODE_EXTRA_CA_CERTS. Given the sandbox's
// internet (internet.ts), the same services are also put on it under login.microsoftonline.com,
// management.azure.com and GitHub's ID-token host, served over plain http behind its TLS; that is
// how the end-to-end tests reach them. The override URLs and the CONNECT proxy here remain for the
// tests of the sign-in code's endpoint overrides and other clouds.

import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { ID_TOKEN_HOST, type Internet } from './internet.ts';

/**
 * Host names the certificate covers and the proxy routes to the sandbox: every cloud's sign-in and
 * ARM host. The sign-in library's built-in metadata sends China cloud token requests for
 * login.chinacloudapi.cn to its preferred network host, login.partner.microsoftonline.cn.
 */
export const CLOUD_HOSTS = [
  'login.microsoftonline.com',
  'management.azure.com',
  'login.microsoftonline.us',
  'management.usgovcloudapi.net',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
  'management.chinacloudapi.cn',
];

export interface SandboxSite {
  name: string;
  resourceGroup: string;
  /** ARM `kind`, e.g. `app` (Windows) or `app,linux`. */
  kind?: string;
  slots?: string[];
  /** Instance IDs of the site and of each slot (two made-up ones when absent). */
  instances?: string[];
  /** ARM `state` of the site and its slots (default `Running`); settable while the sandbox runs. */
  state?: string;
  /** siteConfig.alwaysOn (default true). */
  alwaysOn?: boolean;
  /** siteConfig.healthCheckPath (default none). */
  healthCheckPath?: string;
  /** App settings, as POST .../config/appsettings/list returns them (default none). */
  appSettings?: Record<string, string>;
  /** basicPublishingCredentialsPolicies/scm `allow` (default false, as for a new site). */
  scmBasicAuth?: boolean;
  /** App Service Authentication as config/authsettingsV2 tells it (default: off). */
  authentication?: SandboxAuthentication;
}

/** App Service Authentication ("Easy Auth") of a sandbox site; appservice.ts enforces it on the site's host. */
export interface SandboxAuthentication {
  /** globalValidation.unauthenticatedClientAction; sign-in is required unless AllowAnonymous. */
  unauthenticatedClientAction: 'RedirectToLoginPage' | 'Return401' | 'Return403' | 'AllowAnonymous';
  /** globalValidation.excludedPaths */
  excludedPaths?: string[];
}

export interface SandboxClient {
  clientId: string;
  /** Accepted client secret; absent: the client cannot use a secret. */
  secret?: string;
  /** Accepted GitHub OIDC token audience (a federated credential); absent: no OIDC. */
  federatedAudience?: string;
  /** Accepted subject of the GitHub OIDC token. */
  federatedSubject?: string;
  /** No role on any site: ARM answers 403 to reads, and lists no sites, as it does for such an identity. */
  noRole?: boolean;
}

export interface AzureSandboxOptions {
  tenantId: string;
  subscriptionId: string;
  clients: SandboxClient[];
  sites: SandboxSite[];
  /** Host suffix of the sites' host names. */
  hostSuffix?: string;
  /** Subject GitHub puts in the ID tokens it issues. */
  oidcSubject?: string;
  /** Polls of the swap operation answered "InProgress" before it succeeds. */
  swapPolls?: number;
  /** `expires_in` of the access tokens issued (default 3599 s). */
  tokenLifetimeSeconds?: number;
  /**
   * Put Entra ID (login.microsoftonline.com), ARM (management.azure.com) and GitHub's ID-token
   * service (ID_TOKEN_HOST) on this internet under their real names; `runnerEnv` then holds the
   * ACTIONS_ID_TOKEN_* variables a runner sets for a job with `id-token: write`.
   */
  internet?: Internet;
  /**
   * Token requests answered before the token endpoint stalls: every later one is held open with no
   * answer until the sandbox closes (a network fault, not a behaviour of Entra ID). Default: all.
   */
  answerTokenRequests?: number;
}

export interface TokenGrant {
  host: string;
  tenant: string;
  clientId: string;
  scope: string;
  method: 'secret' | 'assertion' | 'cli';
  token: string;
}

export interface SeenRequest {
  method: string;
  host: string;
  path: string;
  /** The route that answered, or `unknown`. */
  route: string;
  status: number;
}

export interface SwapRecord {
  site: string;
  resourceGroup: string;
  source: string;
  target: string;
  preserveVnet: unknown;
}

export interface AzureSandbox {
  /** https://127.0.0.1:<port> — both authority host and ARM endpoint when used as overrides. */
  url: string;
  /** http://127.0.0.1:<port> — CONNECT proxy for the public cloud hosts. */
  proxyUrl: string;
  /** ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN values for the GitHub OIDC stand-in (on 127.0.0.1). */
  idTokenRequestUrl: string;
  idTokenRequestToken: string;
  /** PEM file of the self-signed certificate, for NODE_EXTRA_CA_CERTS. */
  caFile: string;
  /**
   * With `internet`: ACTIONS_ID_TOKEN_REQUEST_URL (on ID_TOKEN_HOST, shaped as a runner's) and
   * ACTIONS_ID_TOKEN_REQUEST_TOKEN. Empty otherwise.
   */
  runnerEnv: Record<string, string>;
  grants: TokenGrant[];
  requests: SeenRequest[];
  /** ID tokens handed out by the GitHub stand-in, with the audience asked for. */
  idTokens: { audience: string; token: string }[];
  swaps: SwapRecord[];
  /** Hosts the proxy was asked to reach. */
  tunnels: string[];
  /** Which version each site or slot serves (`site` or `site/slot`); swaps exchange them. */
  serving: Map<string, string>;
  /** Issues an access token for `scope` outside the token endpoint, as an Azure CLI session holds one. */
  mintToken(scope: string, method: TokenGrant['method']): string;
  /** True when `token` is an access token this sandbox issued for `scope` (any scope when absent). */
  acceptsToken(token: string, scope?: string): boolean;
  close(): Promise<void>;
}

/** Makes a self-signed certificate for 127.0.0.1, localhost and `hosts`, in `dir`. */
export function makeCertificate(dir: string, hosts: readonly string[]): { certFile: string; keyFile: string } {
  const certFile = path.join(dir, 'sandbox-cert.pem');
  const keyFile = path.join(dir, 'sandbox-key.pem');
  const san = ['IP:127.0.0.1', 'DNS:localhost', ...hosts.map((h) => `DNS:${h}`)].join(',');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=go-azure-deploy sandbox',
      '-addext', `subjectAltName=${san}`,
      '-addext', 'basicConstraints=critical,CA:TRUE',
    ],
    { stdio: 'pipe' },
  );
  return { certFile, keyFile };
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** An unsigned JWT-shaped token: the sandbox checks it by remembering what it issued. */
function jwt(claims: Record<string, unknown>): string {
  return `${base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }))}.${base64url(JSON.stringify(claims))}.${base64url(randomBytes(32))}`;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

export async function startAzureSandbox(opts: AzureSandboxOptions): Promise<AzureSandbox> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-azure-'));
  const { certFile, keyFile } = makeCertificate(dir, CLOUD_HOSTS);
  const suffix = opts.hostSuffix ?? 'azurewebsites.net';
  const oidcSubject = opts.oidcSubject ?? 'repo:octo-org/shop:ref:refs/heads/main';
  const swapPolls = opts.swapPolls ?? 1;

  const grants: TokenGrant[] = [];
  const requests: SeenRequest[] = [];
  const idTokens: { audience: string; token: string }[] = [];
  const swaps: SwapRecord[] = [];
  const tunnels: string[] = [];
  const serving = new Map<string, string>();
  for (const s of opts.sites) {
    serving.set(s.name.toLowerCase(), `${s.name} production version`);
    for (const slot of s.slots ?? []) serving.set(`${s.name}/${slot}`.toLowerCase(), `${s.name} ${slot} version`);
  }
  const operations = new Map<string, { polls: number; done: boolean; apply: () => void }>();
  const idTokenRequestToken = randomBytes(16).toString('hex');

  const siteJson = (site: SandboxSite, slot?: string): Record<string, unknown> => {
    const base = `/subscriptions/${opts.subscriptionId}/resourceGroups/${site.resourceGroup}/providers/Microsoft.Web/sites/${site.name}`;
    const label = slot === undefined ? site.name : `${site.name}-${slot}`;
    const host = `${label}.${suffix}`;
    const scm = `${label}.scm.${suffix}`;
    return {
      id: slot === undefined ? base : `${base}/slots/${slot}`,
      name: slot === undefined ? site.name : `${site.name}/${slot}`,
      type: slot === undefined ? 'Microsoft.Web/sites' : 'Microsoft.Web/sites/slots',
      kind: site.kind ?? 'app',
      location: 'West Europe',
      properties: {
        state: site.state ?? 'Running',
        resourceGroup: site.resourceGroup,
        defaultHostName: host,
        enabledHostNames: [host, scm],
        hostNameSslStates: [
          { name: host, sslState: 'Disabled', hostType: 'Standard' },
          { name: scm, sslState: 'Disabled', hostType: 'Repository' },
        ],
      },
    };
  };

  const armNotFound = (res: http.ServerResponse, code: string, message: string): number => {
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'x-ms-failure-cause': 'gateway' });
    res.end(JSON.stringify({ error: { code, message } }));
    return 404;
  };
  const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): number => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
    return status;
  };

  const findSite = (rg: string, name: string): SandboxSite | undefined =>
    opts.sites.find((s) => s.resourceGroup.toLowerCase() === rg.toLowerCase() && s.name.toLowerCase() === name.toLowerCase());

  let tokenRequests = 0;
  const tokenEndpoint = async (req: http.IncomingMessage, res: http.ServerResponse, host: string, tenant: string): Promise<number> => {
    if (++tokenRequests > (opts.answerTokenRequests ?? Infinity)) return new Promise<number>(() => undefined);
    const form = new URLSearchParams(await readBody(req));
    const clientId = form.get('client_id') ?? '';
    const scope = form.get('scope') ?? '';
    const fail = (status: number, error: string, description: string): number =>
      json(res, status, { error, error_description: description, error_codes: [Number(/AADSTS(\d+)/.exec(description)?.[1] ?? 0)] });
    if (tenant !== opts.tenantId) return fail(400, 'invalid_request', `AADSTS90002: Tenant '${tenant}' not found.`);
    if (form.get('grant_type') !== 'client_credentials') return fail(400, 'unsupported_grant_type', 'AADSTS70003: only client_credentials here');
    const client = opts.clients.find((c) => c.clientId === clientId);
    if (client === undefined) {
      return fail(400, 'unauthorized_client', `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${tenant}'.`);
    }
    let method: TokenGrant['method'];
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) {
      if (client.secret === undefined || secret !== client.secret) {
        return fail(401, 'invalid_client', `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`);
      }
      method = 'secret';
    } else if (assertion !== null) {
      if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
        return fail(400, 'invalid_request', 'AADSTS50027: client_assertion_type is wrong');
      }
      const issued = idTokens.find((t) => t.token === assertion);
      let claims: Record<string, unknown> = {};
      try {
        claims = JSON.parse(Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
      } catch {
        claims = {};
      }
      const ok =
        issued !== undefined &&
        client.federatedAudience !== undefined &&
        claims.aud === client.federatedAudience &&
        claims.sub === (client.federatedSubject ?? oidcSubject) &&
        claims.iss === 'https://token.actions.githubusercontent.com';
      if (!ok) {
        return fail(400, 'invalid_client', `AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: '${String(claims.iss)}'. Assertion Subject: '${String(claims.sub)}'. Assertion Audience: '${String(claims.aud)}'.`);
      }
      method = 'assertion';
    } else {
      return fail(400, 'invalid_client', "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    }
    const token = jwt({ aud: scope.replace(/\/\.default$/, ''), appid: clientId, tid: tenant, n: randomBytes(8).toString('hex') });
    grants.push({ host, tenant, clientId, scope, method, token });
    const lifetime = opts.tokenLifetimeSeconds ?? 3599;
    return json(res, 200, { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token });
  };

  /** The grant behind an ARM request's bearer token, when it was issued for this host's ARM scope. */
  const armCaller = (req: http.IncomingMessage, host: string): TokenGrant | undefined => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const grant = m ? grants.find((g) => g.token === m[1]) : undefined;
    return grant !== undefined && grant.scope === `https://${host}/.default` ? grant : undefined;
  };

  const arm = async (req: http.IncomingMessage, res: http.ServerResponse, host: string, url: URL): Promise<[string, number]> => {
    if (armCaller(req, host) === undefined) {
      return ['arm-unauthorized', json(res, 401, { error: { code: 'InvalidAuthenticationToken', message: 'The access token is invalid or was issued for another audience.' } }, { 'www-authenticate': 'Bearer authorization_uri="https://login.windows.net/", error="invalid_token"' })];
    }
    const caller = opts.clients.find((c) => c.clientId === armCaller(req, host)?.clientId);
    const p = url.pathname;
    const sub = `/subscriptions/${opts.subscriptionId}`;
    if (caller?.noRole) {
      if (req.method === 'GET' && /\/providers\/Microsoft\.Web\/sites$/i.test(p)) return ['list-sites', json(res, 200, { value: [] })];
      return [
        'arm-forbidden',
        json(res, 403, {
          error: {
            code: 'AuthorizationFailed',
            message: `The client '${caller.clientId}' with object id '${caller.clientId}' does not have authorization to perform action 'Microsoft.Web/sites/read' over scope '${p}' or the scope is invalid.`,
          },
        }),
      ];
    }
    if (!p.toLowerCase().startsWith(sub.toLowerCase() + '/')) {
      return ['arm-subscription', json(res, 404, { error: { code: 'SubscriptionNotFound', message: `The subscription '${p.split('/')[2]}' could not be found.` } })];
    }
    const rest = p.slice(sub.length);
    if (req.method === 'GET' && /^\/providers\/Microsoft\.Web\/sites$/i.test(rest)) {
      return ['list-sites', json(res, 200, { value: opts.sites.map((s) => siteJson(s)) })];
    }
    const op = /^\/providers\/Microsoft\.Web\/locations\/westeurope\/operation(s|Results)\/([0-9a-f]+)$/i.exec(rest);
    if (req.method === 'GET' && op) {
      const state = operations.get(op[2]);
      if (state === undefined) return ['operation', armNotFound(res, 'NotFound', 'no such operation')];
      if (!state.done && state.polls >= swapPolls) {
        state.done = true;
        state.apply();
      }
      state.polls++;
      if (op[1].toLowerCase() === 's') {
        return ['operation-status', json(res, 200, { id: op[2], name: op[2], status: state.done ? 'Succeeded' : 'InProgress' }, state.done ? {} : { 'retry-after': '1' })];
      }
      if (!state.done) {
        res.writeHead(202, { location: `https://${host}${p}?api-version=2025-05-01`, 'retry-after': '1' });
        res.end();
        return ['operation-result', 202];
      }
      res.writeHead(200);
      res.end();
      return ['operation-result', 200];
    }
    const m = /^\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Web\/sites\/([^/]+)(?:\/slots\/([^/]+))?(\/slotsswap|\/instances|\/config\/web|\/config\/appsettings\/list|\/config\/authsettingsV2|\/basicPublishingCredentialsPolicies\/scm)?$/i.exec(rest);
    if (m) {
      const [, rg, name, slot, action] = m;
      const swap = action?.toLowerCase() === '/slotsswap' ? action : undefined;
      const site = findSite(rg, name);
      if (site === undefined) {
        return ['site', armNotFound(res, 'ResourceNotFound', `The Resource 'Microsoft.Web/sites/${name}' under resource group '${rg}' was not found.`)];
      }
      if (slot !== undefined && !(site.slots ?? []).some((s) => s.toLowerCase() === slot.toLowerCase())) {
        return ['slot', armNotFound(res, 'ResourceNotFound', `The Resource 'Microsoft.Web/sites/${name}/slots/${slot}' under resource group '${rg}' was not found.`)];
      }
      if (action?.toLowerCase() === '/instances' && req.method === 'GET') {
        const ids = site.instances ?? ['a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9', '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0'];
        const base = `${sub}/resourceGroups/${site.resourceGroup}/providers/Microsoft.Web/sites/${site.name}${slot === undefined ? '' : `/slots/${slot}`}`;
        return [
          'instances',
          json(res, 200, { value: ids.map((id) => ({ id: `${base}/instances/${id}`, name: id, type: 'Microsoft.Web/sites/instances', properties: { state: 'READY' } })) }),
        ];
      }
      const resourceId = `${sub}/resourceGroups/${site.resourceGroup}/providers/Microsoft.Web/sites/${site.name}${slot === undefined ? '' : `/slots/${slot}`}`;
      // Web Apps - Get Configuration: GET .../config/web answers a SiteConfigResource whose
      // properties are the siteConfig (alwaysOn, healthCheckPath among many others).
      if (action?.toLowerCase() === '/config/web' && req.method === 'GET') {
        return [
          'config-web',
          json(res, 200, {
            id: `${resourceId}/config/web`,
            name: 'web',
            type: 'Microsoft.Web/sites/config',
            properties: { alwaysOn: site.alwaysOn ?? true, healthCheckPath: site.healthCheckPath ?? null, http20Enabled: false, ftpsState: 'FtpsOnly' },
          }),
        ];
      }
      // Web Apps - List Application Settings: a POST (a list action, so Reader cannot see the
      // values) answering a StringDictionary, the settings as an object in `properties`.
      if (action?.toLowerCase() === '/config/appsettings/list' && req.method === 'POST') {
        return ['appsettings', json(res, 200, { id: `${resourceId}/config/appsettings`, name: 'appsettings', type: 'Microsoft.Web/sites/config', properties: site.appSettings ?? {} })];
      }
      // Web Apps - Get Scm Allowed: the SCM basic auth publishing credentials policy, `allow`
      // false unless turned on (new sites have it off).
      if (action?.toLowerCase() === '/basicpublishingcredentialspolicies/scm' && req.method === 'GET') {
        return [
          'scm-policy',
          json(res, 200, { id: `${resourceId}/basicPublishingCredentialsPolicies/scm`, name: 'scm', type: 'Microsoft.Web/sites/basicPublishingCredentialsPolicies', properties: { allow: site.scmBasicAuth ?? false } }),
        ];
      }
      // Web Apps - Get Auth Settings V2 Without Secrets: GET .../config/authsettingsV2, a
      // SiteAuthSettingsV2 whose platform.enabled says whether Authentication is on and whose
      // globalValidation says what happens to requests without a signed-in user.
      if (action?.toLowerCase() === '/config/authsettingsv2' && req.method === 'GET') {
        const auth = site.authentication;
        return [
          'authsettings',
          json(res, 200, {
            id: `${resourceId}/config/authsettingsV2`,
            name: 'authsettingsV2',
            type: 'Microsoft.Web/sites/config',
            properties: {
              platform: { enabled: auth !== undefined, runtimeVersion: '~1' },
              globalValidation:
                auth === undefined
                  ? { requireAuthentication: false }
                  : { requireAuthentication: auth.unauthenticatedClientAction !== 'AllowAnonymous', unauthenticatedClientAction: auth.unauthenticatedClientAction, excludedPaths: auth.excludedPaths ?? [] },
              httpSettings: { requireHttps: true },
            },
          }),
        ];
      }
      if (action === undefined && req.method === 'GET') return [slot === undefined ? 'site' : 'slot', json(res, 200, siteJson(site, slot))];
      if (swap !== undefined && req.method === 'POST') {
        const body = JSON.parse((await readBody(req)) || '{}') as { targetSlot?: string; preserveVnet?: unknown };
        const source = slot ?? 'production';
        const target = body.targetSlot ?? '';
        const known = (s: string): boolean => s.toLowerCase() === 'production' || (site.slots ?? []).some((x) => x.toLowerCase() === s.toLowerCase());
        if (!known(target)) {
          return ['swap', json(res, 400, { error: { code: 'BadRequest', message: `Cannot swap: slot '${target}' does not exist.` } })];
        }
        const id = randomBytes(8).toString('hex');
        const key = (s: string): string => (s.toLowerCase() === 'production' ? site.name.toLowerCase() : `${site.name}/${s}`.toLowerCase());
        operations.set(id, {
          polls: 0,
          done: false,
          apply: () => {
            const a = serving.get(key(source)) ?? '';
            serving.set(key(source), serving.get(key(target)) ?? '');
            serving.set(key(target), a);
          },
        });
        swaps.push({ site: site.name, resourceGroup: site.resourceGroup, source, target, preserveVnet: body.preserveVnet });
        const opBase = `https://${host}${sub}/providers/Microsoft.Web/locations/westeurope`;
        res.writeHead(202, {
          'azure-asyncoperation': `${opBase}/operations/${id}?api-version=2025-05-01`,
          location: `${opBase}/operationResults/${id}?api-version=2025-05-01`,
          'retry-after': '1',
        });
        res.end();
        return ['swap', 202];
      }
    }
    return ['unknown', armNotFound(res, 'NoRegisteredProviderFound', `No route for ${req.method} ${p}`)];
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const host = (req.headers.host ?? '').toLowerCase().replace(/:443$/, '');
    const url = new URL(req.url ?? '/', `https://${host}`);
    const handle = async (): Promise<[string, number]> => {
      const openid = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(url.pathname);
      if (req.method === 'GET' && openid) {
        const t = openid[1];
        return [
          'openid-configuration',
          json(res, 200, {
            token_endpoint: `https://${host}/${t}/oauth2/v2.0/token`,
            authorization_endpoint: `https://${host}/${t}/oauth2/v2.0/authorize`,
            end_session_endpoint: `https://${host}/${t}/oauth2/v2.0/logout`,
            device_authorization_endpoint: `https://${host}/${t}/oauth2/v2.0/devicecode`,
            jwks_uri: `https://${host}/${t}/discovery/v2.0/keys`,
            issuer: `https://${host}/${t}/v2.0`,
            response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
            token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
          }),
        ];
      }
      const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
      if (req.method === 'POST' && token) return ['token', await tokenEndpoint(req, res, host, token[1])];
      if (url.pathname.startsWith('/subscriptions/')) return arm(req, res, host, url);
      return ['unknown', json(res, 404, { error: 'not_found', error_description: `no route for ${req.method} ${url.pathname}` })];
    };
    handle().then(
      ([route, status]) => requests.push({ method: req.method ?? '', host, path: url.pathname, route, status }),
      (err: unknown) => {
        requests.push({ method: req.method ?? '', host, path: url.pathname, route: 'error', status: 500 });
        if (!res.headersSent) res.writeHead(500);
        res.end(String(err));
      },
    );
  };
  const server = https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) }, handler);
  const port = await listen(server);
  // The same services over plain http on 127.0.0.1, for the sandbox's internet, which terminates
  // TLS itself and forwards with the original Host.
  const plain = http.createServer(handler);
  const plainPort = await listen(plain);

  // The GitHub OIDC stand-in (plain HTTP, as @actions/core only needs a URL) and the CONNECT proxy.
  const side = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    // A runner's ACTIONS_ID_TOKEN_REQUEST_URL ends in .../jobs/<job>/idtoken; the short form is
    // for tests that use this server directly.
    if (url.pathname !== '/_apis/idtoken' && !url.pathname.endsWith('/idtoken')) {
      res.writeHead(404);
      res.end();
      return;
    }
    if (req.headers.authorization !== `Bearer ${idTokenRequestToken}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'bad request token' }));
      return;
    }
    const audience = url.searchParams.get('audience') ?? 'https://github.com/octo-org';
    const token = jwt({ iss: 'https://token.actions.githubusercontent.com', aud: audience, sub: oidcSubject, repository: 'octo-org/shop' });
    idTokens.push({ audience, token });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ count: 1, value: token }));
  });
  side.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const target = req.url ?? '';
    tunnels.push(target);
    const host = target.replace(/:\d+$/, '').toLowerCase();
    if (!CLOUD_HOSTS.includes(host)) {
      // Anything else would leave the machine in real life; refuse it so a test sees the attempt.
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = net.connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const sidePort = await listen(side);

  const sockets = new Set<net.Socket>();
  const runnerEnv: Record<string, string> = {};
  if (opts.internet !== undefined) {
    opts.internet.route('login.microsoftonline.com', { origin: `http://127.0.0.1:${plainPort}` });
    opts.internet.route('management.azure.com', { origin: `http://127.0.0.1:${plainPort}` });
    opts.internet.route(ID_TOKEN_HOST, { origin: `http://127.0.0.1:${sidePort}` });
    const plan = randomUUID();
    const job = randomUUID();
    runnerEnv.ACTIONS_ID_TOKEN_REQUEST_URL =
      `https://${ID_TOKEN_HOST}/${randomBytes(20).toString('base64url')}/00000000-0000-0000-0000-000000000000` +
      `/_apis/distributedtask/hubs/Actions/plans/${plan}/jobs/${job}/idtoken?api-version=2.0`;
    runnerEnv.ACTIONS_ID_TOKEN_REQUEST_TOKEN = idTokenRequestToken;
  }

  for (const s of [server, side, plain] as net.Server[]) {
    s.on('connection', (sock: net.Socket) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
    });
  }

  return {
    url: `https://127.0.0.1:${port}`,
    proxyUrl: `http://127.0.0.1:${sidePort}`,
    idTokenRequestUrl: `http://127.0.0.1:${sidePort}/_apis/idtoken?api-version=2.0`,
    idTokenRequestToken,
    caFile: certFile,
    runnerEnv,
    grants,
    requests,
    idTokens,
    swaps,
    tunnels,
    serving,
    mintToken(scope: string, method: TokenGrant['method']): string {
      const token = jwt({ aud: scope.replace(/\/\.default$/, ''), tid: opts.tenantId, n: randomBytes(8).toString('hex') });
      grants.push({ host: '', tenant: opts.tenantId, clientId: '', scope, method, token });
      return token;
    },
    acceptsToken(token: string, scope?: string): boolean {
      return grants.some((g) => g.token === token && (scope === undefined || g.scope === scope));
    },
    async close(): Promise<void> {
      for (const s of sockets) s.destroy();
      if (opts.internet !== undefined) {
        for (const h of ['login.microsoftonline.com', 'management.azure.com', ID_TOKEN_HOST]) opts.internet.unroute(h);
      }
      await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => side.close(r)), new Promise((r) => plain.close(r))]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
