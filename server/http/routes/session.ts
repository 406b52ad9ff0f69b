import { Router } from 'express';
import type { Session } from '../../../shared/api.ts';
import { principalOf } from '../access.ts';

/** GET /api/session: whether the API asks for a token, and who this caller is (the dashboard asks, to offer only what it may do). */
export function sessionRoutes(auth: { enabled: boolean }): Router {
  const r = Router();
  r.get('/api/session', (req, res) => {
    const p = principalOf(req);
    const session: Session = { auth: auth.enabled, admin: p.role === 'admin', role: p.role, ...(p.name !== undefined ? { name: p.name } : {}), ...(p.owner !== undefined ? { owner: p.owner } : {}) };
    res.json(session);
  });
  return r;
}
