/**
 * The resource-scheduler specification's surface under /api/resource-scheduler/: a thin adapter over Arbiter's own
 * API. Each route parses the specification's names and units (shared/resource-scheduler.ts), calls what Arbiter's
 * own route calls (the status board, the engine, the strategy service, the SSE server) and answers with the
 * specification's keys beside Arbiter's records. Errors go through the one error boundary: 400 naming the field,
 * 404 unknown ids, 409 state conflicts, 422 what can never be honoured, 403 strategy/set without the admin right.
 */
import { Router, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import type { ResourceStatus } from '../../../shared/resources.ts';
import {
  RS_CONFIG_KEYS, RsAllocateBodySchema, RsPerformanceQuerySchema, RsQueueQuerySchema, RsResolveBodySchema, RsResolveByIdBodySchema,
  RsStrategySetBodySchema, RsTimeSliceSchema, type RsAllocateBody, type RsGpu,
} from '../../../shared/resource-scheduler.ts';
import { RequestInputSchema, type ResourcesInput, type StrategyName } from '../../../shared/scheduler.ts';
import { STRATEGY_CONFIG_SCHEMAS } from '../../../shared/strategy.ts';
import { invalidInput } from '../../errors.ts';
import type { SseServer } from '../../push/sse.ts';
import type { StrategyService } from '../../runtime/strategy-service.ts';
import type { SchedulerEngine } from '../../scheduler/engine.ts';
import { HttpError, parseInput } from '../errors.ts';
import { principalOf } from '../access.ts';
import { openEventStream } from './events.ts';
import { orderConflicts } from './scheduler.ts';
import { resolveWith } from './strategy.ts';

export const RS_BASE = '/api/resource-scheduler';

export interface ResourceSchedulerDeps {
  snapshot: () => ResourceStatus;
  engine: SchedulerEngine;
  strategies: StrategyService;
  sse: SseServer;
  requireAdmin: RequestHandler;
  /** resolves when every change so far is durable: answers wait for it */
  committed: () => Promise<void>;
}

const IdParams = z.object({ id: z.string().min(1).max(128) });

export function resourceSchedulerRoutes(d: ResourceSchedulerDeps): Router {
  const { engine, strategies } = d;
  const r = Router();

  r.get(`${RS_BASE}/status/cpu`, (_req, res) => {
    const s = d.snapshot();
    if (!s.host) throw new HttpError(503, 'not_ready', `no host sample yet (host source: ${s.sources.host?.status ?? 'starting'})`);
    res.json({ success: true, sampledAt: s.host.sampledAt, cpu_state: s.host.cpu });
  });
  r.get(`${RS_BASE}/status/gpu`, (_req, res) => {
    const s = d.snapshot();
    const gpus = gpuStates(s, engine);
    res.json({ success: true, count: gpus.length, source: s.sources.gpu ?? null, gpus, gpu_states: Object.fromEntries(gpus.map((g) => [String(g.index), g])) });
  });
  r.get(`${RS_BASE}/status/containers`, (_req, res) => {
    const s = d.snapshot();
    res.json({ success: true, count: s.containers.length, source: s.sources.docker ?? null, containers: s.containers, container_states: Object.fromEntries(s.containers.map((c) => [c.id, c])) });
  });

  r.get(`${RS_BASE}/conflicts/queue`, (req, res) => {
    const q = parseInput(RsQueueQuerySchema, req.query, 'query');
    const order = q.use_priority ? 'priority' : 'fifo';
    const conflicts = orderConflicts(engine.openConflicts(), order).slice(0, q.limit);
    const { total, items } = engine.listQueue(order, q.limit, 0);
    res.json({ success: true, use_priority: q.use_priority, order, count: conflicts.length, conflicts, queue: items, waiting: total });
  });
  const resolve = async (id: string, strategy: StrategyName | null | undefined, res: Response) => {
    const out = resolveWith(engine, strategies, id, strategy ?? undefined);
    await d.committed();
    const { action, strategy: used, resolvesAt, ...conflict } = out;
    res.status(action === 'preempting' ? 202 : 200).json({
      success: true, message: `conflict ${id}: ${action}`, action, strategy: used, conflict, ...(resolvesAt !== undefined ? { resolvesAt } : {}),
    });
  };
  r.post(`${RS_BASE}/conflicts/:id/resolve`, async (req, res) => {
    const { id } = parseInput(IdParams, req.params, 'params');
    const body = parseInput(RsResolveBodySchema, req.body ?? {}, 'body');
    await resolve(id, body.strategy, res);
  });
  r.post(`${RS_BASE}/conflicts/resolve`, async (req, res) => {
    const body = parseInput(RsResolveByIdBodySchema, req.body ?? {}, 'body');
    await resolve(body.conflict_id, body.strategy, res);
  });

  r.post(`${RS_BASE}/strategy/set`, d.requireAdmin, async (req, res) => {
    const body = parseInput(RsStrategySetBodySchema, req.body ?? {}, 'body');
    const { config, ignored } = specConfig(strategies, body.strategy, body.config ?? undefined);
    const state = strategies.switch(body.strategy, config);
    await d.committed();
    res.json({ success: true, message: `strategy set to ${state.name}`, strategy: state.name, config: state.config, since: state.since, ignored });
  });
  for (const path of ['strategy', 'strategy/current']) {
    r.get(`${RS_BASE}/${path}`, (_req, res) => {
      const state = strategies.state();
      res.json({ success: true, strategy: state.name, config: state.config, since: state.since });
    });
  }
  r.get(`${RS_BASE}/strategy/performance`, (req, res) => {
    const q = parseInput(RsPerformanceQuerySchema, req.query, 'query');
    const performance = strategies.performance();
    if (q.strategy !== undefined) performance.strategies = performance.strategies.filter((p) => p.strategy === q.strategy);
    res.json({ success: true, performance });
  });

  r.post(`${RS_BASE}/allocate`, async (req, res) => {
    const body = parseInput(RsAllocateBodySchema, req.body ?? {}, 'body');
    // the owner: the token's, when it is bound to one; else the task's id
    const input = parseInput(RequestInputSchema, {
      owner: principalOf(req).owner ?? body.task_id,
      priority: body.priority,
      resources: resourcesOf(body, d.snapshot().node, engine),
      ...(body.metadata ? { labels: Object.fromEntries(Object.entries(body.metadata).map(([k, v]) => [k, String(v)])) } : {}),
    }, 'body');
    const result = engine.submit(input);
    await d.committed();
    const granted = result.request.status !== 'queued';
    res.status(granted ? 201 : 202).json({
      success: true, task_id: body.task_id, status: granted ? 'granted' : 'queued', request_id: result.request.id,
      allocation_id: result.allocation?.id ?? null, resources: result.request.resources, request: result.request,
      ...(result.allocation ? { allocation: result.allocation } : {}), ...(result.conflict ? { conflict: result.conflict } : {}),
    });
  });

  r.use(rsPushSseRoute(d.sse));
  return r;
}

/** The specification's SSE stream (unnamed frames, for `EventSource.onmessage`): a push worker serves it too. */
export function rsPushSseRoute(sse: SseServer): Router {
  const r = Router();
  r.get(`${RS_BASE}/push/sse`, (req, res) => {
    openEventStream(sse, req, res, 'message');
  });
  return r;
}

/** Every GPU of the snapshot with its state: error (its status or health), in_use (an allocation or a process), available. */
export function gpuStates(s: ResourceStatus, engine: SchedulerEngine): RsGpu[] {
  const active = engine.listAllocations('active').filter((a) => a.node === s.node);
  return s.gpus.map((g) => {
    const allocationIds = active.filter((a) => a.gpuIndices.includes(g.index)).map((a) => a.id);
    const state = g.status === 'error' || g.health === 'error' ? 'error' : allocationIds.length > 0 || g.processes.length > 0 ? 'in_use' : 'available';
    return { ...g, state, allocationIds };
  });
}

/** `requested_amount` in Arbiter's units: cpu percent of the node's capacity → millicores (up), GPUs, MiB (up). */
function resourcesOf(body: RsAllocateBody, node: string, engine: SchedulerEngine): ResourcesInput {
  const amount = body.requested_amount;
  if (body.resource_type === 'gpu') return { gpus: amount };
  if (body.resource_type === 'memory') return { memoryMiB: Math.ceil(amount) };
  const capacity = engine.nodeViews().find((n) => n.name === node)?.capacity.cpu ?? null;
  if (capacity === null) throw new HttpError(503, 'not_ready', 'the CPU capacity of this node is not known yet (no host sample)');
  return { cpu: Math.max(1, Math.ceil((amount / 100) * capacity)) };
}

/**
 * The config strategy/set switches with: the strategy's last config, with the specification's keys mapped
 * (RS_CONFIG_KEYS) and Arbiter's own keys of that strategy over it; a key that is neither is a 400 naming it, a
 * specification key the strategy has no use for is reported as ignored. No config: the strategy's last config.
 */
export function specConfig(service: StrategyService, name: StrategyName, given: Record<string, unknown> | undefined) {
  const ignored: { key: string; reason: string }[] = [];
  if (given === undefined) return { config: undefined, ignored };
  const own = Object.keys(STRATEGY_CONFIG_SCHEMAS[name].shape);
  const mapped: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(given)) {
    if (key === 'time_slice') {
      const m = RS_CONFIG_KEYS.time_slice;
      const seconds = RsTimeSliceSchema.safeParse(value);
      if (!seconds.success) throw invalidInput('invalid body', seconds.error, ['config', key]);
      if ((m.strategies as readonly string[]).includes(name)) mapped[m.key] = Math.round(seconds.data * m.scale);
      else ignored.push({ key, reason: `${name} has no time quantum (${m.strategies.join(' and ')} have one)` });
    } else if (own.includes(key)) mapped[key] = value;
    else unknown.push(key);
  }
  if (unknown.length > 0) {
    const known = [...Object.keys(RS_CONFIG_KEYS), ...own].join(', ');
    const details = unknown.map((key) => ({ field: `config.${key}`, message: `unknown config key for ${name} (known: ${known})` }));
    throw new HttpError(400, 'invalid_request', `invalid body: ${details.map((p) => `${p.field}: ${p.message}`).join('; ')}`, details);
  }
  return { config: { ...service.resolveConfig(name, undefined), ...mapped }, ignored };
}
