/**
 * GPU fragmentation as FGD measures it (Weng et al., "Beware of Fragmentation", USENIX ATC '23): the GPU capacity
 * of a node that the next task, drawn from the workload's distribution of requests, could not use — its expectation
 * over that distribution. Pure: it reads ledgers, books nothing.
 *
 * For one task type on one node (GPU capacity counted as fractions of a GPU: a GPU free as a whole counts 1, a
 * shared GPU its free MiB ÷ its MiB, a GPU held whole 0):
 * - the task cannot run there at all (its cpu or memory do not fit what is free, or no GPU it may use — of its GPU
 *   models, when it names some (gpu-models.ts) — has what it asks): every free GPU fraction is fragment;
 * - it asks no GPU: likewise every free fraction (from its view no GPU is usable);
 * - it fits and asks a share of one GPU: the free fractions of the GPUs it may not use or with less room than its
 *   share are fragment;
 * - it fits and asks k whole GPUs: the free fractions of the GPUs it may not use or not free as a whole are fragment.
 * The node's fragmentation is Σ over types of popularity × that amount; the cluster's is the sum over nodes, and its
 * rate that sum ÷ the free GPU capacity. FGD (fgd.ts) places a task where this grows least.
 * The published simulator checks cpu only; here memory makes a node unusable too (Arbiter books both).
 */
import type { FGD_WEIGHTINGS } from '../../../shared/names.ts';
import { matchesGpuModel } from '../gpu-models.ts';
import { askKey, type GpuSlot, type Ledger, type Shape } from '../ledger.ts';

/** A kind of task in the workload: what it asks and how often it comes (weights need not sum to 1). */
export interface TaskType {
  cpu: number;
  memoryMiB: number;
  /** whole GPUs */
  whole: number;
  /** MiB of one shared GPU; 0: not fractional */
  fracMiB: number;
  /** GPU models it may run on; absent: any */
  models?: readonly string[];
  weight: number;
}

/** What the measure reads of a node: free cpu and memory, each GPU's room, size and model. */
export interface NodeFree {
  cpu: number;
  memoryMiB: number;
  /** per GPU: MiB a share could take (0 when held whole or unusable) */
  room: number[];
  /** per GPU: its MiB */
  size: number[];
  /** per GPU: free as a whole */
  whole: boolean[];
  /** per GPU: its index on the node */
  index: number[];
  /** per GPU: its model (the name it is declared or reported with) */
  model: string[];
}

/** Whether a task of GPU models `models` (absent: any) may use the GPU at position `i` of `n`. */
export const mayUse = (n: NodeFree, i: number, models: readonly string[] | undefined): boolean => !models || matchesGpuModel(models, n.model[i]!);

const usable = (g: GpuSlot) => g.present && g.available;

/** A ledger as the measure reads it. */
export function nodeFree(l: Ledger): NodeFree {
  const room: number[] = [];
  const size: number[] = [];
  const whole: boolean[] = [];
  const index: number[] = [];
  const model: string[] = [];
  for (const g of l.slots()) {
    if (!usable(g)) continue;
    room.push(Math.max(0, l.shareRoom(g)));
    size.push(g.memoryMiB);
    whole.push(l.isWholeFree(g));
    index.push(g.index);
    model.push(g.name);
  }
  return { cpu: l.freeCpu, memoryMiB: l.freeMemoryMiB, room, size, whole, index, model };
}

/** The node after `shape` is placed on `gpus` (positions in NodeFree's lists, not GPU indices). */
export function after(n: NodeFree, shape: Shape, gpus: readonly number[]): NodeFree {
  const room = [...n.room];
  const whole = [...n.whole];
  for (const i of gpus) {
    room[i] = shape.fracMiB > 0 ? room[i]! - shape.fracMiB : 0;
    whole[i] = false;
  }
  return { ...n, cpu: n.cpu - shape.cpu, memoryMiB: n.memoryMiB - shape.memoryMiB, room, whole };
}

/** Free GPU capacity of a node, in GPUs. */
export function freeGpus(n: NodeFree): number {
  let sum = 0;
  for (let i = 0; i < n.room.length; i++) if (n.size[i]! > 0) sum += n.room[i]! / n.size[i]!;
  return sum;
}

/** The free GPU capacity task type `t` could not use on node `n`, in GPUs. */
export function typeFragment(n: NodeFree, t: TaskType, total = freeGpus(n)): number {
  if (t.cpu > n.cpu || t.memoryMiB > n.memoryMiB) return total;
  if (t.fracMiB > 0) {
    let fits = false;
    let stranded = 0;
    for (let i = 0; i < n.room.length; i++) {
      if (n.room[i]! >= t.fracMiB && mayUse(n, i, t.models)) fits = true;
      else if (n.size[i]! > 0) stranded += n.room[i]! / n.size[i]!;
    }
    return fits ? stranded : total;
  }
  if (t.whole > 0) {
    let free = 0;
    for (let i = 0; i < n.whole.length; i++) if (n.whole[i] && mayUse(n, i, t.models)) free++;
    return free >= t.whole ? total - free : total;
  }
  return total;
}

/**
 * How the measure weighs the workload's task types: `count`, by how often each comes (the paper); `demand`, by the
 * GPUs it brings (count × GPUs asked, a share as its fraction of `gpuMiB`; a type asking none weighs 0) — the expected
 * unusable capacity for the next unit of GPU demand rather than for the next task, which keeps more room whole for
 * the rare many-GPU tasks that carry a large part of the demand (bench/RESULTS.md, issue 17's section).
 */
export type FgdWeighting = (typeof FGD_WEIGHTINGS)[number];

export function weighTypes(types: readonly TaskType[], by: FgdWeighting, gpuMiB: number): readonly TaskType[] {
  if (by === 'count') return types;
  return types.map((t) => ({ ...t, weight: t.weight * (t.whole + t.fracMiB / gpuMiB) }));
}

/** The node's fragmentation: Σ weight × typeFragment ÷ Σ weight, in GPUs. */
export function nodeFragmentation(n: NodeFree, types: readonly TaskType[]): number {
  const total = freeGpus(n);
  if (total <= 0) return 0;
  let sum = 0;
  let weights = 0;
  for (const t of types) {
    sum += t.weight * typeFragment(n, t, total);
    weights += t.weight;
  }
  return weights > 0 ? sum / weights : 0;
}

/** What the memo keeps of a node until it changes: its state, fragmentation, free GPUs and the moves measured on it. */
export interface NodeEntry {
  version: number;
  free: NodeFree;
  frag: number;
  freeGpus: number;
  /** by shape key: the growth of fragmentation of each way to place it (fgd.ts) */
  moves: Map<string, [number, number[]][]>;
}

/**
 * Fragmentation of node states, remembered by state (cpu, memory and the GPUs' rooms, in any order; with their
 * models when a type names models): nodes of one kind pass through the same states, and FGD asks about every node
 * for every task. Tied to one list of types.
 */
export class FragmentationMemo {
  private readonly known = new Map<string, number>();
  /** a Map, not a WeakMap: it is read for every node at every placement (a node removed stays until the memo goes) */
  private readonly current = new Map<Ledger, NodeEntry>();

  /** some type names GPU models: a GPU's model is part of a node's state */
  private readonly byModel: boolean;

  constructor(readonly types: readonly TaskType[], private readonly limit = 200_000) {
    this.byModel = types.some((t) => t.models);
  }

  of(n: NodeFree): number {
    const gpu = (r: number, i: number) => `${r}/${n.size[i]}${n.whole[i] ? 'w' : ''}${this.byModel ? `@${n.model[i]}` : ''}`;
    const key = `${n.cpu}|${n.memoryMiB}|${n.room.map(gpu).sort().join(',')}`;
    let f = this.known.get(key);
    if (f === undefined) {
      if (this.known.size >= this.limit) this.known.clear();
      this.known.set(key, (f = nodeFragmentation(n, this.types)));
    }
    return f;
  }

  /** A ledger's state and fragmentation now (kept until its version changes). */
  node(l: Ledger): NodeEntry {
    let c = this.current.get(l);
    if (c?.version !== l.version) {
      const free = nodeFree(l);
      c = { version: l.version, free, frag: this.of(free), freeGpus: freeGpus(free), moves: new Map() };
      this.current.set(l, c);
    }
    return c;
  }

  /** Σ fragmentation and Σ free GPUs over placeable ledgers; rate = frag ÷ free (null when nothing is free). */
  cluster(ledgers: Iterable<Ledger>): { frag: number; free: number; rate: number | null } {
    let frag = 0;
    let free = 0;
    for (const l of ledgers) {
      if (!l.placeable) continue;
      const c = this.node(l);
      frag += c.frag;
      free += c.freeGpus;
    }
    return { frag, free, rate: free > 0 ? frag / free : null };
  }
}

/**
 * The workload's distribution of requests, learned from what arrives: each observed request counts once (by id),
 * its type's weight its count. `version` changes with every new observation.
 */
export class WorkloadDistribution {
  private readonly byKey = new Map<string, TaskType>();
  private readonly seen = new Set<string>();
  private list: TaskType[] | null = null;
  version = 0;

  /** `maxSeen`: ids remembered to count a request once (older ones are forgotten first) */
  constructor(private readonly maxSeen = 10_000) {}

  /** Count a request of `shape` (its GPU models included: its type is what it asks, not where it is pinned). */
  observe(shape: Shape, id?: string): void {
    if (id !== undefined) {
      if (this.seen.has(id)) return;
      if (this.seen.size >= this.maxSeen) this.seen.delete(this.seen.values().next().value!);
      this.seen.add(id);
    }
    const key = askKey(shape);
    const t = this.byKey.get(key);
    if (t) t.weight++;
    else this.byKey.set(key, { cpu: shape.cpu, memoryMiB: shape.memoryMiB, whole: shape.whole, fracMiB: shape.fracMiB, ...(shape.models ? { models: shape.models } : {}), weight: 1 });
    this.list = null;
    this.version++;
  }

  types(): readonly TaskType[] {
    return (this.list ??= [...this.byKey.values()].map((t) => ({ ...t })));
  }
}
