/**
 * Named tokens over HTTP (admin only, access.ts): list, create (the token is in this answer only), revoke. The same
 * store as `arbiter token`; auth reads the change at once here, within seconds when the CLI made it.
 */
import { Router } from 'express';
import { TokenCreateBodySchema, TokenNameParamsSchema } from '../../../shared/api.ts';
import { viewOf, type TokenStore } from '../../store/token-store.ts';
import { HttpError, parseInput } from '../errors.ts';

export function tokenRoutes(tokens: TokenStore, changed: () => void, now: () => number): Router {
  const r = Router();
  r.get('/api/tokens', (_req, res) => {
    res.json({ tokens: tokens.list().map(viewOf) });
  });
  r.post('/api/tokens', (req, res) => {
    const body = parseInput(TokenCreateBodySchema, req.body ?? {}, 'body');
    const { token, stored } = tokens.create(body.name, body.role, body.bindOwner, now());
    changed();
    res.status(201).json({ ...viewOf(stored), token });
  });
  r.delete('/api/tokens/:name', (req, res) => {
    const { name } = parseInput(TokenNameParamsSchema, req.params, 'params');
    if (!tokens.revoke(name, now())) {
      const known = tokens.list().find((t) => t.name === name);
      if (!known) throw new HttpError(404, 'not_found', `no token named ${name}`);
      throw new HttpError(409, 'already_revoked', `the token ${name} was revoked already`);
    }
    changed();
    res.json(viewOf(tokens.list().find((t) => t.name === name)!));
  });
  return r;
}
