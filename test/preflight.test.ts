// Preflight against the emulated Kudu and ARM: every refusal and warning, each read from the
// service that tells it (Kudu's /api/settings and VFS with a publish profile; ARM's site, config/web,
// appsettings/list and basicPublishingCredentialsPolicies/scm with Entra ID), one report listing
// every finding, and the site's files byte for byte the same afterwards.

import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startKudu, type KuduEmulator } from '../sandbox/kudu.ts';
import { clientFor, snapshotTree, captureStdout } from '../sandbox/fixture.ts';
import { startAppService, entraSecretInputs, linuxBuildInputs, deployInputs, identityHeaders, type AppService } from '../sandbox/appservice.ts';
import { startAzureSandbox, type AzureSandbox, type SandboxSite } from '../sandbox/azure.ts';
import { getViaProxy, startInternet, type Internet } from '../sandbox/internet.ts';
import { seedToolCache } from '../sandbox/gomirror.ts';
import { runAction, repoRoot } from '../sandbox/runner.ts';
import { buildExampleApp, installTemplates, writeArtifact } from '../sandbox/iis.ts';
import { connectionFromPublishProfile } from '../src/signin/publishprofile.ts';
import { KuduClient, PROFILE_REFUSED, SITE_STOPPED } from '../src/site/kudu.ts';
import { appSetting, preflightFindings, runPreflight, webConfigProblem, type PreflightReport } from '../src/site/preflight.ts';
import { ActionError } from '../src/common/errors.ts';
import type { Config } from '../src/common/inputs.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const TEMPLATE_WEB_CONFIG = fs.readFileSync(path.join(repoRoot, 'templates', 'web.config'), 'utf8');
const ANCM_WEB_CONFIG = `<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <system.webServer>
    <handlers><add name="aspNetCore" path="*" verb="*" modules="AspNetCoreModuleV2" resourceType="Unspecified" /></handlers>
    <aspNetCore processPath="dotnet" arguments=".\\shop.dll" hostingModel="inprocess" />
  </system.webServer>
</configuration>
`;

async function kuduWith(opts: { appSettings?: Record<string, string>; webConfig?: string }): Promise<KuduEmulator> {
  const kudu = await startKudu({ siteName: 'preflight-site', appSettings: () => opts.appSettings ?? {} });
  cleanups.push(() => kudu.close());
  if (opts.webConfig !== undefined) fs.writeFileSync(path.join(kudu.home, 'site', 'wwwroot', 'web.config'), opts.webConfig);
  fs.mkdirSync(path.join(kudu.home, 'site', 'wwwroot', '_target'), { recursive: true });
  fs.writeFileSync(path.join(kudu.home, 'site', 'wwwroot', '_artifact.txt'), '_target\\preflight-site-0123456789.exe\r\n');
  return kudu;
}

/** Runs preflight with the publish profile against `kudu`; the report, or the refusal's message. */
async function preflightWithProfile(kudu: KuduEmulator, opts: { bootstrap?: boolean; client?: KuduClient } = {}): Promise<{ report?: PreflightReport; refusal?: string; out: string }> {
  const signal = new AbortController().signal;
  const client = opts.client ?? clientFor(kudu, signal, { attempts: 1 });
  const before = snapshotTree(kudu.home);
  const writesBefore = kudu.requests.filter((r) => r.method !== 'GET').length;
  const { value, error, out } = await captureStdout(() => runPreflight(client, { authKind: 'basic' }, 'preflight-site', { bootstrap: opts.bootstrap ?? true }, signal));
  assert.deepEqual(snapshotTree(kudu.home), before, 'preflight changed nothing on the site');
  assert.equal(kudu.requests.filter((r) => r.method !== 'GET').length, writesBefore, 'preflight only reads');
  if (error !== undefined && !(error instanceof ActionError)) throw error;
  return { report: value, refusal: error === undefined ? undefined : (error as Error).message, out };
}

test('web.config check: the action\'s template passes; another module, another program or no handler is named', () => {
  assert.equal(webConfigProblem(TEMPLATE_WEB_CONFIG), '');
  assert.match(webConfigProblem(ANCM_WEB_CONFIG), /no <httpPlatform> element \(it configures the ASP.NET Core Module instead\)/);
  assert.match(webConfigProblem(TEMPLATE_WEB_CONFIG.replace('%HOME%\\site\\wwwroot\\go-azure.bat', 'D:\\home\\site\\wwwroot\\app.exe')), /starts "D:\\home\\site\\wwwroot\\app\.exe", not go-azure\.bat/);
  assert.match(webConfigProblem(TEMPLATE_WEB_CONFIG.replace(/<add name="httpplatformhandler"[^>]*>/, '')), /no handler to the httpPlatformHandler module/);
  // A launcher named only in a comment does not count.
  assert.match(webConfigProblem(`<configuration><!-- <httpPlatform processPath="go-azure.bat"> --></configuration>`), /no <httpPlatform>/);
  // cmd running the launcher is fine.
  assert.equal(webConfigProblem(TEMPLATE_WEB_CONFIG.replace('processPath="%HOME%\\site\\wwwroot\\go-azure.bat"\n                  arguments="%HTTP_PLATFORM_PORT%"', 'processPath="cmd.exe" arguments="/c %HOME%\\site\\wwwroot\\go-azure.bat %HTTP_PLATFORM_PORT%"')), '');
});

test('publish profile: a healthy site passes; facts come from Kudu\'s /api/settings and the VFS', { timeout: 30_000 }, async () => {
  const kudu = await kuduWith({ appSettings: { WEBSITE_NODE_DEFAULT_VERSION: '~20', DATABASE_URL: 'postgres://db' }, webConfig: TEMPLATE_WEB_CONFIG });
  const { report, refusal } = await preflightWithProfile(kudu);
  assert.equal(refusal, undefined);
  assert.deepEqual(report?.findings, []);
  assert.equal(report?.facts.appSettingsFrom, 'Kudu');
  assert.equal(report?.facts.appSettings?.DATABASE_URL, 'postgres://db');
  assert.ok(kudu.requests.some((r) => r.path === '/api/settings' && r.status === 200));
});

test('publish profile: WEBSITE_RUN_FROM_PACKAGE (from Kudu) and a kept web.config that runs something else are refused in one report', { timeout: 30_000 }, async () => {
  const kudu = await kuduWith({ appSettings: { WEBSITE_RUN_FROM_PACKAGE: '1' }, webConfig: ANCM_WEB_CONFIG });
  const { refusal } = await preflightWithProfile(kudu);
  assert.ok(refusal !== undefined, 'refused');
  assert.match(refusal, /^Preflight: preflight-site cannot be deployed to by this action \(2 problems\); nothing on the site was changed\./);
  assert.match(refusal, /WEBSITE_RUN_FROM_PACKAGE is set \(to "1", read from Kudu\): site\/wwwroot is then a read-only mount/);
  assert.match(refusal, /The site's own web.config does not start go-azure.bat through HttpPlatformHandler: it has no <httpPlatform> element/);
});

test('publish profile: Local Cache and a lower-case website_run_from_package in Kudu\'s /api/settings are refused; names are read without case', { timeout: 30_000 }, async () => {
  const kudu = await kuduWith({ appSettings: { website_local_cache_option: 'always', website_run_from_package: '1' }, webConfig: TEMPLATE_WEB_CONFIG });
  const { refusal } = await preflightWithProfile(kudu);
  assert.ok(refusal !== undefined, 'refused');
  assert.match(refusal, /\(2 problems\)/);
  assert.match(refusal, /WEBSITE_RUN_FROM_PACKAGE is set \(to "1", read from Kudu\)/);
  assert.match(refusal, /WEBSITE_LOCAL_CACHE_OPTION is Always \(read from Kudu\): Local Cache runs the app from a copy of site\/wwwroot/);
  assert.match(refusal, /az webapp config appsettings delete --setting-names WEBSITE_LOCAL_CACHE_OPTION/);
  // Local Cache set to anything but Always is off.
  const off = await kuduWith({ appSettings: { WEBSITE_LOCAL_CACHE_OPTION: 'Never' }, webConfig: TEMPLATE_WEB_CONFIG });
  const passed = await preflightWithProfile(off);
  assert.equal(passed.refusal, undefined);
  assert.match(passed.out, /Local Cache off/);
});

test('Local Cache from ARM\'s app settings is refused, the name and value read without case', () => {
  const arm = { kind: 'app', state: 'Running', unread: [] } as unknown as NonNullable<Parameters<typeof preflightFindings>[0]['arm']>;
  const facts = { label: 'cached', authKind: 'bearer' as const, arm, appSettings: { Website_Local_Cache_Option: 'ALWAYS' }, appSettingsFrom: 'ARM' as const, webConfig: TEMPLATE_WEB_CONFIG, unread: [] };
  const findings = preflightFindings(facts, { bootstrap: true });
  assert.equal(findings.length, 1);
  assert.equal(findings[0].severity, 'refuse');
  assert.match(findings[0].text, /WEBSITE_LOCAL_CACHE_OPTION is Always \(read from ARM\)/);
  assert.equal(appSetting({ website_run_from_package: '1' }, 'WEBSITE_RUN_FROM_PACKAGE'), '1');
  assert.equal(appSetting({ OTHER: 'x' }, 'WEBSITE_RUN_FROM_PACKAGE'), '');
});

test('publish profile: no web.config with bootstrap off is refused; with bootstrap on it is written later, so it passes', { timeout: 30_000 }, async () => {
  const kudu = await kuduWith({});
  const off = await preflightWithProfile(kudu, { bootstrap: false });
  assert.match(off.refusal ?? '', /web.config is missing and bootstrap is false/);
  const on = await preflightWithProfile(kudu, { bootstrap: true });
  assert.equal(on.refusal, undefined);
  assert.ok(on.report?.lines.includes('no web.config yet'));
});

test('publish profile refused by Kudu (401): explained as SCM basic auth being off, before anything changes', { timeout: 30_000 }, async () => {
  const kudu = await kuduWith({ webConfig: TEMPLATE_WEB_CONFIG });
  const cfg = { appName: kudu.siteName, slotName: 'production', kuduUrl: kudu.url } as Config;
  // The profile of a site whose basic auth credentials were turned off: Kudu answers 401 to it.
  const connection = connectionFromPublishProfile(cfg, kudu.publishProfileXml({ password: 'no-longer-accepted' }));
  const client = new KuduClient(connection, new AbortController().signal, { attempts: 1 });
  const { refusal } = await preflightWithProfile(kudu, { client });
  assert.match(refusal ?? '', /Kudu refused the publish profile's credentials \(401\) before anything was changed\. SCM basic auth publishing credentials are probably off/);
  assert.match(refusal ?? '', /sign in with Entra ID/);
  // The same explanation as the Kudu client's own 401 (src/site/kudu.ts): one wording.
  assert.ok(refusal?.includes(PROFILE_REFUSED), refusal);
});

// --- Entra ID: ARM tells the configuration --------------------------------------------------------

const TENANT = '11111111-2222-3333-4444-555555555555';
const SUB = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const APP = '0a0a0a0a-0000-0000-0000-000000000001';
const SECRET = 'sandbox-secret~value.321';
const COMMIT = '5eed00112233445566778899aabbccddeeff0011';

let shared: { internet: Internet; azure: AzureSandbox; sites: SandboxSite[] } | undefined;

/** One internet and one Azure for the ARM cases; each case adds its site. */
async function azureWith(site: SandboxSite, files: { webConfig?: string } = {}): Promise<AppService> {
  if (shared === undefined) {
    const internet = await startInternet();
    const sites: SandboxSite[] = [];
    const azure = await startAzureSandbox({ tenantId: TENANT, subscriptionId: SUB, clients: [{ clientId: APP, secret: SECRET }], sites, internet });
    cleanups.push(async () => (await azure.close(), await internet.close()));
    shared = { internet, azure, sites };
  }
  const { azure, internet } = shared;
  // ARM lists the instances the site runs: here one, whose id the app sees as WEBSITE_INSTANCE_ID.
  site.instances ??= ['5ca1ab1e0123456789abcdef0123456789abcdef0123456789abcdef01234567'];
  shared.sites.push(site);
  // Kudu follows the site's ARM state: a stopped site's SCM site answers 403 too.
  const s = await startAppService({
    siteName: site.name,
    internet,
    goMirror: false,
    acceptBearer: (t) => azure.acceptsToken(t, 'https://management.azure.com/.default'),
    stopped: () => (site.state ?? 'Running').toLowerCase() === 'stopped',
    basicAuth: () => site.scmBasicAuth ?? false,
    authentication: site.authentication,
    instances: site.instances,
  });
  cleanups.push(() => s.close());
  seedToolCache(s.toolCache);
  if (files.webConfig !== undefined) fs.writeFileSync(path.join(s.wwwroot, 'web.config'), files.webConfig);
  return s;
}

function deployEntra(s: AppService, extra: Record<string, string> = {}) {
  return runAction({
    inputs: {
      'app-name': s.siteName,
      ...entraSecretInputs({ clientId: APP, tenantId: TENANT, secret: SECRET, subscriptionId: SUB }),
      ...linuxBuildInputs('test/fixtures/health'),
      commit: COMMIT,
      ...extra,
    },
    env: { ...s.env, GITHUB_SHA: COMMIT },
    toolCache: s.toolCache,
    cwd: repoRoot,
  });
}

test('Entra ID: a Linux site, WEBSITE_RUN_FROM_PACKAGE and Local Cache in ARM\'s app settings and a foreign web.config, in one report; Always On off is warned about; nothing changes', { timeout: 240_000 }, async () => {
  const s = await azureWith(
    { name: 'legacy', resourceGroup: 'rg-legacy', kind: 'app,linux', alwaysOn: false, appSettings: { WEBSITE_RUN_FROM_PACKAGE: 'https://example.blob.core.windows.net/p/app.zip?sv=2024-11-04&sig=sas-signature-value', WEBSITE_LOCAL_CACHE_OPTION: 'Always' } },
    { webConfig: ANCM_WEB_CONFIG },
  );
  const before = snapshotTree(s.home);
  const run = await deployEntra(s);
  assert.equal(run.code, 1, run.stdout);
  const error = decodeURIComponent(run.errors.join('\n'));
  assert.match(error, /Preflight: legacy cannot be deployed to by this action \(4 problems\); nothing on the site was changed\./);
  assert.match(error, /app-name: legacy is a Linux App Service site \(kind "app,linux"\)/);
  assert.match(error, /WEBSITE_RUN_FROM_PACKAGE is set \(to a package URL on example\.blob\.core\.windows\.net, read from ARM\)/);
  assert.match(error, /WEBSITE_LOCAL_CACHE_OPTION is Always \(read from ARM\)/);
  // The package URL's SAS token never reaches the log.
  assert.doesNotMatch(run.stdout + run.stderr, /sas-signature-value|app\.zip\?/);
  assert.match(error, /does not start go-azure.bat through HttpPlatformHandler/);
  assert.match(error, /Also:\n {2}- Always On is off/);
  assert.deepEqual(snapshotTree(s.home), before, 'the site is as it was');
  assert.deepEqual(s.kudu.requests.filter((r) => r.method !== 'GET'), [], 'only reads reached Kudu');
  // Read from ARM, each through its real route (kind and state came with the site's listing).
  const routes = new Set(shared!.azure.requests.filter((r) => r.path.includes('/sites/legacy')).map((r) => r.route));
  for (const r of ['config-web', 'appsettings', 'scm-policy', 'authsettings']) assert.ok(routes.has(r), `ARM ${r} was read (${[...routes].join(', ')})`);
});

test('Entra ID, dry run: Always On off is a warning, the plan is still printed, nothing changes', { timeout: 240_000 }, async () => {
  const s = await azureWith({ name: 'sleepy', resourceGroup: 'rg-sleepy', alwaysOn: false, scmBasicAuth: false }, { webConfig: TEMPLATE_WEB_CONFIG });
  const before = snapshotTree(s.home);
  const run = await deployEntra(s, { 'dry-run': 'true' });
  assert.equal(run.code, 0, run.stdout);
  assert.doesNotMatch(run.stdout, /stopped/i);
  assert.match(run.stdout, /::warning::Always On is off/);
  assert.match(run.stdout, /Preflight: SCM basic auth off/);
  assert.match(run.stdout, /would: /);
  assert.match(run.summary, /Preflight/);
  assert.deepEqual(snapshotTree(s.home), before);
  assert.deepEqual(s.kudu.requests.filter((r) => r.method !== 'GET'), []);

  // With SCM basic auth off, the site's own publish profile is refused with 401, as App Service does.
  const profile = await runAction({
    inputs: deployInputs(s, COMMIT, { 'working-directory': 'test/fixtures/health', 'dry-run': 'true' }),
    env: { ...s.env, GITHUB_SHA: COMMIT },
    toolCache: s.toolCache,
    cwd: repoRoot,
  });
  assert.equal(profile.code, 1, profile.stdout);
  assert.match(decodeURIComponent(profile.errors.join('\n')), /Kudu refused the publish profile's credentials \(401\).*"SCM Basic Auth Publishing Credentials"/);
  assert.ok(s.kudu.requests.some((r) => r.status === 401));
  assert.deepEqual(snapshotTree(s.home), before);
});

test('a stopped site, whose SCM site answers 403 as App Service\'s front end does: refused as stopped, with Entra ID (ARM says so) and with a publish profile (Kudu\'s page says so); nothing changes', { timeout: 240_000 }, async () => {
  const site: SandboxSite = { name: 'dozing', resourceGroup: 'rg-dozing', state: 'Stopped', scmBasicAuth: true };
  const s = await azureWith(site, { webConfig: TEMPLATE_WEB_CONFIG });
  const before = snapshotTree(s.home);
  const entra = await deployEntra(s);
  assert.equal(entra.code, 1, entra.stdout);
  const byArm = decodeURIComponent(entra.errors.join('\n'));
  assert.match(byArm, /Preflight: dozing cannot be deployed to by this action \(1 problem\).*\n {2}- The site is stopped \(ARM state Stopped; Kudu answered 403\): App Service refuses every request to a stopped site, its SCM site too.*Start it \(az webapp start/);
  assert.ok(byArm.includes(SITE_STOPPED), 'the wording the Kudu client uses too');
  assert.doesNotMatch(byArm, /Access restrictions|basic auth/);

  const profile = await runAction({
    inputs: deployInputs(s, COMMIT, { 'working-directory': 'test/fixtures/health' }),
    env: { ...s.env, GITHUB_SHA: COMMIT },
    toolCache: s.toolCache,
    cwd: repoRoot,
  });
  assert.equal(profile.code, 1, profile.stdout);
  const byKudu = decodeURIComponent(profile.errors.join('\n'));
  assert.match(byKudu, /The site is stopped: Kudu at dozing\.scm\.azurewebsites\.net answered .* with 403 "This web app is stopped"/);
  assert.ok(byKudu.includes(SITE_STOPPED));
  assert.doesNotMatch(byKudu, /Access restrictions|basic auth/);
  assert.deepEqual(snapshotTree(s.home), before);
  assert.ok(s.kudu.requests.length > 0 && s.kudu.requests.every((r) => r.status === 403), 'Kudu refused every request');
  // The site itself answers the same page, and no process is started for it.
  const page = await getViaProxy(s.internet, 'http://dozing.azurewebsites.net/');
  assert.equal(page.status, 403);
  assert.match(page.body, /Error 403 - This web app is stopped\./);
  assert.deepEqual(s.iis.processes(), []);

  site.state = 'Running';
  const started = await deployEntra(s, { 'dry-run': 'true' });
  assert.equal(started.code, 0, started.stdout);
  assert.match(started.stdout, /would: /);
});

test('App Service Authentication requiring sign-in: a health path it does not exclude is refused before anything changes; an excluded one is verified', { timeout: 240_000 }, async () => {
  const s = await azureWith(
    { name: 'guarded', resourceGroup: 'rg-guarded', authentication: { unauthenticatedClientAction: 'RedirectToLoginPage', excludedPaths: ['/healthz'] } },
    { webConfig: TEMPLATE_WEB_CONFIG },
  );
  const before = snapshotTree(s.home);
  const refused = await deployEntra(s, { 'health-path': '/' });
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(
    decodeURIComponent(refused.errors.join('\n')),
    /App Service Authentication is on for guarded and requires sign-in \(unauthenticatedClientAction RedirectToLoginPage; it excludes \/healthz\): verify's requests for \/ would get a redirect to the sign-in page from the platform and never reach the app.*Set health-path to a path Authentication lets through/,
  );
  assert.deepEqual(snapshotTree(s.home), before, 'nothing changed');
  assert.ok(shared!.azure.requests.some((r) => r.route === 'authsettings'), 'ARM authsettingsV2 was read');

  const verified = await deployEntra(s, { 'health-path': '/healthz' });
  assert.equal(verified.code, 0, verified.stdout);
  assert.match(verified.stdout, /App Service Authentication on \(sign-in required, RedirectToLoginPage, excludes \/healthz\)/);
  assert.match(verified.stdout, /is healthy \(\/healthz answered 200-299 3 times in a row\)/);
  // The platform stands in front of the app: / is answered with the sign-in redirect, /healthz by the app.
  const viaProxy = async (p: string): Promise<{ status: number; location?: string; artifact?: string }> => {
    const a = await getViaProxy(s.internet, `http://guarded.azurewebsites.net${p}`, identityHeaders(s));
    return { status: a.status, location: a.headers.location, artifact: a.headers['x-goazure-artifact'] as string | undefined };
  };
  const home = await viaProxy('/');
  assert.equal(home.status, 302);
  assert.match(home.location ?? '', /^\/\.auth\/login\/aad\?post_login_redirect_uri=%2F$/);
  assert.equal(home.artifact, undefined, 'the platform answered, not the app');
  const health = await viaProxy('/healthz');
  assert.equal(health.status, 200);
  assert.match(health.artifact ?? '', /^guarded-/);
});

test('publish profile, dry run: preflight runs and refuses WEBSITE_RUN_FROM_PACKAGE from Kudu\'s settings; nothing changes', { timeout: 240_000 }, async () => {
  const s = await startAppService({ siteName: 'packaged', appSettings: { WEBSITE_RUN_FROM_PACKAGE: '1' } });
  cleanups.push(() => s.close());
  seedToolCache(s.toolCache);
  const before = snapshotTree(s.home);
  const run = await runAction({
    inputs: deployInputs(s, COMMIT, { 'working-directory': 'test/fixtures/health', 'dry-run': 'true' }),
    env: { ...s.env, GITHUB_SHA: COMMIT },
    toolCache: s.toolCache,
    cwd: repoRoot,
  });
  assert.equal(run.code, 1, run.stdout);
  assert.match(decodeURIComponent(run.errors.join('\n')), /Preflight: packaged cannot be deployed to by this action \(1 problem\).*\n {2}- The app setting WEBSITE_RUN_FROM_PACKAGE is set \(to "1", read from Kudu\)/);
  assert.doesNotMatch(run.stdout, /would: /);
  assert.deepEqual(snapshotTree(s.home), before);
  assert.deepEqual(s.kudu.requests.filter((r) => r.method !== 'GET'), []);
});

test('Local Cache on a running site: the deploy is refused, and the emulated platform shows why: a switch made anyway is never seen, even after the process restarts', { timeout: 240_000 }, async () => {
  const goarch = process.arch === 'arm64' ? 'arm64' : 'amd64';
  const s = await startAppService({ siteName: 'cached', appSettings: { WEBSITE_LOCAL_CACHE_OPTION: 'Always' }, env: { EXAMPLE_POLL_MS: '100' } });
  cleanups.push(() => s.close());
  seedToolCache(s.toolCache);
  const bin = fs.mkdtempSync(path.join(s.home, '..', 'cached-bin-'));
  cleanups.push(async () => fs.rmSync(bin, { recursive: true, force: true }));
  const [v1, v2] = await Promise.all([
    buildExampleApp({ outPath: path.join(bin, 'v1'), version: 'v1', commit: 'aaaaaaaaaa', goos: 'linux', goarch }),
    buildExampleApp({ outPath: path.join(bin, 'v2'), version: 'v2', commit: 'bbbbbbbbbb', goos: 'linux', goarch }),
  ]);
  installTemplates(s.wwwroot);
  fs.mkdirSync(path.join(s.wwwroot, '_target'));
  fs.copyFileSync(v1, path.join(s.wwwroot, '_target', 'cached-aaaaaaaaaa'));
  writeArtifact(s.wwwroot, 'cached-aaaaaaaaaa');
  const answer = async (): Promise<string> => (await fetch(`${s.localAppUrl}/`)).text();
  assert.equal(await answer(), 'v1 aaaaaaaaaa\n');

  const before = snapshotTree(s.home);
  const run = await runAction({
    inputs: deployInputs(s, COMMIT),
    env: { ...s.env, GITHUB_SHA: COMMIT },
    toolCache: s.toolCache,
    cwd: repoRoot,
  });
  assert.equal(run.code, 1, run.stdout);
  assert.match(decodeURIComponent(run.errors.join('\n')), /Preflight: cached cannot be deployed to by this action \(1 problem\).*\n {2}- The app setting WEBSITE_LOCAL_CACHE_OPTION is Always \(read from Kudu\)/);
  assert.deepEqual(snapshotTree(s.home), before, 'nothing on the site changed');

  // What the refusal protects against: the switch made by hand, as a deploy would make it.
  fs.copyFileSync(v2, path.join(s.wwwroot, '_target', 'cached-bbbbbbbbbb'));
  writeArtifact(s.wwwroot, 'cached-bbbbbbbbbb');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await answer(), 'v1 aaaaaaaaaa\n', 'the app polls the copy of _artifact.txt, which still names v1');
  const [running] = s.iis.processes();
  assert.equal(running?.name, 'cached-aaaaaaaaaa');
  // HttpPlatformHandler starts the process again from the same copy: only a site restart refreshes it.
  assert.equal(s.iis.kill(running!.id), true);
  await s.iis.backendExited();
  assert.equal(await answer(), 'v1 aaaaaaaaaa\n');
  assert.equal(s.iis.processes()[0]?.name, 'cached-aaaaaaaaaa');
  assert.notEqual(s.iis.processes()[0]?.id, running!.id, 'a new process');
});
