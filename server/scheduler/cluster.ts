/**
 * The cluster: one Ledger per node (pure, no I/O). The running server has one node (the machine it monitors);
 * the simulator declares many. Fit, capacity and "what is in the way" are answered over all nodes; a placement
 * names its node.
 *
 * The first inventory may rename the node the engine started with (its name was a guess until the monitor
 * reported), as long as that node has received no inventory yet.
 */
import type { Inventory } from './inventory.ts';
import { Ledger, type FreeView, type GpuPicker, type Holding, type HoldingMeta, type InTheWay, type Shape } from './ledger.ts';

export interface Placement {
  node: string;
  gpuIndices: number[];
}

export interface CapacityView {
  cpu: number | null;
  memoryMiB: number | null;
  gpus: number | null;
}

/** What to preempt for a request: the victims on one node (kube-scheduler's choice among nodes). */
export interface PreemptionPlan {
  node: string;
  victims: Holding[];
}

export class Cluster {
  private readonly byNode = new Map<string, Ledger>();
  private list: Ledger[] = [];
  private readonly nodeOf = new Map<string, Ledger>();
  private structure = 0;
  private fresh: Ledger | null;
  private replicas = 1;
  private multiSlot = false;

  constructor(defaultNode = 'local') {
    const l = new Ledger();
    l.node = defaultNode;
    this.add(l);
    this.fresh = l;
  }

  /** bumped on every change of capacity or allocations on any node */
  get version(): number {
    let v = this.structure;
    for (const l of this.list) v += l.version;
    return v;
  }

  /** bumped when any node's capacity (not its allocations) changes, or a node comes */
  get capacityEpoch(): number {
    let v = this.structure;
    for (const l of this.list) v += l.capacityEpoch;
    return v;
  }

  ledgers(): readonly Ledger[] {
    return this.list;
  }

  ledger(node: string): Ledger | undefined {
    return this.byNode.get(node);
  }

  /** The only node's ledger (the running server). */
  get first(): Ledger {
    return this.list[0]!;
  }

  get size(): number {
    return this.list.length;
  }

  setInventory(inv: Inventory): void {
    let l = this.byNode.get(inv.node);
    if (!l && this.fresh && this.list.length === 1) {
      l = this.fresh;
      this.byNode.delete(l.node);
      this.byNode.set(inv.node, l);
      for (const h of l.holdingsList()) this.nodeOf.set(h.allocationId, l);
      this.structure++;
    }
    if (!l) {
      l = new Ledger();
      l.node = inv.node;
      this.add(l);
    }
    this.fresh = null;
    l.setInventory(inv);
  }

  /** Time-slicing replicas on every node (present and future). */
  setReplicas(replicas: number, multiSlot = false): void {
    this.replicas = replicas;
    this.multiSlot = multiSlot;
    for (const l of this.list) l.setReplicas(replicas, multiSlot);
  }

  knows(shape: Shape): boolean {
    for (const l of this.list) if (l.knows(shape)) return true;
    return false;
  }

  fits(shape: Shape): boolean {
    // the most any one node has free: most shapes of a full cluster are turned away here, without asking each node
    const v = this.version;
    if (v !== this.bestVersion) {
      this.bestVersion = v;
      let cpu = 0;
      let mem = 0;
      let whole = 0;
      let share = 0;
      for (const l of this.list) {
        cpu = Math.max(cpu, l.freeCpu);
        mem = Math.max(mem, l.freeMemoryMiB);
        whole = Math.max(whole, l.multiSlot ? Infinity : l.wholeFreeGpus);
        share = Math.max(share, l.largestShareRoom);
      }
      this.best = { cpu, mem, whole, share };
    }
    const b = this.best;
    if (shape.cpu > b.cpu || shape.memoryMiB > b.mem || shape.whole > b.whole || shape.fracMiB > b.share) return false;
    for (const l of this.list) if (l.fits(shape)) return true;
    return false;
  }

  private bestVersion = -1;
  private best = { cpu: 0, mem: 0, whole: 0, share: 0 };

  /** The first placement in node order whose GPUs `pick` chooses. */
  place(shape: Shape, pick?: GpuPicker): Placement | null {
    for (const l of this.list) {
      const p = l.place(shape, pick);
      if (p) return { node: l.node, gpuIndices: p.gpuIndices };
    }
    return null;
  }

  /** Why `shape` fits no node even empty (the reason of the node it misses least by), or null. */
  neverFits(shape: Shape): string | null {
    let reason: string | null = null;
    for (const l of this.list) {
      const r = l.neverFits(shape);
      if (r === null) return null;
      reason ??= r;
    }
    return this.list.length > 1 && reason ? `${reason} (on every one of ${this.list.length} nodes)` : reason;
  }

  get capacity(): CapacityView {
    let cpu: number | null = null;
    let memoryMiB: number | null = null;
    let gpus: number | null = null;
    for (const l of this.list) {
      const c = l.capacity;
      if (c.cpu !== null) cpu = (cpu ?? 0) + c.cpu;
      if (c.memoryMiB !== null) memoryMiB = (memoryMiB ?? 0) + c.memoryMiB;
      if (c.gpus !== null) gpus = (gpus ?? 0) + c.gpus;
    }
    return { cpu, memoryMiB, gpus };
  }

  /** The request's largest share of one node, 0–1 (of the largest node that could hold it). */
  dominantShare(shape: Shape): number {
    let best = 1;
    for (const l of this.list) best = Math.min(best, l.dominantShare(shape));
    return best;
  }

  /** The free view of the only node (the running server), or of the first one. */
  free(): FreeView {
    return this.first.free();
  }

  *holdings(): Generator<Holding> {
    for (const l of this.list) yield* l.holdingsList();
  }

  allocate(node: string, allocationId: string, shape: Shape, gpuIndices: readonly number[], meta: HoldingMeta, force = false): void {
    let l = this.byNode.get(node);
    if (!l) {
      if (!force) throw new Error(`allocation ${allocationId}: no node ${node}`);
      if (this.fresh && this.list.length === 1 && this.fresh.holdingCount === 0) {
        // restoring before any inventory: the engine's guess of the node name was wrong
        l = this.fresh;
        this.byNode.delete(l.node);
        l.node = node;
        this.byNode.set(node, l);
      } else {
        l = new Ledger();
        l.node = node;
        this.add(l);
      }
    }
    l.allocate(allocationId, shape, gpuIndices, meta, force);
    this.nodeOf.set(allocationId, l);
  }

  release(allocationId: string): boolean {
    const l = this.nodeOf.get(allocationId);
    if (!l) return false;
    this.nodeOf.delete(allocationId);
    return l.release(allocationId);
  }

  /**
   * What is in the way of `shape`: the node where the fewest allocations stand in the way (and where releasing
   * them would suffice), see Ledger.inTheWay. On one node, that node's answer.
   */
  inTheWay(shape: Shape, priority: number): InTheWay {
    if (this.list.length === 1) return this.first.inTheWay(shape, priority);
    const key = `${shape.cpu}|${shape.memoryMiB}|${shape.whole}|${shape.fracMiB}|${priority}`;
    let best: InTheWay | null = null;
    for (const l of this.list) {
      if (!l.knows(shape) || l.neverFits(shape)) continue;
      const w = l.inTheWay(shape, priority, undefined, key);
      if (!best || rankWay(w) < rankWay(best)) best = w;
    }
    return best ?? this.first.inTheWay(shape, priority);
  }

  /**
   * Victims for `shape` at `priority`, as kube-scheduler preempts: on each node take every eligible holder (strictly
   * lower priority and preemptible, plus what `eligible` allows), check the fit, reprieve from the highest priority
   * down while it still fits; among nodes, the lowest highest-victim priority, then the fewest victims, then the
   * latest-started victims. Null when no node can make room. `cacheKey`: what `eligible` depends on besides the
   * shape (the per-node answers are then cached while the node's ledger is unchanged).
   */
  preemptionPlan(shape: Shape, priority: number, eligible: (h: Holding) => boolean, cacheKey?: string): PreemptionPlan | null {
    let best: { plan: PreemptionPlan; top: number; latest: number } | null = null;
    for (const l of this.list) {
      if (!l.knows(shape) || l.neverFits(shape)) continue;
      if (l.fits(shape)) return { node: l.node, victims: [] };
      const w = l.inTheWay(shape, priority, eligible, cacheKey);
      if (!w.sufficient || !w.holders.length) continue;
      const victims = w.holders;
      let top = -Infinity;
      let latest = -Infinity;
      for (const v of victims) {
        top = Math.max(top, v.priority);
        latest = Math.max(latest, v.grantedAt);
      }
      if (!best || top < best.top || (top === best.top && (victims.length < best.plan.victims.length
        || (victims.length === best.plan.victims.length && latest > best.latest)))) {
        best = { plan: { node: l.node, victims }, top, latest };
      }
    }
    return best?.plan ?? null;
  }

  /**
   * GPU fragmentation: the share of the free GPU capacity that is stranded on partly used GPUs (a GPU shared by
   * fractional allocations with room left counts its free MiB ÷ its MiB; a GPU free as a whole counts 1 and is not
   * stranded), over all nodes; null when nothing is free. 0: every free GPU is whole; near 1: what is free is
   * scattered in slivers no whole-GPU request can use.
   */
  fragmentation(): number | null {
    let free = 0;
    let stranded = 0;
    for (const l of this.list) {
      for (const g of l.slots()) {
        if (!g.present || !g.available) continue;
        if (l.isWholeFree(g)) {
          free += 1;
          continue;
        }
        const room = l.shareRoom(g);
        if (room > 0 && g.memoryMiB > 0) {
          free += room / g.memoryMiB;
          stranded += room / g.memoryMiB;
        }
      }
    }
    return free > 0 ? stranded / free : null;
  }

  private add(l: Ledger): void {
    l.setReplicas(this.replicas, this.multiSlot);
    this.byNode.set(l.node, l);
    this.list = [...this.list, l];
    this.structure++;
  }
}

/** Smaller is a better node to report: sufficient first, then fewer holders in the way. */
function rankWay(w: InTheWay): number {
  return (w.sufficient ? 0 : 1e9) + (w.lowerOnly ? 0 : 1e6) + w.holders.length;
}
