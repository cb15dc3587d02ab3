// Slot swap after a verified deploy to a slot (swap-target-slot input), through ARM's long-running swap
// operation. Runs only after the new version serves on slot-name, so what is swapped in is known good.

import * as core from '@actions/core';
import type { Config } from '../common/inputs.ts';
import type { SiteConnection } from './connection.ts';
import { ActionError } from '../common/errors.ts';
import { armClient, armError, isProduction, siteHosts } from './azure.ts';

interface SwapResult {
  /** URL of the slot that now serves the new version. */
  swappedIntoUrl: string;
  /** URL of the slot deployed to, which now serves what swap-target-slot served before. */
  sourceUrl: string;
}

/** Milliseconds between polls of the swap operation when ARM gives no Retry-After. */
const POLL_INTERVAL_MS = 5_000;

export async function swapSlots(cfg: Config, connection: SiteConnection, signal: AbortSignal): Promise<SwapResult> {
  const arm = connection.arm;
  if (arm === undefined) {
    throw new ActionError(
      `swap-target-slot: swapping slots goes through Azure Resource Manager, which a publish profile cannot sign in to. ` +
        `Sign in with client-id and tenant-id (or an Azure CLI session) and subscription-id, or leave swap-target-slot empty.`,
    );
  }
  const client = armClient(arm.credential, arm.subscriptionId, arm.endpoints);
  const source = arm.slotName;
  const into = isProduction(cfg.swapSlot) ? 'production' : cfg.swapSlot;
  const what = `swap slot ${source} into ${into} of site ${arm.siteName}`;
  core.info(`Swapping ${source} into ${into} of ${arm.siteName} (resource group ${arm.resourceGroup})`);

  // ARM's swap is symmetric; the production variant is used whenever one side is the site itself.
  const options = { abortSignal: signal, updateIntervalInMs: POLL_INTERVAL_MS };
  const started = performance.now();
  try {
    if (isProduction(source)) {
      await client.webApps.swapSlotWithProduction(arm.resourceGroup, arm.siteName, { targetSlot: into, preserveVnet: true }, options);
    } else if (into === 'production') {
      await client.webApps.swapSlotWithProduction(arm.resourceGroup, arm.siteName, { targetSlot: source, preserveVnet: true }, options);
    } else {
      await client.webApps.swapSlot(arm.resourceGroup, arm.siteName, source, { targetSlot: into, preserveVnet: true }, options);
    }
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 400 && !signal.aborted) {
      // ARM answers 400 to a swap it will not do: a missing target slot, settings that cannot swap.
      throw new ActionError(
        `swap-target-slot: ARM refused to ${what} (HTTP 400${(err as { code?: string }).code ? ` ${(err as { code?: string }).code}` : ''}: ${(err as Error).message}). ` +
          `Check that slot ${into} exists and can swap with ${source}. ${source} runs the new version; ${into} was not changed.`,
      );
    }
    throw armError(err, signal, arm.identity, what, () =>
      `swap-target-slot: site ${arm.siteName} has no slot ${into} (or slot-name ${source} is gone); check swap-target-slot.`,
    );
  }
  core.info(`Swap finished in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const urlOf = async (slot: string): Promise<string> => {
    try {
      const site = isProduction(slot)
        ? await client.webApps.get(arm.resourceGroup, arm.siteName, { abortSignal: signal })
        : await client.webApps.getSlot(arm.resourceGroup, arm.siteName, slot, { abortSignal: signal });
      return `https://${siteHosts(site, slot).appHost}`;
    } catch (err) {
      throw armError(err, signal, arm.identity, `read slot ${slot} of site ${arm.siteName} after the swap`, () =>
        `swap-target-slot: slot ${slot} of site ${arm.siteName} disappeared after the swap.`,
      );
    }
  };
  const swappedIntoUrl = await urlOf(into);
  const sourceUrl = await urlOf(source);
  core.info(`${into} (${swappedIntoUrl}) now serves the new version; ${source} (${sourceUrl}) serves what ${into} served before.`);
  return { swappedIntoUrl, sourceUrl };
}
