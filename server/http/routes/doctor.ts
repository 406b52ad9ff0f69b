/** GET /api/doctor: `arbiter doctor`'s checks of this running server (its port aside), for the dashboard's source badges. */
import { Router } from 'express';
import { DoctorQuerySchema, type DoctorCheck, type DoctorResponse } from '../../../shared/api.ts';
import { parseInput } from '../errors.ts';

/** `diagnose`: the checks (run at most once per `cacheMs`: nvidia-smi and the engine are asked each time). */
export function doctorRoutes(diagnose: () => Promise<DoctorCheck[]>, now: () => number, cacheMs = 10_000): Router {
  const r = Router();
  let last: { at: number; checks: Promise<DoctorCheck[]> } | null = null;
  r.get('/api/doctor', async (req, res) => {
    const q = parseInput(DoctorQuerySchema, req.query, 'query');
    if (!last || now() - last.at >= cacheMs) last = { at: now(), checks: diagnose() };
    const checks = await last.checks;
    const answer: DoctorResponse = { checks: q.source ? checks.filter((c) => c.source === q.source) : checks };
    res.json(answer);
  });
  return r;
}
