// The switch stage: the only step that changes what runs. docs/ARCHITECTURE.md, "The flow".
// The switch is a compare-and-swap: _artifact.txt is written with If-Match and the ETag read at the
// start of the run, so a deploy that ran meanwhile is never overwritten unseen (Kudu answers 412).
// Kudu writes the file exclusively (docs/ARCHITECTURE.md, "Kudu"): while the launcher or goazure
// reads it, the write answers 409 and is tried again; a write cut mid-body leaves the file
// truncated, which this run repairs, since the launcher refuses a pointer it cannot parse.

import * as core from '@actions/core';
import { RetryableError, withRetry } from '../common/retry.ts';
import { KuduError, type KuduClient } from './kudu.ts';
import { ARTIFACT_FILE, artifactFileContent, parseArtifactFile } from './layout.ts';

/** What _artifact.txt names and its ETag; both '' when the file does not exist. */
interface LiveArtifact {
  name: string;
  etag: string;
}

/** Reads _artifact.txt: the artifact it names and the ETag a later switch must match. */
export async function readLiveArtifact(kudu: KuduClient): Promise<LiveArtifact> {
  const file = await readPointer(kudu);
  if (file === null) {
    core.info(`${ARTIFACT_FILE} does not exist yet: this is the first deploy to this site.`);
    return { name: '', etag: '' };
  }
  core.info(file.name === '' ? `${ARTIFACT_FILE} is empty.` : `${ARTIFACT_FILE} names ${file.name}.`);
  return { name: file.name, etag: file.etag };
}

/** _artifact.txt's text, the name it gives (lenient, as parseArtifactFile reads it) and its ETag; null when absent. */
async function readPointer(kudu: KuduClient): Promise<{ text: string; name: string; etag: string } | null> {
  const file = await kudu.getFile(ARTIFACT_FILE);
  if (file === null) return null;
  const text = file.body.toString('utf8');
  return { text, name: parseArtifactFile(text), etag: file.etag };
}

/**
 * Whether the launcher and goazure accept `text` as _artifact.txt (the rule in templates/go-azure.bat
 * and goazure/artifact.go's ParseArtifact): optional spaces, `_target\` or `_target/`, a name of
 * 1 to 100 characters from A-Z a-z 0-9 . _ - not starting with ".", optional spaces, at most two
 * line-break characters around it, at most 256 bytes. `.exe` is not required here: a build for
 * Linux has none.
 */
function pointerIsValid(text: string): boolean {
  if (Buffer.byteLength(text) > 256) return false;
  const breaks = (text.match(/[\r\n]/g) ?? []).length;
  return breaks <= 2 && /^[\r\n]*[ ]*_target[\\/][A-Za-z0-9_-][A-Za-z0-9._-]{0,99}[ ]*[\r\n]*$/.test(text);
}

/**
 * Whether `text`, read back after a write of `sent` that did not answer, is that write's own damage:
 * Kudu truncates the file before it reads the body, so a write cut mid-body leaves a prefix of
 * what was sent, which the launcher refuses or which names a shorter, other name.
 */
function damagedBy(text: string, sent: string): boolean {
  return !pointerIsValid(text) || (text.length < sent.length && sent.startsWith(text));
}

/** _artifact.txt changed between this run's read and its switch: another deploy got there first. */
export class SiteChangedError extends KuduError {
  override name = 'SiteChangedError';
  /** What the file named when the change was seen, when it was read. */
  readonly now: LiveArtifact | undefined;
  constructor(message: string, status: number, now?: LiveArtifact) {
    super(message, status);
    this.now = now;
  }
}

/** Attempts at writing _artifact.txt while Kudu answers 409 (a reader holds it) or it needs repair. */
const POINTER_ATTEMPTS = 6;

interface SwitchOptions {
  /**
   * What _artifact.txt is repaired to should this write fail for good and leave the file damaged
   * (cut short): the version the run can vouch for. The switch gives the version that was live;
   * a switch back gives its own target. Default: `artifactName`.
   */
  fallback?: string;
}

/**
 * Points _artifact.txt at `_target\<artifactName>` and returns the file's new ETag.
 * `expectedEtag` is the ETag read before ('' when the file did not exist: then it is only
 * created); a mismatch throws SiteChangedError and changes nothing. Without it any content is
 * replaced (`If-Match: *`).
 *
 * Kudu answers 409 while anything holds the file open (the launcher at each start, goazure at
 * each poll, on every instance): that write is tried again a few times, with the same If-Match,
 * since a 409 wrote nothing. A write whose answer was lost (a reset, a 502 from the front end) is
 * resent by the Kudu client; its 412 is read back: the file naming `artifactName` means the first
 * one took effect; a file cut short by it (Kudu truncates before it reads the body) is this run's
 * own damage and is written whole again over its current ETag; anything else is another deploy.
 * Should the write fail for good, a file it left damaged is repaired to `opts.fallback`.
 */
export async function switchArtifact(kudu: KuduClient, artifactName: string, expectedEtag?: string, opts: SwitchOptions = {}): Promise<string> {
  const content = artifactFileContent(artifactName);
  let ifMatch = expectedEtag === undefined ? '*' : expectedEtag === '' ? undefined : expectedEtag;
  let busy = 0;
  try {
    const etag = await withRetry(
      async () => {
        try {
          const { etag } = await kudu.putFile(ARTIFACT_FILE, content, ifMatch === undefined ? {} : { ifMatch });
          core.info(`Switched: ${ARTIFACT_FILE} now names _target\\${artifactName}.`);
          return etag;
        } catch (err) {
          if (!(err instanceof KuduError)) throw err;
          if (err.status === 409) {
            busy++;
            throw new RetryableError(`${ARTIFACT_FILE} is briefly in use on the site (Kudu answered 409: the launcher or the running app is reading it)`);
          }
          if (err.status !== 412 || expectedEtag === undefined) throw err;
          const now = await readPointer(kudu);
          if (now !== null && pointerIsValid(now.text) && now.name.toLowerCase() === artifactName.toLowerCase()) {
            core.info(`Switched: ${ARTIFACT_FILE} names _target\\${artifactName} (the write's answer was lost; the file shows it took effect).`);
            return now.etag;
          }
          if (now !== null && damagedBy(now.text, content)) {
            // This run's own write moved the ETag and left a prefix of its content, or a file the
            // launcher refuses: written whole again, over the ETag it has now.
            ifMatch = now.etag;
            throw new RetryableError(`${ARTIFACT_FILE} was left cut short by this run's own write (it holds ${JSON.stringify(now.text)}); writing it whole again`);
          }
          const live = now === null ? { name: '', etag: '' } : { name: now.name, etag: now.etag };
          throw new SiteChangedError(`${ARTIFACT_FILE} changed on the site after this run read it (Kudu answered 412 to the compare-and-swap).`, 412, live);
        }
      },
      { what: `Writing ${ARTIFACT_FILE}`, signal: kudu.signal, attempts: POINTER_ATTEMPTS, baseDelayMs: 250, maxDelayMs: 2000 },
    );
    if (busy > 0) core.info(`${ARTIFACT_FILE} was briefly in use on the site (Kudu answered 409 ${busy} time(s) while the launcher or the app read it); the write went through on a later try.`);
    return etag;
  } catch (err) {
    // Stopped by the deadline, nothing more can be sent with this client.
    if (err instanceof SiteChangedError || kudu.signal.aborted) throw err;
    await repairAfterFailedWrite(kudu, content, opts.fallback ?? artifactName);
    if (err instanceof RetryableError) {
      throw new KuduError(
        `Kudu could not write ${ARTIFACT_FILE} after ${POINTER_ATTEMPTS} attempts (${err.message}). ${busy > 0 ? 'Something on the site keeps it open; ' : ''}` +
          `the site still runs what the file names. Run the deploy again.`,
        busy > 0 ? 409 : 412,
      );
    }
    throw err;
  }
}

/**
 * After a write of _artifact.txt failed for good: reads the file back and, when that write left it
 * cut short, writes `fallback` over its current ETag, so the launcher never meets a file it
 * refuses. Best effort: a failure here is a warning, and the caller reports the write's own error.
 */
async function repairAfterFailedWrite(kudu: KuduClient, sent: string, fallback: string): Promise<void> {
  try {
    const now = await readPointer(kudu);
    if (now === null || !damagedBy(now.text, sent)) return;
    await withRetry(
      async () => {
        try {
          await kudu.putFile(ARTIFACT_FILE, artifactFileContent(fallback), { ifMatch: now.etag });
        } catch (err) {
          if (err instanceof KuduError && err.status === 409) throw new RetryableError(`${ARTIFACT_FILE} is briefly in use on the site (Kudu answered 409)`);
          throw err;
        }
      },
      { what: `Repairing ${ARTIFACT_FILE}`, signal: kudu.signal, attempts: 3, baseDelayMs: 250, maxDelayMs: 1000 },
    );
    core.warning(`${ARTIFACT_FILE} was left cut short by this run's failed write (${JSON.stringify(now.text)}); it was repaired to name ${fallback}.`);
  } catch (err) {
    core.warning(
      `${ARTIFACT_FILE} may have been left cut short by this run's failed write, and reading or repairing it failed (${err instanceof Error ? err.message : String(err)}). ` +
        `Check that it names one artifact in _target; run the deploy with rollback: previous if it does not.`,
    );
  }
}

/**
 * Points _artifact.txt back from `change.from` (this run's version, not verified) to `change.to`
 * (the version before it), as auto-rollback and a cancelled run do. A compare-and-swap on this
 * run's own switch: with `change.etag` (the ETag of its switch) when it has it, else on what the
 * file is read to be. A 412 while the file still names `change.from` (its ETag moved, the content
 * did not) reads the ETag again and tries again; only a file naming another build means someone
 * else changed the site: SiteChangedError, and nothing is written. Returns the new ETag.
 */
export async function switchBack(kudu: KuduClient, change: { from: string; to: string; etag?: string }): Promise<string> {
  const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
  let etag = change.etag;
  for (let round = 1; ; round++) {
    if (etag === undefined) {
      const live = await readLiveArtifact(kudu);
      if (same(live.name, change.to) && live.name !== '') {
        core.info(`${ARTIFACT_FILE} names ${change.to} already.`);
        return live.etag;
      }
      if (!same(live.name, change.from)) throw new SiteChangedError(`${ARTIFACT_FILE} names ${live.name || '(nothing)'}, not ${change.from}.`, 412, live);
      etag = live.etag;
    }
    try {
      return await switchArtifact(kudu, change.to, etag, { fallback: change.to });
    } catch (err) {
      if (!(err instanceof SiteChangedError) || err.now === undefined || round >= 3) throw err;
      if (!same(err.now.name, change.from)) throw err;
      core.info(`${ARTIFACT_FILE} still names ${change.from}, but its ETag moved (Kudu answered 412): reading it again and switching back.`);
      etag = err.now.etag;
    }
  }
}
