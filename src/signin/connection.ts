// What the sign-in stage hands to the site stages: how to reach the site and its Kudu (SCM) API.
// Types only, so that the ways of signing in (publishprofile.ts, azure.ts) and their dispatcher
// (signin.ts) all depend on this file and never on each other.

import type { TokenCredential } from '@azure/core-auth';
import type { CloudEndpoints } from './clouds.ts';

/** The site (or slot) being deployed to: its Kudu endpoint with credentials, and its public URL. */
export interface SiteConnection {
  /** SCM base URL, without a trailing slash, e.g. https://site.scm.azurewebsites.net */
  kuduUrl: string;
  /** The site's (or slot's) public URL. */
  webappUrl: string;
  /** `basic` for a publish profile, `bearer` for Entra ID. */
  authKind: 'basic' | 'bearer';
  /**
   * Value of the Authorization header for Kudu; a bearer token is refreshed as needed, and a
   * refresh is abandoned when `signal` aborts.
   */
  authorization(signal?: AbortSignal): Promise<string>;
  /** Set when signed in through Entra ID or the Azure CLI: the site in ARM, for slot swap and hints. */
  arm?: ArmSite;
}

export interface ArmSite {
  credential: TokenCredential;
  endpoints: CloudEndpoints;
  subscriptionId: string;
  resourceGroup: string;
  siteName: string;
  /** `production` for the site itself. */
  slotName: string;
  /** Who signed in, for messages: "the app registration <client-id>" or "the Azure CLI account". */
  identity: string;
  /** Full ARM resource ID of the site (not the slot), for role assignment advice. */
  siteId: string;
  /**
   * What a 401 or 403 from Kudu means for this identity: the permission it lacks and how to grant
   * it. The Kudu client appends it to its message for those statuses.
   */
  kuduPermissionHint: string;
  /**
   * Instance IDs of the site (or slot) as ARM lists them; a scaled-out site runs one process per
   * instance, and Kudu reaches a given one through the ARRAffinity cookie set to its ID.
   */
  listInstances(signal: AbortSignal): Promise<string[]>;
  /** What ARM says about the site's (or slot's) configuration, for the preflight stage. */
  readSettings(signal: AbortSignal): Promise<ArmSiteSettings>;
}

/**
 * App Service Authentication as authsettingsV2 tells it. When it is on and requires sign-in, it
 * answers unauthenticated requests itself (a redirect to sign in, 401 or 403) before they reach the
 * app, except on the excluded paths.
 */
export interface SiteAuthentication {
  /** platform.enabled */
  enabled: boolean;
  /** globalValidation.requireAuthentication */
  requireAuthentication: boolean;
  /** globalValidation.unauthenticatedClientAction: RedirectToLoginPage, AllowAnonymous, Return401 or Return403. */
  unauthenticatedClientAction: string;
  /** globalValidation.excludedPaths */
  excludedPaths: string[];
}

/** The site's configuration as ARM tells it; a read that failed leaves its field out and says so in `unread`. */
export interface ArmSiteSettings {
  /** ARM `kind`, e.g. `app` (Windows) or `app,linux`. */
  kind: string;
  /** `Running` or `Stopped`. */
  state: string;
  alwaysOn?: boolean;
  /** The site's Health check path (siteConfig.healthCheckPath); '' when none is set. */
  healthCheckPath?: string;
  appSettings?: Record<string, string>;
  /** Whether SCM basic auth publishing credentials are allowed (basicPublishingCredentialsPolicies/scm). */
  scmBasicAuth?: boolean;
  /** App Service Authentication ("Easy Auth"), from config/authsettingsV2. */
  authentication?: SiteAuthentication;
  /** What could not be read, with why, e.g. `app settings (ARM answered 403 ...)`. */
  unread: string[];
}
