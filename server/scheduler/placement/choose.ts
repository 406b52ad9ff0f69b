/**
 * What every placement here shares: the input (the nodes a request may go to, a seeded random source, the
 * fragmentation memo), the candidate GPUs of a node, and the choice of the best-scoring candidate with ties broken
 * at random, as kube-scheduler's selectHost does (the published simulator's plugins score through it). Pure.
 */
import type { Placement } from '../cluster.ts';
import type { Ledger, Shape } from '../ledger.ts';
import { mayUse, type FragmentationMemo, type NodeFree } from './fragmentation.ts';

export interface PlacementInput {
  /** the nodes the request may go to, in order */
  ledgers: readonly Ledger[];
  /** uniform in [0, 1): ties and `random` (seeded in a simulation) */
  random: () => number;
  /** the workload's fragmentation (fgd) */
  memo: FragmentationMemo;
}

/** Where a request goes, or null when it fits no node. */
export type Placer = (shape: Shape, input: PlacementInput) => Placement | null;

const EPS = 1e-9;

/**
 * The highest score offered; among equal scores (within 1e-9) the highest `tie`, then a uniform choice among those
 * still equal (reservoir sampling).
 */
export class Best {
  private score = -Infinity;
  private tie = -Infinity;
  private ties = 0;
  placement: Placement | null = null;

  constructor(private readonly random: () => number) {}

  offer(score: number, node: string, gpuIndices: readonly number[], tie = 0): void {
    const better = score > this.score + EPS || (score >= this.score - EPS && tie > this.tie + EPS);
    if (better) {
      this.score = score;
      this.tie = tie;
      this.ties = 1;
      this.placement = { node, gpuIndices: [...gpuIndices] };
    } else if (score >= this.score - EPS && tie >= this.tie - EPS && this.random() * ++this.ties < 1) {
      this.placement = { node, gpuIndices: [...gpuIndices] };
    }
  }
}

/**
 * The GPU choices of `shape` on a node, as positions in `n`'s lists, among the GPUs it may use (of its GPU models,
 * when it names some): a share — each GPU with room for it; k whole GPUs — the first k free as a whole (any k are
 * alike to every measure here); no GPU — one empty choice.
 */
export function gpuChoices(n: NodeFree, shape: Shape): number[][] {
  const models = shape.models;
  if (shape.fracMiB > 0) {
    const out: number[][] = [];
    for (let i = 0; i < n.room.length; i++) if (n.room[i]! >= shape.fracMiB && (!models || mayUse(n, i, models))) out.push([i]);
    return out;
  }
  if (shape.whole === 0) return [[]];
  const free: number[] = [];
  for (let i = 0; i < n.whole.length && free.length < shape.whole; i++) if (n.whole[i] && (!models || mayUse(n, i, models))) free.push(i);
  return free.length === shape.whole ? [free] : [];
}

/** GPU indices of positions in `n`. */
export const indicesOf = (n: NodeFree, positions: readonly number[]): number[] => positions.map((p) => n.index[p]!);

/** The GPUs a request asks for, in GPUs (a share: its MiB ÷ the GPU's). */
export function gpuDemand(shape: Shape, gpuMiB: number): number {
  return shape.fracMiB > 0 ? (gpuMiB > 0 ? shape.fracMiB / gpuMiB : 0) : shape.whole;
}
