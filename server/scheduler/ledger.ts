/**
 * The ledger: what is allocated where on one node, per device, and whether a request fits (pure, no I/O).
 *
 * - cpu (millicores) and memory (MiB) are pools: a request fits when it is ≤ capacity − allocated.
 * - `gpus: n` (no gpuMemMiB) takes n whole GPUs: a GPU is free as a whole when it has no allocation (whole or
 *   fractional) and no foreign user. With `replicas` > 1 (time-slicing: NVIDIA's model, no memory isolation) a GPU
 *   takes up to that many whole holders, one slot each; n GPUs are n distinct GPUs unless `multiSlot`.
 * - `gpuMemMiB: m` (gpus 0 or 1) takes m MiB of one GPU, shared with other fractional allocations: it fits on a GPU
 *   not held whole whose memory − fractional allocations − foreign users' memory ≥ m.
 * - Foreign usage: a process/container on a GPU that no active allocation holding that GPU accounts for
 *   (unmanaged, or its allocation ended): the GPU is not free as a whole and its memory counts as used.
 * Which GPUs a request gets is the strategy's choice (`place(shape, pick)`); `firstFit` is the default.
 */
import type { Resources } from '../../shared/scheduler.ts';
import type { GpuUsage, Inventory } from './inventory.ts';

/** A request's resources as the ledger sees them: whole GPUs or one fractional share, never both. */
export interface Shape {
  cpu: number;
  memoryMiB: number;
  /** whole GPUs */
  whole: number;
  /** MiB of one shared GPU; 0: not fractional */
  fracMiB: number;
}

export function shapeOf(r: Resources): Shape {
  const fracMiB = r.gpuMemMiB ?? 0;
  return { cpu: r.cpu, memoryMiB: r.memoryMiB, whole: fracMiB > 0 ? 0 : r.gpus, fracMiB };
}

/** One GPU as the ledger books it. */
export interface GpuSlot {
  readonly index: number;
  readonly uuid: string | null;
  readonly name: string;
  readonly memoryMiB: number;
  /** reported by the latest inventory */
  readonly present: boolean;
  readonly available: boolean;
  /** allocation holding it whole (the first, with replicas > 1) */
  readonly wholeBy: string | null;
  /** every allocation holding it whole (one slot each; more than one only with replicas > 1) */
  readonly whole: ReadonlyMap<string, number>;
  /** fractional allocations → MiB */
  readonly shared: ReadonlyMap<string, number>;
  readonly sharedMiB: number;
  /** users no active allocation on this GPU accounts for */
  readonly foreign: readonly GpuUsage[];
  readonly foreignMiB: number;
  readonly usages: readonly GpuUsage[];
}

type Slot = { -readonly [K in keyof GpuSlot]: GpuSlot[K] };

/** An active allocation as the ledger keeps it. */
export interface Holding {
  allocationId: string;
  requestId: string;
  owner: string;
  group?: string;
  priority: number;
  preemptible: boolean;
  grantedAt: number;
  shape: Shape;
  gpuIndices: readonly number[];
}

export type HoldingMeta = Omit<Holding, 'allocationId' | 'shape' | 'gpuIndices' | 'preemptible'> & { preemptible?: boolean };

export interface Placement {
  gpuIndices: number[];
}

/** Picks the GPUs of a request whose cpu and memory fit; null when its GPUs do not. */
export type GpuPicker = (shape: Shape, ledger: Ledger) => number[] | null;

/** Whole GPUs by index; fractional: the first GPU by index with room. */
export const firstFit: GpuPicker = (shape, ledger) => {
  if (shape.fracMiB > 0) {
    const s = ledger.slots().find((g) => ledger.shareRoom(g) >= shape.fracMiB);
    return s ? [s.index] : null;
  }
  if (shape.whole === 0) return [];
  const picked: number[] = [];
  for (const g of ledger.slots()) {
    if (ledger.isWholeFree(g)) picked.push(g.index);
    if (picked.length === shape.whole) return picked;
  }
  return null;
};

export interface FreeView {
  cpu: number | null;
  memoryMiB: number | null;
  gpus: { index: number; memoryMiB: number; freeMiB: number; wholeFree: boolean; available: boolean; allocations: number; foreign: number }[];
}

/** What is in the way of a request that does not fit. */
export interface InTheWay {
  /** short dimensions: cpu, memory, gpu */
  dims: ('cpu' | 'memory' | 'gpu')[];
  /** allocations whose release would make it fit, lowest priority (then newest) first; every relevant one when no set suffices */
  holders: Holding[];
  /** foreign GPU users in the way (when GPUs are short) */
  foreign: GpuUsage[];
  /** releasing `holders` would make it fit */
  sufficient: boolean;
  /** sufficient, and every holder has a lower priority than the request */
  lowerOnly: boolean;
}

export class Ledger {
  node = 'local';
  /** whole-GPU slots per GPU (time-slicing replicas) */
  private replicaCount = 1;
  /** a whole request may take several slots of one GPU */
  private multi = false;
  /** bumped on every change of capacity or allocations: callers cache on it */
  version = 0;
  /** bumped when capacity (not allocations) changes */
  capacityEpoch = 0;
  /** inTheWay answers (without an eligibility filter) at `wayVersion`, by shape and priority */
  private wayCache = new Map<string, InTheWay>();
  private wayVersion = -1;
  private cpuCap: number | null = null;
  private memCap: number | null = null;
  private gpusKnown = false;
  private cpuUsed = 0;
  private memUsed = 0;
  private gpuSlots: Slot[] = [];
  private byIndex = new Map<number, Slot>();
  /** GPU index → position in gpuSlots */
  private slotPos = new Map<number, number>();
  /** the slot list slotPos was built for (rebuilt when the list is replaced or re-sorted) */
  private slotPosOf: Slot[] | null = null;
  private holdings = new Map<string, Holding>();
  private wholeFreeCount = 0;
  private foreignCount = 0;
  private presentCount = 0;
  private largestGpuMiB = 0;
  /** holdings lowest priority, then newest first; and the order to reprieve them in; rebuilt lazily after a change */
  private byVictimOrder: Holding[] | null = null;
  private byReprieveOrder: Holding[] | null = null;
  /** the same orders over the holdings with GPUs only: when only GPUs are short, the (many) cpu/memory-only
   * holdings cannot help, and re-sorting all of them after every grant made queued submits O(h log h) */
  private gpuVictimOrder: Holding[] | null = null;
  private gpuReprieveOrder: Holding[] | null = null;

  /** New capacity; a null figure keeps the last known one. */
  setInventory(inv: Inventory): void {
    const before = this.signature();
    this.node = inv.node;
    if (inv.cpu !== null) this.cpuCap = inv.cpu;
    if (inv.memoryMiB !== null) this.memCap = inv.memoryMiB;
    if (inv.gpus !== null) {
      this.gpusKnown = true;
      const seen = new Set<number>();
      for (const g of inv.gpus) {
        seen.add(g.index);
        const s = this.byIndex.get(g.index) ?? this.newSlot(g.index);
        Object.assign(s, { uuid: g.uuid, name: g.name, memoryMiB: g.memoryMiB, present: true, available: g.available, usages: g.usages });
      }
      for (const s of this.gpuSlots) {
        if (seen.has(s.index)) continue;
        Object.assign(s, { present: false, available: false, usages: [] });
      }
      this.dropEmptyAbsent();
    }
    this.refreshForeign();
    if (this.signature() !== before) {
      this.version++;
      this.capacityEpoch++;
    }
  }

  /** What fit depends on, besides allocations: a new inventory that leaves it alone keeps the version. */
  private signature(): string {
    let sig = `${this.cpuCap}|${this.memCap}|${this.gpusKnown}`;
    for (const s of this.gpuSlots) {
      sig += `|${s.index}:${s.memoryMiB}:${s.present}:${s.available}:${s.foreignMiB}`;
      for (const u of s.foreign) sig += `:${u.pid}/${u.containerId}/${u.allocationId}`;
    }
    return sig;
  }

  /** Time-slicing: slots per GPU, and whether one request may take several slots of one GPU. Holders beyond a
   * smaller count stay until released (the GPU is then full). */
  setReplicas(replicas: number, multiSlot = false): void {
    if (replicas === this.replicaCount && multiSlot === this.multi) return;
    this.replicaCount = Math.max(1, Math.floor(replicas));
    this.multi = multiSlot;
    this.refreshForeign();
    this.version++;
    this.capacityEpoch++;
  }

  get replicas(): number {
    return this.replicaCount;
  }

  get multiSlot(): boolean {
    return this.multi;
  }

  /** Free whole-GPU slots of a GPU (0 when it cannot take a whole holder). */
  freeSlots(s: GpuSlot): number {
    if (!s.present || !s.available || s.shared.size > 0 || s.foreign.length > 0) return 0;
    return Math.max(0, this.replicaCount - wholeCount(s));
  }

  /** Capacity known for every dimension `shape` needs. */
  knows(shape: Shape): boolean {
    return (shape.cpu === 0 || this.cpuCap !== null)
      && (shape.memoryMiB === 0 || this.memCap !== null)
      && (shape.whole === 0 && shape.fracMiB === 0 || this.gpusKnown);
  }

  get capacity(): { cpu: number | null; memoryMiB: number | null; gpus: number | null } {
    return { cpu: this.cpuCap, memoryMiB: this.memCap, gpus: this.gpusKnown ? this.presentCount : null };
  }

  /** Free millicores (0 while unknown). */
  get freeCpu(): number {
    return this.cpuCap === null ? 0 : Math.max(0, this.cpuCap - this.cpuUsed);
  }

  get freeMemoryMiB(): number {
    return this.memCap === null ? 0 : Math.max(0, this.memCap - this.memUsed);
  }

  /** GPUs that can take a whole holder now (with replicas: GPUs with a free slot) */
  get wholeFreeGpus(): number {
    return this.wholeFreeCount;
  }

  /** Some GPU has a user no active allocation on it accounts for (unmanaged, or of an ended/suspended allocation). */
  get hasForeign(): boolean {
    return this.foreignCount > 0;
  }

  /** Holdings, in booking order. */
  holdingsList(): IterableIterator<Holding> {
    return this.holdings.values();
  }

  get holdingCount(): number {
    return this.holdings.size;
  }

  /** Allocated cpu (millicores) and memory (MiB). */
  get used(): { cpu: number; memoryMiB: number } {
    return { cpu: this.cpuUsed, memoryMiB: this.memUsed };
  }

  /** The most MiB one fractional request could get now. */
  get largestShareRoom(): number {
    let best = 0;
    for (const s of this.gpuSlots) best = Math.max(best, this.shareRoom(s));
    return best;
  }

  slots(): readonly GpuSlot[] {
    return this.gpuSlots;
  }

  holding(allocationId: string): Holding | undefined {
    return this.holdings.get(allocationId);
  }

  isWholeFree(s: GpuSlot): boolean {
    return s.present && s.available && wholeCount(s) < this.replicaCount && s.shared.size === 0 && s.foreign.length === 0;
  }

  /** MiB a fractional request could take on this GPU; -1 when it cannot share (held whole, absent, unavailable). */
  shareRoom(s: GpuSlot): number {
    if (!s.present || !s.available || s.wholeBy !== null) return -1;
    return s.memoryMiB - s.sharedMiB - s.foreignMiB;
  }

  fits(shape: Shape): boolean {
    if (this.fitVersion !== this.version) {
      this.fitCache = new WeakMap();
      this.fitVersion = this.version;
    }
    let f = this.fitCache.get(shape);
    if (f === undefined) this.fitCache.set(shape, (f = this.cpuMemFit(shape) && this.gpuFit(shape)));
    return f;
  }

  /** fits() answers at `fitVersion`, per shape object (queue entries keep theirs) */
  private fitCache = new WeakMap<Shape, boolean>();
  private fitVersion = -1;

  /** A placement for `shape`, GPUs chosen by `pick`; null when it does not fit. */
  place(shape: Shape, pick: GpuPicker = firstFit): Placement | null {
    if (!this.cpuMemFit(shape) || !this.gpuFit(shape)) return null;
    const gpuIndices = pick(shape, this);
    return gpuIndices ? { gpuIndices } : null;
  }

  /**
   * Book an allocation. Throws if it does not fit there, unless `force` (restoring what was granted before the
   * inventory is known: the ledger may then be over-committed until it is released).
   */
  allocate(allocationId: string, shape: Shape, gpuIndices: readonly number[], meta: HoldingMeta, force = false): void {
    if (this.holdings.has(allocationId)) throw new Error(`allocation ${allocationId} is already booked`);
    if (!force) {
      if (!this.cpuMemFit(shape)) throw new Error(`allocation ${allocationId}: cpu/memory do not fit`);
      const want = shape.fracMiB > 0 ? 1 : shape.whole;
      const distinct = new Set(gpuIndices).size;
      if (gpuIndices.length !== want || (distinct !== want && !(this.multi && shape.fracMiB === 0))) throw new Error(`allocation ${allocationId}: needs ${want} distinct GPU(s), got [${gpuIndices.join(',')}]`);
      for (const i of new Set(gpuIndices)) {
        const s = this.byIndex.get(i);
        const slots = gpuIndices.filter((x) => x === i).length;
        const ok = s && (shape.fracMiB > 0 ? this.shareRoom(s) >= shape.fracMiB : this.freeSlots(s) >= slots);
        if (!ok) throw new Error(`allocation ${allocationId}: GPU ${i} cannot take it`);
      }
    }
    this.cpuUsed += shape.cpu;
    this.memUsed += shape.memoryMiB;
    for (const i of gpuIndices) {
      const s = this.byIndex.get(i) ?? this.newSlot(i);
      if (shape.fracMiB > 0) {
        (s.shared as Map<string, number>).set(allocationId, shape.fracMiB);
        s.sharedMiB += shape.fracMiB;
      } else {
        const w = s.whole as Map<string, number>;
        w.set(allocationId, (w.get(allocationId) ?? 0) + 1);
        s.wholeBy ??= allocationId;
      }
    }
    this.holdings.set(allocationId, { allocationId, shape, gpuIndices: [...gpuIndices], ...meta, preemptible: meta.preemptible ?? false });
    this.refreshForeign();
    this.version++;
  }

  /** Give back what an allocation holds; false when it holds nothing here. */
  release(allocationId: string): boolean {
    const h = this.holdings.get(allocationId);
    if (!h) return false;
    this.holdings.delete(allocationId);
    this.cpuUsed -= h.shape.cpu;
    this.memUsed -= h.shape.memoryMiB;
    for (const i of h.gpuIndices) {
      const s = this.byIndex.get(i);
      if (!s) continue;
      const mib = s.shared.get(allocationId);
      if (mib !== undefined) {
        (s.shared as Map<string, number>).delete(allocationId);
        s.sharedMiB -= mib;
      }
      if ((s.whole as Map<string, number>).delete(allocationId) && s.wholeBy === allocationId) {
        s.wholeBy = s.whole.keys().next().value ?? null;
      }
    }
    this.dropEmptyAbsent();
    this.refreshForeign();
    this.version++;
    return true;
  }

  free(): FreeView {
    return {
      cpu: this.cpuCap === null ? null : Math.max(0, this.cpuCap - this.cpuUsed),
      memoryMiB: this.memCap === null ? null : Math.max(0, this.memCap - this.memUsed),
      gpus: this.gpuSlots.map((s) => ({
        index: s.index,
        memoryMiB: s.memoryMiB,
        freeMiB: Math.max(0, this.shareRoom(s)),
        wholeFree: this.isWholeFree(s),
        available: s.present && s.available,
        allocations: s.whole.size + s.shared.size,
        foreign: s.foreign.length,
      })),
    };
  }

  /** Why `shape` can never fit this node, even empty; null when it could (or the capacity it needs is not known yet). */
  neverFits(shape: Shape): string | null {
    if (this.cpuCap !== null && shape.cpu > this.cpuCap) return `needs ${shape.cpu} millicores of cpu; the node has ${this.cpuCap}`;
    if (this.memCap !== null && shape.memoryMiB > this.memCap) return `needs ${shape.memoryMiB} MiB of memory; the node has ${this.memCap}`;
    if (!this.gpusKnown) return null;
    if (shape.whole > this.presentCount) return `needs ${shape.whole} whole GPU(s); the node has ${this.presentCount}`;
    if (shape.fracMiB > 0) {
      if (this.presentCount === 0) return `needs ${shape.fracMiB} MiB of a GPU; the node has no GPU`;
      if (shape.fracMiB > this.largestGpuMiB) return `needs ${shape.fracMiB} MiB of one GPU; the largest GPU has ${this.largestGpuMiB} MiB`;
    }
    return null;
  }

  /** The request's largest share of the node, 0–1 (dominant share: cpu, memory or GPUs). */
  dominantShare(shape: Shape): number {
    let share = 0;
    if (this.cpuCap) share = Math.max(share, shape.cpu / this.cpuCap);
    if (this.memCap) share = Math.max(share, shape.memoryMiB / this.memCap);
    if (this.presentCount) share = Math.max(share, (shape.whole + shape.fracMiB / (this.largestGpuMiB || 1)) / this.presentCount);
    return Math.min(1, share);
  }

  /**
   * What is in the way of `shape` (asked at `priority`): the short dimensions, and a minimal set of allocations
   * whose release would make it fit, picked as kube-scheduler picks victims: take every relevant holder of lower
   * priority, then the others lowest priority (then newest) first until the request fits; then reprieve each taken
   * one whose release turns out not to be needed, highest priority first, then the smaller, then the older. Minimal (no holder can be
   * left out), not necessarily the smallest set. Cost O(h log h + h·g) for h relevant holdings and g GPUs.
   */
  inTheWay(shape: Shape, priority: number, eligible?: (h: Holding) => boolean, cacheKey?: string): InTheWay {
    // with an eligibility filter, cached only under a key that names what the filter depends on
    if (eligible && cacheKey === undefined) return this.computeWay(shape, priority, eligible);
    if (this.wayVersion !== this.version) {
      this.wayCache.clear();
      this.wayVersion = this.version;
    }
    const key = cacheKey ?? `${shape.cpu}|${shape.memoryMiB}|${shape.whole}|${shape.fracMiB}|${priority}`;
    let w = this.wayCache.get(key);
    if (!w) {
      if (this.wayCache.size > 4096) this.wayCache.clear();
      this.wayCache.set(key, (w = this.computeWay(shape, priority, eligible)));
    }
    return w;
  }

  private computeWay(shape: Shape, priority: number, eligible?: (h: Holding) => boolean): InTheWay {
    const cpuFree = this.cpuCap === null ? 0 : this.cpuCap - this.cpuUsed;
    const memFree = this.memCap === null ? 0 : this.memCap - this.memUsed;
    const dims: InTheWay['dims'] = [];
    if (shape.cpu > cpuFree) dims.push('cpu');
    if (shape.memoryMiB > memFree) dims.push('memory');
    const gpuShort = !this.gpuFit(shape);
    if (gpuShort) dims.push('gpu');
    if (!dims.length) return { dims, holders: [], foreign: [], sufficient: true, lowerOnly: true };

    const cpuShort = dims.includes('cpu');
    const memShort = dims.includes('memory');
    const gpuOnly = !cpuShort && !memShort;
    let candidates: Holding[];
    if (gpuOnly) {
      candidates = this.gpuVictimOrder ??= victimOrder([...this.holdings.values()].filter((h) => h.gpuIndices.length > 0));
      if (eligible) candidates = candidates.filter(eligible);
    } else {
      this.byVictimOrder ??= victimOrder([...this.holdings.values()]);
      candidates = [];
      for (const h of this.byVictimOrder) {
        if (eligible && !eligible(h)) continue;
        if ((cpuShort && h.shape.cpu > 0) || (memShort && h.shape.memoryMiB > 0) || (gpuShort && h.gpuIndices.length > 0)) candidates.push(h);
      }
    }
    const foreign = gpuShort ? this.gpuSlots.flatMap((s) => s.foreign) : [];

    // simulate releasing candidates one by one
    const sim = new ReleaseSim(this.gpuSlots, this.slotPos, shape, gpuShort, this.replicaCount, this.multi,
      this.cpuCap === null ? null : cpuFree, this.memCap === null ? null : memFree);
    // every lower-priority holder first (kube-scheduler's first step), then the others one by one until it fits
    let n = 0;
    while (n < candidates.length && candidates[n]!.priority < priority) sim.free(candidates[n++]!, 1);
    while (n < candidates.length && !sim.fitsNow()) sim.free(candidates[n++]!, 1);
    if (!sim.fitsNow()) return { dims, holders: candidates, foreign, sufficient: false, lowerOnly: false };
    // reprieve: keep back every chosen holder whose release is not needed, highest priority first, then the
    // smaller holders (so that few allocations are in the way), then the older
    const chosen = new Set(candidates.slice(0, n));
    const reprieve = gpuOnly
      ? (this.gpuReprieveOrder ??= this.reprieveOrder((h) => h.gpuIndices.length > 0))
      : (this.byReprieveOrder ??= this.reprieveOrder());
    for (const h of reprieve) {
      if (!chosen.has(h)) continue;
      sim.free(h, -1);
      if (sim.fitsNow()) chosen.delete(h);
      else sim.free(h, 1);
    }
    const holders = candidates.filter((h) => chosen.has(h));
    return { dims, holders, foreign, sufficient: true, lowerOnly: holders.every((h) => h.priority < priority) };
  }

  /** Highest priority first, then the smaller holders (so that few allocations end up in the way), then the older. */
  private reprieveOrder(include: (h: Holding) => boolean = () => true): Holding[] {
    const weight = (h: Holding) => h.shape.whole + (h.shape.fracMiB > 0 ? 0.5 : 0) + (this.cpuCap ? h.shape.cpu / this.cpuCap : 0) + (this.memCap ? h.shape.memoryMiB / this.memCap : 0);
    return [...this.holdings.values()]
      .filter(include)
      .map((h) => ({ h, w: weight(h) }))
      .sort((a, b) => b.h.priority - a.h.priority || a.w - b.w || a.h.grantedAt - b.h.grantedAt || (a.h.allocationId < b.h.allocationId ? -1 : 1))
      .map((x) => x.h);
  }

  private cpuMemFit(shape: Shape): boolean {
    if (shape.cpu > 0 && (this.cpuCap === null || shape.cpu > this.cpuCap - this.cpuUsed)) return false;
    if (shape.memoryMiB > 0 && (this.memCap === null || shape.memoryMiB > this.memCap - this.memUsed)) return false;
    return true;
  }

  private gpuFit(shape: Shape): boolean {
    if (shape.fracMiB > 0) {
      if (!this.gpusKnown) return false;
      for (const s of this.gpuSlots) if (this.shareRoom(s) >= shape.fracMiB) return true;
      return false;
    }
    if (shape.whole > 0) {
      if (!this.gpusKnown) return false;
      if (!this.multi) return this.wholeFreeCount >= shape.whole;
      let slots = 0;
      for (const s of this.gpuSlots) if ((slots += this.freeSlots(s)) >= shape.whole) return true;
      return false;
    }
    return true;
  }

  private newSlot(index: number): Slot {
    const s: Slot = {
      index, uuid: null, name: `GPU ${index}`, memoryMiB: 0, present: false, available: false,
      wholeBy: null, whole: new Map(), shared: new Map(), sharedMiB: 0, foreign: [], foreignMiB: 0, usages: [],
    };
    this.byIndex.set(index, s);
    this.gpuSlots.push(s);
    this.gpuSlots.sort((a, b) => a.index - b.index);
    this.slotPosOf = null;
    return s;
  }

  /** GPUs no longer reported are kept only while an allocation still holds them. */
  private dropEmptyAbsent(): void {
    if (this.gpuSlots.every((s) => s.present || s.whole.size > 0 || s.shared.size > 0)) return;
    this.gpuSlots = this.gpuSlots.filter((s) => s.present || s.whole.size > 0 || s.shared.size > 0);
    this.byIndex = new Map(this.gpuSlots.map((s) => [s.index, s]));
  }

  /** Recompute what derives from slots and holdings. Foreign: a usage whose allocation is not an active one holding this GPU. */
  private refreshForeign(): void {
    let whole = 0;
    let present = 0;
    let largest = 0;
    let foreign = 0;
    this.byVictimOrder = null;
    this.byReprieveOrder = null;
    this.gpuVictimOrder = null;
    this.gpuReprieveOrder = null;
    if (this.slotPosOf !== this.gpuSlots) {
      this.slotPos = new Map(this.gpuSlots.map((s, i) => [s.index, i]));
      this.slotPosOf = this.gpuSlots;
    }
    for (const s of this.gpuSlots) {
      if (s.present) {
        present++;
        largest = Math.max(largest, s.memoryMiB);
      }
      if (s.usages.length || s.foreign.length) {
        s.foreign = s.usages.filter((u) => u.allocationId === null || (!s.whole.has(u.allocationId) && !s.shared.has(u.allocationId)));
        s.foreignMiB = s.foreign.reduce((sum, u) => sum + (u.usedMemoryMiB ?? 0), 0);
      }
      if (this.isWholeFree(s)) whole++;
      foreign += s.foreign.length;
    }
    this.wholeFreeCount = whole;
    this.foreignCount = foreign;
    this.presentCount = present;
    this.largestGpuMiB = largest;
  }
}

/** What releasing holders would free, for Ledger.inTheWay (a class: no closures made per call). */
class ReleaseSim {
  private readonly freedMiB: Float64Array;
  private readonly freedCount: Int32Array;
  private readonly freedWhole: Int32Array;
  private freedCpu = 0;
  private freedMem = 0;

  constructor(
    private readonly slots: readonly GpuSlot[],
    private readonly pos: ReadonlyMap<number, number>,
    private readonly shape: Shape,
    private readonly gpuShort: boolean,
    private readonly replicas: number,
    private readonly multi: boolean,
    /** free cpu / memory now; null: capacity unknown */
    private readonly cpuFree: number | null,
    private readonly memFree: number | null,
  ) {
    this.freedMiB = new Float64Array(slots.length);
    this.freedCount = new Int32Array(slots.length);
    this.freedWhole = new Int32Array(slots.length);
  }

  fitsNow(): boolean {
    const shape = this.shape;
    if (this.cpuFree === null && shape.cpu > 0) return false;
    if (this.memFree === null && shape.memoryMiB > 0) return false;
    if (shape.cpu > (this.cpuFree ?? 0) + this.freedCpu || shape.memoryMiB > (this.memFree ?? 0) + this.freedMem) return false;
    if (!this.gpuShort) return true;
    let whole = 0;
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i]!;
      if (!s.present || !s.available) continue;
      const holders = wholeCount(s) - this.freedWhole[i]!;
      if (shape.fracMiB > 0) {
        if (holders === 0 && s.memoryMiB - (s.sharedMiB - this.freedMiB[i]!) - s.foreignMiB >= shape.fracMiB) return true;
      } else if (holders < this.replicas && s.foreign.length === 0 && s.shared.size - this.freedCount[i]! === 0) {
        whole += this.multi ? this.replicas - holders : 1;
        if (whole >= shape.whole) return true;
      }
    }
    return false;
  }

  free(h: Holding, sign: 1 | -1): void {
    this.freedCpu += sign * h.shape.cpu;
    this.freedMem += sign * h.shape.memoryMiB;
    for (const gi of h.gpuIndices) {
      const p = this.pos.get(gi);
      if (p === undefined) continue;
      if (h.shape.fracMiB > 0) {
        this.freedMiB[p]! += sign * h.shape.fracMiB;
        this.freedCount[p]! += sign;
      } else {
        this.freedWhole[p]! += sign;
      }
    }
  }
}

/** Whole-GPU slots taken on a GPU. */
function wholeCount(s: GpuSlot): number {
  if (s.whole.size <= 1) return s.whole.size === 0 ? 0 : s.whole.values().next().value!;
  let n = 0;
  for (const c of s.whole.values()) n += c;
  return n;
}

/** kube-scheduler's victim order: lowest priority first, then the newest. */
function victimOrder(holdings: Holding[]): Holding[] {
  return holdings.sort((a, b) => a.priority - b.priority || b.grantedAt - a.grantedAt || (a.allocationId < b.allocationId ? -1 : 1));
}
