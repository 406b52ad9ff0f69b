/**
 * Evaluation (pure): each strategy's figures over the time it was active — the rows of StrategyPerformanceSchema
 * (shared/strategy.ts) — computed from the engine's Change batches alone, plus what the recorder is told: the
 * cluster's GPU capacity over time (`setCapacity`), the active strategy (`setStrategy`, or a `strategy_changed`
 * change) and the owners' weights. The same recorder serves the live server and the trace replay (`replay: true`).
 *
 * Attribution: every event counts for the strategy active at its time (`at` of its change): a submit (requests),
 * a grant (granted, and its wait), a cancel, an end by expiry or preemption, a suspension. GPU-time and
 * capacity-time are integrated per strategy over its active periods. A request counts as starved for the strategy
 * active at the moment its wait passed `starvationMs`. Time with no strategy active counts for none.
 *
 * Figures (per strategy):
 * - requests: submitted while active — a `request_queued`, or a `request_granted` of a request not seen queued and
 *   submitted at that same instant (granted at submit). A request waiting before recording began (see `restore`)
 *   counts when granted, not as a request.
 * - granted: `request_granted`; cancelled: `request_cancelled` (a queued request cancelled);
 *   failed: `allocation_expired` + `allocation_preempted` (granted, then ended other than by release);
 *   preemptions: `allocation_preempted`; suspensions: `allocation_suspended`.
 * - successRate = granted ÷ (granted + cancelled + starved requests still waiting), the last term being the
 *   requests that became starved under this strategy and wait still at `now`; null when that sum is 0.
 * - waitMs: submit → grant (`at` − `request.submittedAt`), for the strategy active at the grant. The mean is exact;
 *   p50 and p95 are nearest-rank percentiles (the smallest sample with at least p % of the samples ≤ it), exact up
 *   to `maxSamples` grants per strategy, beyond that taken over a uniform reservoir of `maxSamples` (Algorithm R).
 * - utilisation = allocated GPU-time ÷ GPU capacity-time. An allocation of whole GPUs counts `gpuIndices.length`
 *   GPUs; a fractional one (`gpuMemMiB`) min(1, gpuMemMiB ÷ the memory of its GPU); a suspended one
 *   (`allocation_suspended` … `allocation_resumed`) counts 0 while suspended. At each instant the allocated figure
 *   counts at most the capacity (time-sliced replicas, or a capacity set below what is booked, cannot push it above
 *   1). null while capacity-time is 0 (no GPUs).
 * - jain: Jain's index over the owners that asked for GPUs while the strategy was active; see owner-time.ts.
 * - starved: requests whose wait passed `starvationMs` (strictly longer), whether later granted, cancelled or still
 *   waiting; each counted once.
 * - replay only (`replay: true`): jctMs, submit → `allocation_released` (completions; expiry and preemption are
 *   failures, not completions), for the strategy active at the release; makespanMs, from the first submit counted
 *   for the strategy to the last allocation end while it was active.
 * `fragmentation` and `wallMs` are the simulator's: it knows the GPU layout and the wall clock.
 *
 * Cost and memory: O(1) amortised per change (a strategy switch is O(owners holding GPUs + requests waiting)),
 * `snapshot` O(owners + samples·log samples). The recorder keeps, besides 6 rows of counters: the waiting requests
 * and active allocations (as many as the engine holds), the requests queued in the last `starvationMs`, two GPU-time
 * figures per owner per strategy (received, waited for), and at most 6 × 2 × `maxSamples` samples (8 bytes each:
 * 6 MiB at the default).
 */
import type { Allocation, Change, Request, StrategyName } from '../../shared/scheduler.ts';
import type { StrategyPerformance } from '../../shared/strategy.ts';
import { rng } from '../rng.ts';
import { OwnerTime } from './owner-time.ts';
import { Row, asksGpu, waitingOf, type Held, type Waiting } from './performance-records.ts';

export { Samples } from './performance-records.ts';

export interface PerformanceRecorderOptions {
  /** a request waiting longer than this counts as starved @default 600000 (10 min) */
  starvationMs?: number;
  /** the strategy active from `since` (otherwise none until the first setStrategy or strategy_changed) */
  strategy?: StrategyName;
  /** when `strategy` became active; required with it */
  since?: number;
  /** GPUs of the cluster until the first setCapacity @default 0 */
  gpus?: number;
  /**
   * Memory of one GPU (MiB), the denominator of a fractional allocation's share: a number for every GPU, or a
   * lookup per node and GPU index (undefined: the number set by setCapacity, else 16384). @default 16384
   */
  gpuMemoryMiB?: number | ((node: string, gpuIndex: number) => number | undefined);
  /** entitlement weights per owner for Jain's index @default {} (equal shares) */
  ownerWeights?: Readonly<Record<string, number>>;
  /** weight of an owner absent from ownerWeights @default 1 */
  defaultWeight?: number;
  /** wait and completion samples kept per strategy; beyond, a uniform reservoir of this size @default 65536 */
  maxSamples?: number;
  /** seed of the reservoir's PRNG (the figures repeat exactly) @default 1 */
  seed?: number;
  /** add the replay figures jctMs and makespanMs to each row @default false */
  replay?: boolean;
}

const DEFAULT_GPU_MEMORY_MIB = 16_384;
const UNKNOWN_OWNER = '?';


export class PerformanceRecorder {
  readonly starvationMs: number;
  private readonly replay: boolean;
  private readonly maxSamples: number;
  private readonly random: () => number;
  private readonly gpuMemoryOf: ((node: string, gpuIndex: number) => number | undefined) | null;
  private defaultGpuMemoryMiB: number;
  private weights = new Map<string, number>();
  private defaultWeight = 1;
  private readonly weightOf = (owner: string): number => this.weights.get(owner) ?? this.defaultWeight;

  private readonly rows = new Map<StrategyName, Row>();
  private row: Row | null = null;
  private since = 0;
  private lastT = -Infinity;
  private capacity: number;

  private readonly waiting = new Map<string, Waiting>();
  /** queued requests in submit order, from the first whose starvation moment has not been passed */
  private fifo: Waiting[] = [];
  private head = 0;
  private readonly held = new Map<string, Held>();
  private readonly owners = new OwnerTime(() => this.row);
  /** request_granted → the allocation_granted that follows it: owner and submit time by request id (bounded) */
  private readonly granting = new Map<string, { owner: string; submittedAt: number }>();

  constructor(opts: PerformanceRecorderOptions = {}) {
    this.starvationMs = opts.starvationMs ?? 600_000;
    if (!(this.starvationMs >= 0 && Number.isFinite(this.starvationMs))) throw new Error(`starvationMs must be a finite number ≥ 0, not ${opts.starvationMs}`);
    this.maxSamples = opts.maxSamples ?? 65_536;
    if (!(Number.isInteger(this.maxSamples) && this.maxSamples >= 1)) throw new Error(`maxSamples must be an integer ≥ 1, not ${opts.maxSamples}`);
    this.capacity = checkGpus(opts.gpus ?? 0);
    const mem = opts.gpuMemoryMiB ?? DEFAULT_GPU_MEMORY_MIB;
    this.gpuMemoryOf = typeof mem === 'function' ? mem : null;
    this.defaultGpuMemoryMiB = typeof mem === 'number' ? checkMemory(mem) : DEFAULT_GPU_MEMORY_MIB;
    this.setOwnerWeights(opts.ownerWeights ?? {}, opts.defaultWeight ?? 1);
    this.random = rng(opts.seed ?? 1);
    this.replay = opts.replay ?? false;
    if (opts.strategy !== undefined && opts.since === undefined) throw new Error(`strategy ${opts.strategy} needs since (when it became active)`);
    if (opts.strategy === undefined && opts.since !== undefined) throw new Error(`since (${opts.since}) is given without a strategy`);
    if (opts.strategy !== undefined) this.setStrategy(opts.since!, opts.strategy);
  }

  /** The strategy active now (null before the first one is known). */
  get current(): StrategyName | null {
    return this.row?.name ?? null;
  }

  /** Feed a batch of changes, in order (an engine ChangeListener). */
  record(changes: readonly Change[]): void {
    for (const c of changes) this.apply(c);
  }

  /** `name` is active from `at` (the same strategy again is a no-op, so a strategy_changed that follows is harmless). */
  setStrategy(at: number, name: StrategyName): void {
    const t = this.advance(at);
    if (this.row?.name === name) return;
    this.owners.creditAll(t);
    if (this.row) this.row.activeMs += t - this.since;
    let row = this.rows.get(name);
    if (!row) this.rows.set(name, (row = new Row(name, this.maxSamples, this.random)));
    this.row = row;
    this.since = t;
    for (const w of this.waiting.values()) if (w.gpu) row.asked(w.owner);
  }

  /** The cluster has `gpus` GPUs from `at`; `gpuMemoryMiB`: the memory of one GPU for allocations granted from then. */
  setCapacity(at: number, gpus: number, gpuMemoryMiB?: number): void {
    this.advance(at);
    this.capacity = checkGpus(gpus);
    if (gpuMemoryMiB !== undefined) this.defaultGpuMemoryMiB = checkMemory(gpuMemoryMiB);
  }

  /** Entitlement weights for Jain's index (they apply to every row at the next snapshot). */
  setOwnerWeights(weights: Readonly<Record<string, number>>, defaultWeight = this.defaultWeight): void {
    const next = new Map<string, number>();
    for (const [owner, w] of Object.entries(weights)) {
      if (!(w > 0 && Number.isFinite(w))) throw new Error(`weight of owner ${owner} must be a finite number > 0, not ${w}`);
      next.set(owner, w);
    }
    if (!(defaultWeight > 0 && Number.isFinite(defaultWeight))) throw new Error(`defaultWeight must be a finite number > 0, not ${defaultWeight}`);
    this.weights = next;
    this.defaultWeight = defaultWeight;
  }

  /**
   * What already exists when recording starts (the engine restored from the store): waiting requests and active
   * allocations are booked from `at` without counting as submits or grants.
   */
  restore(at: number, state: { requests: readonly Request[]; allocations: readonly Allocation[] }): void {
    const t = this.advance(at);
    const byId = new Map(state.requests.map((r) => [r.id, r]));
    const queued = state.requests.filter((r) => r.status === 'queued' && !this.waiting.has(r.id));
    for (const r of queued) {
      const w = waitingOf(r, this.defaultGpuMemoryMiB);
      this.waiting.set(r.id, w);
      this.startWaiting(w, t);
      this.fifo.push(w);
      if (w.gpu) this.row?.asked(r.owner);
    }
    if (queued.length) {
      this.fifo = this.fifo.slice(this.head).sort((a, b) => a.submittedAt - b.submittedAt);
      this.head = 0;
    }
    for (const a of state.allocations) {
      if (a.state !== 'active' || this.held.has(a.id)) continue;
      const r = byId.get(a.requestId);
      const h: Held = { owner: r?.owner ?? UNKNOWN_OWNER, gpus: this.gpusOf(a), submittedAt: r?.submittedAt ?? a.grantedAt, suspended: a.suspendedAt !== undefined };
      this.held.set(a.id, h);
      if (!h.suspended) this.owners.hold(h.owner, h.gpus, t);
    }
  }

  /** One row per strategy that was ever active, in the order they first were, with figures up to `now`. */
  snapshot(now: number): StrategyPerformance[] {
    const t = Math.max(now, this.lastT);
    const dt = this.row && Number.isFinite(this.lastT) ? t - this.lastT : 0;
    // starvation moments passed since the last change, not yet booked (counted without changing state)
    let lateStarved = 0;
    for (let i = this.head; i < this.fifo.length; i++) {
      const w = this.fifo[i]!;
      if (!(w.submittedAt + this.starvationMs < t)) break;
      if (!w.done && !w.starved) lateStarved++;
    }
    const out: StrategyPerformance[] = [];
    for (const row of this.rows.values()) {
      const live = row === this.row;
      const starvedWaiting = row.starvedWaiting + (live ? lateStarved : 0);
      const decided = row.granted + row.cancelled + starvedWaiting;
      const allocGpuMs = row.allocGpuMs + (live ? Math.min(this.owners.allocated, this.capacity) * dt : 0);
      const capacityGpuMs = row.capacityGpuMs + (live ? this.capacity * dt : 0);
      const p: StrategyPerformance = {
        strategy: row.name,
        activeMs: row.activeMs + (live ? t - this.since : 0),
        requests: row.requests,
        granted: row.granted,
        cancelled: row.cancelled,
        failed: row.failed,
        successRate: decided ? row.granted / decided : null,
        waitMs: row.wait.dist(),
        utilisation: capacityGpuMs > 0 ? allocGpuMs / capacityGpuMs : null,
        jain: this.owners.jain(row, live ? t : null, this.weightOf),
        preemptions: row.preemptions,
        suspensions: row.suspensions,
        starved: row.starved + (live ? lateStarved : 0),
      };
      if (this.replay) {
        p.jctMs = row.jct.dist();
        if (Number.isFinite(row.firstSubmit) && row.lastEnd >= row.firstSubmit) p.makespanMs = row.lastEnd - row.firstSubmit;
      }
      out.push(p);
    }
    return out;
  }

  // ------------------------------------------------------------------ changes

  private apply(c: Change): void {
    const t = this.advance(c.at);
    const row = this.row;
    switch (c.kind) {
      case 'request_queued': {
        const r = c.request;
        if (this.waiting.has(r.id)) return;
        const w = waitingOf(r, this.defaultGpuMemoryMiB);
        this.waiting.set(r.id, w);
        this.startWaiting(w, t);
        this.pushFifo(w);
        if (row) this.submitted(row, r);
        return;
      }
      case 'request_granted': {
        const r = c.request;
        const w = this.waiting.get(r.id);
        this.granting.set(r.id, { owner: r.owner, submittedAt: r.submittedAt });
        // the engine emits allocation_granted right after; an unmatched one cannot pile up
        if (this.granting.size > 1024) this.granting.delete(this.granting.keys().next().value!);
        if (w) this.stopWaiting(w, t);
        if (!row) return;
        if (!w && r.submittedAt >= c.at) this.submitted(row, r);
        const wait = Math.max(0, c.at - r.submittedAt);
        // not seen waiting (restored without `restore`): starved if its wait says so
        if (!w && wait > this.starvationMs) row.starved++;
        row.granted++;
        row.wait.add(wait);
        return;
      }
      case 'request_cancelled': {
        const w = this.waiting.get(c.request.id);
        if (w) this.stopWaiting(w, t);
        if (row) row.cancelled++;
        return;
      }
      case 'allocation_granted': {
        const a = c.allocation;
        if (this.held.has(a.id)) return;
        const g = this.granting.get(a.requestId);
        this.granting.delete(a.requestId);
        const h: Held = { owner: g?.owner ?? UNKNOWN_OWNER, gpus: this.gpusOf(a), submittedAt: g?.submittedAt ?? a.grantedAt, suspended: false };
        this.held.set(a.id, h);
        this.owners.hold(h.owner, h.gpus, t);
        return;
      }
      case 'allocation_released':
      case 'allocation_expired':
      case 'allocation_preempted': {
        const h = this.held.get(c.allocation.id);
        if (h) {
          this.held.delete(c.allocation.id);
          if (!h.suspended) this.owners.unhold(h.owner, h.gpus, t);
        }
        if (!row) return;
        if (c.kind === 'allocation_released') {
          if (this.replay) row.jct.add(c.at - (h?.submittedAt ?? c.request.submittedAt));
        } else {
          row.failed++;
          if (c.kind === 'allocation_preempted') row.preemptions++;
        }
        if (c.at > row.lastEnd) row.lastEnd = c.at;
        return;
      }
      case 'allocation_suspended': {
        const h = this.held.get(c.allocation.id);
        if (row) row.suspensions++;
        if (h && !h.suspended) {
          h.suspended = true;
          this.owners.unhold(h.owner, h.gpus, t);
        }
        return;
      }
      case 'allocation_resumed': {
        const h = this.held.get(c.allocation.id);
        if (h?.suspended) {
          h.suspended = false;
          this.owners.hold(h.owner, h.gpus, t);
        }
        return;
      }
      case 'strategy_changed':
        this.setStrategy(c.at, c.strategy);
        return;
      default:
        // renewals, preemption notices and conflicts change no figure
        return;
    }
  }

  private submitted(row: Row, r: Request): void {
    row.requests++;
    if (asksGpu(r)) row.asked(r.owner);
    if (r.submittedAt < row.firstSubmit) row.firstSubmit = r.submittedAt;
  }

  private startWaiting(w: Waiting, t: number): void {
    if (w.gpu) this.owners.wait(w.owner, w.gpuAmount, t);
  }

  private stopWaiting(w: Waiting, t: number): void {
    if (w.gpu) this.owners.unwait(w.owner, w.gpuAmount, t);
    w.done = true;
    this.waiting.delete(w.id);
    if (w.starvedUnder) w.starvedUnder.starvedWaiting--;
    w.starvedUnder = null;
  }

  // ------------------------------------------------------------------ time

  /**
   * Move time to `at` (never back: an earlier `at` counts as the last one): integrate GPU-time and capacity-time
   * for the active strategy, and book the requests whose wait passed starvationMs before `at`.
   */
  private advance(at: number): number {
    if (!Number.isFinite(this.lastT)) this.lastT = at;
    const t = Math.max(at, this.lastT);
    const dt = t - this.lastT;
    const row = this.row;
    if (row && dt > 0) {
      row.allocGpuMs += Math.min(this.owners.allocated, this.capacity) * dt;
      row.capacityGpuMs += this.capacity * dt;
    }
    const fifo = this.fifo;
    while (this.head < fifo.length) {
      const w = fifo[this.head]!;
      if (!(w.submittedAt + this.starvationMs < t)) break;
      this.head++;
      if (w.done || w.starved) continue;
      w.starved = true;
      if (row) {
        row.starved++;
        row.starvedWaiting++;
        w.starvedUnder = row;
      }
    }
    if (this.head > 1024 && this.head * 2 > fifo.length) {
      this.fifo = fifo.slice(this.head);
      this.head = 0;
    }
    this.lastT = t;
    return t;
  }

  private pushFifo(w: Waiting): void {
    const last = this.fifo[this.fifo.length - 1];
    this.fifo.push(w);
    // submits arrive in time order; keep the order if one does not (a late batch)
    if (last && last.submittedAt > w.submittedAt) {
      this.fifo = this.fifo.slice(this.head).sort((a, b) => a.submittedAt - b.submittedAt);
      this.head = 0;
    }
  }

  // ------------------------------------------------------------------ GPU-time

  private gpusOf(a: Allocation): number {
    const frac = a.resources.gpuMemMiB ?? 0;
    if (frac > 0) {
      const index = a.gpuIndices[0];
      const mem = (index !== undefined ? this.gpuMemoryOf?.(a.node, index) : undefined) ?? this.defaultGpuMemoryMiB;
      return Math.min(1, frac / mem);
    }
    return a.gpuIndices.length || a.resources.gpus;
  }
}

function checkGpus(gpus: number): number {
  if (!(gpus >= 0 && Number.isFinite(gpus))) throw new Error(`GPU capacity must be a finite number ≥ 0, not ${gpus}`);
  return gpus;
}

function checkMemory(mib: number): number {
  if (!(mib > 0 && Number.isFinite(mib))) throw new Error(`GPU memory must be a finite number of MiB > 0, not ${mib}`);
  return mib;
}
