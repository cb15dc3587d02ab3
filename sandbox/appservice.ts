// A local App Service site: the Kudu emulator and the IIS emulator sharing one D:\home, wired as
// on Azure — Kudu's /api/processes lists the process IIS runs, and the binary it runs is locked —
// and put on the sandbox's internet (internet.ts) under the site's real names:
//
//   https://<site>.scm.azurewebsites.net   the Kudu emulator (https only: App Service's front end
//                                          redirects the SCM site's http requests to https)
//   http(s)://<site>.azurewebsites.net     the IIS emulator (a site answers on both schemes)
//   https://go.dev/dl, https://dl.google.com/go   the Go download site (gomirror.ts)
//
// A slot is `<site>-<slot>` in both names. The action run against it gets `site.env`: the proxy,
// the test CA and a tool cache, and nothing else: no kudu-url, no go-download-base-url.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startKudu, STOPPED_PAGE, type KuduEmulator } from './kudu.ts';
import type { SandboxAuthentication } from './azure.ts';
import { startIis, type Iis, type Launcher } from './iis.ts';
import { startArr } from './arr.ts';
import { machineGoVersion, startGoMirror, toSemver, type GoMirror } from './gomirror.ts';
import { startInternet, type GateAnswer, type HostRoute, type Internet } from './internet.ts';
import { ensureWinePrefix } from './wine.ts';

export interface AppServiceOptions {
  siteName?: string;
  /** Deploy to this slot of the site: host names `<site>-<slot>…`, user `$<site>__<slot>`. */
  slot?: string;
  /** 'shell' runs a linux build through go-azure.sh; 'wine' runs go-azure.bat and a windows build. */
  launcher?: Launcher;
  /** Extra environment for the app process (e.g. a faster poll interval). */
  env?: Record<string, string>;
  /** Continuous WebJobs running beside the app on each instance (iis.ts, webJobs): Kudu lists them. */
  webJobs?: string[];
  /** Use this folder as D:\home (created when missing). */
  home?: string;
  /** Put the site on this internet (shared, e.g. with the Azure sandbox); else it starts its own. */
  internet?: Internet;
  /**
   * The Go download site behind go.dev and dl.google.com. Default: started here on the site's own
   * internet; `false` leaves those names off it (when a shared internet already has them).
   */
  goMirror?: GoMirror | false;
  /** Kudu accepts `Authorization: Bearer <token>` when this returns true (Entra ID sign-in). */
  acceptBearer?: (token: string) => boolean;
  /**
   * Scale out: one IIS per instance id (the ids ARM lists, see azure.ts's SandboxSite.instances),
   * all sharing D:\home as App Service's instances share its network share, behind a front end
   * that routes by the ARRAffinity cookie (arr.ts). Default: one instance.
   */
  instances?: string[];
  /** The site's app settings, as Kudu's /api/settings shows them; the object may change while the site runs. */
  appSettings?: Record<string, string>;
  /**
   * Whether the site is stopped, asked on every request: App Service's front end then answers every
   * request, to the SCM site (kudu.ts, `stopped`) and to the site itself, with 403 and the page
   * headed "Error 403 - This web app is stopped.", and starts no process.
   */
  stopped?: () => boolean;
  /** Whether SCM basic auth publishing credentials are allowed (kudu.ts, `basicAuth`); default yes. */
  basicAuth?: () => boolean;
  /**
   * The site's "HTTPS Only" setting (ARM's properties.httpsOnly): App Service's front end then
   * answers http:// requests for the site with 301 to the same URL on https, without reaching the
   * app. The publish profile's destinationAppUrl stays http:// either way. Default: off.
   */
  httpsOnly?: boolean;
  /**
   * App Service Authentication ("Easy Auth"), given to the Azure sandbox's site as well so that
   * ARM's authsettingsV2 tells the same. Its module runs in front of the app: a request without a
   * signed-in user for a path it does not exclude is answered by the platform and never reaches
   * HttpPlatformHandler, so no process is started for it. RedirectToLoginPage answers 302 to
   * /.auth/login/aad on the same host, which answers 302 to Entra ID's authorize endpoint; Return401
   * and Return403 answer with that status. Default: off.
   */
  authentication?: SandboxAuthentication;
}

export interface AppService {
  siteName: string;
  slot?: string;
  /** The site's public URL, as the portal's publish profile gives it: http://<site>.azurewebsites.net */
  appUrl: string;
  /** The SCM site's public URL: https://<site>.scm.azurewebsites.net */
  kuduUrl: string;
  /** The IIS emulator on 127.0.0.1, for a test's own requests and assertions. */
  localAppUrl: string;
  /** The Kudu emulator on 127.0.0.1 (what the kudu-url input would name). */
  localKuduUrl: string;
  home: string;
  wwwroot: string;
  /** The site's publish profile exactly as the portal writes it. */
  publishProfile: string;
  /** A fresh, empty tool cache (RUNNER_TOOL_CACHE in `env`), as a runner's when Go is not in it. */
  toolCache: string;
  /**
   * Environment for the action's process: HTTPS_PROXY/HTTP_PROXY to the sandbox's internet,
   * NODE_EXTRA_CA_CERTS for its test CA, RUNNER_TOOL_CACHE.
   */
  env: Record<string, string>;
  kudu: KuduEmulator;
  /** The IIS of the first instance. */
  iis: Iis;
  /** Every instance with its IIS; with `instances` unset, one with id ''. */
  instances: { id: string; iis: Iis }[];
  internet: Internet;
  /** The Go download site, when this site started it. */
  goMirror?: GoMirror;
  close(): Promise<void>;
}

export async function startAppService(opts: AppServiceOptions = {}): Promise<AppService> {
  const siteName = opts.siteName ?? 'demo-site';
  const slot = opts.slot;
  const label = slot === undefined ? siteName : `${siteName}-${slot}`;
  const home = opts.home ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gad-home-'));
  const wwwroot = path.join(home, 'site', 'wwwroot');
  fs.mkdirSync(wwwroot, { recursive: true });
  fs.mkdirSync(path.join(home, 'LogFiles'), { recursive: true });
  const toolCache = fs.mkdtempSync(path.join(os.tmpdir(), 'gad-toolcache-'));
  const appUrl = `http://${label}.azurewebsites.net`;
  const kuduHost = `${label}.scm.azurewebsites.net`;

  const cleanups: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await c();
    fs.rmSync(toolCache, { recursive: true, force: true });
  };
  try {
    const launcher = opts.launcher ?? 'shell';
    if (launcher === 'wine') await ensureWinePrefix();
    const instances: { id: string; iis: Iis }[] = [];
    for (const id of opts.instances && opts.instances.length > 0 ? opts.instances : ['']) {
      // How often the app polls _artifact.txt: the example app (example/main.go) and the compat
      // fixtures take it from these variables; other apps keep goazure's default.
      const pollMs = Number(opts.env?.EXAMPLE_POLL_MS ?? opts.env?.COMPAT_POLL_MS) || undefined;
      // Local Cache is read when the site starts, as App Service reads its app settings then.
      const localCache = (): boolean => Object.entries(opts.appSettings ?? {}).some(([k, v]) => k.toUpperCase() === 'WEBSITE_LOCAL_CACHE_OPTION' && v.trim().toLowerCase() === 'always');
      const one = await startIis({ home, launcher, env: opts.env, localCache, pollMs, webJobs: opts.webJobs, instanceId: id || undefined });
      cleanups.push(() => one.close());
      instances.push({ id, iis: one });
    }
    const iis = instances[0].iis;
    let front = iis.url;
    if (instances.length > 1) {
      const arr = await startArr(instances.map((i) => ({ id: i.id, url: i.iis.url })));
      cleanups.push(() => arr.close());
      front = arr.url;
    }
    // Kudu runs on every instance too, over the one D:\home: the ARRAffinity cookie picks which
    // instance's Kudu answers (whose processes it lists, through whose SMB cache it lists folders);
    // without one, the SCM host's front end takes turns and sets the cookie. A running exe is
    // locked on any instance.
    const instanceOf = (id: string | undefined) => instances.find((i) => i.id === id)?.iis ?? iis;
    const kudu = await startKudu({
      siteName,
      slot,
      home,
      appUrl,
      isLocked: (rel) => instances.some((i) => i.iis.isLocked(rel)),
      // Every instance's launcher and app read _artifact.txt from the shared D:\home; an instance's
      // own pointer (_artifact.<id>.txt, a canary's) is read, and held, by that instance alone.
      readers: (rel) =>
        rel === 'site/wwwroot/_artifact.txt'
          ? instances.some((i) => i.iis.readingPointer())
          : instances.some((i) => i.id !== '' && rel === `site/wwwroot/_artifact.${i.id}.txt`.toLowerCase() && i.iis.readingPointer()),
      processes: (instance) => instanceOf(instance).kuduProcesses(),
      killProcess: (id, instance) => instanceOf(instance).kill(id),
      instances: instances.length > 1 ? instances.map((i) => i.id) : undefined,
      acceptBearer: opts.acceptBearer,
      appSettings: () => opts.appSettings ?? {},
      stopped: opts.stopped,
      basicAuth: opts.basicAuth,
    });
    cleanups.push(() => kudu.close());
    let internet = opts.internet;
    if (internet === undefined) {
      const own = await startInternet();
      cleanups.push(() => own.close());
      internet = own;
    }
    let goMirror: GoMirror | undefined;
    if (opts.goMirror === undefined) {
      const own = await startGoMirror();
      cleanups.push(() => own.close());
      goMirror = own;
    } else if (opts.goMirror !== false) {
      goMirror = opts.goMirror;
    }
    if (goMirror !== undefined) routeGoDownloads(internet, goMirror);
    internet.route(kuduHost, { origin: kudu.url, http: 'redirect-https', frontEndHeaders: arrSslHeader });
    internet.route(`${label}.azurewebsites.net`, {
      origin: front,
      http: opts.httpsOnly === true ? 'redirect-https' : 'serve',
      gate: frontEnd(opts),
      frontEndHeaders: arrSslHeader,
    });
    const net = internet;
    cleanups.push(async () => {
      net.unroute(kuduHost);
      net.unroute(`${label}.azurewebsites.net`);
    });

    return {
      siteName,
      slot,
      appUrl,
      kuduUrl: `https://${kuduHost}`,
      localAppUrl: front,
      localKuduUrl: kudu.url,
      home,
      wwwroot,
      publishProfile: kudu.publishProfileXml(),
      toolCache,
      env: { ...internet.env(), RUNNER_TOOL_CACHE: toolCache },
      kudu,
      iis,
      instances,
      internet,
      goMirror,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * App Service's front end ends TLS and sends the request on in plain HTTP, with X-Forwarded-Proto
 * (http or https) and, for an https request, X-ARR-SSL describing the TLS connection (key size,
 * cipher strength, the certificate's issuer and subject); HttpPlatformHandler passes both on to
 * the app (iis.ts). An app learns whether a request was encrypted from X-Forwarded-Proto
 * (docs/go-package.md).
 */
export const ARR_SSL = '2048|256|C=US, O=Microsoft Corporation, CN=Microsoft Azure RSA TLS Issuing CA 04|CN=*.azurewebsites.net';
function arrSslHeader(scheme: 'http' | 'https'): Record<string, string> {
  return scheme === 'https' ? { 'x-arr-ssl': ARR_SSL } : {};
}

/** Puts the Go download site on the internet as go.dev (https only) and dl.google.com (both). */
export function routeGoDownloads(internet: Internet, mirror: GoMirror): void {
  internet.route('go.dev', { origin: mirror.baseUrl, http: 'redirect-https' });
  internet.route('dl.google.com', { origin: mirror.baseUrl, http: 'serve' });
}

/**
 * The header that makes goazure name its binary, commit and instance (goazure/identity.go): the
 * identity key the last deploy wrote to the site, as verify sends it. Empty before any deploy.
 */
export function identityHeaders(site: Pick<AppService, 'wwwroot'>): Record<string, string> {
  try {
    return { 'X-Goazure-Identity-Key': fs.readFileSync(path.join(site.wwwroot, '_identity.txt'), 'utf8').trim() };
  } catch {
    return {};
  }
}

/**
 * The action's inputs that deploy the example app (or `extra['working-directory']`) to this site
 * at `commit`: a build for this machine, which the shell launcher runs, with the machine's Go.
 * Everything else is the action's default: the Go download site is go.dev, Kudu is the
 * publishUrl of the profile.
 */
export function deployInputs(site: AppService, commit: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'app-name': site.siteName,
    ...(site.slot !== undefined ? { 'slot-name': site.slot } : {}),
    'publish-profile': site.publishProfile,
    ...linuxBuildInputs('example'),
    commit,
    ...extra,
  };
}

/**
 * The inputs that build `workingDirectory` with this machine's Go for this machine (a Linux build
 * the sandbox runs through go-azure.sh), so a test's deploy needs no download and no Wine.
 */
export function linuxBuildInputs(workingDirectory: string): Record<string, string> {
  return {
    'go-version': toSemver(machineGoVersion()),
    'working-directory': workingDirectory,
    goos: 'linux',
    goarch: process.arch === 'arm64' ? 'arm64' : 'amd64',
  };
}

/** The inputs of a client-secret sign-in to the sandbox's Entra ID and ARM. */
export function entraSecretInputs(app: { clientId: string; tenantId: string; secret: string; subscriptionId: string }): Record<string, string> {
  return { 'client-id': app.clientId, 'tenant-id': app.tenantId, 'client-secret': app.secret, 'subscription-id': app.subscriptionId };
}

/**
 * What App Service's front end answers for the site itself before IIS sees a request: a stopped
 * site's 403 page, or App Service Authentication's answer to a request without a signed-in user.
 */
function frontEnd(opts: AppServiceOptions): HostRoute['gate'] {
  const signIn = opts.authentication === undefined ? undefined : signInGate(opts.authentication);
  if (opts.stopped === undefined && signIn === undefined) return undefined;
  return (request) => {
    if (opts.stopped?.() === true) return { status: 403, headers: { 'content-type': 'text/html' }, body: STOPPED_PAGE };
    return signIn?.(request);
  };
}

/**
 * App Service Authentication's answer to a request without a signed-in user (see
 * AppServiceOptions.authentication). Its own endpoints under /.auth/ are always its own; an
 * excluded path lets the request through, modelled as the path itself and what lies under it, and
 * a trailing `*` as any rest.
 */
function signInGate(auth: SandboxAuthentication): NonNullable<HostRoute['gate']> {
  return ({ path: pathAndQuery }): GateAnswer | undefined => {
    const p = pathAndQuery.split('?')[0]!.toLowerCase();
    if (p.startsWith('/.auth/login/')) {
      return { status: 302, headers: { location: 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize?response_type=code+id_token&client_id=sandbox' } };
    }
    if (auth.unauthenticatedClientAction === 'AllowAnonymous') return undefined;
    const excluded = (auth.excludedPaths ?? []).some((e) => {
      const x = e.toLowerCase().replace(/\/+$/, '');
      if (x.endsWith('*')) return p.startsWith(x.slice(0, -1));
      return x !== '' && (p === x || p.startsWith(`${x}/`));
    });
    if (excluded) return undefined;
    switch (auth.unauthenticatedClientAction) {
      case 'Return401':
        return { status: 401, headers: { 'www-authenticate': 'Bearer realm="site"' } };
      case 'Return403':
        return { status: 403 };
      default:
        return { status: 302, headers: { location: `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(pathAndQuery)}` } };
    }
  };
}
