/**
 * Nodes that stop or start reporting, and nodes that go (run inside the engine's transaction; pure).
 *
 * A node declared unreachable keeps its allocations: each is flagged (`allocation_flagged` with `unreachableSince`),
 * none is ended by the clock while the node cannot be reached (a lease end that falls due is held, a preemption
 * notice on it is withdrawn), nothing new is placed there and its holders are nobody's victims; `unreachable:<node>`
 * stands open (node-conflicts.ts). Reachable again — declared so, or a pending node's first inventory since a restart
 * — the flags clear, the lease ends that fell due meanwhile take effect at once, and the schedule conflicts follow
 * its latest inventory (missing GPUs, overcommit). Only the caller decides that a node is unreachable, and that an
 * unreachable one is back: an inventory alone settles a pending node only. Allocations restored flagged (their node
 * was unreachable when the server stopped) stay so, their leases held, while their node is pending.
 */
import type { Allocation } from '../../shared/scheduler.ts';
import type { Core, EngineParts } from './core.ts';
import { SchedulerError } from './errors.ts';
import type { Ledger } from './ledger.ts';
import { expireDue } from './timed.ts';

/** The node's ledger; not_found when the engine does not know it (it never reported, nothing was restored onto it). */
export function requireNode(core: Core, node: string): Ledger {
  const l = core.cluster.ledger(node);
  if (!l) throw new SchedulerError('not_found', `no node ${node}`, { node });
  return l;
}

/**
 * The command: the node is unreachable or reachable again, as the caller says; schedule conflicts follow, lease ends
 * held meanwhile take effect when due, then a decision pass (`autoDecide`). Nothing happens when it already is so.
 */
export function setReachable(parts: EngineParts, l: Ledger, reachable: boolean, autoDecide: boolean): void {
  if (l.state === (reachable ? 'reachable' : 'unreachable')) return;
  const now = parts.core.clock.now();
  if (reachable) markReachable(parts, l, now);
  else markUnreachable(parts, l, now);
  parts.scheduleConflicts.sync(now);
  if (reachable) expireDue(parts, autoDecide);
  if (autoDecide) parts.pass.run();
}

/** The node stopped reporting: its allocations are flagged and kept (see the file's comment). */
export function markUnreachable(parts: EngineParts, l: Ledger, now: number): void {
  const { core, preemption } = parts;
  const ids = activeOn(l);
  // allocations restored already flagged keep their time, and so does the node
  let since = now;
  for (const id of ids) since = Math.min(since, core.records.allocations.get(id)?.unreachableSince ?? now);
  core.cluster.setReachable(l, false, since);
  for (const id of ids) {
    preemption.withdrawNotice(id, now);
    const a = core.records.allocations.get(id);
    if (a?.state === 'active' && a.unreachableSince == null) flag(core, a, now, now);
  }
  core.dirty = true;
}

/** The node is reachable (again): flags cleared, lease ends held meanwhile back in time order. */
export function markReachable(parts: EngineParts, l: Ledger, now: number): void {
  const { core, leases } = parts;
  core.cluster.setReachable(l, true, now);
  for (const id of activeOn(l)) {
    leases.letGo(id);
    const a = core.records.allocations.get(id);
    if (a?.state === 'active' && a.unreachableSince != null) flag(core, a, null, now);
  }
  core.dirty = true;
}

/**
 * Forget a node (its schedule conflicts clear, a decision pass follows); invalid_state while it holds allocations
 * (release them first) or when it is the only node.
 */
export function removeNode(parts: EngineParts, node: string, autoDecide: boolean): void {
  const { core } = parts;
  const l = requireNode(core, node);
  if (l.holdingCount > 0) {
    throw new SchedulerError('invalid_state', `node ${node} holds ${l.holdingCount} allocation(s): release them before removing it`, { node, allocations: l.holdingCount });
  }
  if (core.cluster.size === 1) throw new SchedulerError('invalid_state', `node ${node} is the only node`, { node });
  core.cluster.remove(node);
  core.dirty = true;
  followCapacity(core);
  parts.scheduleConflicts.sync(core.clock.now());
  if (autoDecide) parts.pass.run();
}

/** Fair share weighs usage against the cluster's capacity: it follows the nodes' (a snapshot, a node gone). */
export function followCapacity(core: Core): void {
  const c = core.cluster.capacity;
  core.usage.setCapacity({ cpu: c.cpu ?? 0, memoryMiB: c.memoryMiB ?? 0, gpus: c.gpus ?? 0 });
}

function flag(core: Core, a: Allocation, since: number | null, now: number): void {
  const next: Allocation = { ...a, unreachableSince: since };
  core.records.allocations.set(a.id, next);
  core.changes.emit({ kind: 'allocation_flagged', at: now, allocation: next });
}

/** The ids of the allocations booked on the node (suspended ones included), in booking order. */
function activeOn(l: Ledger): string[] {
  return [...l.holdingsList()].map((h) => h.allocationId);
}
