// The target stage: the Kudu (SCM) base URL and how to authenticate to it, from a publish profile
// or from Entra ID + ARM. See DESIGN.md §3.5 and §4.

import type { Config } from './inputs.ts';
import { NotImplementedError } from './errors.ts';

export interface Target {
  /** SCM base URL, without a trailing slash, e.g. https://site.scm.azurewebsites.net */
  kuduUrl: string;
  /** The site's (or slot's) public URL. */
  webappUrl: string;
  /** `Basic` for a publish profile, `Bearer` for Entra ID. */
  authKind: 'basic' | 'bearer';
  /** Value of the Authorization header for Kudu; a bearer token is refreshed as needed. */
  authorization(): Promise<string>;
}

export async function resolveTarget(_cfg: Config, _signal: AbortSignal): Promise<Target> {
  throw new NotImplementedError('target');
}
