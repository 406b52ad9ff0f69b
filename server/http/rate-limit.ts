/**
 * Requests per token and per address (`--rate-limit`, `--rate-burst`): a token bucket for each token requests carry
 * (kept by its sha256, never the token itself) and one for each address they come from. A request takes one from
 * both and is refused — 429 with Retry-After — when either is empty: a flood without a token is held by its address,
 * one spread over many addresses by its token. A bucket holds `burst` at most and refills at `perSecond`. The keys
 * remembered are bounded, per kind (the least recently used forgotten first: a key forgotten starts full again).
 */
import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { Auth } from './auth.ts';
import { HttpError } from './errors.ts';

export interface RateLimitOptions {
  /** requests a second one key may make, on average (0: no limit) @default 2000 */
  perSecond?: number;
  /** requests one key may make at once: its bucket's size @default 4000 */
  burst?: number;
  /** keys remembered, of each kind (tokens, addresses) @default 10000 */
  maxKeys?: number;
  now?: () => number;
}

interface Bucket {
  level: number;
  /** when `level` was computed */
  at: number;
}

/** The buckets of one kind of key, the least recently used first. */
class Buckets {
  private readonly map = new Map<string, Bucket>();

  constructor(private readonly o: Required<RateLimitOptions>) {}

  get size(): number {
    return this.map.size;
  }

  /** `key`'s bucket refilled to `now` (a new one full), remembered as the most recently used. */
  at(key: string, now: number): Bucket {
    let b = this.map.get(key);
    if (b) {
      b.level = Math.min(this.o.burst, b.level + ((now - b.at) * this.o.perSecond) / 1000);
      b.at = now;
      this.map.delete(key);
    } else {
      b = { level: this.o.burst, at: now };
    }
    this.map.set(key, b);
    while (this.map.size > this.o.maxKeys) this.map.delete(this.map.keys().next().value!);
    return b;
  }

  /** Milliseconds until `b` holds one request again (0: it does). */
  waitMs(b: Bucket): number {
    return b.level >= 1 ? 0 : Math.ceil(((1 - b.level) * 1000) / this.o.perSecond);
  }
}

const digest = (token: string) => createHash('sha256').update(token).digest('base64');

export class RateLimit {
  private readonly o: Required<RateLimitOptions>;
  private readonly tokens: Buckets;
  private readonly addresses: Buckets;

  constructor(opts: RateLimitOptions = {}) {
    this.o = { perSecond: 2000, burst: 4000, maxKeys: 10_000, now: Date.now, ...opts };
    if (!(this.o.burst >= 1)) throw new RangeError(`a burst of ${this.o.burst} lets no request through: it must be at least 1`);
    this.tokens = new Buckets(this.o);
    this.addresses = new Buckets(this.o);
  }

  /** Keys remembered now, per kind. */
  get remembered(): { tokens: number; addresses: number } {
    return { tokens: this.tokens.size, addresses: this.addresses.size };
  }

  /**
   * One request carrying `token` from `address` (either may be absent): 0 when it may go on (it took one from each
   * bucket), else the milliseconds until both buckets hold one again (it took nothing).
   */
  take(token: string | undefined, address: string | undefined): number {
    if (this.o.perSecond <= 0) return 0;
    const now = this.o.now();
    const t = token !== undefined ? this.tokens.at(digest(token), now) : undefined;
    const a = address !== undefined ? this.addresses.at(address, now) : undefined;
    const wait = Math.max(t ? this.tokens.waitMs(t) : 0, a ? this.addresses.waitMs(a) : 0);
    if (wait > 0) return wait;
    if (t) t.level--;
    if (a) a.level--;
    return 0;
  }

  /** Guards everything mounted after it: 429 with Retry-After (whole seconds) past the limit. */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const wait = this.take(Auth.tokenOf(req), req.socket.remoteAddress);
      if (wait === 0) return next();
      const s = Math.ceil(wait / 1000);
      res.setHeader('Retry-After', String(s));
      next(new HttpError(429, 'too_many_requests', `more than ${this.o.perSecond} requests a second (bursts of ${this.o.burst}) from this token or address: try again in ${s} s`));
    };
  }
}
