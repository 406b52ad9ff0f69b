/**
 * A follower replica's view of the scheduler, for the read routes it answers itself (http/routes/scheduler.ts,
 * `schedulerReadRoutes`): requests, allocations, the queue in arrival order, conflicts. It is what the leader's
 * engine holds, rebuilt from the store the leader writes: loaded once (`SchedulerStore.loadAt`, the same state a
 * leader restores at start, with the same retention), then moved forward by the decision log — every change the
 * leader's engine made carries the whole record it changed, in order, under an increasing seq. `refresh()` reads
 * the changes after the last seq it applied, so a read that refreshes first sees every write the leader
 * acknowledged before it (the leader answers a write once it is committed): read-your-writes on any replica.
 *
 * The queue in priority order is not answered here: it depends on the leader's strategy state (effective
 * priorities, fair-share usage), which the log does not carry; the follower forwards those reads.
 */
import { changeRecords, type Allocation, type Change, type Conflict, type QueueOrder, type Request } from '../../../shared/scheduler.ts';
import type { SchedulerReads } from '../../scheduler/engine.ts';
import { ConflictBook } from '../../scheduler/conflicts.ts';
import { ENDED, Records } from '../../scheduler/records.ts';
import { requestKey } from '../../scheduler/request-conflicts.ts';
import { MAX_PAGE, type SchedulerStore } from '../../store/scheduler-store.ts';

export interface ReadModelOptions {
  /** ended requests kept (the leader engine's `retainEnded`) @default 10000 */
  retainEnded?: number;
  /** resolved conflicts kept @default 10000 */
  retainResolvedConflicts?: number;
  /** decisions read per query while catching up (at most the store's MAX_PAGE) @default 1000 */
  pageSize?: number;
}

export class ReplicaReadModel implements SchedulerReads {
  private records!: Records;
  private book!: ConflictBook;
  /** waiting requests in arrival order (the leader's FIFO) */
  private queue!: Map<string, Request>;
  private seq = 0;

  constructor(private readonly store: SchedulerStore, private readonly opts: ReadModelOptions = {}) {
    this.reload();
  }

  /** The seq of the last decision applied. */
  get appliedSeq(): number {
    return this.seq;
  }

  /** Apply every decision the leader committed since the last refresh; returns how many were applied. */
  refresh(): number {
    const pageSize = this.opts.pageSize ?? MAX_PAGE;
    let applied = 0;
    for (;;) {
      const page = this.store.decisions({ afterSeq: this.seq, limit: pageSize });
      for (const d of page) this.apply(d.change);
      if (page.length) this.seq = page[page.length - 1]!.seq;
      applied += page.length;
      if (page.length < pageSize) return applied;
    }
  }

  // ------------------------------------------------------------------ SchedulerReads

  request(id: string): Request | undefined {
    return this.records.requests.get(id);
  }

  listAllocations(state?: Allocation['state']): Allocation[] {
    return this.records.listAllocations(state);
  }

  listQueue(order: QueueOrder, limit: number, offset = 0): { total: number; items: { request: Request; conflict: Conflict | null }[] } {
    if (order !== 'fifo') throw new Error('a follower lists the queue in arrival order only');
    const items: { request: Request; conflict: Conflict | null }[] = [];
    let i = 0;
    for (const request of this.queue.values()) {
      if (items.length >= limit) break;
      if (i++ < offset) continue;
      items.push({ request, conflict: this.book.openFor(requestKey(request.id)) ?? null });
    }
    return { total: this.queue.size, items };
  }

  openConflicts(): Conflict[] {
    return [...this.book.openConflicts()];
  }

  conflicts(): Conflict[] {
    return [...this.book.all()];
  }

  conflict(id: string): Conflict | undefined {
    return this.book.get(id);
  }

  // ------------------------------------------------------------------ internals

  /** Start over from the store's state (as a leader restores it). */
  private reload(): void {
    const { state, seq } = this.store.loadAt({
      ...(this.opts.retainEnded !== undefined ? { retainEnded: this.opts.retainEnded } : {}),
      ...(this.opts.retainResolvedConflicts !== undefined ? { retainResolvedConflicts: this.opts.retainResolvedConflicts } : {}),
    });
    this.records = new Records(this.opts.retainEnded ?? 10_000);
    this.book = new ConflictBook({ newId: () => { throw new Error('a read model opens no conflict'); }, maxResolved: this.opts.retainResolvedConflicts ?? 10_000 });
    this.queue = new Map();
    // in the order the leader's restore puts them: conflicts by opening, requests by submission
    this.book.restore(state.conflicts);
    const requests = [...state.requests].sort((a, b) => a.submittedAt - b.submittedAt || (a.id < b.id ? -1 : 1));
    for (const r of requests) this.putRequest(r);
    for (const a of state.allocations) this.records.allocations.set(a.id, a);
    this.seq = seq;
  }

  private apply(c: Change): void {
    const { request, allocation, conflict } = changeRecords(c);
    if (allocation) this.records.allocations.set(allocation.id, allocation);
    if (request) {
      if (c.kind === 'request_queued') this.queue.delete(request.id); // queued again: at the end, as the leader's FIFO has it
      this.putRequest(request);
    }
    if (conflict) this.book.put(conflict);
  }

  private putRequest(r: Request): void {
    const known = this.records.requests.has(r.id);
    if (known) this.records.requests.set(r.id, r);
    else this.records.add(r);
    if (r.status === 'queued') this.queue.set(r.id, r); // a new one at the end; one already waiting keeps its place
    else this.queue.delete(r.id);
    if (ENDED.has(r.status)) this.records.markEnded(r.id);
  }
}
