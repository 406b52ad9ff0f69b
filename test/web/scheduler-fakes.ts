/** Scheduler records and a scheduler API double for component tests. */
import type { AllocationView, Session } from '../../shared/api.ts';
import type { Hint } from '../../shared/hints.ts';
import type { Allocation, Conflict, QueueOrder, Request, RequestInputBody } from '../../shared/scheduler.ts';
import type { AllocationList, ConflictPage, QueuePage, SchedulerApi, StrategyAnswer, SubmitResult } from '../../web/src/scheduler/api.ts';
import type { LiveSnapshot } from '../../web/src/live/source.ts';

export const T0 = 1_700_000_000_000;

export function request(id: string, over: Partial<Request> = {}): Request {
  return {
    id, owner: 'ana', priority: 0, resources: { cpu: 0, memoryMiB: 0, gpus: 1 }, preemptible: false,
    submittedAt: T0, updatedAt: T0, status: 'queued', ...over,
  };
}

export function conflict(id: string, requestId: string | null, over: Partial<Conflict> = {}): Conflict {
  return {
    id, key: requestId ? `request:${requestId}` : `unmanaged:gpu:0`, type: 'resource_competition', severity: 2, requestId,
    holders: [], resource: 'gpu', message: 'the request does not fit: 1 GPU short', openedAt: T0, updatedAt: T0, status: 'open', ...over,
  };
}

/** An allocation; with `owner`, as GET /api/allocations lists it. */
export function allocation(id: string, requestId: string, over: Partial<AllocationView> = {}): AllocationView {
  return {
    id, requestId, node: 'node-a', gpuIndices: [0], resources: { cpu: 0, memoryMiB: 0, gpus: 1 }, grantedAt: T0,
    leaseExpiresAt: T0 + 600_000, state: 'active', ...over,
  };
}

export function liveSnapshot(over: Partial<LiveSnapshot> = {}): LiveSnapshot {
  return { state: { kind: 'live', transport: 'websocket' }, lastEventId: 1, latest: {}, gaps: 0, lastGap: null, ...over };
}

/** Answers from its fields; records every call as `name:arg`. A field may be replaced by a function to fail or delay. */
export class FakeSchedulerApi implements SchedulerApi {
  calls: string[] = [];
  waiting: Request[] = [];
  conflictsOpen: Conflict[] = [];
  /** what GET /api/allocations lists (an item without `owner` is one an older server sends) */
  active: AllocationView[] = [];
  /** ended allocations, listed too when asked for those that ended since a time (`state=all&sinceMs=`) */
  ended: AllocationView[] = [];
  known = new Map<string, Request>();
  activeHints: Hint[] = [];
  current: StrategyAnswer = { name: 'priority_based', config: {}, since: T0 };
  /** the order GET /api/queue?order=priority gives (ids); FIFO is by submittedAt */
  priorityOrder: string[] | null = null;
  submitted: RequestInputBody[] = [];
  onSubmit: (body: RequestInputBody) => Promise<SubmitResult> = (body) => Promise.resolve({ request: request('new', { owner: String(body.owner) }) });
  onResolve: (id: string) => Promise<Conflict> = (id) => Promise.resolve(conflict(id, null, { status: 'resolved' }));

  queue(order: QueueOrder): Promise<QueuePage> {
    this.calls.push(`queue:${order}`);
    const fifo = [...this.waiting].sort((a, b) => a.submittedAt - b.submittedAt);
    const ids = order === 'priority' && this.priorityOrder ? this.priorityOrder : fifo.map((r) => r.id);
    const byId = new Map(this.waiting.map((r) => [r.id, r]));
    const items = ids.flatMap((id) => {
      const r = byId.get(id);
      return r ? [{ request: r, conflict: this.conflictsOpen.find((c) => c.requestId === id) ?? null }] : [];
    });
    return Promise.resolve({ order, total: items.length, limit: 1000, offset: 0, items });
  }
  conflicts(order: QueueOrder): Promise<ConflictPage> {
    this.calls.push(`conflicts:${order}`);
    return Promise.resolve({ total: this.conflictsOpen.length, items: [...this.conflictsOpen] });
  }
  /** records `allocations` (active only) or `allocations:since=<ms>` */
  allocations(endedSinceMs?: number): Promise<AllocationList> {
    if (endedSinceMs === undefined) {
      this.calls.push('allocations');
      return Promise.resolve({ allocations: [...this.active] });
    }
    this.calls.push(`allocations:since=${endedSinceMs}`);
    return Promise.resolve({ allocations: [...this.active, ...this.ended.filter((a) => (a.endedAt ?? 0) >= endedSinceMs)] });
  }
  request(id: string): Promise<Request> {
    this.calls.push(`request:${id}`);
    const r = this.known.get(id) ?? this.waiting.find((x) => x.id === id);
    return r ? Promise.resolve(r) : Promise.reject(new Error(`no request ${id}`));
  }
  hints(): Promise<{ hints: Hint[] }> {
    this.calls.push('hints');
    return Promise.resolve({ hints: [...this.activeHints] });
  }
  strategy(): Promise<StrategyAnswer> {
    this.calls.push('strategy');
    return Promise.resolve(this.current);
  }
  /** what GET /api/session answers */
  who: Session = { auth: true, admin: true, role: 'admin' };
  session(): Promise<Session> {
    return Promise.resolve(this.who);
  }
  submit(body: RequestInputBody): Promise<SubmitResult> {
    this.calls.push('submit');
    this.submitted.push(body);
    return this.onSubmit(body);
  }
  cancel(id: string): Promise<Request> {
    this.calls.push(`cancel:${id}`);
    return Promise.resolve(request(id, { status: 'cancelled' }));
  }
  release(id: string): Promise<Allocation> {
    this.calls.push(`release:${id}`);
    return Promise.resolve(allocation(id, 'r', { state: 'released' }));
  }
  resolve(id: string, strategy?: string): Promise<Conflict> {
    this.calls.push(`resolve:${id}${strategy ? `:${strategy}` : ''}`);
    return this.onResolve(id);
  }
}
