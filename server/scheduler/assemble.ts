/**
 * The engine's options, and the assembly of its collaborators around one Core (who needs whom: Booking needs
 * Leases, Preemption and Slicing; those that start or end allocations reach Booking through a Lifecycle).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { Booking } from './booking.ts';
import { ChangeBatch } from './changes.ts';
import { Cluster } from './cluster.ts';
import { ConflictBook, DEFAULT_SEVERITY, type SeverityConfig } from './conflicts.ts';
import type { Core, EngineParts, Lifecycle } from './core.ts';
import { Leases, type LeaseOptions } from './leases.ts';
import { DecisionPass } from './pass.ts';
import { Preemption } from './preemption.ts';
import { ConflictQueue } from './queue.ts';
import { Records } from './records.ts';
import { RequestConflicts } from './request-conflicts.ts';
import { ScheduleConflicts } from './schedule-conflicts.ts';
import { Slicing } from './slicing.ts';
import type { Strategy } from './strategy.ts';
import { priorityBased } from './strategies/priority_based.ts';
import { UsageTracker } from './usage.ts';

export interface EngineOptions {
  clock: Clock;
  /** ids of requests, allocations, conflicts @default crypto.randomUUID */
  newId?: () => string;
  /** @default priority_based */
  strategy?: Strategy;
  /**
   * the home node's name (the machine the engine runs on: its unmanaged-GPU conflicts keep the key
   * `unmanaged:gpu:<i>`), kept as given. Without one, "local" is a guess that the first inventory — or the first
   * allocation restored before any inventory — replaces (cluster.ts). @default "local"
   */
  node?: string;
  leases?: LeaseOptions;
  severity?: Partial<SeverityConfig>;
  /** run a decision pass after every change that frees or changes capacity @default true */
  autoDecide?: boolean;
  /** ended requests (and their allocations, idempotency keys) kept in memory; the store keeps them all @default 10000 */
  retainEnded?: number;
  /** requests of one owner that may wait at once; a submit beyond is too_many_waiting (0: no limit) @default 0 */
  maxWaitingPerOwner?: number;
  /** resolved conflicts kept in memory @default 10000 */
  retainResolvedConflicts?: number;
  /**
   * Conflict refresh work per decision pass or tick: each evaluation of what is in the way (one per shape and
   * priority at a ledger state) and each conflict_updated record counts 1. Waiting requests are refreshed in
   * grant order, so the head of the queue is always current; the rest follow at the next ticks. Bounds the time
   * of a pass (and the records per batch) when a release changes the holders of thousands of waiting requests.
   * @default 32
   */
  refreshBudget?: number;
  /** a listener threw: by default the error is rethrown outside the engine's transaction (queueMicrotask) */
  onListenerError?: (err: unknown) => void;
  /** live GPU utilisation (%) from the monitor, for strategies that weigh it (load_balancing) */
  gpuUtilisation?: (node: string, index: number) => number | null;
}

/** The collaborators of one engine, wired. */
export function assemble(opts: EngineOptions): EngineParts {
  const clock = opts.clock;
  const newId = opts.newId ?? randomUUID;
  const gpuUtilisation = opts.gpuUtilisation ?? (() => null);
  const leases = new Leases(opts.leases);
  const cluster = new Cluster(opts.node ?? 'local', opts.node !== undefined);
  const usage = new UsageTracker();
  // the collaborators that start and end allocations reach Booking through this (it needs them to exist first)
  const lifecycle: Lifecycle = {
    grant: (r, p, now) => booking.grant(r, p, now),
    end: (a, state, now) => booking.end(a, state, now),
  };
  const core: Core = {
    clock, newId, cluster, usage,
    queue: new ConflictQueue((r) => core.strategy.effectivePriority(r, core.context)),
    book: new ConflictBook({ newId, maxResolved: opts.retainResolvedConflicts }),
    records: new Records(opts.retainEnded ?? 10_000),
    changes: new ChangeBatch(opts.onListenerError ?? ((err) => queueMicrotask(() => { throw err; }))),
    severity: { ...DEFAULT_SEVERITY, ...opts.severity },
    context: {
      get now() { return clock.now(); },
      cluster,
      usage,
      gpuUtilisation: (node, index) => gpuUtilisation(node, index),
      preempting: (id) => preemption.underNotice(id),
      get noticeEpoch() { return preemption.epoch; },
    },
    strategy: opts.strategy ?? priorityBased(),
    dirty: false,
  };
  const preemption = new Preemption(core, lifecycle);
  const slicing = new Slicing(core, lifecycle, preemption);
  const booking = new Booking(core, leases, preemption, slicing);
  const requestConflicts = new RequestConflicts(core, opts.refreshBudget ?? 32);
  const pass = new DecisionPass(core, booking, preemption, slicing, requestConflicts);
  return { core, leases, preemption, slicing, booking, requestConflicts, scheduleConflicts: new ScheduleConflicts(core), pass };
}
