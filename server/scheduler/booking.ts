/**
 * Booking: the one place an allocation begins (grant: ledger, usage, lease, time slice, records, the request's
 * conflict resolved) and ends (release, lease expiry, preemption: all of that undone).
 */
import type { Allocation, Request } from '../../shared/scheduler.ts';
import type { Placement } from './cluster.ts';
import type { Core, Lifecycle } from './core.ts';
import type { Leases } from './leases.ts';
import { shapeOf, type HoldingMeta, type Shape } from './ledger.ts';
import type { Preemption } from './preemption.ts';
import type { Slicing } from './slicing.ts';
import type { Amount } from './usage.ts';

export class Booking implements Lifecycle {
  constructor(
    private readonly core: Core,
    private readonly leases: Leases,
    private readonly preemption: Preemption,
    private readonly slicing: Slicing,
  ) {}

  grant(request: Request, placement: Placement, now: number): void {
    const { core } = this;
    const allocation: Allocation = {
      id: core.newId(),
      requestId: request.id,
      node: placement.node,
      gpuIndices: placement.gpuIndices,
      resources: request.resources,
      grantedAt: now,
      leaseExpiresAt: now + this.leases.lengthFor(request.leaseMs),
      state: 'active',
    };
    const shape = shapeOf(request.resources);
    core.cluster.allocate(placement.node, allocation.id, shape, placement.gpuIndices, holdingMeta(request, now));
    core.usage.add(request.owner, request.group, usageAmount(core, shape, placement.node), now);
    this.slicing.granted(allocation.id, request, now);
    core.records.allocations.set(allocation.id, allocation);
    this.leases.add(allocation.id, allocation.leaseExpiresAt);
    const granted: Request = { ...request, status: 'granted', allocationId: allocation.id, updatedAt: now };
    core.records.requests.set(request.id, granted);
    core.changes.emit({ kind: 'request_granted', at: now, request: granted });
    core.changes.emit({ kind: 'allocation_granted', at: now, allocation });
    const entry = core.queue.remove(request.id);
    const preempted = this.preemption.settled(request.id);
    this.preemption.withdraw(request.id, now);
    if (entry?.conflict) core.changes.emit(core.book.resolve(entry.conflict.id, preempted ? 'preempted_holder' : 'granted', now));
  }

  end(a: Allocation, state: 'released' | 'expired' | 'preempted', now: number): void {
    const { core } = this;
    core.cluster.release(a.id);
    this.leases.remove(a.id);
    this.preemption.clear(a.id);
    const suspended = this.slicing.ended(a.id);
    const owner = core.records.requests.get(a.requestId);
    if (owner && !suspended) core.usage.remove(owner.owner, owner.group, usageAmount(core, shapeOf(a.resources), a.node), now);
    if (state === 'preempted') this.preemption.victimEnded(a);
    const allocation: Allocation = { ...a, state, endedAt: now };
    core.records.allocations.set(a.id, allocation);
    const r = core.records.requests.get(a.requestId);
    const request: Request = r
      ? { ...r, status: state, updatedAt: now }
      : { id: a.requestId, owner: '', priority: 0, resources: a.resources, preemptible: false, submittedAt: a.grantedAt, updatedAt: now, status: state };
    core.records.requests.set(request.id, request);
    if (state === 'released' && r) core.strategy.completed?.(r, now - a.grantedAt);
    const kind = state === 'released' ? 'allocation_released' : state === 'expired' ? 'allocation_expired' : 'allocation_preempted';
    core.changes.emit({ kind, at: now, allocation, request });
    core.records.markEnded(request.id);
    core.dirty = true;
  }
}

/** What the ledger keeps about the holder of an allocation. */
export function holdingMeta(r: Request, grantedAt: number): HoldingMeta {
  return {
    requestId: r.id, owner: r.owner, ...(r.group !== undefined ? { group: r.group } : {}),
    priority: r.priority, preemptible: r.preemptible, grantedAt,
  };
}

/** What an allocation of `shape` on `node` counts for fair-share (GPU-equivalents: shares ÷ the GPU's MiB). */
export function usageAmount(core: Pick<Core, 'cluster'>, shape: Shape, node: string): Amount {
  let gpus = shape.whole;
  if (shape.fracMiB > 0) {
    const l = core.cluster.ledger(node);
    const largest = l ? l.slots().reduce((m, g) => Math.max(m, g.memoryMiB), 0) : 0;
    gpus += largest > 0 ? Math.min(1, shape.fracMiB / largest) : 0;
  }
  return { cpu: shape.cpu, memoryMiB: shape.memoryMiB, gpus };
}

/** The cpu and memory of a shape, without its GPUs (what a suspended holder keeps). */
export function cpuMemOnly(shape: Shape): Shape {
  return { cpu: shape.cpu, memoryMiB: shape.memoryMiB, whole: 0, fracMiB: 0 };
}
