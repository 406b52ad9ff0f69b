import { Router } from 'express';
import type { Session } from '../../../shared/api.ts';
import type { Auth } from '../auth.ts';

/** GET /api/session: whether the API asks for a token and whether this caller may act as admin (the dashboard asks). */
export function sessionRoutes(auth: Pick<Auth, 'enabled' | 'isAdmin'>): Router {
  const r = Router();
  r.get('/api/session', (req, res) => {
    const session: Session = { auth: auth.enabled, admin: auth.isAdmin(req) };
    res.json(session);
  });
  return r;
}
