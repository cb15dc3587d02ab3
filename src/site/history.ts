// Reads and writes the deploy record (src/site/record.ts) on the site, and mirrors each entry into
// Kudu's deployment history. Every write is a compare-and-swap: read with its ETag, change, PUT with
// `If-Match: <that ETag>`; a 412 means another deploy wrote meanwhile, so it reads again and
// re-applies the change. Concurrent deploys never lose each other's entries.

import * as core from '@actions/core';
import * as crypto from 'node:crypto';
import { messageOf } from '../common/errors.ts';
import { RetryableError, withRetry } from '../common/retry.ts';
import { KuduError, type KuduClient } from './kudu.ts';
import { RECORD_FILE } from './layout.ts';
import { appendEntry, emptyRecord, formatRecord, kuduDeployment, mergeRecords, parseRecord, updateEntry, type DeployEntry, type DeployRecord, type RunInfo } from './record.ts';

/**
 * The record this process last read whole or wrote (or was about to write), per site (the Kudu
 * base URL). A write cut mid-body leaves the file truncated (Kudu truncates before it reads the
 * body): the next read rebuilds what was cut off from this, so no entry is lost.
 */
const lastKnown = new Map<string, DeployRecord>();

/** The record as it is on the site, with the ETag to write it back ('' when there is no file yet). */
export async function readRecord(kudu: KuduClient): Promise<{ record: DeployRecord; etag: string }> {
  const file = await kudu.getFile(RECORD_FILE);
  if (file === null) return { record: emptyRecord(), etag: '' };
  const { record, problem } = parseRecord(file.body.toString('utf8'));
  if (problem === undefined) {
    lastKnown.set(kudu.baseUrl, record);
    return { record, etag: file.etag };
  }
  const known = lastKnown.get(kudu.baseUrl);
  if (known === undefined) {
    core.warning(`${RECORD_FILE} could not be read whole: ${problem}. It is rewritten with what could be read.`);
    return { record, etag: file.etag };
  }
  const rebuilt = mergeRecords(record, known);
  core.info(`${RECORD_FILE} could not be read whole (${problem}), as a write cut short leaves it; it is rebuilt from what could be read and what this run read or wrote last (${rebuilt.entries.length} entries).`);
  return { record: rebuilt, etag: file.etag };
}

/**
 * Applies `change` to the record on the site. A 412 (another writer came first) re-reads and
 * re-applies, through the one retry policy. Returns the record as written.
 */
export async function changeRecord(kudu: KuduClient, change: (r: DeployRecord) => DeployRecord, signal?: AbortSignal): Promise<DeployRecord> {
  return withRetry(
    async () => {
      const { record, etag } = await readRecord(kudu);
      const next = change(record);
      lastKnown.set(kudu.baseUrl, next);
      try {
        // No If-Match creates only: should another deploy create the file first, Kudu answers 412 too.
        await kudu.putFile(RECORD_FILE, formatRecord(next), etag === '' ? {} : { ifMatch: etag });
      } catch (err) {
        if (err instanceof KuduError && err.status === 412) throw new RetryableError(`${RECORD_FILE} was changed by another deploy meanwhile`);
        throw err;
      }
      return next;
    },
    { what: `Writing ${RECORD_FILE}`, signal, attempts: 8, baseDelayMs: 200, maxDelayMs: 2000 },
  );
}

/** The run that makes an entry, from the runner's variables. */
export function runInfo(env: NodeJS.ProcessEnv): RunInfo {
  return {
    repository: env.GITHUB_REPOSITORY ?? '',
    runId: env.GITHUB_RUN_ID ?? '',
    runAttempt: env.GITHUB_RUN_ATTEMPT ?? '',
    actor: env.GITHUB_TRIGGERING_ACTOR || env.GITHUB_ACTOR || '',
  };
}

/** The run's page, for Kudu's deployment details; '' outside GitHub Actions. */
export function runUrl(env: NodeJS.ProcessEnv): string {
  if (!env.GITHUB_RUN_ID || !env.GITHUB_REPOSITORY) return '';
  const server = (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '');
  return `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}${env.GITHUB_RUN_ATTEMPT ? `/attempts/${env.GITHUB_RUN_ATTEMPT}` : ''}`;
}

/** A new entry id: time-ordered and unique across concurrent runs. */
export function newEntryId(now = Date.now()): string {
  return `${now.toString(36)}-${crypto.randomBytes(4).toString('hex')}`;
}

/**
 * Keeps one entry of the record up to date on the site. Writing the record is never what fails a
 * deploy: a failed write is a warning, and the deploy goes on.
 */
export class RecordWriter {
  entry: DeployEntry;
  private readonly kudu: KuduClient;
  private readonly signal: AbortSignal | undefined;

  constructor(kudu: KuduClient, entry: DeployEntry, signal?: AbortSignal) {
    this.kudu = kudu;
    this.entry = entry;
    this.signal = signal;
  }

  /** Adds the entry, or writes its changed fields. */
  async save(change: Partial<Omit<DeployEntry, 'id'>> = {}): Promise<void> {
    this.entry = { ...this.entry, ...change };
    const entry = this.entry;
    try {
      await changeRecord(this.kudu, (r) => (r.entries.some((e) => e.id === entry.id) ? updateEntry(r, entry.id, change) : appendEntry(r, entry)), this.signal);
    } catch (err) {
      if (this.signal?.aborted) throw err;
      core.warning(`Could not write the deploy record ${RECORD_FILE} (${messageOf(err)}); the deploy itself goes on.`);
    }
  }

  /** Mirrors the entry into Kudu's deployment history (the portal's Deployment Center); a failure is a warning. */
  async publish(env: NodeJS.ProcessEnv): Promise<void> {
    await publishToKudu(this.kudu, this.entry, env);
  }
}

export async function publishToKudu(kudu: KuduClient, entry: DeployEntry, env: NodeJS.ProcessEnv): Promise<void> {
  try {
    await kudu.putDeployment(entry.id, kuduDeployment(entry, runUrl(env)));
    core.info(`Recorded in Kudu's deployment history as ${entry.id}.`);
  } catch (err) {
    core.warning(`Could not record the deployment in Kudu's deployment history (${messageOf(err)}); the deploy itself is not affected.`);
  }
}
