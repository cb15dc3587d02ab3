// What the stages of one deploy share: the inputs, the abort signal and the clock, the stage log,
// the facts for the outputs and the summary, what this run knows of the site's state, and, once
// signed in, the site itself. src/main.ts makes it; the stage groups take what they need from it.

import type { Config } from './common/inputs.ts';
import type { StageLog, DeployFacts } from './common/report.ts';
import type { Deadline } from './common/deadline.ts';
import type { SiteConnection } from './signin/connection.ts';
import type { KuduClient } from './site/kudu.ts';
import type { HealthCheck } from './site/verify.ts';
import type { Release } from './site/release.ts';
import type { CanaryState } from './site/canary.ts';

/**
 * What the site looks like to this run, kept up to date as it changes it: what _artifact.txt
 * names and its ETag, and, between a switch and its verification, the switch to undo when the
 * deadline fires or the run is cancelled (src/site/golive.ts, undoUnverifiedSwitch). Only a
 * Release (src/site/release.ts) changes it. The main
 * step's state saves each change for the post entry (src/post.ts, savedSiteState).
 */
export interface SiteState {
  live?: { name: string; etag: string };
  /** Switched to `artifact` from `previous`, not verified yet; `release` moves it on (src/site/release.ts). */
  unverified?: { artifact: string; previous: string; release: Release };
  /** The identity key this run wrote before its switch (src/site/identity.ts); verify sends it. */
  identityKey?: string;
  /** A canary live on one instance through its own pointer, not promoted yet (src/site/canary.ts, undoCanary). */
  canary?: CanaryState;
}

/**
 * What every stage after sign-in works with: the inputs, the deploy's abort signal and clock, the
 * stage log, the facts that end up in the outputs and the summary, and, once signed in, the site.
 */
export interface DeployContext {
  cfg: Config;
  signal: AbortSignal;
  stages: StageLog;
  facts: DeployFacts;
  deadline: Deadline;
  state: SiteState;
  /** Set by sign-in: the site the deadline's auto-rollback and the cancel switch back through. */
  connection?: SiteConnection;
}

export interface SiteContext extends DeployContext {
  connection: SiteConnection;
  kudu: KuduClient;
  /** The health gate verify applies: health-path, else the site's health check path from ARM, else `/`. */
  health: HealthCheck;
}
