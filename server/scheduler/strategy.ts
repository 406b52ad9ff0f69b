/**
 * The one interface every scheduling strategy implements (one file each under strategies/): order the queue,
 * place a request, plan preemption, and — for time-slicing — which requests rotate and in what order. Strategies
 * are pure: they read the queue, the cluster and the usage tracker through the context; the engine acts.
 */
import type { Request, StrategyName } from '../../shared/scheduler.ts';
import type { Cluster, Placement, PreemptionPlan } from './cluster.ts';
import type { QueueView } from './queue.ts';
import type { UsageTracker } from './usage.ts';

export interface StrategyContext {
  now: number;
  cluster: Cluster;
  usage: UsageTracker;
  /** live utilisation (%) of a GPU from the monitor; null where unknown (simulator, declared GPUs) */
  gpuUtilisation(node: string, index: number): number | null;
  /** the allocation is under a preemption notice already (not a victim again) */
  preempting(allocationId: string): boolean;
  /** changes whenever an allocation comes under a preemption notice or leaves it */
  readonly noticeEpoch: number;
}

/** A time-sliced allocation or waiting request, as the rotation sees it. */
export interface SliceCandidate {
  request: Request;
  /** the allocation (running or suspended); undefined for a request still waiting for its first grant */
  allocationId?: string;
  /** GPU·ms received so far */
  attainedMs: number;
  /** since when it waits (suspended or queued); null while running */
  waitingSince: number | null;
  /** when it last ran (suspended) or was submitted (queued) */
  runMs: number;
}

export interface Strategy {
  readonly name: StrategyName;
  /** its parsed config (shared/strategy.ts schema) */
  readonly config: Record<string, unknown>;
  /** The priority the queue's priority order uses (after aging, fair-share factors… where the strategy has them). */
  effectivePriority(request: Request, ctx: StrategyContext): number;
  /**
   * Waiting requests in the order the engine should try to grant them. May be lazy and re-rank as it goes (the
   * engine grants between steps; ctx.usage then includes the grant).
   */
  order(queue: QueueView, ctx: StrategyContext): Iterable<Request>;
  /**
   * Optional: `order` restricted to the requests whose shape key (shape and priority, QueueEntry.shapeKey) is in
   * `keys`, read at every step. Lets a pass over thousands waiting visit only what can fit.
   */
  among?(queue: QueueView, ctx: StrategyContext, keys: ReadonlySet<string>): Iterable<Request>;
  /** Where `request` goes now, or null when the strategy will not place it now. */
  place(request: Request, ctx: StrategyContext): Placement | null;
  /** Whom to preempt so that `request` fits (after a grace period), or null for nobody. */
  preempt(request: Request, ctx: StrategyContext): PreemptionPlan | null;
  /**
   * Whom `preempt` may take from: `lower_priority` — strictly lower-priority preemptible holders (a request at or
   * below the lowest such priority finds none); `any` — holders chosen by share or quota; `none` — it does not
   * preempt (the engine then never asks).
   */
  readonly preempts: 'none' | 'lower_priority' | 'any';
  /** why it may find no room to take for a waiting request (what a refused conflict resolution says) */
  readonly noRoomReason: string;
  /** grace period victims get before their resources are taken */
  readonly graceMs: number;
  /** time-slicing: whole-GPU slots per GPU, and one request may take several slots of one GPU */
  readonly replicas: number;
  readonly multiSlot: boolean;
  /** rotation quantum (ms), or null when nothing rotates */
  readonly quantumMs: number | null;
  /** a request waiting this long that fits nowhere gets a node set aside for it (reservation.ts); absent: never */
  readonly reserveAfterMs?: number | null;
  /** at most this many reservations at once @default 1 */
  readonly maxReservations?: number;
  /** a reserved request is granted by this wait: its node's preemptible holders in its way are preempted (reservation.ts) */
  readonly maxWaitMs?: number | null;
  /** placement depends on the monitor's live GPU utilisation: a new snapshot calls for a decision pass */
  readonly usesUtilisation?: boolean;
  /** the request takes part in time-slice rotation */
  sliced(request: Request): boolean;
  /** rotation order: lower runs first (Tiresias: queue index, then arrival) */
  sliceRank(c: SliceCandidate, now: number): number;
  /** Optional: an allocation of `request` was released by its holder (the job completed) after `runMs` */
  completed?(request: Request, runMs: number): void;
}

export type StrategyFactory = (config?: unknown) => Strategy;
