// The sign-in stage: the Kudu (SCM) base URL and how to authenticate to it, from a publish profile
// or from Entra ID + ARM. See docs/ARCHITECTURE.md, "Signing in".

import type { Config } from '../common/inputs.ts';
import { connectionFromPublishProfile } from './publishprofile.ts';
import { connectionFromAzure } from './azure.ts';
import type { SiteConnection } from './connection.ts';


/** Resolves where and how to deploy. A publish profile needs no network; Entra ID reads ARM. */
export async function connectToSite(cfg: Config, signal: AbortSignal): Promise<SiteConnection> {
  if (cfg.auth.kind === 'publish-profile') return connectionFromPublishProfile(cfg, cfg.auth.profileXml);
  return connectionFromAzure(cfg, signal);
}
