/**
 * What the ledger books and answers in (shared by the ledger, the cluster, the strategies and the conflict
 * evaluation): a request's shape, a GPU slot, a holding, a placement, the free view and what is in the way.
 */
import type { Request, Resources } from '../../shared/scheduler.ts';
import type { GpuUsage } from './inventory.ts';
import type { Ledger } from './ledger.ts';

/** A request's resources as the ledger sees them: whole GPUs or one fractional share, never both. */
export interface Shape {
  cpu: number;
  memoryMiB: number;
  /** whole GPUs */
  whole: number;
  /** MiB of one shared GPU; 0: not fractional */
  fracMiB: number;
  /** the only node it may be placed on (a request's `node`); absent: any node */
  node?: string;
  /** the GPU models its GPUs may be of (a request's `gpuModels`, matched by gpu-models.ts); absent: any GPU */
  models?: readonly string[];
}

/**
 * The shape of `r`; `node`: the node a request is pinned to, `models`: the GPU models it may use (both absent for an
 * allocation's own resources).
 */
export function shapeOf(r: Resources, node?: string, models?: readonly string[]): Shape {
  const fracMiB = r.gpuMemMiB ?? 0;
  const shape: Shape = { cpu: r.cpu, memoryMiB: r.memoryMiB, whole: fracMiB > 0 ? 0 : r.gpus, fracMiB };
  if (node !== undefined) shape.node = node;
  if (models !== undefined) shape.models = models;
  return shape;
}

/** The shape of a request: its resources, the node it names and the GPU models it may use. */
export function requestShape(r: Pick<Request, 'resources' | 'node' | 'gpuModels'>): Shape {
  return shapeOf(r.resources, r.node, r.gpuModels);
}

/**
 * What a shape asks for as a key (its figures and GPU models, not its node): the model names, as JSON, follow the
 * figures, so that no name can make two different asks look alike.
 */
export function askKey(shape: Shape): string {
  const key = `${shape.cpu}|${shape.memoryMiB}|${shape.whole}|${shape.fracMiB}`;
  return shape.models === undefined ? key : `${key}#${JSON.stringify(shape.models)}`;
}

/**
 * A shape as a cache key: what it asks for (askKey) and the node it is pinned to, so that an answer about one node
 * (or one set of GPU models) is not taken for another. The node comes last: a name may hold any character.
 */
export function shapeKey(shape: Shape): string {
  const key = askKey(shape);
  return shape.node === undefined ? key : `${key}@${shape.node}`;
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

/** What a GpuPicker reads of a ledger: its GPUs (for a shape with GPU models, only the GPUs of those models). */
export type GpuView = Pick<Ledger, 'node' | 'slots' | 'shareRoom' | 'isWholeFree' | 'freeSlots' | 'multiSlot'>;

/** Picks the GPUs of a request whose cpu and memory fit, among the GPUs `ledger` shows; null when its GPUs do not. */
export type GpuPicker = (shape: Shape, ledger: GpuView) => number[] | null;

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
  /** per GPU; `name`: its model */
  gpus: { index: number; name: string; memoryMiB: number; freeMiB: number; wholeFree: boolean; available: boolean; allocations: number; foreign: number }[];
}

/**
 * Whether anything may be placed on a node. `reachable`: it reports. `unreachable`: its node stopped reporting (the
 * caller says so). `pending`: it holds allocations restored from the store and has not reported since the restart.
 * A node that is not reachable places nothing, its holders are never in the way nor preempted, its allocations are
 * kept.
 */
export type NodeState = 'reachable' | 'unreachable' | 'pending';

/** What is in the way of a request that does not fit. */
export interface InTheWay {
  /** the node the answer is about (absent: no reachable node could take the request) */
  node?: string;
  /** nodes that could take the request but are not reachable, when no reachable node could */
  unreachable?: string[];
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

/** Whole-GPU slots taken on a GPU. */
export function wholeCount(s: GpuSlot): number {
  if (s.whole.size <= 1) return s.whole.size === 0 ? 0 : s.whole.values().next().value!;
  let n = 0;
  for (const c of s.whole.values()) n += c;
  return n;
}
