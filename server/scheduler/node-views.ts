/**
 * What one node's ledger looks like from outside (pure, read-only): what is free on it, and its summary — state,
 * capacity, what its allocations hold — as the engine reports nodes (`nodeViews`).
 */
import type { FreeView, NodeState } from './ledger-types.ts';
import type { Ledger } from './ledger.ts';

export interface NodeView {
  name: string;
  state: NodeState;
  /** since when its allocations are flagged (the node was declared unreachable); null while reachable or pending */
  unreachableSince: number | null;
  /** as the latest inventory says; null: not reported yet */
  capacity: { cpu: number | null; memoryMiB: number | null; gpus: number | null };
  /**
   * what its active allocations hold: cpu (millicores) and memory (MiB) booked, whole GPUs (slots: with
   * time-slicing one GPU may count several times; a suspended holder counts none), MiB of fractional shares
   */
  allocated: { cpu: number; memoryMiB: number; gpus: number; gpuMemMiB: number; allocations: number };
}

/** Free cpu, memory and, per GPU, what it can still take. */
export function freeView(l: Ledger): FreeView {
  const cap = l.capacity;
  const used = l.used;
  return {
    cpu: cap.cpu === null ? null : Math.max(0, cap.cpu - used.cpu),
    memoryMiB: cap.memoryMiB === null ? null : Math.max(0, cap.memoryMiB - used.memoryMiB),
    gpus: l.slots().map((s) => ({
      index: s.index,
      name: s.name,
      memoryMiB: s.memoryMiB,
      freeMiB: Math.max(0, l.shareRoom(s)),
      wholeFree: l.isWholeFree(s),
      available: s.present && s.available,
      allocations: s.whole.size + s.shared.size,
      foreign: s.foreign.length,
    })),
  };
}

/** The node's summary; `unreachableSince` comes from the caller (the flags live on the allocations). */
export function nodeView(l: Ledger, unreachableSince: number | null): NodeView {
  let gpus = 0;
  let gpuMemMiB = 0;
  for (const h of l.holdingsList()) {
    if (h.shape.fracMiB > 0) gpuMemMiB += h.gpuIndices.length > 0 ? h.shape.fracMiB : 0;
    else gpus += h.gpuIndices.length;
  }
  const { cpu, memoryMiB } = l.used;
  return {
    name: l.node,
    state: l.state,
    unreachableSince,
    capacity: { ...l.capacity },
    allocated: { cpu, memoryMiB, gpus, gpuMemMiB, allocations: l.holdingCount },
  };
}
