// The endpoints of each Azure cloud the `environment` input can name: where to sign in (the Entra
// ID authority host), where ARM lives, and the token scope for ARM and Kudu that follows from it.

import type { CloudName } from '../common/inputs.ts';

export interface CloudEndpoints {
  /** Entra ID authority host, e.g. https://login.microsoftonline.com (no trailing slash). */
  authorityHost: string;
  /** Azure Resource Manager endpoint, e.g. https://management.azure.com (no trailing slash). */
  armEndpoint: string;
  /** Token scope for ARM calls and for Kudu's bearer auth: `<ARM endpoint>/.default`. */
  scope: string;
  /** True when an environment variable replaced a built-in endpoint (a private cloud or a test). */
  overridden: boolean;
}

/** The public endpoints of each cloud, as Microsoft documents them for `az cloud show`. */
export const CLOUD_ENDPOINTS: Readonly<Record<CloudName, { authorityHost: string; armEndpoint: string }>> = {
  AzureCloud: {
    authorityHost: 'https://login.microsoftonline.com',
    armEndpoint: 'https://management.azure.com',
  },
  AzureUSGovernment: {
    authorityHost: 'https://login.microsoftonline.us',
    armEndpoint: 'https://management.usgovcloudapi.net',
  },
  AzureChinaCloud: {
    authorityHost: 'https://login.chinacloudapi.cn',
    armEndpoint: 'https://management.chinacloudapi.cn',
  },
};

/**
 * Environment variables that replace the built-in endpoints. `AZURE_AUTHORITY_HOST` is the one the
 * Azure SDKs already honour; the ARM endpoint has no SDK-wide variable, so this action defines one.
 * They exist for private clouds (Azure Stack Hub) and for the offline tests; this is the only place
 * that reads them.
 */
const AUTHORITY_HOST_VARIABLE = 'AZURE_AUTHORITY_HOST';
const ARM_ENDPOINT_VARIABLE = 'GO_AZURE_DEPLOY_ARM_ENDPOINT';

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** The endpoints for `cloud`, with any override from `env` applied. */
export function cloudEndpoints(cloud: CloudName, env: NodeJS.ProcessEnv = process.env): CloudEndpoints {
  const builtIn = CLOUD_ENDPOINTS[cloud];
  const authorityOverride = (env[AUTHORITY_HOST_VARIABLE] ?? '').trim();
  const armOverride = (env[ARM_ENDPOINT_VARIABLE] ?? '').trim();
  const authorityHost = trimSlash(authorityOverride || builtIn.authorityHost);
  const armEndpoint = trimSlash(armOverride || builtIn.armEndpoint);
  return {
    authorityHost,
    armEndpoint,
    scope: `${armEndpoint}/.default`,
    overridden: authorityOverride !== '' || armOverride !== '',
  };
}

/** True when `authorityHost` is one of the public clouds' hosts, which the sign-in library knows. */
export function isKnownAuthorityHost(authorityHost: string): boolean {
  return Object.values(CLOUD_ENDPOINTS).some((c) => c.authorityHost === trimSlash(authorityHost));
}
