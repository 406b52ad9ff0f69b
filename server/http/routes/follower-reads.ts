/**
 * What a follower replica answers itself, without the leader: the scheduler's read routes (a request, the
 * allocations, the queue in arrival order, the conflicts), from its read model of the store (read-model.ts),
 * brought up to date with the decision log before each answer — so a client sees there every write the leader
 * acknowledged before its read, through whichever replica it wrote. They answer while the leader is gone, too.
 * The queue in priority order is forwarded (the leader's strategy state orders it). With Redis, the leader's status
 * (`/api/status…`) comes from its newest snapshot in the event stream. Everything else is forwarded.
 */
import { Router, type RequestHandler } from 'express';
import type { Auth } from '../auth.ts';
import { HttpError } from '../errors.ts';
import { schedulerReadRoutes } from './scheduler.ts';
import { statusRoutes } from './status.ts';
import type { ResourceStatus } from '../../../shared/resources.ts';
import type { Logger } from '../../log.ts';
import { SchedulerStore } from '../../store/scheduler-store.ts';
import type { Db } from '../../store/sql.ts';
import { ReplicaReadModel } from '../../runtime/replicas/read-model.ts';

/** The paths of the reads a follower serves. */
export const FOLLOWER_READS = ['/api/requests/:id', '/api/allocations', '/api/queue', '/api/conflicts', '/api/conflicts/:id'];

export function followerReads(p: { db: Db; auth: Auth; now: () => number; log: Logger; forward: RequestHandler }): Router {
  const model = new ReplicaReadModel(new SchedulerStore(p.db));
  const r = Router();
  const leaderOnly: RequestHandler = (req, res, next) => {
    if (req.path === '/api/queue' && req.query.order === 'priority') p.forward(req, res, next);
    else next();
  };
  // one refresh serves the reads of one turn of the event loop: they were all received before it began (the poll
  // phase hands over what was readable when it started), so what was acknowledged before each of them is in it
  let fresh = false;
  const upToDate: RequestHandler = (_req, _res, next) => {
    try {
      if (!fresh) {
        model.refresh();
        fresh = true;
        setImmediate(() => (fresh = false));
      }
      next();
    } catch (err) {
      p.log.warn({ err }, 'reading the decision log failed');
      next(new HttpError(503, 'store_unavailable', 'the store cannot be read now; retry in a moment'));
    }
  };
  r.get(FOLLOWER_READS, leaderOnly, p.auth.middleware(), upToDate, schedulerReadRoutes(model, p.now));
  return r;
}

/** The status routes answered from `snapshot()` (the leader's newest one this follower has), forwarded without one. */
export function followerStatus(p: { auth: Auth; forward: RequestHandler; snapshot: () => ResourceStatus | null }): Router {
  const r = Router();
  let current: ResourceStatus | null = null;
  const routes = statusRoutes(() => current!);
  r.get(['/api/status', '/api/status/*part'], (req, res, next) => {
    current = p.snapshot();
    if (!current) p.forward(req, res, next);
    else next();
  }, p.auth.middleware(), routes);
  return r;
}
