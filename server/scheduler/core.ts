/**
 * What the engine's collaborators share: the clock and ids, the cluster's ledgers, usage per owner, the conflict
 * queue and book, the records, the open transaction, and the strategy in force. Each collaborator keeps its own
 * state to itself (leases, preemption notices, time slices, conflict caches, the pass's bookkeeping) and reaches
 * the others only through this and the methods they export.
 */
import type { Clock } from '../clock.ts';
import type { Allocation, Request } from '../../shared/scheduler.ts';
import type { ChangeBatch } from './changes.ts';
import type { Cluster, Placement } from './cluster.ts';
import type { ConflictBook, SeverityConfig } from './conflicts.ts';
import type { ConflictQueue } from './queue.ts';
import type { Records } from './records.ts';
import type { Strategy, StrategyContext } from './strategy.ts';
import type { UsageTracker } from './usage.ts';

export interface Core {
  readonly clock: Clock;
  readonly newId: () => string;
  readonly cluster: Cluster;
  readonly usage: UsageTracker;
  readonly queue: ConflictQueue;
  readonly book: ConflictBook;
  readonly records: Records;
  readonly changes: ChangeBatch;
  readonly severity: SeverityConfig;
  /** what strategies read (time, cluster, usage, live utilisation, notices) */
  readonly context: StrategyContext;
  /** the strategy in force (a conflict resolution with another strategy swaps it for that call) */
  strategy: Strategy;
  /** capacity was freed or changed since the last decision pass: a pass is due */
  dirty: boolean;
}

/** How an allocation begins and ends (Booking); the parts that start or end allocations call it. */
export interface Lifecycle {
  grant(request: Request, placement: Placement, now: number): void;
  end(allocation: Allocation, state: 'released' | 'expired' | 'preempted', now: number): void;
}

/** The engine's collaborators, for the operations that coordinate several (restore, conflict resolution). */
export interface EngineParts {
  readonly core: Core;
  readonly leases: import('./leases.ts').Leases;
  readonly preemption: import('./preemption.ts').Preemption;
  readonly slicing: import('./slicing.ts').Slicing;
  readonly booking: import('./booking.ts').Booking;
  readonly requestConflicts: import('./request-conflicts.ts').RequestConflicts;
  readonly scheduleConflicts: import('./schedule-conflicts.ts').ScheduleConflicts;
  readonly pass: import('./pass.ts').DecisionPass;
}
