/**
 * The engine's records: requests and allocations by id, idempotency keys, and how many ended requests stay in
 * memory (the store keeps them all). Every other part reads and replaces records here; a record is immutable —
 * a change replaces it with a new object.
 */
import { normalizeResources, type Allocation, type AllocationState, type Request, type RequestInputBody, type RequestStatus } from '../../shared/scheduler.ts';
import { SchedulerError } from './errors.ts';

/** The fields of a submit that identify its body (idempotency: a retry must send the same ones). */
export type RequestFields = Pick<Request, 'owner' | 'group' | 'priority' | 'resources' | 'expectedDurationMs' | 'preemptible' | 'leaseMs' | 'labels' | 'node' | 'gpuModels'>;

export const ENDED: ReadonlySet<RequestStatus> = new Set(['released', 'cancelled', 'expired', 'preempted']);

export class Records {
  readonly requests = new Map<string, Request>();
  readonly allocations = new Map<string, Allocation>();
  private readonly idempotency = new Map<string, { requestId: string; fingerprint: string }>();
  /** ended request ids, oldest first */
  private readonly ended = new Set<string>();

  /** `retainEnded`: ended requests (and their allocations, idempotency keys) kept in memory */
  constructor(private readonly retainEnded: number) {}

  get isEmpty(): boolean {
    return this.requests.size === 0 && this.allocations.size === 0;
  }

  requireAllocation(id: string): Allocation {
    const a = this.allocations.get(id);
    if (!a) throw new SchedulerError('not_found', `no allocation ${id}`);
    return a;
  }

  /**
   * The request an earlier submit with this idempotency key made, when it is still known; the same key with
   * another body is `idempotency_conflict`.
   */
  idempotent(key: string, fields: RequestFields): Request | undefined {
    const prior = this.idempotency.get(key);
    const prev = prior && this.requests.get(prior.requestId);
    if (!prior || !prev) return undefined;
    if (prior.fingerprint !== fingerprint(fields)) {
      throw new SchedulerError('idempotency_conflict', `idempotency key ${JSON.stringify(key)} was used for request ${prev.id} with a different body`, { requestId: prev.id });
    }
    return prev;
  }

  /** A new request (with its idempotency key, when it has one). */
  add(request: Request): void {
    this.requests.set(request.id, request);
    if (request.idempotencyKey !== undefined) this.idempotency.set(request.idempotencyKey, { requestId: request.id, fingerprint: fingerprint(request) });
  }

  /** A request read back from the store. */
  restore(request: Request): void {
    this.add(request);
    if (ENDED.has(request.status)) this.markEnded(request.id);
  }

  /** The request ended: the oldest ended ones beyond `retainEnded` are forgotten with their allocation and key. */
  markEnded(requestId: string): void {
    this.ended.delete(requestId);
    this.ended.add(requestId);
    while (this.ended.size > this.retainEnded) {
      const oldest = this.ended.values().next().value as string;
      this.ended.delete(oldest);
      const r = this.requests.get(oldest);
      this.requests.delete(oldest);
      if (r?.allocationId !== undefined) {
        const a = this.allocations.get(r.allocationId);
        if (a && a.state !== 'active') this.allocations.delete(r.allocationId);
      }
      if (r?.idempotencyKey !== undefined && this.idempotency.get(r.idempotencyKey)?.requestId === oldest) this.idempotency.delete(r.idempotencyKey);
    }
  }

  listRequests(status?: RequestStatus): Request[] {
    const out: Request[] = [];
    for (const r of this.requests.values()) if (!status || r.status === status) out.push(r);
    return out;
  }

  listAllocations(state?: AllocationState): Allocation[] {
    const out: Allocation[] = [];
    for (const a of this.allocations.values()) if (!state || a.state === state) out.push(a);
    return out;
  }
}

/** A stand-in for an allocation whose request the engine no longer keeps. */
export function placeholderRequest(a: Allocation): Request {
  return { id: a.requestId, owner: '', priority: 0, resources: a.resources, preemptible: false, submittedAt: a.grantedAt, updatedAt: a.grantedAt, status: 'granted' };
}

/** What identifies a submit's body, for idempotency (key order does not matter). */
function fingerprint(r: RequestFields): string {
  return stableJson({
    owner: r.owner, group: r.group, priority: r.priority, resources: r.resources, expectedDurationMs: r.expectedDurationMs,
    preemptible: r.preemptible, leaseMs: r.leaseMs, labels: r.labels, node: r.node, gpuModels: r.gpuModels,
  });
}

function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(',')}}`;
}

/**
 * A submit's body (validated at the edge against RequestInputSchema) as a request's fields: defaults filled in
 * (priority 0, not preemptible), resources normalised, absent optional fields left out.
 */
export function requestFields(body: RequestInputBody): RequestFields {
  return {
    owner: body.owner,
    ...(body.group !== undefined ? { group: body.group } : {}),
    priority: body.priority ?? 0,
    resources: normalizeResources(body.resources),
    ...(body.expectedDurationMs !== undefined ? { expectedDurationMs: body.expectedDurationMs } : {}),
    preemptible: body.preemptible ?? false,
    ...(body.leaseMs !== undefined ? { leaseMs: body.leaseMs } : {}),
    ...(body.labels !== undefined ? { labels: { ...body.labels } } : {}),
    ...(body.node !== undefined ? { node: body.node } : {}),
    ...(body.gpuModels !== undefined ? { gpuModels: [...body.gpuModels] } : {}),
  };
}
