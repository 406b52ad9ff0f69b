/**
 * Who may do what, once a token is known (auth.ts finds out whose it is): the role each route needs, and the owner
 * a bound token acts for.
 *  - `viewer`: every read (GET, HEAD) and every push stream; also POST /api/strategy/compare, a what-if that changes nothing;
 *  - `admin`: switching the strategy (PUT /api/strategy, the specification's strategy/set), the dispatch policy,
 *    registering and removing task instances (/ti/register, /ti/remove), and the tokens (/api/tokens);
 *  - `operator`: every other change (submit, release, cancel, renew, resolve, workers, tasks, workflows).
 * A token bound to an owner (a named token, unless created with bindOwner false) submits only for that owner and
 * touches only that owner's requests, allocations and workers: 403 `not_owner` otherwise.
 */
import type { IncomingMessage } from 'node:http';
import { ROLES } from '../../shared/names.ts';
import type { Role } from '../../shared/api.ts';
import { HttpError } from './errors.ts';

/** Whose a request is: the role of its token, a named token's name, and the owner it is bound to. */
export interface Principal {
  role: Role;
  name?: string;
  owner?: string;
}

/** Auth off: everyone may do everything. */
export const EVERYONE: Principal = { role: 'admin' };

const principals = new WeakMap<IncomingMessage, Principal>();
export const setPrincipal = (req: IncomingMessage, p: Principal): void => void principals.set(req, p);
/** The principal auth found for this request (EVERYONE when nothing guards it: auth off). */
export const principalOf = (req: IncomingMessage): Principal => principals.get(req) ?? EVERYONE;

export const atLeast = (p: Principal, role: Role): boolean => ROLES.indexOf(p.role) >= ROLES.indexOf(role);

const ADMIN_ROUTES: readonly [method: string, path: RegExp][] = [
  ['PUT', /^\/api\/strategy\/?$/],
  ['POST', /^\/api\/resource-scheduler\/strategy\/set\/?$/],
  ['PUT', /^\/api\/dispatch\/policy\/?$/],
  ['POST', /^(\/api\/dispatch)?\/ti\/(register|remove)\/?$/],
  ['*', /^\/api\/tokens(\/|$)/],
];
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const READ_POSTS = [/^\/api\/strategy\/compare\/?$/];

/** The role a request needs, from its method and path (the path as sent, without the query). */
export function requiredRole(method: string, path: string): Role {
  if (ADMIN_ROUTES.some(([m, re]) => (m === '*' || m === method) && re.test(path))) return 'admin';
  if (READ_METHODS.has(method) || (method === 'POST' && READ_POSTS.some((re) => re.test(path)))) return 'viewer';
  return 'operator';
}

/** 403 unless `p` has `role`. */
export function assertRole(p: Principal, role: Role): void {
  if (atLeast(p, role)) return;
  const who = p.name !== undefined ? `the token ${p.name} (${p.role})` : `this token (${p.role})`;
  const hint = role === 'admin' ? ' (--admin-token / ARBITER_ADMIN_TOKEN, or a token created with --role admin)' : '';
  throw new HttpError(403, 'forbidden', `this needs the ${role} role${hint}; ${who} does not have it`, { required: role, role: p.role });
}

/** 403 `not_owner` when `p` is bound to an owner other than `owner` (`what`: what is being touched, for the message). */
export function assertActsFor(p: Principal, owner: string | undefined, what: string): void {
  if (p.owner === undefined || owner === p.owner) return;
  throw new HttpError(403, 'not_owner', `the token ${p.name} acts only for owner ${p.owner}; ${what} is ${owner === undefined ? 'not its' : `${owner}'s`}`, { owner: p.owner });
}
