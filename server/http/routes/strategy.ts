/**
 * Strategies over REST: the current one and its config, every one with its config's JSON Schema and defaults,
 * switching (admin), live performance per strategy, compare by replaying this server's requests, and resolving a
 * conflict with a named strategy.
 */
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { CompareBodySchema, ResolveBodySchema, StrategyPutSchema } from '../../../shared/strategy.ts';
import type { StrategyName } from '../../../shared/scheduler.ts';
import type { SchedulerEngine } from '../../scheduler/engine.ts';
import type { StrategyService } from '../../runtime/strategy-service.ts';
import { createStrategy } from '../../scheduler/strategies/index.ts';
import { parseInput } from '../errors.ts';

/**
 * Resolve conflict `id` as the named strategy would (its last config), or as the one in force: the conflict with
 * what was done (also the compatibility surface's resolve).
 */
export function resolveWith(engine: SchedulerEngine, service: StrategyService, id: string, name: StrategyName | undefined) {
  const strategy = name !== undefined && name !== engine.strategyName ? createStrategy(name, service.resolveConfig(name, undefined)) : undefined;
  const out = engine.resolveConflict(id, strategy);
  return {
    ...out.conflict,
    action: out.action,
    strategy: name ?? engine.strategyName,
    ...(out.resolvesAt !== undefined ? { resolvesAt: out.resolvesAt } : {}),
  };
}

const IdParams = z.object({ id: z.string().min(1).max(128) });

export function strategyRoutes(engine: SchedulerEngine, service: StrategyService, requireAdmin: RequestHandler, committed: () => Promise<void> = () => Promise.resolve()): Router {
  const r = Router();

  r.get('/api/strategy', (_req, res) => {
    res.json(service.state());
  });
  r.get('/api/strategies', (_req, res) => {
    res.json({ strategies: service.list() });
  });
  r.put('/api/strategy', requireAdmin, async (req, res) => {
    const body = parseInput(StrategyPutSchema, req.body ?? {}, 'body');
    const state = service.switch(body.name, body.config);
    await committed();
    res.json(state);
  });
  r.get('/api/strategy/performance', (_req, res) => {
    res.json(service.performance());
  });
  r.post('/api/strategy/compare', (req, res) => {
    const body = parseInput(CompareBodySchema, req.body ?? {}, 'body');
    res.json(service.compare(body));
  });
  r.post('/api/conflicts/:id/resolve', async (req, res) => {
    const { id } = parseInput(IdParams, req.params, 'params');
    const body = parseInput(ResolveBodySchema, req.body ?? {}, 'body');
    const out = resolveWith(engine, service, id, body.strategy);
    await committed();
    res.status(out.action === 'preempting' ? 202 : 200).json(out);
  });
  return r;
}
