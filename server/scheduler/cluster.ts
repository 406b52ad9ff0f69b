/**
 * The cluster: one Ledger per node (pure, no I/O). The running server has its own node (the machine it monitors)
 * and, as a hub, the nodes of its agents; the simulator declares many. Fit, capacity and "what is in the way" are
 * answered over all nodes; a placement names its node. Only reachable nodes place, are in the way or give victims
 * (NodeState); capacity and never-fits count every node. A shape that names a node (a request's `node`) is answered
 * over that node alone: it fits, waits, never fits and preempts there only; one that names GPU models over the nodes
 * with a GPU of them.
 *
 * The home node is the one the engine started with (the machine it runs on). When the engine was given no name for
 * it, its name is a guess: the first inventory, or the first allocation restored before any inventory, renames it —
 * only while it has received no inventory and holds nothing, so an allocation never changes node. A name given is
 * kept (a node of another name is another node).
 */
import { NodesByModels } from './gpu-models.ts';
import type { Inventory } from './inventory.ts';
import { Ledger, shapeKey, type FreeView, type GpuPicker, type Holding, type HoldingMeta, type InTheWay, type NodeState, type Shape } from './ledger.ts';
import { strandedShare } from './stranded.ts';

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
  /** bumped when nodes come or go (by more than the versions of a node that goes: the sums only grow) */
  private structure = 0;
  /** the home ledger while it may still be renamed (no inventory, nothing restored onto it) */
  private fresh: Ledger | null;
  private homeName: string;
  /** since when each unreachable node is so */
  private readonly downSince = new Map<string, number>();
  private replicas = 1;
  private multiSlot = false;
  private readonly byModels = new NodesByModels();

  /** `named`: the home node's name is known, not a guess (nothing renames it) */
  constructor(defaultNode = 'local', private readonly named = false) {
    const l = new Ledger();
    l.node = defaultNode;
    this.homeName = defaultNode;
    this.add(l);
    this.fresh = l;
  }

  /** The home node's name: its unmanaged-GPU conflicts keep the unqualified key (see node-conflicts.ts). */
  get home(): string {
    return this.homeName;
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

  get size(): number {
    return this.list.length;
  }

  /** A node's new inventory; returns the node's state before it (a pending node becomes reachable: it reported). */
  setInventory(inv: Inventory): NodeState {
    let l = this.byNode.get(inv.node);
    if (!l && this.fresh && !this.named && this.list.length === 1 && this.fresh.holdingCount === 0) l = this.rename(this.fresh, inv.node);
    if (!l) {
      l = new Ledger();
      l.node = inv.node;
      this.add(l);
    }
    this.fresh = null;
    const was = l.state;
    l.setInventory(inv);
    if (was === 'pending') l.setState('reachable');
    return was;
  }

  /** Reachability as the caller declares it (`at`: when; a node already unreachable keeps its first time). */
  setReachable(l: Ledger, reachable: boolean, at: number): void {
    l.setState(reachable ? 'reachable' : 'unreachable');
    if (reachable) this.downSince.delete(l.node);
    else if (!this.downSince.has(l.node)) this.downSince.set(l.node, at);
  }

  /** Since when a node is unreachable; null when it is not. */
  unreachableSince(node: string): number | null {
    return this.downSince.get(node) ?? null;
  }

  /**
   * Forget a node; refused (throws) while it holds allocations, and for the last node (a cluster keeps one).
   */
  remove(node: string): void {
    const l = this.byNode.get(node);
    if (!l) return;
    if (l.holdingCount > 0) throw new Error(`node ${node} holds ${l.holdingCount} allocation(s)`);
    if (this.list.length === 1) throw new Error(`node ${node} is the only node`);
    this.byNode.delete(node);
    this.list = this.list.filter((x) => x !== l);
    this.withhold(this.withheldNodes);
    if (this.fresh === l) this.fresh = null;
    this.downSince.delete(node);
    this.structure += l.version + l.capacityEpoch + 1;
  }

  /** Time-slicing replicas on every node (present and future). */
  setReplicas(replicas: number, multiSlot = false): void {
    this.replicas = replicas;
    this.multiSlot = multiSlot;
    for (const l of this.list) l.setReplicas(replicas, multiSlot);
  }

  /**
   * The nodes `shape` may go to: the one it names (none when that node is not known), else every node — with GPU
   * models, every node that has a GPU of one of them (gpu-models.ts).
   */
  nodesFor(shape: Shape): readonly Ledger[] {
    if (shape.node === undefined) return shape.models ? this.byModels.of(this.list, shape.models, this.capacityEpoch) : this.list;
    const l = this.byNode.get(shape.node);
    return l ? [l] : [];
  }

  /** Nodes set aside for waiting requests (reservation.ts): no placement goes there. */
  private withheldNodes: ReadonlySet<string> = new Set();
  private open: readonly Ledger[] | null = null;

  withhold(nodes: ReadonlySet<string>): void {
    this.withheldNodes = nodes;
    this.open = nodes.size ? this.list.filter((l) => !nodes.has(l.node)) : null;
  }

  /** The nodes a placement of `shape` may use now: nodesFor less the withheld ones. */
  placeableFor(shape: Shape): readonly Ledger[] {
    const nodes = this.nodesFor(shape);
    if (this.open === null) return nodes;
    return nodes === this.list ? this.open : nodes.filter((l) => !this.withheldNodes.has(l.node));
  }

  knows(shape: Shape): boolean {
    for (const l of this.nodesFor(shape)) if (l.knows(shape)) return true;
    return false;
  }

  fits(shape: Shape): boolean {
    if (shape.node !== undefined) return !this.withheldNodes.has(shape.node) && (this.byNode.get(shape.node)?.fits(shape) ?? false);
    // the most any one node has free: most shapes of a full cluster are turned away here, without asking each node
    const v = this.version;
    if (v !== this.bestVersion) {
      this.bestVersion = v;
      let cpu = 0;
      let mem = 0;
      let whole = 0;
      let share = 0;
      for (const l of this.list) {
        if (!l.placeable) continue;
        cpu = Math.max(cpu, l.freeCpu);
        mem = Math.max(mem, l.freeMemoryMiB);
        whole = Math.max(whole, l.multiSlot ? Infinity : l.wholeFreeGpus);
        share = Math.max(share, l.largestShareRoom);
      }
      this.best = { cpu, mem, whole, share };
    }
    const b = this.best;
    if (shape.cpu > b.cpu || shape.memoryMiB > b.mem || shape.whole > b.whole || shape.fracMiB > b.share) return false;
    for (const l of this.placeableFor(shape)) if (l.fits(shape)) return true;
    return false;
  }

  private bestVersion = -1;
  private best = { cpu: 0, mem: 0, whole: 0, share: 0 };

  /** The first placement in node order whose GPUs `pick` chooses. */
  place(shape: Shape, pick?: GpuPicker): Placement | null {
    for (const l of this.placeableFor(shape)) {
      const p = l.place(shape, pick);
      if (p) return { node: l.node, gpuIndices: p.gpuIndices };
    }
    return null;
  }

  /**
   * Why `shape` fits no node even empty (the reason of the node it misses least by), or null. A shape that names a
   * node: why it never fits that one, or that the node is not known.
   */
  neverFits(shape: Shape): string | null {
    if (shape.node !== undefined) {
      const l = this.byNode.get(shape.node);
      if (!l) return `node ${shape.node} is not known`;
      const r = l.neverFits(shape);
      return r && `on node ${shape.node}: ${r}`;
    }
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
    for (const l of this.nodesFor(shape)) best = Math.min(best, l.dominantShare(shape));
    return best;
  }

  /** The free view of `node` (undefined: no such node), by default of the home node (else the first one). */
  free(node?: string): FreeView | undefined {
    if (node !== undefined) return this.byNode.get(node)?.free();
    return (this.byNode.get(this.homeName) ?? this.list[0]!).free();
  }

  *holdings(): Generator<Holding> {
    for (const l of this.list) yield* l.holdingsList();
  }

  allocate(node: string, allocationId: string, shape: Shape, gpuIndices: readonly number[], meta: HoldingMeta, force = false): void {
    let l = this.byNode.get(node);
    if (!l) {
      if (!force) throw new Error(`allocation ${allocationId}: no node ${node}`);
      if (this.fresh && !this.named && this.list.length === 1 && this.fresh.holdingCount === 0) {
        // restoring before any inventory: the engine's guess of its node's name was wrong
        l = this.rename(this.fresh, node);
      } else {
        l = new Ledger();
        l.node = node;
        this.add(l);
      }
    }
    if (force) {
      // restored (or re-booked by time-slicing): the home ledger keeps its name from now on, and a node that has not
      // reported since the restart is pending until it does
      this.fresh = null;
      if (!l.reported) l.setState('pending');
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
   * them would suffice), see Ledger.inTheWay. On one node, that node's answer; for a shape that names a node, that
   * node's answer (or that node, as unreachable, while it cannot be reached or is not known).
   */
  inTheWay(shape: Shape, priority: number): InTheWay {
    if (shape.node !== undefined) {
      const l = this.byNode.get(shape.node);
      if (l?.placeable) return l.inTheWay(shape, priority);
      return { dims: shortDims(shape), holders: [], foreign: [], sufficient: false, lowerOnly: false, unreachable: [shape.node] };
    }
    if (this.list.length === 1 && this.list[0]!.placeable) return this.list[0]!.inTheWay(shape, priority);
    const key = `${shapeKey(shape)}|${priority}`;
    let best: InTheWay | null = null;
    for (const l of this.list) {
      if (!l.placeable || !l.knows(shape) || l.neverFits(shape)) continue;
      const w = l.inTheWay(shape, priority, undefined, key);
      if (!best || rankWay(w) < rankWay(best)) best = w;
    }
    if (best) return best;
    // no reachable node could take it even empty: the nodes that could, if they were reachable, are what it waits for
    const down = this.list.filter((l) => !l.placeable && l.knows(shape) && !l.neverFits(shape)).map((l) => l.node);
    const open = this.list.find((l) => l.placeable);
    if (open && !down.length) return open.inTheWay(shape, priority);
    return { dims: shortDims(shape), holders: [], foreign: [], sufficient: false, lowerOnly: false, unreachable: down.length ? down : this.list.filter((l) => !l.placeable).map((l) => l.node) };
  }

  /**
   * Victims for `shape` at `priority`, as kube-scheduler preempts: on each node take every eligible holder (strictly
   * lower priority and preemptible, plus what `eligible` allows), check the fit, reprieve from the highest priority
   * down while it still fits; among nodes, the lowest highest-victim priority, then the fewest victims, then the
   * latest-started victims. Null when no node can make room. `cacheKey`: what `eligible` depends on besides the
   * shape (the per-node answers are then cached while the node's ledger is unchanged). A shape that names a node
   * takes its victims there only.
   */
  preemptionPlan(shape: Shape, priority: number, eligible: (h: Holding) => boolean, cacheKey?: string): PreemptionPlan | null {
    let best: { plan: PreemptionPlan; top: number; latest: number } | null = null;
    for (const l of this.nodesFor(shape)) {
      if (!l.placeable || !l.knows(shape) || l.neverFits(shape)) continue;
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
   * scattered in slivers no whole-GPU request can use. Nodes that are not reachable are left out (nothing goes there).
   */
  fragmentation(): number | null {
    return strandedShare(this.list);
  }

  /** The home ledger takes the name its first inventory or restored allocation gives it (see the file's comment). */
  private rename(l: Ledger, node: string): Ledger {
    if (this.homeName === l.node) this.homeName = node;
    this.byNode.delete(l.node);
    l.node = node;
    this.byNode.set(node, l);
    this.structure++;
    return l;
  }

  private add(l: Ledger): void {
    l.setReplicas(this.replicas, this.multiSlot);
    this.byNode.set(l.node, l);
    this.list = [...this.list, l];
    this.withhold(this.withheldNodes);
    this.structure++;
  }
}

/** Every dimension `shape` asks for. */
function shortDims(shape: Shape): InTheWay['dims'] {
  const dims: InTheWay['dims'] = [];
  if (shape.cpu > 0) dims.push('cpu');
  if (shape.memoryMiB > 0) dims.push('memory');
  if (shape.whole > 0 || shape.fracMiB > 0) dims.push('gpu');
  return dims;
}

/** Smaller is a better node to report: sufficient first, then fewer holders in the way. */
function rankWay(w: InTheWay): number {
  return (w.sufficient ? 0 : 1e9) + (w.lowerOnly ? 0 : 1e6) + w.holders.length;
}
