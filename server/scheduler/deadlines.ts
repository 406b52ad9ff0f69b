/**
 * Timed work per allocation — lease ends, preemption deadlines — in a heap ordered by time, with O(log n) add, move
 * and remove by allocation id. A deadline may be held: kept, but out of `due` and `next`, until it is let go.
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
  /** held deadlines: allocation id → time */
  private readonly held = new Map<string, number>();

  has(allocationId: string): boolean {
    return this.byAllocation.has(allocationId) || this.held.has(allocationId);
  }

  add(allocationId: string, at: number): void {
    const item: Deadline = { allocationId, at, heapIndex: -1 };
    this.byAllocation.set(allocationId, item);
    this.heap.push(item);
  }

  /** Move an allocation's deadline (nothing when it has none). */
  move(allocationId: string, at: number): void {
    if (this.held.has(allocationId)) {
      this.held.set(allocationId, at);
      return;
    }
    const item = this.byAllocation.get(allocationId);
    if (!item) return;
    item.at = at;
    this.heap.update(item);
  }

  /** @returns whether the allocation had a deadline */
  remove(allocationId: string): boolean {
    if (this.held.delete(allocationId)) return true;
    const item = this.byAllocation.get(allocationId);
    if (!item) return false;
    this.heap.remove(item);
    this.byAllocation.delete(allocationId);
    return true;
  }

  /** Keep the allocation's deadline out of `due` and `next` until `letGo`. */
  hold(allocationId: string): void {
    const item = this.byAllocation.get(allocationId);
    if (!item) return;
    this.heap.remove(item);
    this.byAllocation.delete(allocationId);
    this.held.set(allocationId, item.at);
  }

  /** A held deadline back in time order (due at once when its time has passed). */
  letGo(allocationId: string): void {
    const at = this.held.get(allocationId);
    if (at === undefined) return;
    this.held.delete(allocationId);
    this.add(allocationId, at);
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
