/**
 * Token auth. The API token comes from config, else is generated once and kept in `<dataDir>/token` (mode 0600);
 * with `--admin-token` it is an operator's and the admin token an admin's, without one it has every right. Named
 * tokens (`arbiter token create`, /api/tokens; token-store.ts) carry their own role and may be bound to an owner.
 * Accepted as `Authorization: Bearer …`, the HttpOnly cookie set by opening `/?token=…`, or `?access_token=…`
 * (for EventSource clients that cannot send headers). The configured tokens are compared in constant time; named
 * ones are looked up by their SHA-256. What each role may do: access.ts.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { tokenHash, type StoredToken, type TokenStore } from '../store/token-store.ts';
import { assertRole, principalOf, requiredRole, setPrincipal, EVERYONE, type Principal } from './access.ts';
import { HttpError } from './errors.ts';
import { TokenLockout, type LockoutOptions } from './lockout.ts';

export const COOKIE_NAME = 'arbiter_token';
const COOKIE_MAX_AGE_S = 30 * 24 * 3600;

export function loadOrCreateToken(dataDir: string, configured?: string): string {
  if (configured) return configured;
  const path = join(dataDir, 'token');
  try {
    const saved = readFileSync(path, 'utf8').trim();
    if (saved.length >= 16) return saved;
  } catch {
    // first start: generate below
  }
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return token;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export interface AuthOptions extends LockoutOptions {
  /** named tokens (absent: only the configured ones) */
  tokens?: TokenStore;
}

/** How often the named tokens are read again (a token made or revoked by `arbiter token` counts within this). */
const RELOAD_MS = 5000;
/** How often a token's last use is written. */
const TOUCH_MS = 60_000;

export class Auth {
  private readonly expected: Buffer;
  private readonly admin: Buffer | null;
  private readonly tokens: TokenStore | undefined;
  private readonly now: () => number;
  private named = new Map<string, StoredToken>();
  private loadedAt = -Infinity;
  private readonly touched = new Map<string, number>();

  /** wrong tokens per address: too many lock it out (lockout.ts) */
  readonly lockout: TokenLockout;

  /**
   * `adminToken`: the token that may change how the node is scheduled (PUT /api/strategy); it is also accepted
   * wherever the API token is. Without one, the API token has that right.
   */
  constructor(readonly token: string, readonly enabled: boolean, adminToken?: string, opts: AuthOptions = {}) {
    this.expected = digest(token);
    this.admin = adminToken ? digest(adminToken) : null;
    const { tokens, ...lockout } = opts;
    this.tokens = tokens;
    this.now = opts.now ?? Date.now;
    this.lockout = new TokenLockout(lockout);
  }

  /** Whose `candidate` is (null: nobody's). */
  principal(candidate: string | undefined): Principal | null {
    if (!this.enabled) return EVERYONE;
    if (!candidate) return null;
    const d = digest(candidate);
    if (this.admin !== null && timingSafeEqual(d, this.admin)) return { role: 'admin' };
    if (timingSafeEqual(d, this.expected)) return { role: this.admin === null ? 'admin' : 'operator' };
    const named = this.namedToken(d.toString('hex'));
    return named ? { role: named.role, name: named.name, ...(named.bindOwner ? { owner: named.name } : {}) } : null;
  }

  /** The named tokens changed here (created, revoked): read them again at the next lookup. */
  tokensChanged(): void {
    this.loadedAt = -Infinity;
  }

  private namedToken(hash: string): StoredToken | undefined {
    if (!this.tokens) return undefined;
    const now = this.now();
    // unknown: perhaps made a moment ago by `arbiter token create` — read again, at most once a second
    if (now - this.loadedAt >= RELOAD_MS || (!this.named.has(hash) && now - this.loadedAt >= 1000)) {
      this.named = new Map(this.tokens.list().filter((t) => t.revokedAt === null).map((t) => [t.hash, t]));
      this.loadedAt = now;
    }
    const t = this.named.get(hash);
    if (t && now - (this.touched.get(hash) ?? -Infinity) >= TOUCH_MS) {
      this.touched.set(hash, now);
      this.tokens.touch(hash, now);
    }
    return t;
  }

  /**
   * Whether a request from `address` with `candidate` may go on: `locked` while the address is locked out (what
   * it carries is not even checked), else `ok` with whose it is, or `wrong` (a wrong token counted against the address).
   */
  authenticate(candidate: string | undefined, address: string | undefined): { verdict: 'ok'; principal: Principal } | { verdict: 'wrong' | 'locked' } {
    if (!this.enabled) return { verdict: 'ok', principal: EVERYONE };
    if (this.lockout.lockedFor(address) > 0) return { verdict: 'locked' };
    const principal = this.principal(candidate);
    if (principal) return { verdict: 'ok', principal };
    if (candidate) this.lockout.failed(address);
    return { verdict: 'wrong' };
  }

  verify(candidate: string | undefined, address: string | undefined): 'ok' | 'wrong' | 'locked' {
    return this.authenticate(candidate, address).verdict;
  }

  check(candidate: string | undefined): boolean {
    return this.principal(candidate) !== null;
  }

  /** Guards an admin route (after `middleware`): 403 for a valid token without the right. */
  requireAdmin(): RequestHandler {
    return (req, _res, next) => {
      assertRole(principalOf(req), 'admin');
      next();
    };
  }

  /** The token a request carries, from header, cookie or query, in that order. */
  static tokenOf(req: IncomingMessage, url?: URL): string | undefined {
    // the scheme is case-insensitive (RFC 9110 §11.1)
    const bearer = /^bearer[ \t]+(.+)$/i.exec(req.headers.authorization ?? '');
    if (bearer) return bearer[1]!.trim();
    const cookie = readCookie(req.headers.cookie, COOKIE_NAME);
    if (cookie) return cookie;
    try {
      return (url ?? new URL(req.url ?? '/', 'http://x')).searchParams.get('access_token') ?? undefined;
    } catch {
      return undefined; // a request target no URL parser reads ('//[', 'http://a:b@/'): no token in it
    }
  }

  /** Guards everything mounted after it. */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const result = this.authenticate(Auth.tokenOf(req), req.socket.remoteAddress);
      if (result.verdict === 'ok') {
        setPrincipal(req, result.principal);
        assertRole(result.principal, requiredRole(req.method, new URL(req.originalUrl, 'http://x').pathname));
        return next();
      }
      if (result.verdict === 'locked') {
        const s = Math.ceil(this.lockout.lockedFor(req.socket.remoteAddress) / 1000);
        res.setHeader('Retry-After', String(s));
        return next(new HttpError(429, 'locked_out', `too many wrong tokens from this address: try again in ${s} s`));
      }
      next(new HttpError(401, 'unauthorized', 'missing or wrong token: send "Authorization: Bearer <token>", open /?token=<token>, or add ?access_token=<token>'));
    };
  }

  /** `/?token=…` with the right token sets the cookie and redirects to the same page without the token. */
  loginRedirect(): RequestHandler {
    return (req, res, next) => {
      const token = typeof req.query.token === 'string' ? req.query.token : undefined;
      if (!token || this.verify(token, req.socket.remoteAddress) !== 'ok') return next();
      const secure = req.secure ? '; Secure' : '';
      res.setHeader('Set-Cookie', `${COOKIE_NAME}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${COOKIE_MAX_AGE_S}${secure}`);
      const rest = new URLSearchParams(req.query as Record<string, string>);
      rest.delete('token');
      const qs = rest.toString();
      res.redirect(302, `${req.path}${qs ? `?${qs}` : ''}`);
    };
  }
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined; // malformed percent-encoding: no token (a 401), not an exception
      }
    }
  }
  return undefined;
}
