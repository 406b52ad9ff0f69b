/**
 * The scheduler's state in the page: waiting requests, open conflicts, allocations with their owners (active ones,
 * and those that ended within the timeline's window), active hints and the strategy. Pushed events keep it
 * current; REST fills it once the push is live — subscribe first, then backfill, then replay on top what arrived
 * meanwhile — and again after a replay gap. Framework-free (React reads it through useSyncExternalStore), time injected.
 */
import type { AllocationView } from '../../../shared/api.ts';
import type { Hint, HintEvent } from '../../../shared/hints.ts';
import type { Conflict, ConflictChange, Request, SchedulingChange, StrategyName } from '../../../shared/scheduler.ts';
import { Backfill } from '../lib/backfill.ts';
import type { Timers } from '../lib/timers.ts';
import type { LiveSource } from '../live/source.ts';
import type { AllocationList, ConflictPage, QueuePage, SchedulerApi, StrategyAnswer } from './api.ts';
import { ExternalStore } from '../lib/external-store.ts';

export interface StrategySummary {
  name: StrategyName;
  /** null until the server tells (older servers answer the name only) */
  config: Record<string, unknown> | null;
  since: number | null;
}

export interface SchedulerSnapshot {
  /** the REST backfill has arrived at least once */
  readonly ready: boolean;
  readonly loading: boolean;
  /** the last backfill failed with this */
  readonly error: string | null;
  /** waiting requests, oldest first */
  readonly queue: readonly Request[];
  /** open conflicts, oldest first */
  readonly conflicts: readonly Conflict[];
  /** the open conflict of each waiting request */
  readonly conflictByRequest: ReadonlyMap<string, Conflict>;
  /** active allocations, and the ones that ended within `windowMs`, by grant time; `owner` once known */
  readonly allocations: readonly AllocationView[];
  /** requests the page knows (waiting ones, and those of the allocations above that it saw or asked for) */
  readonly requests: ReadonlyMap<string, Request>;
  /** active hints, newest first */
  readonly hints: readonly Hint[];
  readonly strategy: StrategySummary | null;
  /** how far back ended allocations are kept */
  readonly windowMs: number;
  readonly version: number;
}

export interface SchedulerDeps extends Timers {
  api: SchedulerApi;
}

export interface SchedulerOptions {
  /** ended allocations kept for the timeline; default one hour */
  windowMs?: number;
  /** owners fetched at once for allocations the server lists without one (older servers); default 4 */
  ownerFetches?: number;
  /** first retry of a failed backfill (doubles up to a minute); default 2 s */
  retryMs?: number;
}

type Item =
  | { type: 'scheduling_update'; data: SchedulingChange }
  | { type: 'conflict'; data: ConflictChange }
  | { type: 'hint'; data: HintEvent };
type Answer = [QueuePage, ConflictPage, AllocationList, { hints: Hint[] }, StrategyAnswer | null];

/** a request that is neither waiting nor behind a kept allocation is forgotten after this */
const REQUEST_GRACE_MS = 60_000;

export class SchedulerStore extends ExternalStore<SchedulerSnapshot> {
  private readonly windowMs: number;
  private readonly ownerFetches: number;

  private readonly requests = new Map<string, Request>();
  private readonly queued = new Set<string>();
  private readonly conflicts = new Map<string, Conflict>();
  private readonly allocations = new Map<string, AllocationView>();
  private readonly hints = new Map<string, Hint>();
  private strategy: StrategySummary | null = null;

  private started = false;
  /** REST: read once live (whether a view shows it or not), again after a replay gap */
  private readonly live: Backfill<Answer, Item>;
  private readonly ownerPending = new Set<string>();
  private ownerActive = 0;
  private offs: (() => void)[] = [];

  constructor(
    private readonly source: LiveSource,
    private readonly deps: SchedulerDeps,
    opts: SchedulerOptions = {},
  ) {
    super();
    this.windowMs = opts.windowMs ?? 3600_000;
    this.ownerFetches = opts.ownerFetches ?? 4;
    this.live = new Backfill(source, deps, {
      read: () => {
        const { api } = this.deps;
        return Promise.all([
          api.queue('fifo'),
          api.conflicts('fifo'),
          api.allocations(this.deps.now() - this.windowMs),
          api.hints(),
          api.strategy().catch(() => null),
        ]);
      },
      take: (answer) => this.take(answer),
      replay: (item) => this.apply(item),
      done: () => this.fetchOwners(),
      changed: () => this.changed(),
    }, { retryMs: opts.retryMs ?? 2000, onlyWatched: false });
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.offs = [
      this.source.onEnvelopes('scheduling_update', (envs) => this.receive(envs.map((e) => ({ type: 'scheduling_update', data: e.data })))),
      this.source.onEnvelopes('conflict', (envs) => this.receive(envs.map((e) => ({ type: 'conflict', data: e.data })))),
      this.source.onEnvelopes('hint', (envs) => this.receive(envs.map((e) => ({ type: 'hint', data: e.data })))),
    ];
    this.live.start();
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    for (const off of this.offs.splice(0)) off();
    this.live.stop();
  }

  /** The strategy as a REST answer gave it (e.g. PUT /api/strategy), unless a pushed change is newer. */
  noteStrategy(state: { name: StrategyName; config?: Record<string, unknown>; since?: number }): void {
    const cur = this.strategy;
    if (cur && cur.since !== null && state.since !== undefined && state.since < cur.since) return;
    this.strategy = { name: state.name, config: state.config ?? (cur?.name === state.name ? cur.config : null), since: state.since ?? cur?.since ?? null };
    this.changed();
  }

  /** Fetch everything again (after an error, or when asked). */
  refresh(): void {
    this.live.refresh();
  }

  // ---- backfill ---------------------------------------------------------------------------------------------

  /** The REST answers in place of what the page held (what arrived meanwhile is applied again after). */
  private take([queue, conflicts, allocations, hints, strategy]: Answer): void {
    if (!Array.isArray(queue?.items) || !Array.isArray(conflicts?.items) || !Array.isArray(allocations?.allocations) || !Array.isArray(hints?.hints)) {
      throw new Error('the scheduler routes answered something this page does not understand');
    }
    this.queued.clear();
    this.conflicts.clear();
    this.hints.clear();
    // the answer lists the allocations that ended within the window too; keep those seen live as well (an older
    // server lists active ones only), with their owners
    for (const [id, a] of this.allocations) if (a.state === 'active') this.allocations.delete(id);
    const endedOwners = new Set([...this.allocations.values()].map((a) => a.requestId));
    for (const id of this.requests.keys()) if (!endedOwners.has(id)) this.requests.delete(id);
    for (const { request, conflict } of queue.items) {
      this.requests.set(request.id, request);
      this.queued.add(request.id);
      if (conflict?.status === 'open') this.conflicts.set(conflict.id, conflict);
    }
    for (const c of conflicts.items) if (c.status === 'open') this.conflicts.set(c.id, c);
    for (const a of allocations.allocations) this.allocations.set(a.id, withOwner(a, this.allocations.get(a.id)));
    for (const h of hints.hints) if (h.status === 'active') this.hints.set(h.id, h);
    if (strategy) this.strategy = { name: strategy.name, config: strategy.config ?? null, since: strategy.since ?? null };
  }

  /**
   * Owners the server did not name (older servers) of allocations whose requests came with no event: one
   * GET /api/requests/:id each, a few at a time.
   */
  private fetchOwners(): void {
    for (const a of this.allocations.values()) {
      if (this.ownerActive >= this.ownerFetches) return;
      const id = a.requestId;
      if (a.owner !== undefined || this.requests.has(id) || this.ownerPending.has(id)) continue;
      this.ownerPending.add(id);
      this.ownerActive++;
      this.deps.api.request(id).then(
        (r) => {
          if (this.started && !this.requests.has(id)) {
            this.requests.set(id, r);
            this.changed();
          }
        },
        () => undefined, // shown without an owner
      ).finally(() => {
        this.ownerActive--;
        if (this.started) this.fetchOwners();
      });
    }
  }

  // ---- events -----------------------------------------------------------------------------------------------

  private receive(items: Item[]): void {
    if (items.length === 0) return;
    for (const item of items) {
      this.apply(item);
    }
    this.live.note(items);
    this.changed();
    this.fetchOwners();
  }

  private apply(item: Item): void {
    if (item.type === 'scheduling_update') this.applyChange(item.data);
    else if (item.type === 'conflict') this.applyConflict(item.data);
    else this.applyHint(item.data);
  }

  private applyChange(c: SchedulingChange): void {
    switch (c.kind) {
      case 'request_queued':
        this.requests.set(c.request.id, c.request);
        this.queued.add(c.request.id);
        return;
      case 'request_granted':
      case 'request_cancelled':
        this.requests.set(c.request.id, c.request);
        this.queued.delete(c.request.id);
        return;
      case 'allocation_granted':
      case 'allocation_renewed':
      case 'allocation_preempting':
      case 'allocation_suspended':
      case 'allocation_resumed':
      case 'allocation_flagged':
        this.allocations.set(c.allocation.id, withOwner(c.allocation, this.allocations.get(c.allocation.id)));
        return;
      case 'allocation_released':
      case 'allocation_expired':
      case 'allocation_preempted':
        this.allocations.set(c.allocation.id, withOwner(c.allocation, this.allocations.get(c.allocation.id), c.request.owner));
        this.requests.set(c.request.id, c.request);
        if (c.request.status !== 'queued') this.queued.delete(c.request.id);
        return;
      case 'strategy_changed': {
        const kept = this.strategy?.name === c.strategy ? this.strategy.config : null;
        this.strategy = { name: c.strategy, config: c.config ?? kept, since: c.at };
        return;
      }
      default:
        // a kind this page does not know yet (newer server): nothing to keep
        return;
    }
  }

  private applyConflict(c: ConflictChange): void {
    if (c.kind === 'conflict_resolved' || c.conflict.status !== 'open') this.conflicts.delete(c.conflict.id);
    else this.conflicts.set(c.conflict.id, c.conflict);
  }

  private applyHint(e: HintEvent): void {
    if (e.kind === 'hint_cleared' || e.hint.status !== 'active') this.hints.delete(e.hint.id);
    else this.hints.set(e.hint.id, e.hint);
  }

  // ---- snapshot ---------------------------------------------------------------------------------------------

  /** `a` with the owner of its request, once the page knows that request (kept, so the object stays the same). */
  private ownerFromRequest(a: AllocationView): AllocationView {
    if (a.owner !== undefined) return a;
    const owner = this.requests.get(a.requestId)?.owner;
    if (owner === undefined) return a;
    const view = { ...a, owner };
    this.allocations.set(a.id, view);
    return view;
  }


  private prune(now: number): void {
    const from = now - this.windowMs;
    for (const [id, a] of this.allocations) {
      if (a.state !== 'active' && (a.endedAt ?? a.grantedAt) < from) this.allocations.delete(id);
    }
    const held = new Set<string>();
    for (const a of this.allocations.values()) held.add(a.requestId);
    for (const [id, r] of this.requests) {
      if (!this.queued.has(id) && !held.has(id) && now - r.updatedAt > REQUEST_GRACE_MS) this.requests.delete(id);
    }
  }

  protected build(): SchedulerSnapshot {
    this.prune(this.deps.now());
    const queue: Request[] = [];
    for (const id of this.queued) {
      const r = this.requests.get(id);
      if (r) queue.push(r);
    }
    queue.sort((a, b) => a.submittedAt - b.submittedAt || (a.id < b.id ? -1 : 1));
    const conflicts = [...this.conflicts.values()].sort((a, b) => a.openedAt - b.openedAt || (a.id < b.id ? -1 : 1));
    const conflictByRequest = new Map<string, Conflict>();
    for (const c of conflicts) if (c.requestId !== null && c.key === `request:${c.requestId}`) conflictByRequest.set(c.requestId, c);
    const allocations = [...this.allocations.values()].map((a) => this.ownerFromRequest(a)).sort((a, b) => a.grantedAt - b.grantedAt || (a.id < b.id ? -1 : 1));
    const hints = [...this.hints.values()].sort((a, b) => b.createdAt - a.createdAt);
    return {
      ready: this.live.ready,
      loading: this.live.loading,
      error: this.live.error,
      queue,
      conflicts,
      conflictByRequest,
      allocations,
      requests: new Map(this.requests),
      hints,
      strategy: this.strategy,
      windowMs: this.windowMs,
      version: this.version,
    };
  }
}

/** `a` (pushed, or listed without an owner) with the owner known for it: `owner`, or that of its previous version. */
function withOwner(a: AllocationView, prev: AllocationView | undefined, owner?: string): AllocationView {
  if (a.owner !== undefined) return a;
  const known = owner ?? prev?.owner;
  return known === undefined ? a : { ...a, owner: known };
}

/** Active allocations holding GPU `index` (of `node`; absent: of any node, as on a server of one node). */
export function allocationsOnGpu(snap: SchedulerSnapshot, index: number, node?: string): AllocationView[] {
  return snap.allocations.filter((a) => a.state === 'active' && a.gpuIndices.includes(index) && (node === undefined || a.node === node));
}

/**
 * The open conflict saying GPU `index` is used without an allocation: key `unmanaged:gpu:<index>` on the home node,
 * `unmanaged:gpu:<index>@<node>` on another `node`.
 */
export function unmanagedUseOf(snap: SchedulerSnapshot, index: number, otherNode?: string): Conflict | null {
  const key = otherNode === undefined ? `unmanaged:gpu:${index}` : `unmanaged:gpu:${index}@${otherNode}`;
  return snap.conflicts.find((c) => c.key === key) ?? null;
}
