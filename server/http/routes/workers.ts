/**
 * Workers over HTTP (`/api/workers`): create a group, list or wait for it (`timeoutMs`: 408 `not_ready` naming why
 * each replica is not running), delete one or all, read a worker's output, create an engine in it and call it. An
 * exception raised by the engine answers 502 `{error: {code: "engine_error", message, remote_type, remote_stack}}`.
 */
import { Router, type ErrorRequestHandler, type Request } from 'express';
import { z } from 'zod';
import {
  CallBodySchema, EngineBodySchema, WorkerLogsQuerySchema, WorkersCreateBodySchema, WorkersDeleteQuerySchema, WorkersQuerySchema,
  type CallResponse, type EngineResponse, type WorkerGroupResponse, type WorkerLogsResponse, type WorkersResponse,
} from '../../../shared/workers.ts';
import { EngineCallError } from '../../runtime/workers/engine-calls.ts';
import type { WorkerService } from '../../runtime/workers/service.ts';
import { assertActsFor, principalOf } from '../access.ts';
import { parseInput } from '../errors.ts';

const IdParams = z.object({ id: z.string().min(1).max(200) });
const NameParams = z.object({ name: z.string().min(1).max(200) });

export function workerRoutes(workers: WorkerService): Router {
  const r = Router();
  /** a bound token drives only its owner's workers (an unknown id is the service's 404) */
  const workerOwnedBy = (req: Request, id: string) => {
    const w = workers.book.get(id);
    if (w) assertActsFor(principalOf(req), w.worker.owner, `worker ${id}`);
  };
  r.post('/api/workers', async (req, res) => {
    const body = parseInput(WorkersCreateBodySchema, req.body ?? {}, 'body');
    const who = principalOf(req);
    const owner = body.owner ?? who.owner ?? 'anonymous';
    assertActsFor(who, owner, 'the workers\' owner');
    const made = await workers.create(body, owner);
    const answer: WorkerGroupResponse = { name: body.name, workers: made };
    res.status(202).json(answer);
  });
  r.get('/api/workers', async (req, res) => {
    const q = parseInput(WorkersQuerySchema, req.query, 'query');
    const list = q.name !== undefined && q.timeoutMs !== undefined ? await workers.waitReady(q.name, q.timeoutMs) : workers.list(q.name);
    const answer: WorkersResponse = { workers: list };
    res.json(answer);
  });
  r.delete('/api/workers', async (req, res) => {
    const q = parseInput(WorkersDeleteQuerySchema, req.query, 'query');
    const who = principalOf(req);
    const owner = q.owner ?? who.owner;
    assertActsFor(who, owner, 'the workers\' owner');
    const stopped = [];
    for (const name of workers.liveGroups(owner)) stopped.push(...(await workers.delete(name)));
    const answer: WorkersResponse = { workers: stopped };
    res.json(answer);
  });
  r.delete('/api/workers/:name', async (req, res) => {
    const { name } = parseInput(NameParams, req.params, 'params');
    const group = workers.list(name);
    if (group.length) assertActsFor(principalOf(req), group[0]!.owner, `worker group ${name}`);
    const answer: WorkerGroupResponse = { name, workers: await workers.delete(name) };
    res.json(answer);
  });
  r.get('/api/workers/:id/logs', async (req, res) => {
    const { id } = parseInput(IdParams, req.params, 'params');
    const q = parseInput(WorkerLogsQuerySchema, req.query, 'query');
    const answer: WorkerLogsResponse = { id, lines: await workers.logs(id, q.tail) };
    res.json(answer);
  });
  r.post('/api/workers/:id/engine', async (req, res) => {
    const { id } = parseInput(IdParams, req.params, 'params');
    const body = parseInput(EngineBodySchema, req.body ?? {}, 'body');
    workerOwnedBy(req, id);
    const answer: EngineResponse = await workers.createEngine(id, body);
    res.json(answer);
  });
  r.post('/api/workers/:id/call', async (req, res) => {
    const { id } = parseInput(IdParams, req.params, 'params');
    const body = parseInput(CallBodySchema, req.body ?? {}, 'body');
    workerOwnedBy(req, id);
    const answer: CallResponse = await workers.call(id, body);
    res.json(answer);
  });
  return r;
}

/** The engine's exception as the reference API's clients read it: its type and stack next to the message. */
export const engineErrors: ErrorRequestHandler = (err: unknown, _req, res, next) => {
  if (!(err instanceof EngineCallError) || res.headersSent) return next(err);
  res.status(502).json({ error: { code: 'engine_error', ...err.remote } });
};
