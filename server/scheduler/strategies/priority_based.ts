/**
 * priority_based: grant in order of priority (higher first), then age (earlier submittedAt first), then id.
 * Placement: first fit over GPUs by index; whole GPUs whole; a fractional request is packed onto a GPU that is
 * already shared (or used by something else) before it opens a GPU that is free as a whole, so whole GPUs stay
 * free for whole-GPU requests. No preemption yet (chooseVictims returns null); no aging yet (effective priority
 * = priority).
 */
import type { Request } from '../../../shared/scheduler.ts';
import { firstFit, shapeOf, type GpuPicker, type Ledger, type Placement } from '../ledger.ts';
import type { QueueView } from '../queue.ts';
import type { Strategy } from '../strategy.ts';

export function grantOrder(a: Request, b: Request): number {
  return b.priority - a.priority || a.submittedAt - b.submittedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Fractional: first GPU by index among those already shared that have room, else the first with room. */
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

export class PriorityBased implements Strategy {
  readonly name = 'priority_based' as const;

  effectivePriority(request: Request): number {
    return request.priority;
  }

  /** O(n + p log p) for p distinct priorities: buckets by priority; arrival order is already by age (sorted only if not). */
  order(queue: QueueView): Request[] {
    const buckets = new Map<number, Request[]>();
    for (const r of queue.requests()) {
      const b = buckets.get(r.priority);
      if (b) b.push(r);
      else buckets.set(r.priority, [r]);
    }
    const out: Request[] = [];
    for (const p of [...buckets.keys()].sort((a, b) => b - a)) {
      const b = buckets.get(p)!;
      for (let i = 1; i < b.length; i++) {
        if (grantOrder(b[i - 1]!, b[i]!) > 0) {
          b.sort(grantOrder);
          break;
        }
      }
      for (const r of b) out.push(r);
    }
    return out;
  }

  place(request: Request, ledger: Ledger): Placement | null {
    return ledger.place(shapeOf(request.resources), packShared);
  }

  chooseVictims(): null {
    return null;
  }
}

export const priorityBased = (): Strategy => new PriorityBased();
