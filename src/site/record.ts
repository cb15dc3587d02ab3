// The deploy record: what was deployed to the site, when, by which run, and whether it came up.
// Pure logic only (shape, parse, append, bound, queries); src/site/history.ts reads and writes it
// through the Kudu client. It lives in site/wwwroot/_deploys.json (layout.ts, RECORD_FILE), which
// the launcher, the Go package and prune never read. See docs/lifecycle.md, "The deploy record".

import { ActionError } from '../common/errors.ts';

/** Entries kept; the oldest go first. 50 entries are about 25 KB of JSON. */
export const RECORD_LIMIT = 50;

/**
 * Where a deploy or rollback got to:
 * - `uploading`: the upload of this content under `artifact` started; written before the first byte
 *   is sent, so an upload cut short (a lost answer, a cancelled run) leaves a name the next run
 *   knows, and can upload again, instead of a file of unknown content;
 * - `uploaded`: the artifact is in _target with this content, _artifact.txt not changed yet;
 * - `canary`: one instance's own pointer (_artifact.<instance>.txt) names it, _artifact.txt does
 *   not yet: a canary release (src/site/canary.ts) being watched;
 * - `switched`: _artifact.txt names it (verify off, or still running);
 * - `verified`: it served on `instances` instance(s);
 * - `rolled-back`: it did not come up and _artifact.txt was pointed back at `from`;
 * - `failed`: it did not come up, or the switch was refused (another deploy changed the site);
 * - `cancelled`: the run was cancelled after its switch and before the version was verified, and
 *   _artifact.txt was pointed back at `from` (or, when `detail` says so, left as another deploy set
 *   it). Never a version to go back to, and never counted as live.
 */
export type Outcome = 'uploading' | 'uploaded' | 'canary' | 'switched' | 'verified' | 'rolled-back' | 'failed' | 'cancelled';

type EntryKind = 'deploy' | 'rollback' | 'auto-rollback';

/** The workflow run that made an entry, from the runner's GITHUB_* variables ('' when unknown). */
export interface RunInfo {
  repository: string;
  runId: string;
  runAttempt: string;
  actor: string;
}

export interface DeployEntry {
  /** Unique; also the id of the matching entry in Kudu's deployment list. */
  id: string;
  kind: EntryKind;
  /** The artifact file name in _target. */
  artifact: string;
  /** sha256 (hex) of the binary and the include files, as `contentHash` computes it; '' when unknown. */
  content: string;
  commit: string;
  /** What _artifact.txt named before ('' on a first deploy). */
  from: string;
  run: RunInfo;
  /** ISO time the entry was made. */
  at: string;
  outcome: Outcome;
  /** Instances it was verified on. */
  instances?: number;
  /** One line on the outcome, at most DETAIL_LIMIT characters. */
  detail?: string;
  /**
   * `package` when the artifact came from a package built earlier (from-package) rather than a build
   * in this run; then `manifest` is the sha256 of that package's manifest file.
   */
  source?: 'package';
  manifest?: string;
}

export interface DeployRecord {
  version: 1;
  /** Oldest first, at most RECORD_LIMIT. */
  entries: DeployEntry[];
}

const DETAIL_LIMIT = 300;

export function emptyRecord(): DeployRecord {
  return { version: 1, entries: [] };
}

/**
 * The record from the file's text. A file that is not a record (edited by hand, cut short) gives
 * an empty record and a problem to warn about: the record helps decisions, it never blocks a deploy.
 */
export function parseRecord(text: string): { record: DeployRecord; problem?: string } {
  if (text.trim() === '') return { record: emptyRecord() };
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    // Cut short (a write whose connection was cut: Kudu truncates before it reads the body), the
    // file still holds whole lines, and formatRecord writes one entry per line.
    const salvaged = entriesByLine(text);
    return {
      record: { version: 1, entries: salvaged.slice(-RECORD_LIMIT) },
      problem: `it is not JSON (${(err as Error).message})${salvaged.length > 0 ? `; ${salvaged.length} whole entr(ies) were read line by line` : ''}`,
    };
  }
  const entries = (raw as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(entries)) return { record: emptyRecord(), problem: 'it has no "entries" list' };
  const valid = entries.filter(isEntry);
  return {
    record: { version: 1, entries: valid.slice(-RECORD_LIMIT) },
    problem: valid.length === entries.length ? undefined : `${entries.length - valid.length} entr(ies) were not readable and are dropped`,
  };
}

/** The entries of a record's text read one line at a time, as formatRecord writes them. */
function entriesByLine(text: string): DeployEntry[] {
  const out: DeployEntry[] = [];
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim().replace(/,$/, '');
    if (!t.startsWith('{"')) continue;
    try {
      const e: unknown = JSON.parse(t);
      if (isEntry(e)) out.push(e);
    } catch {
      // a line cut short
    }
  }
  return out;
}

/**
 * A record rebuilt from one read damaged (`read`) and one known whole (`known`, what this run
 * last read or wrote): every entry of either, the read one winning for an id in both, oldest first.
 */
export function mergeRecords(read: DeployRecord, known: DeployRecord, limit = RECORD_LIMIT): DeployRecord {
  const byId = new Map<string, DeployEntry>();
  for (const e of known.entries) byId.set(e.id, e);
  for (const e of read.entries) byId.set(e.id, e);
  const entries = [...byId.values()].map((e, i) => ({ e, i })).sort((a, b) => Date.parse(a.e.at) - Date.parse(b.e.at) || a.i - b.i).map((x) => x.e);
  return { version: 1, entries: entries.slice(-limit) };
}

function isEntry(e: unknown): e is DeployEntry {
  const x = e as Partial<DeployEntry> | null;
  return (
    typeof x === 'object' && x !== null &&
    typeof x.id === 'string' && typeof x.artifact === 'string' && typeof x.commit === 'string' &&
    typeof x.at === 'string' && typeof x.outcome === 'string' && typeof x.kind === 'string' &&
    typeof x.run === 'object' && x.run !== null
  );
}

/** The file's text: one entry per line, so the record reads well in Kudu's editor too. */
export function formatRecord(record: DeployRecord): string {
  const lines = record.entries.map((e) => `    ${JSON.stringify(e)}`);
  return `{\n  "version": 1,\n  "entries": [\n${lines.join(',\n')}\n  ]\n}\n`;
}

/** Adds an entry (replacing one with its id), keeping the newest RECORD_LIMIT. */
export function appendEntry(record: DeployRecord, entry: DeployEntry, limit = RECORD_LIMIT): DeployRecord {
  const clean = entry.detail === undefined ? entry : { ...entry, detail: oneLine(entry.detail) };
  const others = record.entries.filter((e) => e.id !== entry.id);
  return { version: 1, entries: [...others, clean].slice(-limit) };
}

/** Changes the entry with `id`; a record without it (dropped by the bound) is returned as is. */
export function updateEntry(record: DeployRecord, id: string, change: Partial<Omit<DeployEntry, 'id'>>): DeployRecord {
  return {
    version: 1,
    entries: record.entries.map((e) => (e.id === id ? { ...e, ...change, ...(change.detail === undefined ? {} : { detail: oneLine(change.detail) }) } : e)),
  };
}

function oneLine(s: string): string {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > DETAIL_LIMIT ? `${line.slice(0, DETAIL_LIMIT - 1)}…` : line;
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
const newestFirst = (record: DeployRecord): DeployEntry[] => [...record.entries].reverse();

/** Outcomes after which _artifact.txt named the entry's artifact, at least for a while. */
const SWITCHED: ReadonlySet<Outcome> = new Set(['switched', 'verified', 'rolled-back']);

/**
 * The content the record last saw uploaded under `artifact`; '' when it never did. An upload that
 * only started (`uploading`) proves nothing about the file, and neither does any older entry: the
 * cut-short upload may have overwritten it part-way.
 */
export function knownContent(record: DeployRecord, artifact: string): string {
  const newest = newestFirst(record).find((e) => same(e.artifact, artifact) && e.content !== '');
  return newest === undefined || newest.outcome === 'uploading' ? '' : newest.content;
}

/**
 * The newest entry for `artifact` when it is an upload that started and never finished (`uploading`):
 * the file on the site is then whatever part of it landed, and the next run with the same content
 * uploads it again under that name.
 */
export function unfinishedUpload(record: DeployRecord, artifact: string): DeployEntry | undefined {
  const newest = newestFirst(record).find((e) => same(e.artifact, artifact) && e.content !== '');
  return newest?.outcome === 'uploading' ? newest : undefined;
}

/** Why `name` is uploaded again: an earlier upload of this very content under it was cut short. */
function uploadAgain(record: DeployRecord, name: string, content: string): string | undefined {
  const unfinished = unfinishedUpload(record, name);
  if (unfinished === undefined || unfinished.content !== content) return undefined;
  return `${name} is on the site from an upload of this same content that did not finish (${describeRun(unfinished)}), so it is uploaded again`;
}

/**
 * The newest entry that made _artifact.txt name `artifact`: who put it there. A cancelled deploy
 * did too, for a while (its switch back may have failed).
 */
export function whoSwitchedTo(record: DeployRecord, artifact: string): DeployEntry | undefined {
  return newestFirst(record).find((e) => same(e.artifact, artifact) && (SWITCHED.has(e.outcome) || e.outcome === 'cancelled' || e.kind === 'auto-rollback'));
}

/** Describes the run of an entry for a message: "octo/shop run 123 attempt 1 by alice at …". */
export function describeRun(e: DeployEntry): string {
  const run = e.run.runId !== '' ? `${e.run.repository || 'a repository'} run ${e.run.runId}${e.run.runAttempt ? ` attempt ${e.run.runAttempt}` : ''}` : 'a run outside GitHub Actions';
  return `${run}${e.run.actor ? ` by ${e.run.actor}` : ''} at ${e.at} (${e.kind}, commit ${e.commit.slice(0, 10) || 'unknown'}, ${e.outcome})`;
}

/**
 * Why deploying `commit` from `run` over the live artifact would go back in time, or undefined
 * when it would not. Backwards means: the live version was deployed after this commit last was
 * (a re-run of an old workflow run), or by a run of the same repository that started after this
 * one (run ids grow with time). What counts is the deploy that first put the live version up: a
 * rollback, an auto-rollback or a cancel goes back to an older version and does not make it newer
 * than the one it left, so re-running a failed or cancelled deploy of the newest commit is going
 * forward. Without a record of the live version nothing can be said.
 */
export function goingBackwards(record: DeployRecord, live: string, commit: string, run: RunInfo): string | undefined {
  if (live === '') return undefined;
  const liveEntry = whoSwitchedTo(record, live);
  if (liveEntry === undefined || liveEntry.commit === commit) return undefined;
  const deployed =
    liveEntry.kind === 'deploy' ? liveEntry : newestFirst(record).find((e) => same(e.artifact, live) && e.kind === 'deploy' && SWITCHED.has(e.outcome));
  if (deployed === undefined || deployed.commit === commit) return undefined;
  const ours = newestFirst(record).find((e) => e.commit === commit && e.kind === 'deploy' && (SWITCHED.has(e.outcome) || e.outcome === 'cancelled'));
  if (ours !== undefined && Date.parse(deployed.at) > Date.parse(ours.at)) {
    return `${live} (commit ${deployed.commit.slice(0, 10)}) was deployed at ${deployed.at}, after commit ${commit.slice(0, 10)} was deployed at ${ours.at}`;
  }
  const theirs = Number(deployed.run.runId);
  const mine = Number(run.runId);
  if (run.runId !== '' && deployed.run.runId !== '' && same(deployed.run.repository, run.repository) && theirs > mine) {
    return `${live} was deployed by run ${deployed.run.runId}, which started after this run (${run.runId})`;
  }
  return undefined;
}

/**
 * Artifacts `rollback: true` may go to, best first: versions that were live before the current one
 * was first deployed, newest first, those the record shows verified live ahead of those only
 * switched to (deploys with verify off). Versions that failed, were rolled back or were cancelled
 * before they were verified never count.
 * The caller takes the first still present in _target.
 */
export function rollbackCandidates(record: DeployRecord, live: string): { artifact: string; verified: boolean }[] {
  const entries = record.entries;
  let before = entries.length;
  for (let i = entries.length - 1; i >= 0; i--) {
    if (same(entries[i].artifact, live) && entries[i].kind === 'deploy' && SWITCHED.has(entries[i].outcome)) {
      before = i;
      break;
    }
  }
  const earlier = entries.slice(0, before).reverse().filter((e) => !same(e.artifact, live));
  const failed = new Set(earlier.filter((e) => e.outcome === 'failed' || e.outcome === 'rolled-back' || e.outcome === 'cancelled').map((e) => e.artifact.toLowerCase()));
  const out: { artifact: string; verified: boolean }[] = [];
  const add = (e: DeployEntry, verified: boolean): void => {
    if (!out.some((o) => same(o.artifact, e.artifact))) out.push({ artifact: e.artifact, verified });
  };
  for (const e of earlier) if (e.outcome === 'verified') add(e, true);
  for (const e of earlier) if (e.outcome === 'switched' && !failed.has(e.artifact.toLowerCase())) add(e, false);
  return out;
}

/**
 * The artifact `rollback-to` names: an artifact file name (with or without `.exe`) or a commit
 * prefix of at least 7 hex digits, matched against the record, newest first. Verified entries
 * win over others of the same commit.
 */
export function resolveNamedVersion(record: DeployRecord, wanted: string): DeployEntry | undefined {
  const w = wanted.trim().toLowerCase();
  const entries = newestFirst(record).filter((e) => (e.content !== '' && e.outcome !== 'uploading') || SWITCHED.has(e.outcome));
  const byName = entries.find((e) => same(e.artifact, w) || same(e.artifact.replace(/\.exe$/i, ''), w.replace(/\.exe$/i, '')));
  if (byName !== undefined) return byName;
  if (!/^[0-9a-f]{7,64}$/.test(w)) return undefined;
  const byCommit = entries.filter((e) => e.commit.startsWith(w));
  return byCommit.find((e) => e.outcome === 'verified') ?? byCommit[0];
}

/** How long an upload or a switch without a later outcome counts as another run's work in progress. */
const IN_FLIGHT_MS = 3_600_000;

/**
 * Artifacts a deploy in flight is uploading or has uploaded but not yet finished with (uploading,
 * uploaded or switched in the last `withinMs`): prune leaves them, so one run's prune never deletes
 * another run's upload. A `switched` entry that a later entry's switch superseded is done with:
 * with verify off every entry stays `switched`, and counting those would keep every artifact of
 * the last hour whatever `keep` says. (Entries are in the order they were first written.)
 */
export function inFlight(record: DeployRecord, now: number, withinMs = IN_FLIGHT_MS): string[] {
  const entries = record.entries;
  const switchedLater = (i: number): boolean => entries.slice(i + 1).some((f) => SWITCHED.has(f.outcome) || f.kind === 'auto-rollback');
  return entries
    .filter((e, i) => {
      if (now - Date.parse(e.at) >= withinMs) return false;
      if (e.outcome === 'uploading' || e.outcome === 'uploaded' || e.outcome === 'canary') return true;
      return e.outcome === 'switched' && !switchedLater(i);
    })
    .map((e) => e.artifact);
}

/**
 * The name for a build: `base` (`<prefix>-<commit10>.exe`) unless the site holds another build
 * under it, then `<prefix>-<commit10>-<content6>.exe`. `upload` is false when the chosen name is
 * on the site with this very content (a re-run of the same build).
 */
export function chooseArtifactName(
  record: DeployRecord,
  present: (name: string) => boolean,
  base: string,
  content: string,
): { name: string; upload: boolean; reason: string } {
  const hashed = withContentSuffix(base, content);
  const again = (name: string): string | undefined => (present(name) ? uploadAgain(record, name, content) : undefined);
  const baseAgain = again(base);
  if (baseAgain !== undefined) return { name: base, upload: true, reason: baseAgain };
  if (present(base) && knownContent(record, base) === content) {
    return { name: base, upload: false, reason: `${base} is already on the site with the same content (sha256 ${content.slice(0, 12)}…)` };
  }
  if (!present(base)) return { name: base, upload: true, reason: `${base} is not on the site yet` };
  const hashedAgain = again(hashed);
  if (hashedAgain !== undefined) return { name: hashed, upload: true, reason: hashedAgain };
  if (present(hashed) && knownContent(record, hashed) === content) {
    return { name: hashed, upload: false, reason: `${hashed} is already on the site with the same content (sha256 ${content.slice(0, 12)}…)` };
  }
  const known = knownContent(record, base);
  return {
    name: hashed,
    upload: true,
    reason: `${base} on the site is ${known === '' ? 'a build the deploy record has no content hash for' : `another build of this commit (sha256 ${known.slice(0, 12)}…)`}, so this build goes up as ${hashed}`,
  };
}

/**
 * The name for a package built earlier: always the name it was built with, so every site runs the
 * same file. `upload` is false when the record shows it on the site with this content; a file of
 * that name with other (or unknown) content is never overwritten, so the deploy is refused. The
 * exceptions are uploads that did not finish: of this content, the file is uploaded again; of
 * other content, it is replaced once that upload is over an hour old (no run is still sending
 * it) and the name never went live.
 */
export function choosePackagedName(
  record: DeployRecord,
  present: (name: string) => boolean,
  name: string,
  content: string,
  now = Date.now(),
): { name: string; upload: boolean; reason: string } {
  if (!present(name)) return { name, upload: true, reason: `${name} is not on the site yet` };
  const again = uploadAgain(record, name, content);
  if (again !== undefined) return { name, upload: true, reason: again };
  const unfinished = unfinishedUpload(record, name);
  if (unfinished !== undefined) {
    const wentLive = record.entries.some((e) => same(e.artifact, name) && (SWITCHED.has(e.outcome) || e.kind === 'auto-rollback'));
    if (!wentLive && now - Date.parse(unfinished.at) >= IN_FLIGHT_MS) {
      return { name, upload: true, reason: `${name} is on the site from an upload of another build that did not finish over an hour ago (${describeRun(unfinished)}) and never went live, so this package replaces it` };
    }
    throw new ActionError(
      `${name} is on the site from an upload of another build (sha256 ${unfinished.content.slice(0, 12)}…) that has not finished: ${describeRun(unfinished)}. ` +
        `It is not this package (sha256 ${content.slice(0, 12)}…), and that run may still be sending it, so nothing was uploaded or changed. ` +
        (wentLive
          ? `A package keeps its name on every site: build the package with another artifact-prefix, or deploy this commit by building it here (without from-package).`
          : `Deploy again once that run is over; an upload that did not finish is replaced after an hour.`),
    );
  }
  const known = knownContent(record, name);
  if (known === content) return { name, upload: false, reason: `${name} is already on the site with the same content (sha256 ${content.slice(0, 12)}…)` };
  throw new ActionError(
    `${name} is on the site already, and it is ${known === '' ? 'a build the deploy record has no content hash for' : `another build (sha256 ${known.slice(0, 12)}…)`}, ` +
      `not this package (sha256 ${content.slice(0, 12)}…). A package keeps its name on every site, so it was not uploaded and nothing was changed. ` +
      `Build the package with another artifact-prefix, or deploy this commit by building it here (without from-package).`,
  );
}

/** `site-0123456789.exe` → `site-0123456789-abcdef.exe`: six hex digits of the content hash. */
export function withContentSuffix(base: string, content: string): string {
  const m = /^(.*?)(\.exe)?$/i.exec(base) as RegExpExecArray;
  return `${m[1]}-${content.slice(0, 6)}${m[2] ?? ''}`;
}

/** One deploy record entry as a Kudu deployment (PUT /api/deployments/{id}, Kudu's DeploymentController). */
export function kuduDeployment(e: DeployEntry, runUrl: string): Record<string, unknown> {
  const ok = e.outcome === 'verified' || e.outcome === 'switched';
  const what = e.kind === 'deploy' ? 'Deployed' : e.kind === 'rollback' ? 'Rolled back to' : 'Auto-rollback to';
  const how =
    e.outcome === 'verified' ? `verified live on ${e.instances ?? 1} instance(s)` :
    e.outcome === 'switched' ? 'switched, not verified' :
    e.outcome === 'canary' ? 'live on one instance (canary), not verified' :
    e.outcome === 'rolled-back' ? 'did not come up; rolled back' :
    e.outcome === 'cancelled' ? 'cancelled before it was verified' : 'failed';
  return {
    // 4 = Success, 3 = Failed: the only two Kudu accepts for a deployment made by another tool.
    status: ok ? 4 : 3,
    message: `${what} ${e.artifact} (commit ${e.commit.slice(0, 10)}${e.manifest ? `, from package manifest sha256 ${e.manifest.slice(0, 12)}…` : ''}): ${how}${e.detail ? ` — ${e.detail}` : ''}`,
    author: e.run.actor || 'go-azure-deploy',
    deployer: 'go-azure-deploy',
    start_time: e.at,
    end_time: new Date().toISOString(),
    active: ok,
    details: runUrl,
  };
}
