/**
 * The engine's transactions: every public operation runs inside `transact`, its state changes are collected as
 * Change records (shared/scheduler.ts) and handed to the listeners as one batch, in order, when the outermost
 * transaction ends — so the layers above persist a batch in one SQLite transaction and push it.
 */
import type { Change } from '../../shared/scheduler.ts';

export type ChangeListener<C = Change> = (changes: readonly C[]) => void;

/** Batches of change records `C` (the scheduler's Change by default; task dispatch has its own). */
export class ChangeBatch<C = Change> {
  private readonly listeners = new Set<ChangeListener<C>>();
  private batch: C[] = [];
  private depth = 0;

  /** `onListenerError`: a listener threw (the others still get the batch) */
  constructor(private readonly onListenerError: (err: unknown) => void) {}

  /** Every batch of changes, in order; returns the unsubscribe function. */
  onChange(listener: ChangeListener<C>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Run `fn` as (part of) one transaction; returns its value and the changes it made. */
  transact<T>(fn: () => T): { value: T; changes: C[] } {
    const start = this.batch.length;
    this.depth++;
    let changes: C[] = [];
    let value: T;
    try {
      value = fn();
    } finally {
      this.depth--;
      changes = this.batch.slice(start);
      if (this.depth === 0) this.flush();
    }
    return { value, changes };
  }

  /** Add a record to the open transaction (null: nothing changed). */
  emit(c: C | null): void {
    if (c) this.batch.push(c);
  }

  private flush(): void {
    const changes = this.batch;
    this.batch = [];
    if (!changes.length) return;
    for (const l of this.listeners) {
      try {
        l(changes);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
