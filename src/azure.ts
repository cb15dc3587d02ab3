// Entra ID sign-in (client secret, GitHub OIDC, Azure CLI) and the ARM lookup of the site.

import type { Config } from './inputs.ts';
import type { Target } from './target.ts';
import { NotImplementedError } from './errors.ts';

export async function targetFromAzure(_cfg: Config, _signal: AbortSignal): Promise<Target> {
  throw new NotImplementedError('Entra ID sign-in');
}
