/**
 * Group commit: the change batches of one event-loop turn are stored, with the events they push, in one database
 * transaction right after the turn (setImmediate). HTTP answers wait for `committed()`, so nothing is acknowledged
 * before it is durable, and a burst of requests costs one commit, not one each. Used for the scheduler's and the
 * task dispatcher's change records alike.
 */
import type { Logger } from '../log.ts';

/** Runs a function in one database transaction (better-sqlite3's db.transaction), so a batch and its events commit once. */
export type Transact = <T>(fn: () => T) => T;

export interface GroupCommitOptions<C> {
  /** store and push one batch (called inside the transaction, batch by batch, in order) */
  write(batch: readonly C[]): void;
  /** what to do once a batch is durable (e.g. act on the outside world), batch by batch, after the commit */
  committed?(batch: readonly C[]): void;
  transact?: Transact;
  log: Logger;
  /** what the log says when a commit fails */
  what: string;
}

export class GroupCommit<C> {
  private pending: (readonly C[])[] = [];
  private flushing: Promise<void> | undefined;

  constructor(private readonly opts: GroupCommitOptions<C>) {}

  /** A batch to commit after this turn (a ChangeListener). */
  readonly add = (batch: readonly C[]): void => {
    this.pending.push(batch);
    if (this.flushing) return;
    const flushing = new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        try {
          this.flush();
          resolve();
        } catch (err) {
          this.opts.log.error({ err }, `storing ${this.opts.what} failed`);
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
    // answers that wait see the failure; nobody else has to
    flushing.catch(() => {});
    this.flushing = flushing;
  };

  /** Resolves once every batch added so far is stored and pushed (at once when nothing waits). */
  committed(): Promise<void> {
    return this.flushing ?? Promise.resolve();
  }

  /** Store and push the batches added since the last flush, in one transaction. */
  flush(): void {
    const batches = this.pending.splice(0);
    this.flushing = undefined;
    if (batches.length === 0) return;
    const transact: Transact = this.opts.transact ?? ((fn) => fn());
    transact(() => {
      for (const batch of batches) this.opts.write(batch);
    });
    if (this.opts.committed) for (const batch of batches) this.opts.committed(batch);
  }
}
