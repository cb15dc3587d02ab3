// A publish profile (the XML the portal downloads) turned into a site connection with Basic auth.
// Everything is checked here, before any network call: a wrong or foreign profile fails at once.

import * as core from '@actions/core';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { Config } from '../common/inputs.ts';
import type { SiteConnection } from './connection.ts';
import { ActionError } from '../common/errors.ts';

interface PublishProfile {
  publishMethod: string;
  /** SCM base URL, normalized: scheme, host and port only, no trailing slash. */
  kuduUrl: string;
  userName: string;
  password: string;
  webappUrl: string;
}

/** Methods whose publishUrl is the SCM (Kudu) host, best first. FTP's is not. */
const KUDU_METHODS = ['ZipDeploy', 'MSDeploy'];

/**
 * Parses the profile XML and picks the ZipDeploy or MSDeploy profile. The password is masked
 * with core.setSecret as soon as it is read.
 */
export function parsePublishProfile(xml: string): PublishProfile {
  const problem = (what: string): ActionError =>
    new ActionError(`publish-profile: ${what} Paste the whole file the portal downloads (Get publish profile) into the secret.`);
  if (xml.trim() === '') throw problem('is empty.');
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw problem(`is not valid XML (line ${valid.err.line}: ${valid.err.msg}).`);

  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseAttributeValue: false,
    isArray: (name) => name === 'publishProfile',
  });
  const doc = parser.parse(xml) as { publishData?: { publishProfile?: Record<string, unknown>[] } };
  const profiles = doc.publishData?.publishProfile ?? [];
  if (doc.publishData === undefined) throw problem('has no <publishData> element.');
  if (profiles.length === 0) throw problem('has no <publishProfile> element.');

  // Mask every password before anything else can go wrong and print part of the document.
  const passwords = new Set(profiles.map((p) => p.userPWD).filter((pwd): pwd is string => typeof pwd === 'string' && pwd !== ''));
  for (const pwd of passwords) core.setSecret(pwd);

  const chosen = KUDU_METHODS.map((m) => profiles.find((p) => String(p.publishMethod ?? '') === m)).find((p) => p !== undefined);
  if (chosen === undefined) {
    const methods = profiles.map((p) => String(p.publishMethod ?? '?')).join(', ');
    throw problem(`has no ZipDeploy or MSDeploy profile (found: ${methods}).`);
  }
  const method = String(chosen.publishMethod);
  const field = (name: string): string => {
    const v = chosen[name];
    if (typeof v !== 'string' || v.trim() === '') throw problem(`the ${method} profile has no ${name} attribute.`);
    return v.trim();
  };
  const userName = field('userName');
  const password = String(chosen.userPWD ?? '');
  if (password === '') throw problem(`the ${method} profile has no userPWD attribute.`);
  const publishUrl = field('publishUrl');
  const webappUrl = field('destinationAppUrl').replace(/\/+$/, '');

  let kuduUrl: string;
  try {
    kuduUrl = normalizeKuduUrl(publishUrl);
  } catch {
    throw problem(`the ${method} profile's publishUrl "${publishUrl}" is not a host name or URL.`);
  }
  return { publishMethod: method, kuduUrl, userName, password, webappUrl };
}

/**
 * `site.scm.azurewebsites.net`, `site.scm.azurewebsites.net:443` and `https://site.scm…/` all mean
 * the same endpoint; a profile carries any of them. No scheme means HTTPS.
 */
export function normalizeKuduUrl(value: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `https://${value}`;
  const u = new URL(withScheme);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`unsupported scheme ${u.protocol}`);
  if (u.hostname === '') throw new Error('no host');
  return `${u.protocol}//${u.host}`;
}

/** The user name Kudu gives a site's deployment credentials: `$app`, or `$app__slot` for a slot. */
export function expectedUserName(appName: string, slotName: string): string {
  return slotName === '' || slotName.toLowerCase() === 'production' ? `$${appName}` : `$${appName}__${slotName}`;
}

export function connectionFromPublishProfile(cfg: Config, xml: string): SiteConnection {
  const profile = parsePublishProfile(xml);
  const expected = expectedUserName(cfg.appName, cfg.slotName);
  if (profile.userName.toLowerCase() !== expected.toLowerCase()) {
    const slot = cfg.slotName.toLowerCase() === 'production' ? '' : ` slot "${cfg.slotName}"`;
    throw new ActionError(
      `publish-profile is for ${describeUser(profile.userName)}, but app-name is "${cfg.appName}"${slot} (expected userName ${expected}). ` +
        `Download the publish profile of that site${slot ? ' slot' : ''}, or fix app-name/slot-name.`,
    );
  }
  let kuduUrl = profile.kuduUrl;
  if (cfg.kuduUrl !== '') {
    try {
      kuduUrl = normalizeKuduUrl(cfg.kuduUrl);
    } catch {
      throw new ActionError(`kudu-url: "${cfg.kuduUrl}" is not a URL; give the SCM base URL, e.g. https://my-app.scm.azurewebsites.net`);
    }
  }
  const authorization = `Basic ${Buffer.from(`${profile.userName}:${profile.password}`, 'utf8').toString('base64')}`;
  core.setSecret(authorization.slice('Basic '.length));
  core.info(
    `Publish profile (${profile.publishMethod}) for ${profile.userName}: Kudu at ${kuduUrl}${cfg.kuduUrl !== '' ? ' (from kudu-url)' : ''}, site ${profile.webappUrl}`,
  );
  return {
    kuduUrl,
    webappUrl: profile.webappUrl,
    authKind: 'basic',
    authorization: async () => authorization,
  };
}

function describeUser(userName: string): string {
  if (!userName.startsWith('$')) return `user "${userName}"`;
  // Site names hold only letters, digits and hyphens, so `__` can only be the slot separator.
  const [site, slot] = userName.slice(1).split('__', 2);
  return slot === undefined ? `site "${site}"` : `site "${site}" slot "${slot}"`;
}
