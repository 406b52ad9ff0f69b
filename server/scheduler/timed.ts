/**
 * The engine's timed work (run inside its transaction; pure, time from the clock): lease ends and preemption
 * deadlines that fall due, time-slice rotations, severities that grow with waiting, and the decision pass any of them
 * calls for. `autoDecide`: run that pass (EngineOptions.autoDecide).
 */
import type { Allocation } from '../../shared/scheduler.ts';
import type { Core, EngineParts } from './core.ts';

/**
 * The clock ends nothing on a node that cannot be reached: an allocation flagged unreachable whose node is not
 * reachable (again) yet — declared unreachable, or pending after a restart — keeps its lease past its end (nodes.ts).
 */
export function heldBack(core: Core, a: Allocation): boolean {
  return a.unreachableSince != null && core.cluster.ledger(a.node)?.placeable === false;
}

/**
 * Expire every lease that ended by now and carry out due preemptions; a decision pass follows when anything ended.
 * A lease held back (heldBack) is set aside until its node is reachable again.
 */
export function expireDue(parts: EngineParts, autoDecide: boolean): void {
  const { core: { records, clock }, leases, booking, preemption } = parts;
  const now = clock.now();
  let any = false;
  for (let d = leases.due(now); d; d = leases.due(now)) {
    const a = records.allocations.get(d.allocationId);
    if (a?.state === 'active' && heldBack(parts.core, a)) {
      leases.hold(a.id);
      continue;
    }
    if (a?.state === 'active') booking.end(a, 'expired', now);
    else leases.remove(d.allocationId);
    any = true;
  }
  if (preemption.carryOutDue(now)) any = true;
  if (any) {
    parts.scheduleConflicts.sync(now);
    if (autoDecide) parts.pass.run();
  }
}

/**
 * Periodic work: expiry, a rotation when a quantum is over, severities grown with waiting, a decision pass when
 * anything changed (or preemption may now find victims), else the conflict refresh left over.
 */
export function tick(parts: EngineParts, autoDecide: boolean): void {
  const { core, pass, preemption, requestConflicts, scheduleConflicts } = parts;
  expireDue(parts, autoDecide);
  const now = core.clock.now();
  rotateIfDue(parts, now);
  requestConflicts.refreshSeverities(now);
  scheduleConflicts.refreshSeverities(now);
  // waiting makes preemption possible (age, starvation timeouts): a queue with candidates gets a pass each tick
  if (autoDecide && core.queue.size && (pass.canPreempt() || pass.boundDue(now))) pass.force = true;
  preemption.check = false;
  // a pass also when only grants changed the ledger since the last one: waiting requests' holders follow
  if (autoDecide && (core.dirty || pass.force || pass.stale)) pass.run();
  else if (requestConflicts.pending) requestConflicts.refresh(now, core.queue.requests());
}

/** The simulator's step: `tick` without the per-second severity refresh. */
export function advance(parts: EngineParts, autoDecide: boolean): void {
  const { core, pass, preemption } = parts;
  expireDue(parts, autoDecide);
  rotateIfDue(parts, core.clock.now());
  if (preemption.check && core.queue.size && pass.canPreempt()) pass.force = true;
  if (pass.boundDue(core.clock.now())) pass.force = true;
  preemption.check = false;
  if (autoDecide && (core.dirty || pass.force)) pass.run();
}

/** When the engine next has timed work (a lease end, a preemption deadline, a rotation, a starvation bound), or null. */
export function nextWakeup(parts: EngineParts): number | null {
  const { leases, preemption, slicing, pass, core } = parts;
  return earliest(earliest(earliest(leases.next, preemption.next), slicing.nextWakeup()), pass.boundWakeup(core.clock.now()));
}

function rotateIfDue(parts: EngineParts, now: number): void {
  if (parts.slicing.due(now) && parts.slicing.rotate(now)) parts.core.dirty = true;
}

function earliest(a: number | null, b: number | null): number | null {
  return a === null || (b !== null && b < a) ? b : a;
}
