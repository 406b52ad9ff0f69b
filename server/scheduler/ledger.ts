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
 * - A shape with GPU models (a request's gpuModels) fits, is placed and never fits over the GPUs of those models
 *   only (gpu-models.ts); only their holders are in the way (in-the-way.ts).
 * Which GPUs a request gets is the strategy's choice (`place(shape, pick)`); `firstFit` is the default.
 * A ledger whose node is not `reachable` (see NodeState) places nothing: `fits` is false and `place` null.
 */
import { gpusFit, gpuViewFor, modelsNeverFit } from './gpu-models.ts';
import { reprieveOrder, victimOrder, WayAnswers, type WayView } from './in-the-way.ts';
import type { Inventory } from './inventory.ts';
import { firstFit, wholeCount, type FreeView, type GpuPicker, type GpuSlot, type Holding, type HoldingMeta, type InTheWay, type NodeState, type Placement, type Shape } from './ledger-types.ts';
import { freeView } from './node-views.ts';

export { matchesGpuModel } from './gpu-models.ts';
export { askKey, firstFit, requestShape, shapeKey, shapeOf, type FreeView, type GpuPicker, type GpuSlot, type Holding, type HoldingMeta, type InTheWay, type NodeState, type Placement, type Shape } from './ledger-types.ts';

const holdsGpus = (h: Holding) => h.gpuIndices.length > 0;

type Slot = { -readonly [K in keyof GpuSlot]: GpuSlot[K] };

export class Ledger {
  node = 'local';
  /** whether anything may be placed here (NodeState); changed by the cluster, bumps `version` */
  private nodeState: NodeState = 'reachable';
  /** an inventory was received (capacity, as far as it reported, is this node's own) */
  reported = false;
  /** whole-GPU slots per GPU (time-slicing replicas) */
  private replicaCount = 1;
  /** a whole request may take several slots of one GPU */
  private multi = false;
  /** bumped on every change of capacity or allocations: callers cache on it */
  version = 0;
  /** bumped when capacity (not allocations) changes */
  capacityEpoch = 0;
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
  /** GPUs the latest inventory does not report that an allocation still holds */
  private absentHeldCount = 0;
  /** holdings lowest priority, then newest first; and the order to reprieve them in; rebuilt lazily after a change */
  private byVictimOrder: Holding[] | null = null;
  private byReprieveOrder: Holding[] | null = null;
  /** the same orders over the holdings with GPUs only: when only GPUs are short, the (many) cpu/memory-only
   * holdings cannot help, and re-sorting all of them after every grant made queued submits O(h log h) */
  private gpuVictimOrder: Holding[] | null = null;
  private gpuReprieveOrder: Holding[] | null = null;

  /** What findWay reads of this ledger (created once; the holder orders are cached until the next change). */
  private readonly way: WayView = {
    node: () => this.node,
    cpuFree: () => (this.cpuCap === null ? null : this.cpuCap - this.cpuUsed),
    memFree: () => (this.memCap === null ? null : this.memCap - this.memUsed),
    gpuFits: (shape) => this.gpuFit(shape),
    slots: () => this.gpuSlots,
    slotPos: () => this.slotPos,
    replicas: () => this.replicaCount,
    multiSlot: () => this.multi,
    victims: (gpuOnly) => (gpuOnly
      ? (this.gpuVictimOrder ??= victimOrder([...this.holdings.values()].filter(holdsGpus)))
      : (this.byVictimOrder ??= victimOrder([...this.holdings.values()]))),
    reprieves: (gpuOnly) => (gpuOnly
      ? (this.gpuReprieveOrder ??= reprieveOrder(this.holdings.values(), this.cpuCap, this.memCap, holdsGpus))
      : (this.byReprieveOrder ??= reprieveOrder(this.holdings.values(), this.cpuCap, this.memCap))),
  };
  /** its answers, cached while the ledger stays the same */
  private readonly ways = new WayAnswers(this.way);

  /** New capacity; a null figure keeps the last known one. */
  setInventory(inv: Inventory): void {
    const before = this.signature();
    this.node = inv.node;
    this.reported = true;
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
      sig += `|${s.index}:${s.name}:${s.memoryMiB}:${s.present}:${s.available}:${s.foreignMiB}`;
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

  get state(): NodeState {
    return this.nodeState;
  }

  /** Nothing is placed on a node that is not reachable: fit answers change, hence the version. */
  setState(state: NodeState): void {
    if (state === this.nodeState) return;
    this.nodeState = state;
    this.version++;
  }

  /** Requests may be placed here, and its holders may be in the way or preempted. */
  get placeable(): boolean {
    return this.nodeState === 'reachable';
  }

  /** GPUs held by an allocation that the latest inventory no longer reports. */
  get absentHeld(): number {
    return this.gpusKnown ? this.absentHeldCount : 0;
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
    if (this.shareRoomAt.version === this.version) return this.shareRoomAt.room;
    let best = 0;
    for (const s of this.gpuSlots) best = Math.max(best, this.shareRoom(s));
    this.shareRoomAt = { version: this.version, room: best };
    return best;
  }

  /** largestShareRoom at a version (the cluster asks every node after every change) */
  private shareRoomAt = { version: -1, room: 0 };

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

  /** `cached`: keep the answer for this shape object until the ledger changes (queue entries keep their shape; a
   * shape made for one placement is asked once per node, and caching it would only cost). */
  fits(shape: Shape, cached = true): boolean {
    if (this.nodeState !== 'reachable') return false;
    if (!cached) return this.cpuMemFit(shape) && this.gpuFit(shape);
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
    if (this.nodeState !== 'reachable' || !this.cpuMemFit(shape) || !this.gpuFit(shape)) return null;
    const gpuIndices = pick(shape, gpuViewFor(this, shape));
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
    return freeView(this);
  }

  /** Why `shape` can never fit this node, even empty; null when it could (or the capacity it needs is not known yet). */
  neverFits(shape: Shape): string | null {
    if (this.cpuCap !== null && shape.cpu > this.cpuCap) return `needs ${shape.cpu} millicores of cpu; the node has ${this.cpuCap}`;
    if (this.memCap !== null && shape.memoryMiB > this.memCap) return `needs ${shape.memoryMiB} MiB of memory; the node has ${this.memCap}`;
    if (!this.gpusKnown) return null;
    if (shape.models && (shape.whole > 0 || shape.fracMiB > 0)) return modelsNeverFit(this, shape, shape.models);
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
   * whose release would make it fit (findWay, in-the-way.ts), cached per shape and priority while nothing changes.
   */
  inTheWay(shape: Shape, priority: number, eligible?: (h: Holding) => boolean, cacheKey?: string): InTheWay {
    return this.ways.answer(this.version, shape, priority, eligible, cacheKey);
  }

  private cpuMemFit(shape: Shape): boolean {
    if (shape.cpu > 0 && (this.cpuCap === null || shape.cpu > this.cpuCap - this.cpuUsed)) return false;
    if (shape.memoryMiB > 0 && (this.memCap === null || shape.memoryMiB > this.memCap - this.memUsed)) return false;
    return true;
  }

  /** Of any model: from the figures kept (one slot per GPU); else over the GPUs it may use (gpu-models.ts). */
  private gpuFit(shape: Shape): boolean {
    if (shape.whole === 0 && shape.fracMiB === 0) return true;
    if (!this.gpusKnown) return false;
    if (shape.models || (this.multi && shape.fracMiB === 0)) return gpusFit(this, shape);
    return shape.fracMiB > 0 ? this.largestShareRoom >= shape.fracMiB : this.wholeFreeCount >= shape.whole;
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
    let absentHeld = 0;
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
      } else if (s.whole.size > 0 || s.shared.size > 0) absentHeld++;
      if (s.usages.length || s.foreign.length) {
        s.foreign = s.usages.filter((u) => u.allocationId === null || (!s.whole.has(u.allocationId) && !s.shared.has(u.allocationId)));
        s.foreignMiB = s.foreign.reduce((sum, u) => sum + (u.usedMemoryMiB ?? 0), 0);
      }
      if (this.isWholeFree(s)) whole++;
      foreign += s.foreign.length;
    }
    this.absentHeldCount = absentHeld;
    this.wholeFreeCount = whole;
    this.foreignCount = foreign;
    this.presentCount = present;
    this.largestGpuMiB = largest;
  }
}
