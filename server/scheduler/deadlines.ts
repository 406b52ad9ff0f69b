/**
 * Timed work per allocation — lease ends, preemption deadlines — in a heap ordered by time, with O(log n) add, move
 * and remove by allocation id.
 */
import { IndexedHeap } from './queue.ts';

export interface Deadline {
  allocationId: string;
  at: number;
  heapIndex: number;
}

export class Deadlines {
  private readonly heap = new IndexedHeap<Deadline>((a, b) => a.at < b.at);
  private readonly byAllocation = new Map<string, Deadline>();

  has(allocationId: string): boolean {
    return this.byAllocation.has(allocationId);
  }

  add(allocationId: string, at: number): void {
    const item: Deadline = { allocationId, at, heapIndex: -1 };
    this.byAllocation.set(allocationId, item);
    this.heap.push(item);
  }

  /** Move an allocation's deadline (nothing when it has none). */
  move(allocationId: string, at: number): void {
    const item = this.byAllocation.get(allocationId);
    if (!item) return;
    item.at = at;
    this.heap.update(item);
  }

  /** @returns whether the allocation had a deadline */
  remove(allocationId: string): boolean {
    const item = this.byAllocation.get(allocationId);
    if (!item) return false;
    this.heap.remove(item);
    this.byAllocation.delete(allocationId);
    return true;
  }

  /** The earliest deadline, if it is due by `now`. */
  due(now: number): Deadline | undefined {
    const top = this.heap.peek();
    return top && top.at <= now ? top : undefined;
  }

  /** When the earliest deadline is, or null. */
  get next(): number | null {
    return this.heap.peek()?.at ?? null;
  }
}
