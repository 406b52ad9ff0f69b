/**
 * schedule_conflicts: reality disagreeing with the ledger (what each node calls for: node-conflicts.ts) — GPU users
 * no allocation accounts for, processes of ended or suspended allocations, nodes that do not report, GPUs or
 * capacity a node no longer reports. Opened when the state calls for them, kept current, resolved `cleared` when it
 * no longer does; their severity grows with how long they stay open. A conflict about a node that is not reachable
 * (or still pending after a restart) is kept as it stands: nothing new is known about that node until it reports.
 */
import type { Conflict } from '../../shared/scheduler.ts';
import { scheduleSeverity } from './conflicts.ts';
import type { Core } from './core.ts';
import { nodeConflicts, type ScheduleConflictWant } from './node-conflicts.ts';

interface OpenKey {
  /** it touches an allocation (severity) */
  touches: boolean;
  /** the node it is about, when known */
  node: string | null;
}

export class ScheduleConflicts {
  /** open schedule_conflict keys */
  private readonly keys = new Map<string, OpenKey>();

  constructor(private readonly core: Core) {}

  /**
   * Open, update and clear schedule_conflicts to match the ledgers now — of one node (`only`: its snapshot came, the
   * others have not changed), or of all. A hub with many nodes pays per snapshot for that node's conflicts only.
   */
  sync(now: number, only?: string): void {
    const { cluster, records, book, changes, severity } = this.core;
    const want = new Map<string, ScheduleConflictWant>();
    const allocationOf = (id: string) => records.allocations.get(id);
    for (const l of cluster.ledgers()) if (only === undefined || l.node === only) nodeConflicts(l, l.node === cluster.home, allocationOf, want);
    if (!want.size && !this.keys.size) return;
    // a conflict stored without its node is the home node's
    const ofOnly = (node: string | null) => only === undefined || (node ?? cluster.home) === only;
    for (const [key, open] of [...this.keys]) {
      if (want.has(key) || !ofOnly(open.node)) continue;
      // nothing is known about a node that does not report (or has not since the restart): what was open stays
      const l = open.node === null ? undefined : cluster.ledger(open.node);
      if (l && !l.placeable) continue;
      const c = book.openFor(key);
      if (c) changes.emit(book.resolve(c.id, 'cleared', now));
      this.keys.delete(key);
    }
    for (const [key, { touches, ...init }] of want) {
      const c = book.openFor(key);
      const sev = scheduleSeverity({ touchesAllocation: touches, openMs: c ? now - c.openedAt : 0 }, severity);
      if (c) changes.emit(book.update(c.id, { ...init, severity: sev }, now));
      else changes.emit(book.openConflict({ key, ...init, severity: sev }, now));
      this.keys.set(key, { touches, node: init.node ?? null });
    }
  }

  /** Severities grow with how long each stays open (each tick). */
  refreshSeverities(now: number): void {
    const { book, changes, severity } = this.core;
    for (const [key, { touches }] of this.keys) {
      const c = book.openFor(key);
      if (!c) continue;
      changes.emit(book.update(c.id, { severity: scheduleSeverity({ touchesAllocation: touches, openMs: now - c.openedAt }, severity) }, now));
    }
  }

  /** The open schedule_conflicts read back from the store. */
  restore(open: Iterable<Conflict>): void {
    for (const c of open) if (c.type === 'schedule_conflict') this.keys.set(c.key, { touches: c.requestId !== null || c.holders.some((h) => h.kind === 'allocation'), node: c.node ?? null });
  }
}
