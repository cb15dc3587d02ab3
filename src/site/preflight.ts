// The preflight stage: before anything on the site changes (and in a dry run), read what ARM and
// Kudu tell about the site and refuse, in one report, a site this action cannot work with; warn
// about what will make a deploy slow or fail later. Reads only: nothing here writes to the site.
// docs/ARCHITECTURE.md, "Preflight".

import * as core from '@actions/core';
import { ActionError, messageOf } from '../common/errors.ts';
import type { ArmSiteSettings, SiteAuthentication, SiteConnection } from '../signin/connection.ts';
import { healthPathFor } from './verify.ts';
import { redactQuery } from '../common/redact.ts';
import { KuduError, PROFILE_REFUSED, SITE_STOPPED } from './kudu.ts';
import { SITE_ROOT } from './layout.ts';

/** What preflight needs from Kudu: a narrow, read-only view of the Kudu client. */
interface PreflightKudu {
  getFile(path: string): Promise<{ body: Buffer } | null>;
  settings(): Promise<Record<string, string> | null>;
}

/** Everything preflight learned about the site; a field left out was not known. */
export interface SiteFacts {
  /** `<site>` or `<site>/<slot>`, for messages. */
  label: string;
  authKind: 'basic' | 'bearer';
  /** ARM's view (Entra ID or Azure CLI sign-in); absent with a publish profile. */
  arm?: ArmSiteSettings;
  /** App settings: ARM's when it told them, else Kudu's /api/settings. */
  appSettings?: Record<string, string>;
  /** Where the app settings came from. */
  appSettingsFrom?: 'ARM' | 'Kudu';
  /** site/wwwroot/web.config as it is; null when there is none. Absent when it could not be read. */
  webConfig?: string | null;
  /** A Kudu read that failed: its status (if any) and message. */
  kuduFailure?: { status?: number; message: string };
  /** Reads that failed without stopping preflight, with why. */
  unread: string[];
}

interface Finding {
  /** `refuse`: the deploy cannot work, nothing is changed. `warn`: it can, with a cost. */
  severity: 'refuse' | 'warn';
  text: string;
}

interface PreflightOptions {
  /** The bootstrap input: a missing web.config is then written, not refused. */
  bootstrap: boolean;
  /** The verify input: with it off, nothing requests the health path. */
  verify?: boolean;
  /** The health-path input ('' for the default; see healthPathFor). */
  healthPath?: string;
}

/**
 * Pure: whether App Service Authentication lets a request for `path` through to the app without
 * signing in: it is off, does not require sign-in, allows anonymous requests, or excludes the path.
 * An excluded path counts for itself and everything under it, compared without case (IIS paths
 * ignore case), and a trailing `*` matches any rest; that reading is generous on purpose, so that
 * preflight never refuses a path the platform would let through.
 */
export function authenticationLetsThrough(auth: SiteAuthentication, path: string): boolean {
  if (!auth.enabled || !auth.requireAuthentication || auth.unauthenticatedClientAction.toLowerCase() === 'allowanonymous') return true;
  const p = path.split('?')[0]!.toLowerCase();
  return auth.excludedPaths.some((raw) => {
    const e = raw.trim().toLowerCase().replace(/\/+$/, '');
    if (e === '') return false;
    if (e.endsWith('*')) return p.startsWith(e.slice(0, -1));
    return p === e || p.startsWith(`${e}/`);
  });
}

/** What App Service Authentication answers an unauthenticated request with, in words. */
function signInAnswer(action: string): string {
  switch (action.toLowerCase()) {
    case 'return401':
      return '401';
    case 'return403':
      return '403';
    default:
      return 'a redirect to the sign-in page';
  }
}

/**
 * Why a web.config does not start go-azure.bat through HttpPlatformHandler, or '' when it does:
 * then switching _artifact.txt would change nothing. Comments are ignored.
 */
export function webConfigProblem(xml: string): string {
  const text = xml.replace(/<!--[\s\S]*?-->/g, '');
  const handler = /<add\b[^>]*\bmodules\s*=\s*"httpPlatformHandler"[^>]*>/i.test(text);
  const platform = /<httpPlatform\b[^>]*>/i.exec(text)?.[0];
  if (platform === undefined) {
    const other = /<aspNetCore\b/i.test(text) ? ' (it configures the ASP.NET Core Module instead)' : '';
    return `it has no <httpPlatform> element${other}`;
  }
  const attr = (name: string): string => new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`, 'i').exec(platform)?.[1] ?? '';
  const startsLauncher = /go-azure\.bat/i.test(attr('processPath')) || (/cmd(\.exe)?$/i.test(attr('processPath').trim()) && /go-azure\.bat/i.test(attr('arguments')));
  if (!startsLauncher) return `its <httpPlatform> starts "${attr('processPath') || '(no processPath)'}", not go-azure.bat`;
  if (!handler) return 'it maps no handler to the httpPlatformHandler module';
  return '';
}

/** Pure: the findings for these facts, refusals first. */
export function preflightFindings(facts: SiteFacts, opts: PreflightOptions): Finding[] {
  const refuse: string[] = [];
  const warn: string[] = [];
  const kind = facts.arm?.kind ?? '';
  if (kind.toLowerCase().includes('linux')) {
    refuse.push(
      `app-name: ${facts.label} is a Linux App Service site (kind "${kind}"). This action deploys through IIS's ` +
        `HttpPlatformHandler, which only exists on Windows App Service. Deploy to a Windows site, or use a Linux ` +
        `deployment method (e.g. azure/webapps-deploy) for this one.`,
    );
  }
  const runFromPackage = appSetting(facts.appSettings, 'WEBSITE_RUN_FROM_PACKAGE').trim();
  if (runFromPackage !== '' && runFromPackage !== '0') {
    refuse.push(
      `The app setting WEBSITE_RUN_FROM_PACKAGE is set (to ${describeRunFromPackage(runFromPackage)}, read from ${facts.appSettingsFrom}): ` +
        `site/wwwroot is then a read-only mount of that package, so nothing can be uploaded or switched. ` +
        `Remove the setting (az webapp config appsettings delete --setting-names WEBSITE_RUN_FROM_PACKAGE) to deploy with this action.`,
    );
  }
  const localCache = appSetting(facts.appSettings, 'WEBSITE_LOCAL_CACHE_OPTION').trim();
  if (localCache.toLowerCase() === 'always') {
    refuse.push(
      `The app setting WEBSITE_LOCAL_CACHE_OPTION is Always (read from ${facts.appSettingsFrom}): Local Cache runs the app from a copy of ` +
        `site/wwwroot taken when the site starts, so the switch of _artifact.txt is never seen until a restart; verify would fail, and with ` +
        `verify off the deploy would report success while the old version kept serving. Remove the setting ` +
        `(az webapp config appsettings delete --setting-names WEBSITE_LOCAL_CACHE_OPTION) to deploy with this action.`,
    );
  }
  if (facts.webConfig === null && !opts.bootstrap) {
    refuse.push(
      `site/wwwroot/web.config is missing and bootstrap is false: nothing would start go-azure.bat, so the switch would change nothing. ` +
        `Set bootstrap: true (it writes web.config only when absent), or upload a web.config that runs go-azure.bat through HttpPlatformHandler.`,
    );
  } else if (typeof facts.webConfig === 'string') {
    const problem = webConfigProblem(facts.webConfig);
    if (problem !== '') {
      refuse.push(
        `The site's own web.config does not start go-azure.bat through HttpPlatformHandler: ${problem}. The action keeps ` +
          `your web.config, so switching _artifact.txt would change nothing. Add <add name="httpplatformhandler" path="*" verb="*" ` +
          `modules="httpPlatformHandler" resourceType="Unspecified" /> and <httpPlatform processPath="%HOME%\\site\\wwwroot\\go-azure.bat" ` +
          `arguments="%HTTP_PLATFORM_PORT%" …> (the action's templates/web.config), or delete it and let bootstrap write one.`,
      );
    }
  }
  const auth = facts.arm?.authentication;
  if (auth !== undefined && opts.verify === true) {
    const path = healthPathFor(opts.healthPath ?? '', facts.arm?.healthCheckPath);
    const shown = redactQuery(path);
    if (!authenticationLetsThrough(auth, path)) {
      const excluded = auth.excludedPaths.length > 0 ? `it excludes ${auth.excludedPaths.join(', ')}` : 'it excludes no path';
      refuse.push(
        `App Service Authentication is on for ${facts.label} and requires sign-in (unauthenticatedClientAction ${auth.unauthenticatedClientAction || '(default)'}; ${excluded}): ` +
          `verify's requests for ${shown} would get ${signInAnswer(auth.unauthenticatedClientAction)} from the platform and never reach the app, so IIS would not start ` +
          `the new version and verify would fail. Set health-path to a path Authentication lets through, add ${shown} to its excluded paths ` +
          `(globalValidation.excludedPaths in the site's authsettingsV2, e.g. az webapp auth update --excluded-paths), or set verify: false.`,
      );
    }
  }
  if (facts.kuduFailure !== undefined) {
    const f = facts.kuduFailure;
    if (f.status === 401 && facts.authKind === 'basic') {
      refuse.push(`Kudu refused the publish profile's credentials (401) before anything was changed. ${PROFILE_REFUSED}`);
    } else if (facts.arm?.state.toLowerCase() === 'stopped') {
      refuse.push(`The site is stopped (ARM state Stopped; ${f.status !== undefined ? `Kudu answered ${f.status}` : f.message}): ${SITE_STOPPED}`);
    } else {
      refuse.push(`Could not read the site through Kudu: ${f.message}`);
    }
  }
  if (facts.arm !== undefined) {
    if (facts.arm.state !== '' && facts.arm.state.toLowerCase() !== 'running' && facts.kuduFailure === undefined) {
      warn.push(`The site is ${facts.arm.state.toLowerCase()} (ARM state ${facts.arm.state}): the new version will not serve until it is started (az webapp start), so verify will fail.`);
    }
    if (facts.arm.alwaysOn === false) {
      warn.push(
        'Always On is off: App Service unloads an idle site, and the first request after a switch (or after idle time) waits for the ' +
          'process to start. Turn it on (Configuration → General settings) where the plan allows it.',
      );
    }
  }
  return [...refuse.map((text) => ({ severity: 'refuse' as const, text })), ...warn.map((text) => ({ severity: 'warn' as const, text }))];
}

/**
 * Pure: an app setting's value by name, '' when absent. App Service on Windows hands app settings to
 * the site as environment variables, whose names Windows compares without case, so
 * `website_run_from_package` is WEBSITE_RUN_FROM_PACKAGE; the name is read without case here too.
 */
export function appSetting(settings: Record<string, string> | undefined, name: string): string {
  if (settings === undefined) return '';
  if (Object.hasOwn(settings, name)) return settings[name] ?? '';
  const key = Object.keys(settings).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? '' : (settings[key] ?? '');
}

/** Reads the facts: ARM's settings when signed in through it, then Kudu's settings and web.config. */
async function gatherFacts(kudu: PreflightKudu, connection: Pick<SiteConnection, 'authKind' | 'arm'>, label: string, signal: AbortSignal): Promise<SiteFacts> {
  const facts: SiteFacts = { label, authKind: connection.authKind, unread: [] };
  if (connection.arm !== undefined) {
    facts.arm = await connection.arm.readSettings(signal);
    facts.unread.push(...facts.arm.unread);
    if (facts.arm.appSettings !== undefined) {
      facts.appSettings = facts.arm.appSettings;
      facts.appSettingsFrom = 'ARM';
    }
  }
  try {
    if (facts.appSettings === undefined) {
      const settings = await kudu.settings();
      if (settings === null) {
        facts.unread.push("the app settings (Kudu has no /api/settings)");
      } else {
        facts.appSettings = settings;
        facts.appSettingsFrom = 'Kudu';
      }
    }
    const webConfig = await kudu.getFile(`${SITE_ROOT}/web.config`);
    facts.webConfig = webConfig === null ? null : webConfig.body.toString('utf8');
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    facts.kuduFailure = { status: err instanceof KuduError ? err.status : undefined, message: messageOf(err) };
  }
  return facts;
}

export interface PreflightReport {
  facts: SiteFacts;
  findings: Finding[];
  /** One line per fact and finding, for the job summary. */
  lines: string[];
}

/** One line per thing learned, for the log and the summary. */
function describeFacts(facts: SiteFacts): string[] {
  const lines: string[] = [];
  if (facts.arm !== undefined) {
    lines.push(`kind ${facts.arm.kind || '(none)'}, state ${facts.arm.state || '(unknown)'}`);
    if (facts.arm.alwaysOn !== undefined) lines.push(`Always On ${facts.arm.alwaysOn ? 'on' : 'off'}`);
    if (facts.arm.healthCheckPath !== undefined) lines.push(`health check path ${redactQuery(facts.arm.healthCheckPath) || '(none)'}`);
    if (facts.arm.scmBasicAuth !== undefined) lines.push(`SCM basic auth ${facts.arm.scmBasicAuth ? 'allowed' : 'off'}`);
    const auth = facts.arm.authentication;
    if (auth !== undefined) {
      lines.push(
        !auth.enabled
          ? 'App Service Authentication off'
          : `App Service Authentication on (${auth.requireAuthentication ? `sign-in required, ${auth.unauthenticatedClientAction || 'default action'}` : 'sign-in not required'}${auth.excludedPaths.length > 0 ? `, excludes ${auth.excludedPaths.join(', ')}` : ''})`,
      );
    }
  } else {
    lines.push('signed in with a publish profile: kind, state and Always On are known only to ARM');
  }
  if (facts.appSettings !== undefined) {
    lines.push(`${Object.keys(facts.appSettings).length} app settings (from ${facts.appSettingsFrom}), WEBSITE_RUN_FROM_PACKAGE ${appSetting(facts.appSettings, 'WEBSITE_RUN_FROM_PACKAGE') ? 'set' : 'not set'}, ` +
        `Local Cache ${appSetting(facts.appSettings, 'WEBSITE_LOCAL_CACHE_OPTION').trim().toLowerCase() === 'always' ? 'on' : 'off'}`);
  }
  if (facts.webConfig !== undefined) lines.push(facts.webConfig === null ? 'no web.config yet' : 'web.config present');
  for (const u of facts.unread) lines.push(`could not read ${u}`);
  return lines;
}

/**
 * Runs preflight: gathers the facts, logs them, warns, and throws one ActionError listing every
 * refusal (and the warnings) when the site cannot work with this action.
 */
export async function runPreflight(
  kudu: PreflightKudu,
  connection: Pick<SiteConnection, 'authKind' | 'arm'>,
  label: string,
  opts: PreflightOptions,
  signal: AbortSignal,
): Promise<PreflightReport> {
  const facts = await gatherFacts(kudu, connection, label, signal);
  const findings = preflightFindings(facts, opts);
  const lines = describeFacts(facts);
  for (const line of lines) core.info(`Preflight: ${line}`);
  const refusals = findings.filter((f) => f.severity === 'refuse');
  const warnings = findings.filter((f) => f.severity === 'warn');
  for (const w of warnings) core.warning(w.text);
  if (refusals.length > 0) {
    throw new ActionError(
      `Preflight: ${label} cannot be deployed to by this action (${refusals.length} problem${refusals.length === 1 ? '' : 's'}); nothing on the site was changed.\n` +
        refusals.map((r) => `  - ${r.text}`).join('\n') +
        (warnings.length > 0 ? `\nAlso:\n${warnings.map((w) => `  - ${w.text}`).join('\n')}` : ''),
    );
  }
  return { facts, findings, lines: [...lines, ...warnings.map((w) => `warning: ${w.text}`)] };
}

/**
 * WEBSITE_RUN_FROM_PACKAGE for a message: `1`, or the host of the package URL. The URL itself
 * usually carries a SAS token, which must never reach the log.
 */
function describeRunFromPackage(value: string): string {
  if (/^https?:\/\//i.test(value)) {
    try {
      return `a package URL on ${new URL(value).host}`;
    } catch {
      return 'a package URL';
    }
  }
  return value.length <= 8 ? `"${value}"` : 'a value';
}
