/**
 * schedule_conflicts: reality disagreeing with the ledger, from the GPUs' users the monitor reports — one per GPU
 * with users no allocation accounts for (`unmanaged:gpu:<i>`), one per allocation whose processes use a GPU they
 * have no right to any more (lease ended: `lease:<id>`, suspended: `overrun:<id>`); resolved `cleared` when reality
 * agrees with the ledger again. Their severity grows with how long they stay open.
 */
import type { Conflict } from '../../shared/scheduler.ts';
import { scheduleConflicts, scheduleSeverity, type ScheduleConflictWant } from './conflicts.ts';
import type { Core } from './core.ts';

export class ScheduleConflicts {
  /** open schedule_conflict keys → whether it touches an allocation (severity) */
  private readonly keys = new Map<string, boolean>();

  constructor(private readonly core: Core) {}

  /** Open, update and clear schedule_conflicts to match the ledgers' GPU users now. */
  sync(now: number): void {
    const { cluster, records, book, changes, severity } = this.core;
    const want = new Map<string, ScheduleConflictWant>();
    for (const l of cluster.ledgers()) {
      if (!l.hasForeign) continue;
      for (const [k, v] of scheduleConflicts(l, (id) => records.allocations.get(id))) want.set(k, v);
    }
    if (!want.size && !this.keys.size) return;
    for (const key of [...this.keys.keys()]) {
      if (want.has(key)) continue;
      const c = book.openFor(key);
      if (c) changes.emit(book.resolve(c.id, 'cleared', now));
      this.keys.delete(key);
    }
    for (const [key, { touches, ...init }] of want) {
      const c = book.openFor(key);
      const sev = scheduleSeverity({ touchesAllocation: touches, openMs: c ? now - c.openedAt : 0 }, severity);
      if (c) changes.emit(book.update(c.id, { ...init, severity: sev }, now));
      else changes.emit(book.openConflict({ key, ...init, severity: sev }, now));
      this.keys.set(key, touches);
    }
  }

  /** Severities grow with how long each stays open (each tick). */
  refreshSeverities(now: number): void {
    const { book, changes, severity } = this.core;
    for (const [key, touchesAllocation] of this.keys) {
      const c = book.openFor(key);
      if (!c) continue;
      changes.emit(book.update(c.id, { severity: scheduleSeverity({ touchesAllocation, openMs: now - c.openedAt }, severity) }, now));
    }
  }

  /** The open schedule_conflicts read back from the store. */
  restore(open: Iterable<Conflict>): void {
    for (const c of open) if (c.type === 'schedule_conflict') this.keys.set(c.key, c.requestId !== null);
  }
}
