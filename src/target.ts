// The target stage: the Kudu (SCM) base URL and how to authenticate to it, from a publish profile
// or from Entra ID + ARM. See DESIGN.md §3.5 and §4.

import type { Config } from './inputs.ts';
import { targetFromPublishProfile } from './publishprofile.ts';
import { targetFromAzure, type ArmSite } from './azure.ts';

export interface Target {
  /** SCM base URL, without a trailing slash, e.g. https://site.scm.azurewebsites.net */
  kuduUrl: string;
  /** The site's (or slot's) public URL. */
  webappUrl: string;
  /** `basic` for a publish profile, `bearer` for Entra ID. */
  authKind: 'basic' | 'bearer';
  /** Value of the Authorization header for Kudu; a bearer token is refreshed as needed. */
  authorization(): Promise<string>;
  /** Set when signed in through Entra ID or the Azure CLI: the site in ARM, for slot swap and hints. */
  arm?: ArmSite;
}

/** Resolves where and how to deploy. A publish profile needs no network; Entra ID reads ARM. */
export async function resolveTarget(cfg: Config, signal: AbortSignal): Promise<Target> {
  if (cfg.auth.kind === 'publish-profile') return targetFromPublishProfile(cfg, cfg.auth.profileXml);
  return targetFromAzure(cfg, signal);
}
