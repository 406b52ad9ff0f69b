/**
 * Requests, allocations, the conflict queue and conflicts over REST. Each body, query and header is validated here,
 * once (400 naming each field); the engine gets parsed values. Scheduler errors carry their HTTP status
 * (SCHEDULER_ERROR_STATUS) and go through the one error boundary.
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import { decimalInt } from '../../../shared/query.ts';
import { QueueOrderSchema, RequestInputSchema, type Conflict, type QueueOrder } from '../../../shared/scheduler.ts';
import { AllocationsQuerySchema, TOKEN_QUERY, type AllocationView } from '../../../shared/api.ts';
import type { SchedulerEngine, SchedulerReads } from '../../scheduler/engine.ts';
import { assertActsFor, principalOf } from '../access.ts';
import { HttpError, parseInput } from '../errors.ts';

const IdParams = z.object({ id: z.string().min(1).max(128) });
const page = {
  limit: decimalInt(1, 1000).default(100),
  offset: decimalInt(0, Number.MAX_SAFE_INTEGER, 'expected a non-negative integer').default(0),
};
export const QueueQuerySchema = z.strictObject({ ...TOKEN_QUERY, order: QueueOrderSchema.default('fifo'), ...page });
export const ConflictsQuerySchema = z.strictObject({ ...TOKEN_QUERY, status: z.enum(['open', 'resolved', 'all']).default('open'), order: QueueOrderSchema.default('fifo'), ...page });
export const RenewBodySchema = z.strictObject({ leaseMs: z.int().min(1).max(7 * 24 * 3600_000).optional() });
/** `Idempotency-Key`: a retry with the same key returns the first submit's request */
export const SubmitHeadersSchema = z.object({
  'Idempotency-Key': z.string().regex(/^[\x21-\x7e]{1,128}$/, '1–128 printable ASCII characters').optional(),
});

/** Conflicts in FIFO order (opened first) or priority order (severity, then opened first). */
export function orderConflicts(list: readonly Conflict[], order: QueueOrder): Conflict[] {
  return [...list].sort(order === 'fifo'
    ? (a, b) => a.openedAt - b.openedAt || (a.id < b.id ? -1 : 1)
    : (a, b) => b.severity - a.severity || a.openedAt - b.openedAt || (a.id < b.id ? -1 : 1));
}

const notFound = (what: string, id: string) => new HttpError(404, 'not_found', `no ${what} with id ${id}`);

/** GET of a request, the allocations, the queue and the conflicts: answers from what `reads` holds now. */
export function schedulerReadRoutes(reads: SchedulerReads, now: () => number = Date.now): Router {
  const r = Router();
  r.get('/api/requests/:id', (req, res) => {
    const { id } = parseInput(IdParams, req.params, 'params');
    const request = reads.request(id);
    if (!request) throw notFound('request', id);
    res.json(request);
  });
  r.get('/api/allocations', (req, res) => {
    const q = parseInput(AllocationsQuerySchema, req.query, 'query');
    const since = q.sinceMs ?? now() - 3600_000;
    const list = q.state === 'active'
      ? reads.listAllocations('active')
      : reads.listAllocations().filter((a) => a.state === 'active' || (a.endedAt ?? 0) >= since);
    const allocations: AllocationView[] = list.map((a) => {
      const owner = reads.request(a.requestId)?.owner;
      return owner === undefined ? a : { ...a, owner };
    });
    res.json({ allocations });
  });
  r.get('/api/queue', (req, res) => {
    const q = parseInput(QueueQuerySchema, req.query, 'query');
    const { total, items } = reads.listQueue(q.order, q.limit, q.offset);
    res.json({ order: q.order, total, limit: q.limit, offset: q.offset, items });
  });
  r.get('/api/conflicts', (req, res) => {
    const q = parseInput(ConflictsQuerySchema, req.query, 'query');
    let list = q.status === 'open' ? reads.openConflicts() : reads.conflicts();
    if (q.status === 'resolved') list = list.filter((c) => c.status === 'resolved');
    list = orderConflicts(list, q.order);
    res.json({ status: q.status, order: q.order, total: list.length, items: list.slice(q.offset, q.offset + q.limit) });
  });
  r.get('/api/conflicts/:id', (req, res) => {
    const { id } = parseInput(IdParams, req.params, 'params');
    const c = reads.conflict(id);
    if (!c) throw notFound('conflict', id);
    res.json(c);
  });
  return r;
}

/** `committed()` resolves when every change so far is durable: answers wait for it (group commit). */
export function schedulerRoutes(engine: SchedulerEngine, committed: () => Promise<void> = () => Promise.resolve(), now: () => number = Date.now): Router {
  const r = Router();
  const allocationOwner = (id: string): string | null | undefined => {
    const a = engine.allocation(id);
    return a ? (engine.request(a.requestId)?.owner ?? null) : undefined;
  };
  /** a bound token touches only its owner's (what does not exist is the engine's 404) */
  const ownedBy = (req: Request, owner: string | null | undefined, what: string) => {
    if (owner !== undefined) assertActsFor(principalOf(req), owner ?? undefined, what);
  };

  r.post('/api/requests', async (req, res) => {
    const key = parseInput(SubmitHeadersSchema, { 'Idempotency-Key': req.header('idempotency-key') }, 'header')['Idempotency-Key'];
    const body = parseInput(RequestInputSchema, req.body ?? {}, 'body');
    assertActsFor(principalOf(req), body.owner, 'the request\'s owner');
    const result = engine.submit(body, key !== undefined ? { idempotencyKey: key } : {});
    const granted = result.request.status !== 'queued';
    await committed();
    res.status(granted ? 201 : 202).json({
      request: result.request,
      ...(result.allocation ? { allocation: result.allocation } : {}),
      ...(result.conflict ? { conflict: result.conflict } : {}),
      ...(result.replayed ? { replayed: true } : {}),
    });
  });
  r.delete('/api/requests/:id', async (req, res) => {
    const { id } = parseInput(IdParams, req.params, 'params');
    ownedBy(req, engine.request(id)?.owner, `request ${id}`);
    const request = engine.cancel(id);
    await committed();
    res.json(request);
  });

  r.post('/api/allocations/:id/renew', async (req, res) => {
    const { id } = parseInput(IdParams, req.params, 'params');
    const body = parseInput(RenewBodySchema, req.body ?? {}, 'body');
    ownedBy(req, allocationOwner(id), `allocation ${id}`);
    const allocation = engine.renew(id, body.leaseMs);
    await committed();
    res.json(allocation);
  });
  r.delete('/api/allocations/:id', async (req, res) => {
    const { id } = parseInput(IdParams, req.params, 'params');
    ownedBy(req, allocationOwner(id), `allocation ${id}`);
    const allocation = engine.release(id);
    await committed();
    res.json(allocation);
  });

  r.use(schedulerReadRoutes(engine, now));
  return r;
}
