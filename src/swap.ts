// Slot swap after a verified deploy to a slot (swap-slot input), through ARM.

import type { Config } from './inputs.ts';
import type { Target } from './target.ts';
import { NotImplementedError } from './errors.ts';

export interface SwapResult {
  /** URL of the slot that now serves the new version. */
  targetUrl: string;
}

export async function swapSlots(_cfg: Config, _target: Target, _signal: AbortSignal): Promise<SwapResult> {
  throw new NotImplementedError('slot swap');
}
