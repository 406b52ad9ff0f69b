/**
 * Task dispatch over HTTP: the `Scheduler.md` routes at the paths its clients use (`/ti/register`, `/ti/remove`,
 * `/queue/submit`, `/queue/info`, `/task/query`, `/notify/task_complete`, `/health`), the same handlers under
 * `/api/dispatch/…` (where the OpenAPI document lists them), and Arbiter's own: instances, recent tasks, the routing
 * policy. Every error of these routes is `{status: "error", message, detail}` (dispatchErrors).
 */
import { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import {
  DispatchPolicyBodySchema, DispatchTasksQuerySchema, QueueInfoQuerySchema, QueueSubmitBodySchema, TaskCompleteBodySchema, TaskQueryQuerySchema,
  TiRegisterBodySchema, TiRemoveBodySchema,
  type DispatchError, type DispatchInstancesResponse, type DispatchPolicyResponse, type DispatchTasksResponse, type QueueInfoResponse, type QueueSubmitResponse, type TaskCompleteResponse, type TiRegisterResponse, type TiRemoveResponse,
} from '../../../shared/dispatch.ts';
import { ArbiterError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { VERSION } from '../../version.ts';
import type { Dispatcher } from '../../workloads/dispatch/dispatcher.ts';
import { DispatchError as CoreDispatchError } from '../../workloads/dispatch/dispatcher.ts';
import { taskQueryOf } from '../../workloads/dispatch/api.ts';
import { mapError, parseInput } from '../errors.ts';

/** The specification's paths (and their twins under /api/dispatch). */
export const DISPATCH_PATHS = ['/ti', '/queue', '/task', '/notify'] as const;

export interface DispatchRouteDeps {
  dispatcher: Dispatcher;
  /** resolves when every change so far is durable: answers wait for it */
  committed: () => Promise<void>;
  requireAdmin: RequestHandler;
  /** a task no longer in memory (ended long ago): from the store */
  storedTask?: (id: string) => ReturnType<Dispatcher['task']>;
}

export function dispatchRoutes(deps: DispatchRouteDeps): Router {
  const { dispatcher: d, committed } = deps;
  const r = Router();
  const both = (path: string) => [path, `/api/dispatch${path}`];
  const notFound = (message: string) => new CoreDispatchError('not_found', message);

  r.post(both('/ti/register'), async (req, res) => {
    const b = parseInput(TiRegisterBodySchema, req.body ?? {}, 'body');
    const { instance, created } = d.register(b.host, b.port, b.model_name, b.weight);
    await committed();
    const body: TiRegisterResponse = {
      status: 'success',
      message: created ? `task instance ${b.host}:${b.port} registered for model ${b.model_name}` : `task instance ${b.host}:${b.port} registered again, for model ${b.model_name}`,
      ti_uuid: instance.id,
    };
    res.json(body);
  });

  r.post(both('/ti/remove'), async (req, res) => {
    const b = parseInput(TiRemoveBodySchema, req.body ?? {}, 'body');
    const removed = d.remove(b.host, b.port);
    if (!removed) {
      const body: TiRemoveResponse & DispatchError = {
        status: 'error', message: `no task instance at ${b.host}:${b.port}`, detail: `no task instance at ${b.host}:${b.port}`, host: b.host, port: b.port, ti_uuid: null,
      };
      res.status(404).json(body);
      return;
    }
    await committed();
    const body: TiRemoveResponse = { status: 'success', message: `task instance ${b.host}:${b.port} removed; its tasks were routed to other instances`, host: b.host, port: b.port, ti_uuid: removed.id };
    res.json(body);
  });

  r.post(both('/queue/submit'), async (req, res) => {
    const b = parseInput(QueueSubmitBodySchema, req.body ?? {}, 'body');
    const task = d.submit(b.model_name, b.task_input, b.metadata);
    await committed();
    const body: QueueSubmitResponse = { status: 'success', task_id: task.id, scheduled_ti: task.instance ?? '' };
    res.json(body);
  });

  r.get(both('/queue/info'), (req, res) => {
    const q = parseInput(QueueInfoQuerySchema, req.query, 'query');
    const body: QueueInfoResponse = { status: 'success', queues: d.queueInfo(q.model_name) };
    res.json(body);
  });

  r.get(both('/task/query'), (req, res) => {
    const q = parseInput(TaskQueryQuerySchema, req.query, 'query');
    const task = d.task(q.task_id) ?? deps.storedTask?.(q.task_id);
    if (!task) throw notFound(`no task ${q.task_id}`);
    res.json(taskQueryOf(task));
  });

  r.post(both('/notify/task_complete'), async (req, res) => {
    const b = parseInput(TaskCompleteBodySchema, req.body ?? {}, 'body');
    const task = d.complete(b.task_id, b.result ?? null, b.execution_time);
    await committed();
    const body: TaskCompleteResponse = {
      status: 'success', message: `task ${task.id} completion processed`,
      total_time_ms: task.endedAt === null ? null : task.endedAt - task.submittedAt,
    };
    res.json(body);
  });

  r.get('/api/dispatch/instances', (_req, res) => {
    const body: DispatchInstancesResponse = { instances: d.instances.all() };
    res.json(body);
  });
  r.get('/api/dispatch/tasks', (req, res) => {
    const q = parseInput(DispatchTasksQuerySchema, req.query, 'query');
    const tasks = d.listTasks().sort((a, b) => b.submittedAt - a.submittedAt || (a.id < b.id ? 1 : -1)).slice(0, q.limit);
    const body: DispatchTasksResponse = { tasks };
    res.json(body);
  });
  r.get('/api/dispatch/policy', (_req, res) => {
    const body: DispatchPolicyResponse = { policy: d.policyInForce, available: d.availablePolicies };
    res.json(body);
  });
  r.put('/api/dispatch/policy', deps.requireAdmin, async (req, res) => {
    const b = parseInput(DispatchPolicyBodySchema, req.body ?? {}, 'body');
    if (b.policy !== d.policyInForce) d.setPolicy(b.policy);
    await committed();
    const body: DispatchPolicyResponse = { policy: d.policyInForce, available: d.availablePolicies };
    res.json(body);
  });
  return r;
}

/** `GET /health` of the specification: no token, JSON whatever the Accept header says. */
export function dispatchHealth(dispatcher: Dispatcher): RequestHandler {
  return (_req, res) => {
    res.json({ status: 'ok', service: 'arbiter', version: VERSION, instances: dispatcher.instances.all().length, models: dispatcher.instances.models() });
  };
}

/** Errors of the dispatch routes in the specification's shape: `{status: "error", message, detail}`. */
export function dispatchErrors(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const e: ArbiterError = mapError(err, req, log);
    const body: DispatchError & { code: string } = { status: 'error', message: e.message, detail: e.message, code: e.code };
    res.status(e.status).json(body);
  };
}
