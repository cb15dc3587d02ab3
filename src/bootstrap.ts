// The bootstrap stage: web.config and go-azure.bat written only if absent. DESIGN.md §3.7.

import type { KuduClient } from './kudu.ts';
import { NotImplementedError } from './errors.ts';

export interface BootstrapResult {
  written: string[];
  kept: string[];
}

export async function bootstrapSite(_kudu: KuduClient, _signal: AbortSignal): Promise<BootstrapResult> {
  throw new NotImplementedError('bootstrap');
}
