/**
 * Token auth. The token comes from config, else is generated once and kept in `<dataDir>/token` (mode 0600).
 * Accepted as `Authorization: Bearer …`, the HttpOnly cookie set by opening `/?token=…`, or `?access_token=…`
 * (for EventSource clients that cannot send headers). Compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
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

export class Auth {
  private readonly expected: Buffer;
  private readonly admin: Buffer | null;

  /**
   * `adminToken`: the token that may change how the node is scheduled (PUT /api/strategy); it is also accepted
   * wherever the API token is. Without one, the API token has that right.
   */
  /** wrong tokens per address: too many lock it out (lockout.ts) */
  readonly lockout: TokenLockout;

  constructor(readonly token: string, readonly enabled: boolean, adminToken?: string, lockout: LockoutOptions = {}) {
    this.expected = digest(token);
    this.admin = adminToken ? digest(adminToken) : null;
    this.lockout = new TokenLockout(lockout);
  }

  /**
   * Whether a request from `address` with `candidate` may go on: `locked` while the address is locked out (what
   * it carries is not even checked), else `ok` or `wrong` (a wrong token counted against the address).
   */
  verify(candidate: string | undefined, address: string | undefined): 'ok' | 'wrong' | 'locked' {
    if (!this.enabled) return 'ok';
    if (this.lockout.lockedFor(address) > 0) return 'locked';
    if (this.check(candidate)) return 'ok';
    if (candidate) this.lockout.failed(address);
    return 'wrong';
  }

  check(candidate: string | undefined): boolean {
    if (!this.enabled) return true;
    if (!candidate) return false;
    const d = digest(candidate);
    return timingSafeEqual(d, this.expected) || (this.admin !== null && timingSafeEqual(d, this.admin));
  }

  /** The request may act as admin (auth off: everyone). */
  isAdmin(req: IncomingMessage): boolean {
    if (!this.enabled) return true;
    const candidate = Auth.tokenOf(req);
    if (!candidate) return false;
    const d = digest(candidate);
    return this.admin === null ? timingSafeEqual(d, this.expected) : timingSafeEqual(d, this.admin);
  }

  /** Guards an admin route (after `middleware`): 403 for a valid token without the right. */
  requireAdmin(): RequestHandler {
    return (req, _res, next) => {
      if (this.isAdmin(req)) return next();
      next(new HttpError(403, 'forbidden', 'this needs the admin token (--admin-token / ARBITER_ADMIN_TOKEN)'));
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
      const verdict = this.verify(Auth.tokenOf(req), req.socket.remoteAddress);
      if (verdict === 'ok') return next();
      if (verdict === 'locked') {
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
