// A scaled-out site signed in with Entra ID, in one call: the sandbox's internet, Entra ID and ARM
// listing the site's instances, and the App Service with one IIS per instance behind the front
// end (appservice.ts). The canary and health gate tests and the canary benchmark deploy to it.

import { startAzureSandbox, type AzureSandbox } from './azure.ts';
import { startInternet, type Internet } from './internet.ts';
import { startAppService, entraSecretInputs, type AppService } from './appservice.ts';
import { seedToolCache } from './gomirror.ts';

/** ARM's token scope, which Kudu accepts a bearer token for. */
const ARM_SCOPE = 'https://management.azure.com/.default';

export interface ScaledSite {
  site: AppService;
  azure: AzureSandbox;
  internet: Internet;
  /** The inputs of the app registration's client-secret sign-in. */
  signIn: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Starts the site `scaled` in resource group `rg-scaled` with `instances` (App Service's instance
 * ids are 64 hexadecimal digits), its health check path `/healthz` and Always On in ARM, and this
 * machine's Go in its tool cache.
 */
export async function startScaledSite(opts: { instances: string[]; launcher?: 'wine'; home?: string }): Promise<ScaledSite> {
  const app = { clientId: '0a0a0a0a-0000-0000-0000-000000000001', tenantId: '11111111-2222-3333-4444-555555555555', secret: 'sandbox-secret~value.789', subscriptionId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee' };
  const internet = await startInternet();
  const azure = await startAzureSandbox({
    tenantId: app.tenantId,
    subscriptionId: app.subscriptionId,
    clients: [{ clientId: app.clientId, secret: app.secret }],
    sites: [{ name: 'scaled', resourceGroup: 'rg-scaled', instances: opts.instances, healthCheckPath: '/healthz', alwaysOn: true }],
    internet,
  });
  const site = await startAppService({
    siteName: 'scaled',
    instances: opts.instances,
    internet,
    launcher: opts.launcher,
    home: opts.home,
    acceptBearer: (t) => azure.acceptsToken(t, ARM_SCOPE),
  });
  seedToolCache(site.toolCache);
  return {
    site,
    azure,
    internet,
    signIn: entraSecretInputs(app),
    close: async () => {
      await site.close();
      await azure.close();
      await internet.close();
    },
  };
}
