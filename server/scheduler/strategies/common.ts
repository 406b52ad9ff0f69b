/**
 * Parts the strategies share: Slurm's multifactor priority, a cached ranked order, kube-scheduler's preemption,
 * and placement scoring (MostAllocated, LeastAllocated, BalancedAllocation) with the GPU pickers.
 */
import type { Request, StrategyName } from '../../../shared/scheduler.ts';
import type { Placement, PreemptionPlan } from '../cluster.ts';
import { firstFit, requestShape, shapeKey, type GpuPicker, type GpuSlot, type Ledger, type Shape } from '../ledger.ts';
import type { QueueView } from '../queue.ts';
import type { SliceCandidate, Strategy, StrategyContext } from '../strategy.ts';
import { shortness, type JobLengths } from './job-length.ts';

export const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);

/** Higher priority first, then earlier submit, then id. */
export function grantOrder(a: Request, b: Request): number {
  return b.priority - a.priority || a.submittedAt - b.submittedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

// ------------------------------------------------------------------ multifactor priority (Slurm)

export interface MultifactorConfig {
  weights: { age: number; priority: number; size: number; fairShare: number; shortJob: number };
  maxAgeMs: number;
  maxDurationMs: number;
  priorityScale: number;
  favorSmall?: boolean;
  ownerWeights: Record<string, number>;
}

/** prio = w_age·min(1, wait/maxAge) + w_prio·clamp(0.5 + p/(2·scale)) + w_size·size + w_fs·2^(−U/S) + w_short·shortness. */
export function multifactor(r: Request, ctx: StrategyContext, cfg: MultifactorConfig, lengths?: JobLengths): number {
  const w = cfg.weights;
  let prio = w.age * clamp01((ctx.now - r.submittedAt) / cfg.maxAgeMs) + w.priority * clamp01(0.5 + r.priority / (2 * cfg.priorityScale));
  if (w.size > 0) {
    const size = clamp01(ctx.cluster.dominantShare(requestShape(r)));
    prio += w.size * (cfg.favorSmall ? 1 - size : size);
  }
  if (w.fairShare > 0) prio += w.fairShare * ctx.usage.fairShareFactor(r.owner, ctx.now, (o) => cfg.ownerWeights[o] ?? 1);
  if (w.shortJob > 0) prio += w.shortJob * shortness(r, cfg.maxDurationMs, lengths);
  return prio;
}

/** Insert `item` into `list`, sorted by `cmp`, after its equals (binary search; the splice is a memmove). */
export function insertSorted<T>(list: T[], item: T, cmp: (a: T, b: T) => number): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cmp(list[mid]!, item) <= 0) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, item);
}

/**
 * Waiting requests by a score (higher first; ties: earlier submit, then id), recomputed in full every `recalcMs`
 * (Slurm's PriorityCalcPeriod) and merged in for new requests between recomputations, so a pass costs O(n) and a
 * submit O(log n + n memmove), not a sort.
 */
export class RankedOrder {
  private ids: string[] = [];
  private scores = new Map<string, number>();
  private submitted = new Map<string, number>();
  /** the same order, per shape key (lists may hold ids that left the queue: skipped when met) */
  private byKey = new Map<string, string[]>();
  private computedAt = -Infinity;
  private seen = -1;

  constructor(private readonly score: (r: Request, ctx: StrategyContext) => number, private readonly recalcMs = Infinity) {}

  *order(queue: QueueView, ctx: StrategyContext): Generator<Request> {
    this.sync(queue, ctx);
    const ids = this.ids;
    for (let i = 0; i < ids.length; i++) {
      const e = queue.get(ids[i]!);
      if (e) yield e.request;
    }
  }

  /**
   * The same order restricted to requests whose shape key is in `keys` (read at every step: a key removed from the
   * set while iterating is not yielded again): a merge of the per-key lists, O(log k) a request for k keys.
   */
  *among(queue: QueueView, ctx: StrategyContext, keys: ReadonlySet<string>): Generator<Request> {
    this.sync(queue, ctx);
    const heads: { key: string; list: string[]; i: number }[] = [];
    for (const key of keys) {
      const list = this.byKey.get(key);
      if (!list) continue;
      // drop ids that left the queue at the front for good
      let start = 0;
      while (start < list.length && !queue.has(list[start]!)) start++;
      if (start > 0) list.splice(0, start);
      if (list.length) heads.push({ key, list, i: 0 });
    }
    while (heads.length) {
      let b = 0;
      for (let h = 1; h < heads.length; h++) if (this.cmp(heads[h]!.list[heads[h]!.i]!, heads[b]!.list[heads[b]!.i]!) < 0) b = h;
      const head = heads[b]!;
      if (!keys.has(head.key)) {
        heads.splice(b, 1);
        continue;
      }
      const id = head.list[head.i++]!;
      if (head.i >= head.list.length) heads.splice(b, 1);
      const e = queue.get(id);
      if (e) yield e.request;
    }
  }

  private sync(queue: QueueView, ctx: StrategyContext): void {
    const fresh = this.seen === -1 || ctx.now - this.computedAt >= this.recalcMs ? null : queue.insertedSince(this.seen);
    if (fresh === null) this.rebuild(queue, ctx);
    else for (const id of fresh) this.insert(id, queue, ctx);
    this.seen = queue.insertions;
    // requests granted or cancelled since are skipped; the best-ranked go first, so they pile up at the front:
    // drop that prefix, and rebuild the lists when the dead are as many as the living
    let start = 0;
    while (start < this.ids.length && !queue.has(this.ids[start]!)) this.forget(this.ids[start++]!);
    if (start > 0) this.ids = this.ids.slice(start);
    if (this.ids.length > 2 * queue.size + 64) {
      this.ids = this.ids.filter((id) => {
        if (queue.has(id)) return true;
        this.forget(id);
        return false;
      });
      this.regroup(queue);
    }
  }

  private forget(id: string): void {
    this.scores.delete(id);
    this.submitted.delete(id);
  }

  private regroup(queue: QueueView): void {
    this.byKey = new Map();
    for (const id of this.ids) {
      const key = queue.get(id)?.shapeKey;
      if (key === undefined) continue;
      const list = this.byKey.get(key);
      if (list) list.push(id);
      else this.byKey.set(key, [id]);
    }
  }

  private rebuild(queue: QueueView, ctx: StrategyContext): void {
    this.scores = new Map();
    this.submitted = new Map();
    const ids: string[] = [];
    for (const r of queue.requests()) {
      this.scores.set(r.id, this.score(r, ctx));
      this.submitted.set(r.id, r.submittedAt);
      ids.push(r.id);
    }
    ids.sort((a, b) => this.cmp(a, b));
    this.ids = ids;
    this.regroup(queue);
    this.computedAt = ctx.now;
  }

  private insert(id: string, queue: QueueView, ctx: StrategyContext): void {
    const e = queue.get(id);
    if (!e || this.scores.has(id)) return;
    this.scores.set(id, this.score(e.request, ctx));
    this.submitted.set(id, e.request.submittedAt);
    insertSorted(this.ids, id, (a, b) => this.cmp(a, b));
    const list = this.byKey.get(e.shapeKey);
    if (list) insertSorted(list, id, (a, b) => this.cmp(a, b));
    else this.byKey.set(e.shapeKey, [id]);
  }

  private cmp(a: string, b: string): number {
    return this.scores.get(b)! - this.scores.get(a)! || this.submitted.get(a)! - this.submitted.get(b)! || (a < b ? -1 : a > b ? 1 : 0);
  }
}

// ------------------------------------------------------------------ preemption (kube-scheduler)

/** Victims among strictly lower-priority preemptible holders not already under notice; null when none would do. */
export function lowerPriorityVictims(r: Request, ctx: StrategyContext): PreemptionPlan | null {
  const shape = requestShape(r);
  // the victims depend on the shape, the priority and which allocations are under notice
  const key = `victims|${shapeKey(shape)}|${r.priority}|${ctx.noticeEpoch}`;
  const plan = ctx.cluster.preemptionPlan(shape, r.priority, (h) => h.preemptible && h.priority < r.priority && !ctx.preempting(h.allocationId), key);
  return plan && plan.victims.length ? plan : null;
}

// ------------------------------------------------------------------ placement scoring

export interface Weights {
  cpu: number;
  memory: number;
  gpu: number;
}

/** GPU-equivalents allocated on a node: whole holders 1 per slot ÷ replicas, shares MiB ÷ GPU MiB. */
export function gpuAllocated(l: Ledger, utilisation?: (s: GpuSlot) => number): number {
  let used = 0;
  for (const s of l.slots()) {
    if (!s.present) continue;
    let u = s.whole.size > 0 ? Math.min(1, s.whole.size / l.replicas) : s.memoryMiB > 0 ? (s.sharedMiB + s.foreignMiB) / s.memoryMiB : 0;
    if (utilisation) u = Math.max(u, utilisation(s));
    used += Math.min(1, u);
  }
  return used;
}

/** Fractions of each resource of a node that would be allocated with `shape` placed there (cap 0: omitted). */
export function fractionsAfter(l: Ledger, shape: Shape, utilisation?: (s: GpuSlot) => number): { cpu: number | null; memory: number | null; gpu: number | null } {
  const cap = l.capacity;
  const used = l.used;
  const gpus = cap.gpus ?? 0;
  const largest = largestGpuMiB(l);
  const reqGpu = shape.whole / l.replicas + shape.fracMiB / largest;
  return {
    cpu: cap.cpu ? (used.cpu + shape.cpu) / cap.cpu : null,
    memory: cap.memoryMiB ? (used.memoryMiB + shape.memoryMiB) / cap.memoryMiB : null,
    gpu: gpus ? (gpuAllocated(l, utilisation) + reqGpu) / gpus : null,
  };
}

const largestAt = new WeakMap<Ledger, { version: number; mib: number }>();

/** MiB of a node's largest GPU (1 without GPUs), kept until the node changes. */
function largestGpuMiB(l: Ledger): number {
  let c = largestAt.get(l);
  if (c?.version !== l.version) largestAt.set(l, (c = { version: l.version, mib: l.slots().reduce((m, s) => Math.max(m, s.memoryMiB), 0) || 1 }));
  return c.mib;
}

type Fractions = ReturnType<typeof fractionsAfter>;

function weighted(f: Fractions, w: Weights, term: (x: number) => number): number {
  let sum = 0;
  let ws = 0;
  if (f.cpu !== null && w.cpu > 0) { sum += w.cpu * term(f.cpu); ws += w.cpu; }
  if (f.memory !== null && w.memory > 0) { sum += w.memory * term(f.memory); ws += w.memory; }
  if (f.gpu !== null && w.gpu > 0) { sum += w.gpu * term(f.gpu); ws += w.gpu; }
  return ws ? sum / ws : 0;
}

/** kube-scheduler MostAllocated: Σ w_r·100·(used_r + req_r)/cap_r ÷ Σ w_r. */
export const mostAllocated = (f: Fractions, w: Weights): number => weighted(f, w, (x) => 100 * clamp01(x));
/** kube-scheduler LeastAllocated: Σ w_r·100·(cap_r − used_r − req_r)/cap_r ÷ Σ w_r. */
export const leastAllocated = (f: Fractions, w: Weights): number => weighted(f, w, (x) => 100 * clamp01(1 - x));
/** kube-scheduler BalancedAllocation: (1 − std(f_r))·100 over the resources given. */
export function balanced(values: readonly (number | null)[]): number {
  const xs = values.filter((x): x is number => x !== null).map(clamp01);
  if (xs.length < 2) return 100;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  return (1 - Math.sqrt(variance)) * 100;
}

/**
 * The best-scoring node where `shape` fits and `pick` finds GPUs (ties: node order; only its own node when the
 * request names one). `score` null: the node is not offered.
 */
export function placeBest(r: Request, ctx: StrategyContext, score: (l: Ledger, shape: Shape) => number | null, pick: GpuPicker): Placement | null {
  const shape = requestShape(r);
  let best: Placement | null = null;
  let bestScore = -Infinity;
  for (const l of ctx.cluster.placeableFor(shape)) {
    if (!l.fits(shape, false)) continue;
    const sc = score(l, shape);
    if (sc === null || sc <= bestScore) continue;
    const p = l.place(shape, pick);
    if (!p) continue;
    best = { node: l.node, gpuIndices: p.gpuIndices };
    bestScore = sc;
  }
  return best;
}

/** The first node (in order) where `pick` places it. */
export function placeFirst(r: Request, ctx: StrategyContext, pick: GpuPicker): Placement | null {
  return ctx.cluster.place(requestShape(r), pick);
}

// ------------------------------------------------------------------ GPU pickers

/** Whole GPUs by index; fractional: a GPU already shared (or used by something else) with room first, else the first with room. */
export const packShared: GpuPicker = (shape, ledger) => {
  if (shape.fracMiB <= 0) return firstFit(shape, ledger);
  let fallback: number | null = null;
  for (const g of ledger.slots()) {
    if (ledger.shareRoom(g) < shape.fracMiB) continue;
    if (!ledger.isWholeFree(g)) return [g.index];
    fallback ??= g.index;
  }
  return fallback === null ? null : [fallback];
};

/** Fractional: the shared GPU with the least room left that still fits (best fit), whole GPUs whole. */
export const bestFitShared: GpuPicker = (shape, ledger) => {
  if (shape.fracMiB <= 0) return firstFit(shape, ledger);
  let best: GpuSlot | null = null;
  let bestKey = Infinity;
  for (const g of ledger.slots()) {
    const room = ledger.shareRoom(g);
    if (room < shape.fracMiB) continue;
    // a shared GPU beats any whole-free one; among them, the least room left
    const key = (ledger.isWholeFree(g) ? 1e12 : 0) + room;
    if (key < bestKey) { best = g; bestKey = key; }
  }
  return best ? [best.index] : null;
};

/** Spread: fractional onto the GPU with the most room and the lowest utilisation; whole GPUs least utilised first. */
export function spreadPicker(util: (g: GpuSlot) => number, busy: number): GpuPicker {
  return (shape, ledger) => {
    const slots = ledger.slots().filter((g) => util(g) < busy);
    if (shape.fracMiB > 0) {
      let best: GpuSlot | null = null;
      let bestKey = -Infinity;
      for (const g of slots) {
        const room = ledger.shareRoom(g);
        if (room < shape.fracMiB) continue;
        const key = room / (g.memoryMiB || 1) - util(g);
        if (key > bestKey) { best = g; bestKey = key; }
      }
      return best ? [best.index] : null;
    }
    if (shape.whole === 0) return [];
    const free = slots.filter((g) => ledger.isWholeFree(g)).sort((a, b) => util(a) - util(b) || a.index - b.index);
    return free.length >= shape.whole ? free.slice(0, shape.whole).map((g) => g.index) : null;
  };
}

/** Time-slicing: whole requests onto the GPUs with the fewest holders (several slots of one GPU only with multiSlot). */
export const fewestHolders: GpuPicker = (shape, ledger) => {
  if (shape.fracMiB > 0) return packShared(shape, ledger);
  if (shape.whole === 0) return [];
  const free = ledger.slots().map((g) => ({ g, n: ledger.freeSlots(g) })).filter((x) => x.n > 0)
    .sort((a, b) => b.n - a.n || a.g.index - b.g.index);
  const out: number[] = [];
  for (const { g, n } of free) {
    out.push(g.index);
    if (out.length === shape.whole) return out;
    if (n > 1 && ledger.multiSlot) {
      for (let k = 1; k < n && out.length < shape.whole; k++) out.push(g.index);
      if (out.length === shape.whole) return out;
    }
  }
  return null;
};

// ------------------------------------------------------------------ base classes

/** What a strategy without preemption or time-slicing does; subclasses override what they do. */
export abstract class BaseStrategy implements Strategy {
  abstract readonly name: StrategyName;
  abstract readonly config: Record<string, unknown>;
  preempts: 'none' | 'lower_priority' | 'any' = 'none';
  graceMs = 0;
  replicas = 1;
  multiSlot = false;
  quantumMs: number | null = null;
  usesUtilisation?: boolean;

  abstract order(queue: QueueView, ctx: StrategyContext): Iterable<Request>;
  abstract place(request: Request, ctx: StrategyContext): Placement | null;

  get noRoomReason(): string {
    return this.quantumMs !== null ? 'the rotation order keeps the current holders' : `${this.name} neither preempts nor rotates`;
  }

  effectivePriority(request: Request, _ctx: StrategyContext): number {
    return request.priority;
  }

  preempt(_request: Request, _ctx: StrategyContext): PreemptionPlan | null {
    return null;
  }

  sliced(_request: Request): boolean {
    return false;
  }

  sliceRank(_c: SliceCandidate, _now: number): number {
    return 0;
  }
}

/** A strategy whose order ranks requests by their effective priority (RankedOrder), recomputed every `recalcMs`. */
export abstract class RankedStrategy extends BaseStrategy {
  private readonly ranked: RankedOrder;

  constructor(recalcMs = Infinity) {
    super();
    this.ranked = new RankedOrder((r, ctx) => this.effectivePriority(r, ctx), recalcMs);
  }

  order(queue: QueueView, ctx: StrategyContext): Iterable<Request> {
    return this.ranked.order(queue, ctx);
  }

  among(queue: QueueView, ctx: StrategyContext, keys: ReadonlySet<string>): Iterable<Request> {
    return this.ranked.among(queue, ctx, keys);
  }
}
