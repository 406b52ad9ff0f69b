/** The role each route needs, and the owner a bound token acts for (access.ts), and whose a token is (auth.ts). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { assertActsFor, assertRole, requiredRole } from '../../server/http/access.ts';
import { Auth } from '../../server/http/auth.ts';
import { openDatabase } from '../../server/store/db.ts';
import { TokenStore, tokenHash } from '../../server/store/token-store.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('requiredRole', () => {
  it.each([
    ['GET', '/api/queue', 'viewer'], ['HEAD', '/api/status', 'viewer'], ['GET', '/api/events', 'viewer'], ['GET', '/metrics', 'viewer'],
    ['POST', '/api/strategy/compare', 'viewer'],
    ['POST', '/api/requests', 'operator'], ['DELETE', '/api/allocations/a1', 'operator'], ['POST', '/api/conflicts/c1/resolve', 'operator'],
    ['POST', '/api/workers', 'operator'], ['POST', '/queue/submit', 'operator'], ['POST', '/notify/task_complete', 'operator'],
    ['POST', '/api/workflows', 'operator'], ['POST', '/api/resource-scheduler/allocate', 'operator'],
    ['PUT', '/api/strategy', 'admin'], ['POST', '/api/resource-scheduler/strategy/set', 'admin'], ['PUT', '/api/dispatch/policy', 'admin'],
    ['POST', '/ti/register', 'admin'], ['POST', '/api/dispatch/ti/remove', 'admin'],
    ['GET', '/api/tokens', 'admin'], ['POST', '/api/tokens', 'admin'], ['DELETE', '/api/tokens/alice', 'admin'],
  ])('%s %s needs %s', (method, path, role) => {
    expect(requiredRole(method, path)).toBe(role);
  });

  it('refuses a role below the one needed, naming both', () => {
    expect(() => assertRole({ role: 'viewer', name: 'eve' }, 'operator')).toThrow(/needs the operator role.*eve \(viewer\)/);
    expect(() => assertRole({ role: 'operator' }, 'admin')).toThrow(/admin role/);
    expect(() => assertRole({ role: 'admin' }, 'operator')).not.toThrow();
  });

  it('a bound token acts only for its owner; an unbound one for anyone', () => {
    expect(() => assertActsFor({ role: 'operator', name: 'alice', owner: 'alice' }, 'alice', 'x')).not.toThrow();
    expect(() => assertActsFor({ role: 'operator', name: 'alice', owner: 'alice' }, 'bob', 'allocation a1'))
      .toThrow(expect.objectContaining({ status: 403, code: 'not_owner' }));
    expect(() => assertActsFor({ role: 'operator', name: 'ci' }, 'bob', 'x')).not.toThrow();
  });
});

describe('Auth with named tokens', () => {
  function setup(adminToken?: string) {
    const dir = mkdtempSync(join(tmpdir(), 'arbiter-access-'));
    dirs.push(dir);
    const db = openDatabase({ dataDir: dir });
    let now = 1_000_000;
    const tokens = new TokenStore(db);
    const auth = new Auth('api-token-0123456789abcdef', true, adminToken, { tokens, now: () => now });
    return { db, tokens, auth, advance: (ms: number) => (now += ms), now: () => now };
  }

  it('the configured tokens: operator and admin with --admin-token, the API token admin without one', () => {
    expect(setup().auth.principal('api-token-0123456789abcdef')).toEqual({ role: 'admin' });
    const { auth } = setup('admin-token-0123456789abcdef');
    expect(auth.principal('api-token-0123456789abcdef')).toEqual({ role: 'operator' });
    expect(auth.principal('admin-token-0123456789abcdef')).toEqual({ role: 'admin' });
    expect(auth.principal('nobody')).toBeNull();
  });

  it('a named token made beside it is known at once; revoked, it is refused after the reload interval', () => {
    const { db, tokens, auth, advance, now } = setup('admin-token-0123456789abcdef');
    const other = new TokenStore(db); // as `arbiter token create` would, beside the server
    expect(auth.principal('arb_nothing')).toBeNull();
    advance(1000);
    const { token } = other.create('alice', 'operator', true, now());
    expect(auth.principal(token)).toEqual({ role: 'operator', name: 'alice', owner: 'alice' });
    const viewer = other.create('ci', 'viewer', false, now()).token;
    advance(1000);
    expect(auth.principal(viewer)).toEqual({ role: 'viewer', name: 'ci' });
    other.revoke('alice', now());
    advance(1000);
    expect(auth.principal(token)).not.toBeNull(); // the cache holds it until the reload
    advance(5000);
    expect(auth.principal(token)).toBeNull();
    expect(tokens.list().find((t) => t.name === 'alice')).toMatchObject({ revokedAt: expect.any(Number), lastUsedAt: expect.any(Number) });
  });

  it('stores the hash, never the token; a name is taken once', () => {
    const { db, tokens, now } = setup();
    const { token } = tokens.create('bob', 'admin', true, now());
    expect(token).toMatch(/^arb_[A-Za-z0-9_-]{43}$/);
    const rows = db.prepare('SELECT * FROM api_tokens').all();
    expect(JSON.stringify(rows)).not.toContain(token.slice(4));
    expect(rows).toEqual([expect.objectContaining({ name: 'bob', role: 'admin', hash: tokenHash(token) })]);
    expect(() => tokens.create('bob', 'viewer', true, now())).toThrow(expect.objectContaining({ status: 409, code: 'token_exists' }));
  });
});
