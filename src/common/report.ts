// The report stage: log groups with durations, outputs, and the job summary. docs/ARCHITECTURE.md, "The flow".

import * as core from '@actions/core';
import type { CanaryFacts } from '../site/canary.ts';

/** Durations of the stages run so far, in order. */
export class StageLog {
  readonly stages: { name: string; seconds: number; ok: boolean }[] = [];
  /** The stage running now, if any. */
  current: string | undefined;

  /** Runs `fn` inside a log group named `name` and records how long it took. */
  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    core.startGroup(name);
    this.current = name;
    let ok = false;
    try {
      const value = await fn();
      ok = true;
      return value;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      this.current = undefined;
      this.stages.push({ name, seconds, ok });
      core.info(`${name}: ${ok ? 'done' : 'failed'} in ${seconds.toFixed(1)} s`);
      core.endGroup();
    }
  }
}

/** The facts of one deploy that end up in the outputs and the job summary. */
export interface DeployFacts {
  appName: string;
  slotName: string;
  webappUrl?: string;
  artifactName?: string;
  commit: string;
  goVersion?: string;
  toolchainCacheHit?: boolean;
  binarySize?: number;
  zipSize?: number;
  previousArtifact?: string;
  uploadSkipped?: boolean;
  pruned?: string[];
  pruneSkipped?: string[];
  verification?: string;
  /** What a cancel of the run did (src/main.ts): switched back, or changed nothing. */
  cancel?: string;
  /** Verification per instance ('' = whichever instance answered). */
  instances?: {
    instance: string;
    ok: boolean;
    seen: string[];
    /** The binary that sent the last answer (X-Goazure-Artifact); '' when the answer did not say. */
    artifact?: string;
    lastStatus?: number;
    latencyMs?: number;
    secondsToHealthy?: number;
  }[];
  /** The path verify requested on each instance. */
  healthPath?: string;
  /** What preflight learned and warned about. */
  preflight?: string[];
  dryRunPlan?: string[];
  /** sha256 of the manifest of the package deployed (from-package). */
  packageManifest?: string;
  /** What a canary release did (src/site/canary.ts). */
  canary?: CanaryFacts;
  /** What the Go cache stages did (src/artifact/gocache.ts). */
  goCache?: {
    outcome: string;
    key: string;
    matchedKey?: string;
    restoreSeconds: number;
    /** Bytes of files in GOMODCACHE and GOCACHE after the restore. */
    restoredBytes?: number;
    saved?: boolean;
    saveSeconds?: number;
    /** Bytes of files handed to the archive. */
    savedBytes?: number;
    /** Why it was not saved. */
    saveNote?: string;
  };
}

/** The Go cache rows of the summary: what was restored and saved, how long it took, how big it was. */
export function goCacheRows(c: NonNullable<DeployFacts['goCache']>): [string, string][] {
  const size = (n?: number): string => (n === undefined ? '' : `, ${(n / 1048576).toFixed(1)} MiB`);
  const restored: Record<string, string> = {
    hit: `restored ${c.matchedKey ?? c.key}`,
    partial: `restored the older entry ${c.matchedKey ?? ''}`,
    miss: `nothing cached yet for ${c.key}`,
    external: 'left alone: an earlier step or the runner provides the caches',
    unavailable: 'no cache service',
    failed: 'failed (see the warning); built cold',
  };
  const rows: [string, string][] = [
    ['Go cache restore', `${restored[c.outcome] ?? c.outcome} (${c.restoreSeconds.toFixed(1)} s${size(c.restoredBytes)})`],
  ];
  if (c.saved === true) rows.push(['Go cache save', `saved ${c.key} (${(c.saveSeconds ?? 0).toFixed(1)} s${size(c.savedBytes)})`]);
  else if (c.saved === false) rows.push(['Go cache save', `not saved: ${c.saveNote ?? ''}${c.saveSeconds !== undefined ? ` (${c.saveSeconds.toFixed(1)} s)` : ''}`]);
  return rows;
}

/** The canary rows of the summary: its instance, how long it ran, what it served, when the rest followed. */
export function canaryRows(c: NonNullable<DeployFacts['canary']>): [string, string][] {
  if (c.skipped !== undefined) return [['Canary', `not run: ${c.skipped}`]];
  const rows: [string, string][] = [['Canary instance', c.instance ?? '']];
  if (c.seconds !== undefined) rows.push(['Canary ran', `${c.seconds.toFixed(1)} s`]);
  if (c.served !== undefined) rows.push(['Canary served', c.served]);
  if (c.baseline !== undefined) rows.push(['Other instances served (previous version, same window)', c.baseline]);
  if (c.outcome !== undefined) rows.push(['Canary outcome', c.outcome]);
  if (c.promotedAfter !== undefined) rows.push(['Rest of the instances followed', `${c.promotedAfter.toFixed(1)} s after the canary started`]);
  return rows;
}

/** Writes the job summary; a failure to write it is a warning, never a failed deploy. */
export async function writeSummary(facts: DeployFacts, stages: StageLog, outcome: string): Promise<void> {
  const mib = (n?: number): string => (n === undefined ? '' : `${(n / 1048576).toFixed(2)} MiB`);
  const rows: [string, string][] = [
    ['Site', facts.appName],
    ['Slot', facts.slotName],
    ['URL', facts.webappUrl ?? ''],
    ['Artifact', facts.artifactName ?? ''],
    ['Commit', facts.commit],
    ['Go', facts.goVersion ?? ''],
    ['Toolchain cache hit', facts.toolchainCacheHit === undefined ? '' : String(facts.toolchainCacheHit)],
    ['Binary size', mib(facts.binarySize)],
    ['Zip size', mib(facts.zipSize)],
    ['From package (manifest sha256)', facts.packageManifest ?? ''],
    ['Previous artifact', facts.previousArtifact ?? ''],
    ['Upload', facts.uploadSkipped === undefined ? '' : facts.uploadSkipped ? 'skipped: already on the site' : 'uploaded'],
    ['Pruned', (facts.pruned ?? []).join(', ')],
    ['Kept (in use)', (facts.pruneSkipped ?? []).join(', ')],
    ['Verification', facts.verification ?? ''],
    ['Cancel', facts.cancel ?? ''],
    ...(facts.canary !== undefined ? canaryRows(facts.canary) : []),
    ...(facts.goCache !== undefined ? goCacheRows(facts.goCache) : []),
  ];
  try {
    const summary = core.summary
      .addHeading(`go-azure-deploy: ${outcome}`, 2)
      .addTable([
        [{ data: 'What', header: true }, { data: 'Value', header: true }],
        ...rows.filter(([, v]) => v !== '').map(([k, v]) => [k, escapeHtml(v)]),
      ])
      .addHeading('Stages', 3)
      .addTable([
        [{ data: 'Stage', header: true }, { data: 'Seconds', header: true }, { data: 'Result', header: true }],
        ...stages.stages.map((s) => [s.name, s.seconds.toFixed(1), s.ok ? 'ok' : 'failed']),
      ]);
    if (facts.instances !== undefined && facts.instances.length > 0) {
      const path = escapeHtml(facts.healthPath ?? '/');
      summary.addHeading('Verification', 3).addTable([
        [
          { data: 'Instance', header: true },
          { data: 'Healthy', header: true },
          { data: 'Answered by', header: true },
          { data: `${path} status`, header: true },
          { data: 'Latency', header: true },
          { data: 'Switch to healthy', header: true },
          { data: 'Processes seen', header: true },
        ],
        ...facts.instances.map((i) => [
          escapeHtml(i.instance || 'any'),
          i.ok ? 'yes' : 'no',
          escapeHtml(i.artifact || (i.lastStatus === undefined ? '' : '(no X-Goazure-Artifact header)')),
          i.lastStatus === undefined ? 'no answer' : String(i.lastStatus),
          i.latencyMs === undefined ? '' : `${i.latencyMs} ms`,
          i.secondsToHealthy === undefined ? '' : `${i.secondsToHealthy.toFixed(1)} s`,
          escapeHtml(i.seen.join(', ')),
        ]),
      ]);
    }
    if (facts.preflight !== undefined && facts.preflight.length > 0) {
      summary.addHeading('Preflight', 3).addList(facts.preflight.map(escapeHtml));
    }
    if (facts.dryRunPlan !== undefined) {
      summary.addHeading('Dry run: planned changes', 3).addList(facts.dryRunPlan.map(escapeHtml));
    }
    await summary.write();
  } catch (err) {
    core.warning(`Could not write the job summary: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A summary of a heading and one paragraph, for the post entry (src/post.ts); a failure is a warning. */
export async function writeNote(title: string, text: string): Promise<void> {
  try {
    await core.summary.addHeading(title, 2).addRaw(`<p>${escapeHtml(text)}</p>`, true).write();
  } catch (err) {
    core.warning(`Could not write the job summary: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Progress for a large upload: percent and rate, at most once per `everyMs`, so a slow upload
 * shows it is moving without flooding the log. A fast upload prints nothing.
 */
export function uploadProgressLogger(
  total: number,
  log: (line: string) => void = core.info,
  now: () => number = () => performance.now(),
  everyMs = 5000,
): (sent: number) => void {
  const started = now();
  let lastLog = started;
  return (sent: number) => {
    const t = now();
    if (t - lastLog < everyMs || sent >= total) return;
    lastLog = t;
    const rate = sent / 1048576 / ((t - started) / 1000);
    log(`Uploaded ${Math.floor((sent / total) * 100)}% (${(sent / 1048576).toFixed(1)} of ${(total / 1048576).toFixed(1)} MiB, ${rate.toFixed(1)} MiB/s)`);
  };
}
