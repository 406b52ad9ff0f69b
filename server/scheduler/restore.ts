/**
 * Rebuilding the engine from the store (into an empty engine). Active allocations are booked as they were (even
 * before the inventory is known), with their leases, time slices and preemption notices; waiting requests go back
 * to the queue with their open conflict (one is opened if missing); an open request conflict whose request no longer
 * waits is resolved `cleared`. The caller then expires the leases that ended while the server was down.
 */
import type { Allocation, Conflict, Request } from '../../shared/scheduler.ts';
import { cpuMemOnly, holdingMeta, usageAmount } from './booking.ts';
import type { EngineParts } from './core.ts';
import { shapeOf } from './ledger.ts';
import { placeholderRequest } from './records.ts';
import { requestKey } from './request-conflicts.ts';

/** What the store loads at start. */
export interface EngineState {
  requests: readonly Request[];
  allocations: readonly Allocation[];
  conflicts: readonly Conflict[];
}

/** Runs inside the engine's transaction. */
export function restoreState(parts: EngineParts, state: EngineState, now: number): void {
  const { core, leases, preemption, slicing, requestConflicts, scheduleConflicts, pass } = parts;
  const { records, book, cluster, usage, queue, changes } = core;
  book.restore(state.conflicts);
  scheduleConflicts.restore(book.openConflicts());
  const requests = [...state.requests].sort((a, b) => a.submittedAt - b.submittedAt || (a.id < b.id ? -1 : 1));
  for (const r of requests) records.restore(r);
  for (const a of state.allocations) {
    records.allocations.set(a.id, a);
    if (a.state !== 'active') continue;
    const r = records.requests.get(a.requestId);
    const shape = shapeOf(a.resources);
    const suspended = a.suspendedAt !== undefined;
    cluster.allocate(a.node, a.id, suspended ? cpuMemOnly(shape) : shape, suspended ? [] : a.gpuIndices, holdingMeta(r ?? placeholderRequest(a), a.grantedAt), true);
    if (r && !suspended) usage.add(r.owner, r.group, usageAmount(core, shape, a.node), a.grantedAt);
    leases.add(a.id, a.leaseExpiresAt);
    if (r) slicing.restore(a, r, now);
    preemption.restore(a);
  }
  for (const r of requests) {
    if (r.status !== 'queued') continue;
    const c = book.openFor(requestKey(r.id));
    if (c) queue.insert(r, c);
    else requestConflicts.enqueue(r, now, false);
  }
  for (const c of [...book.openConflicts()]) {
    if (c.key.startsWith('request:') && c.requestId !== null && !queue.has(c.requestId)) changes.emit(book.resolve(c.id, 'cleared', now));
  }
  core.dirty = true;
  pass.force = true;
}
