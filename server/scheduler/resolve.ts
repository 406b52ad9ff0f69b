/**
 * Resolving an open request conflict now with a strategy (default: the one in force), without switching to it:
 * re-place (the request fits now), rotate time slices (a time-slicing strategy and a request it rotates), or preempt
 * (its victims get their notice; the request is granted when the grace period ends — at once without one).
 */
import type { Conflict } from '../../shared/scheduler.ts';
import type { EngineParts } from './core.ts';
import { SchedulerError } from './errors.ts';
import type { Strategy } from './strategy.ts';

export interface Resolution {
  conflict: Conflict;
  action: 'granted' | 'rotated' | 'preempting';
  /** when preempting: when the victims' grace ends */
  resolvesAt?: number;
}

/** Throws not_found, or invalid_state saying why none of the three applies. */
export function resolveConflict(parts: EngineParts, conflictId: string, strategy?: Strategy): Resolution {
  const { core, slicing, preemption, booking } = parts;
  const { book, queue, cluster, changes } = core;
  const c = book.get(conflictId);
  if (!c) throw new SchedulerError('not_found', `no conflict ${conflictId}`);
  if (c.status !== 'open') throw new SchedulerError('invalid_state', `conflict ${conflictId} is already resolved (${c.resolution ?? 'resolved'})`, { conflict: c });
  if (c.type === 'schedule_conflict' || c.requestId === null || !queue.has(c.requestId)) {
    throw new SchedulerError('invalid_state', `conflict ${conflictId} is about reality disagreeing with the ledger (${c.message}): ${remedyOf(c.key)}`, { conflict: c });
  }
  const s = strategy ?? core.strategy;
  const entry = queue.get(c.requestId)!;
  const r = entry.request;
  return changes.transact((): Resolution => {
    const now = core.clock.now();
    const saved = core.strategy;
    core.strategy = s;
    try {
      if (cluster.knows(entry.shape) && cluster.fits(entry.shape)) {
        const p = s.place(r, core.context);
        if (p) {
          booking.grant(r, p, now);
          return { conflict: book.get(conflictId)!, action: 'granted' };
        }
      }
      if (s.quantumMs !== null && s.sliced(r)) {
        if (slicing.rotate(now)) core.dirty = true;
        slicing.restartClock(now, saved.quantumMs);
        if (!queue.has(r.id)) return { conflict: book.get(conflictId)!, action: 'rotated' };
      }
      const plan = preemption.pendingFor(r.id) ? null : s.preempt(r, core.context);
      if (plan) {
        preemption.start(r, plan, now, s.graceMs);
        if (s.graceMs <= 0 && cluster.fits(entry.shape)) {
          const p = s.place(r, core.context);
          if (p) booking.grant(r, p, now);
        }
        const after = book.get(conflictId)!;
        return after.status === 'open' ? { conflict: after, action: 'preempting', resolvesAt: now + s.graceMs } : { conflict: after, action: 'granted' };
      }
    } finally {
      core.strategy = saved;
    }
    const why = preemption.pendingFor(r.id) ? 'holders are already under a preemption notice for it' : s.noRoomReason;
    throw new SchedulerError('invalid_state', `${s.name} cannot resolve it now: ${c.message}; ${why}`, { conflict: c });
  }).value;
}

/** What settles a schedule_conflict (by its key, node-conflicts.ts): not a strategy, an act on the node or the ledger. */
function remedyOf(key: string): string {
  if (key.startsWith('unreachable:')) return 'bring the node back, or release its allocations and remove it';
  if (key.startsWith('missing:') || key.startsWith('overcommit:')) return 'release the allocations it names';
  return 'stop the process or give it an allocation';
}
