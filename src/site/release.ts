// One deploy's way live, as one state machine: uploading → uploaded → switched → verified, or
// rolled back, failed or cancelled on the way. A Release owns the deploy record's entry
// (history.ts, RecordWriter) and what the run knows of the site (src/context.ts, SiteState: what
// _artifact.txt names, and the switch not verified yet); the main step (src/main.ts), going live
// and coming back (golive.ts), the cancel and the deadline (golive.ts, undoUnverifiedSwitch) and
// the post entry (src/post.ts) all move it, and each move is written to the record. The I/O
// (uploads, switches, health checks) stays with them. See docs/ARCHITECTURE.md, "The deploy record".

import type { SiteState } from '../context.ts';
import type { KuduClient } from './kudu.ts';
import { RecordWriter } from './history.ts';
import type { DeployEntry, Outcome } from './record.ts';

/** The moves a release may make. A rollback's entry starts at `switched` (golive.ts, rollBack). */
const MOVES: Readonly<Record<Outcome, readonly Outcome[]>> = {
  uploading: ['uploaded', 'failed', 'cancelled'],
  // The deadline or a cancel may come while the switch is written, before it is recorded as
  // switched: the way back (golive.ts, undoUnverifiedSwitch) ends it from here.
  uploaded: ['canary', 'switched', 'rolled-back', 'failed', 'cancelled'],
  // A canary (canary.ts): live on one instance; promoted to every instance (`switched`), or taken
  // back from its instance (`rolled-back`), failed (another deploy changed _artifact.txt before
  // the promotion) or cancelled.
  canary: ['switched', 'rolled-back', 'failed', 'cancelled'],
  switched: ['verified', 'rolled-back', 'failed', 'cancelled'],
  // A cancel's switch back that found another deploy's switch first records that, then the cancel.
  failed: ['cancelled'],
  verified: [],
  'rolled-back': [],
  cancelled: [],
};

export class Release {
  private record: RecordWriter;
  readonly site: SiteState;

  constructor(record: RecordWriter, site: SiteState) {
    this.record = record;
    this.site = site;
  }

  get entry(): DeployEntry {
    return this.record.entry;
  }

  /** Writes the entry as it starts (`uploading`, or `switched` for a rollback). */
  async begin(): Promise<void> {
    await this.record.save();
  }

  async uploaded(): Promise<void> {
    await this.move('uploaded');
  }

  /**
   * From just before _artifact.txt is written until this release is verified or switched back,
   * its switch is the one a cancel, the deadline or the post entry undoes.
   */
  unverified(previous: string): void {
    this.site.unverified = { artifact: this.entry.artifact, previous, release: this };
  }

  /** Nothing of this release's is left to undo (verified, switched back, or never switched). */
  settled(): void {
    this.site.unverified = undefined;
  }

  /** _artifact.txt names what `live` says, as this run wrote or found it. */
  seen(live: { name: string; etag: string }): void {
    this.site.live = live;
  }

  /** _artifact.txt names this release: written by this run (`live` with its ETag) or already. */
  async switched(live: { name: string; etag: string }): Promise<void> {
    this.seen(live);
    await this.move('switched');
  }

  /** This release runs on `instance` alone, through that instance's own pointer (canary.ts). */
  async canary(instance: string): Promise<void> {
    await this.move('canary', { detail: `canary on instance ${instance}` });
  }

  async verified(detail: string, instances: number): Promise<void> {
    this.settled();
    await this.move('verified', { instances, detail });
  }

  async rolledBack(detail: string): Promise<void> {
    await this.move('rolled-back', { detail });
  }

  async failed(detail: string): Promise<void> {
    await this.move('failed', { detail });
  }

  async cancelled(detail: string): Promise<void> {
    await this.move('cancelled', { detail });
  }

  /** The same release, written from now on through `kudu` and `signal` (the undo's own, past the deploy's deadline). */
  writeThrough(kudu: KuduClient, signal: AbortSignal): void {
    this.record = new RecordWriter(kudu, this.record.entry, signal);
  }

  /** Mirrors the entry into Kudu's deployment history; a failure is a warning. */
  async publish(env: NodeJS.ProcessEnv): Promise<void> {
    await this.record.publish(env);
  }

  /** Moves to `outcome` and writes it; a move the machine does not have is a bug in the caller. */
  private async move(outcome: Outcome, change: Partial<Omit<DeployEntry, 'id' | 'outcome'>> = {}): Promise<void> {
    const from = this.entry.outcome;
    if (!MOVES[from].includes(outcome)) throw new Error(`A release cannot go from ${from} to ${outcome} (${this.entry.artifact}).`);
    await this.record.save({ outcome, ...change });
  }
}
