/**
 * The conflict queue: every waiting request with its open conflict, in two orders.
 * - FIFO (arrival): an insertion-ordered Map; insert/remove O(1).
 * - priority: severity (high first), then effective priority (high first), then age (submittedAt, oldest first),
 *   then id; an indexed binary heap (each entry knows its position), so insert, remove and update-key are O(log n).
 * `list(order, limit, offset)` pages without copying or sorting the queue: FIFO walks the Map, O(offset + limit);
 * priority walks the heap best-first with a small frontier heap, O((offset + limit) · log(offset + limit)),
 * whatever the queue's size.
 */
import type { Conflict, QueueOrder, Request } from '../../shared/scheduler.ts';
import { requestShape, shapeKey, type Shape } from './ledger.ts';

export interface HeapItem {
  /** position in the heap; -1 when not in it */
  heapIndex: number;
}

/** A binary min-heap ("before" comes first) whose items carry their own position: remove and update in O(log n). */
export class IndexedHeap<T extends HeapItem> {
  private readonly a: T[] = [];

  constructor(private readonly before: (x: T, y: T) => boolean) {}

  get size(): number {
    return this.a.length;
  }

  peek(): T | undefined {
    return this.a[0];
  }

  has(x: T): boolean {
    return x.heapIndex >= 0 && this.a[x.heapIndex] === x;
  }

  push(x: T): void {
    if (this.has(x)) throw new Error('item is already in the heap');
    x.heapIndex = this.a.length;
    this.a.push(x);
    this.up(x.heapIndex);
  }

  pop(): T | undefined {
    const top = this.a[0];
    if (top) this.remove(top);
    return top;
  }

  remove(x: T): boolean {
    if (!this.has(x)) return false;
    const i = x.heapIndex;
    const last = this.a.pop()!;
    x.heapIndex = -1;
    if (last !== x) {
      this.a[i] = last;
      last.heapIndex = i;
      this.fix(i);
    }
    return true;
  }

  /** Restore the order after `x`'s key changed. */
  update(x: T): void {
    if (!this.has(x)) throw new Error('item is not in the heap');
    this.fix(x.heapIndex);
  }

  /** Rebuild after every key changed (O(n)). */
  reheapify(): void {
    for (let i = (this.a.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  /**
   * Items in order, lazily: the first k cost O(k log k). The heap must not change while iterating.
   */
  *ordered(): Generator<T> {
    const a = this.a;
    if (!a.length) return;
    const frontier: number[] = [0];
    const less = (p: number, q: number) => this.before(a[p]!, a[q]!);
    while (frontier.length) {
      const top = frontier[0]!;
      const last = frontier.pop()!;
      if (frontier.length) {
        frontier[0] = last;
        siftDownNums(frontier, 0, less);
      }
      yield a[top]!;
      for (const c of [2 * top + 1, 2 * top + 2]) {
        if (c < a.length) {
          frontier.push(c);
          siftUpNums(frontier, frontier.length - 1, less);
        }
      }
    }
  }

  /** Throws when an item is out of order or misplaced (tests). */
  check(): void {
    this.a.forEach((x, i) => {
      if (x.heapIndex !== i) throw new Error(`item at ${i} thinks it is at ${x.heapIndex}`);
      const parent = (i - 1) >> 1;
      if (i > 0 && this.before(x, this.a[parent]!)) throw new Error(`item at ${i} comes before its parent`);
    });
  }

  private fix(i: number): void {
    if (!this.up(i)) this.down(i);
  }

  private up(i: number): boolean {
    const a = this.a;
    const x = a[i]!;
    const start = i;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p]!;
      if (!this.before(x, parent)) break;
      a[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    a[i] = x;
    x.heapIndex = i;
    return i !== start;
  }

  private down(i: number): void {
    const a = this.a;
    const n = a.length;
    const x = a[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(a[r]!, a[l]!) ? r : l;
      const child = a[c]!;
      if (!this.before(child, x)) break;
      a[i] = child;
      child.heapIndex = i;
      i = c;
    }
    a[i] = x;
    x.heapIndex = i;
  }
}

function siftUpNums(h: number[], i: number, less: (p: number, q: number) => boolean): void {
  const x = h[i]!;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!less(x, h[p]!)) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = x;
}

function siftDownNums(h: number[], i: number, less: (p: number, q: number) => boolean): void {
  const n = h.length;
  const x = h[i]!;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && less(h[r]!, h[l]!) ? r : l;
    if (!less(h[c]!, x)) break;
    h[i] = h[c]!;
    i = c;
  }
  h[i] = x;
}

/** A waiting request in the queue. */
export interface QueueEntry extends HeapItem {
  request: Request;
  conflict: Conflict | null;
  /** the conflict's severity (0 without one) */
  severity: number;
  effectivePriority: number;
  /** the request's resources as the ledger sees them */
  shape: Shape;
  /** shape (with its node) and priority: requests with the same key wait for the same reasons */
  shapeKey: string;
  /** insertion number (arrival order) */
  seq: number;
  /** scheduler bookkeeping: ledger version the conflict was last evaluated at (-1: never), and what it found */
  evaluatedAt: number;
  evaluation: object | null;
}

function keyOf(shape: Shape, priority: number): string {
  return `${shapeKey(shape)}|${priority}`;
}

/** Priority order: severity, effective priority, age, id. */
export function priorityBefore(a: QueueEntry, b: QueueEntry): boolean {
  if (a.severity !== b.severity) return a.severity > b.severity;
  if (a.effectivePriority !== b.effectivePriority) return a.effectivePriority > b.effectivePriority;
  if (a.request.submittedAt !== b.request.submittedAt) return a.request.submittedAt < b.request.submittedAt;
  return a.request.id < b.request.id;
}

export type PriorityOf = (request: Request) => number;

/** What a strategy sees of the queue. */
export interface QueueView {
  readonly size: number;
  /** bumped on every insert (removals keep an order valid: callers skip what left) */
  readonly insertions: number;
  has(requestId: string): boolean;
  get(requestId: string): { request: Request; shapeKey: string } | undefined;
  /** ids inserted since the queue had `insertions` insertions (all of them when that is too long ago: null) */
  insertedSince(insertions: number): readonly string[] | null;
  /** arrival order restricted to the shape keys in `keys` */
  fifoAmong(keys: ReadonlySet<string>): Iterable<Request>;
  /** waiting requests in arrival order */
  requests(): Iterable<Request>;
}

export class ConflictQueue implements QueueView {
  private readonly fifo = new Map<string, QueueEntry>();
  private readonly heap = new IndexedHeap<QueueEntry>(priorityBefore);
  insertions = 0;
  /** waiting requests per shape key (shape and priority) */
  private readonly shapes = new Map<string, { n: number; shape: Shape; priority: number; fifo: Map<string, QueueEntry> }>();
  /** waiting requests per owner */
  private readonly owners = new Map<string, number>();
  /** ids of the latest insertions: log[i] is insertion number logBase + i */
  private log: string[] = [];
  private logBase = 0;

  constructor(private priorityOf: PriorityOf = (r) => r.priority) {}

  get size(): number {
    return this.fifo.size;
  }

  has(requestId: string): boolean {
    return this.fifo.has(requestId);
  }

  /** How many requests of `owner` wait. */
  waitingOf(owner: string): number {
    return this.owners.get(owner) ?? 0;
  }

  get(requestId: string): QueueEntry | undefined {
    return this.fifo.get(requestId);
  }

  insert(request: Request, conflict: Conflict | null, evaluatedAt = -1): QueueEntry {
    if (this.fifo.has(request.id)) throw new Error(`request ${request.id} is already queued`);
    const shape = requestShape(request);
    const e: QueueEntry = {
      request, conflict, severity: conflict?.severity ?? 0, effectivePriority: this.priorityOf(request),
      shape, shapeKey: keyOf(shape, request.priority), evaluatedAt, evaluation: null, heapIndex: -1, seq: this.insertions,
    };
    this.fifo.set(request.id, e);
    this.heap.push(e);
    this.countShape(e.shapeKey, e.shape, 1, request.priority, e);
    this.owners.set(request.owner, this.waitingOf(request.owner) + 1);
    this.insertions++;
    this.log.push(request.id);
    if (this.log.length > 4096 && this.log.length > 2 * this.fifo.size) {
      const drop = this.log.length >> 1;
      this.log = this.log.slice(drop);
      this.logBase += drop;
    }
    return e;
  }

  remove(requestId: string): QueueEntry | undefined {
    const e = this.fifo.get(requestId);
    if (!e) return undefined;
    this.fifo.delete(requestId);
    this.heap.remove(e);
    this.countShape(e.shapeKey, e.shape, -1, e.request.priority, e);
    const n = this.waitingOf(e.request.owner) - 1;
    if (n > 0) this.owners.set(e.request.owner, n);
    else this.owners.delete(e.request.owner);
    return e;
  }

  /** New request and/or conflict for a queued request: its position in priority order follows (O(log n)). */
  update(requestId: string, patch: { request?: Request; conflict?: Conflict | null }): QueueEntry {
    const e = this.fifo.get(requestId);
    if (!e) throw new Error(`request ${requestId} is not queued`);
    if (patch.request) {
      e.request = patch.request;
      e.shape = requestShape(e.request);
      this.countShape(e.shapeKey, e.shape, -1, 0, e);
      e.shapeKey = keyOf(e.shape, e.request.priority);
      this.countShape(e.shapeKey, e.shape, 1, e.request.priority, e);
      e.evaluatedAt = -1;
    }
    if (patch.conflict !== undefined) e.conflict = patch.conflict;
    const severity = e.conflict?.severity ?? 0;
    // the effective priority is a snapshot taken when the request (or the strategy) changes, not on every conflict update
    const eff = patch.request ? this.priorityOf(e.request) : e.effectivePriority;
    if (severity !== e.severity || eff !== e.effectivePriority || patch.request) {
      e.severity = severity;
      e.effectivePriority = eff;
      this.heap.update(e);
    }
    return e;
  }

  /** A new notion of effective priority (strategy switch): re-key everything, O(n). */
  setPriorityOf(priorityOf: PriorityOf): void {
    this.priorityOf = priorityOf;
    for (const e of this.fifo.values()) e.effectivePriority = priorityOf(e.request);
    this.heap.reheapify();
  }

  get shapeKeyCount(): number {
    return this.shapes.size;
  }

  /** The distinct shape keys waiting (shape and priority), each with its shape. */
  *shapeEntries(): Generator<[string, Shape]> {
    for (const [key, v] of this.shapes) yield [key, v.shape];
  }

  /** The priority of each distinct shape key waiting. */
  *shapePriorities(): Generator<number> {
    for (const v of this.shapes.values()) yield v.priority;
  }

  /**
   * Arrival order restricted to the shape keys in `keys` (read at every step): a merge of the per-key arrival
   * lists, O(k) a request for k keys. (An update that re-keys an entry moves it to the end of its new key's list.)
   */
  *fifoAmong(keys: ReadonlySet<string>): Generator<Request> {
    const its: { key: string; it: Iterator<QueueEntry>; head: QueueEntry }[] = [];
    for (const key of keys) {
      const v = this.shapes.get(key);
      if (!v) continue;
      const it = v.fifo.values();
      const first = it.next();
      if (!first.done) its.push({ key, it, head: first.value });
    }
    while (its.length) {
      let b = 0;
      for (let h = 1; h < its.length; h++) if (its[h]!.head.seq < its[b]!.head.seq) b = h;
      const cur = its[b]!;
      if (!keys.has(cur.key)) {
        its.splice(b, 1);
        continue;
      }
      const e = cur.head;
      const nx = cur.it.next();
      if (nx.done) its.splice(b, 1);
      else cur.head = nx.value;
      if (this.fifo.get(e.request.id) === e) yield e.request;
    }
  }

  private countShape(key: string, shape: Shape, d: 1 | -1, priority: number, e: QueueEntry): void {
    const v = this.shapes.get(key);
    if (!v) {
      if (d > 0) this.shapes.set(key, { n: 1, shape, priority, fifo: new Map([[e.request.id, e]]) });
      return;
    }
    v.n += d;
    if (d > 0) v.fifo.set(e.request.id, e);
    else v.fifo.delete(e.request.id);
    if (v.n <= 0) this.shapes.delete(key);
  }

  insertedSince(insertions: number): readonly string[] | null {
    if (insertions < this.logBase) return null;
    return this.log.slice(insertions - this.logBase);
  }

  entries(): IterableIterator<QueueEntry> {
    return this.fifo.values();
  }

  *requests(): IterableIterator<Request> {
    for (const e of this.fifo.values()) yield e.request;
  }

  /** Entries in priority order, lazily (the queue must not change while iterating). */
  byPriority(): Generator<QueueEntry> {
    return this.heap.ordered();
  }

  peek(): QueueEntry | undefined {
    return this.heap.peek();
  }

  list(order: QueueOrder, limit: number, offset = 0): { total: number; items: QueueEntry[] } {
    const items: QueueEntry[] = [];
    if (limit > 0) {
      let i = 0;
      for (const e of order === 'fifo' ? this.fifo.values() : this.heap.ordered()) {
        if (i++ < offset) continue;
        items.push(e);
        if (items.length >= limit) break;
      }
    }
    return { total: this.fifo.size, items };
  }

  /** Throws when the heap or its position map is inconsistent (tests). */
  check(): void {
    this.heap.check();
    if (this.heap.size !== this.fifo.size) throw new Error(`heap has ${this.heap.size} entries, FIFO ${this.fifo.size}`);
    for (const e of this.fifo.values()) if (!this.heap.has(e)) throw new Error(`entry ${e.request.id} is missing from the heap`);
  }
}
