/**
 * Guessing the token is made slow: an address that sends `maxFailures` wrong tokens within `windowMs` is locked out
 * for `lockMs` — every request of its gets 429 with Retry-After, whatever token it carries (were the right one let
 * through, a guesser would learn when it found it). A request without a token is not a guess and is not counted.
 * The addresses remembered are bounded (the oldest forgotten first).
 */
export interface LockoutOptions {
  /** wrong tokens from one address within the window that lock it out @default 20 */
  maxFailures?: number;
  /** @default 60000 */
  windowMs?: number;
  /** how long a locked address stays locked @default 60000 */
  lockMs?: number;
  /** addresses remembered @default 10000 */
  maxAddresses?: number;
  now?: () => number;
  /** told of every wrong token (a push worker tells the server, whose lockout then counts it too) */
  onFailed?: (address: string) => void;
}

interface Entry {
  /** when the first failure of the window was */
  since: number;
  failures: number;
  lockedUntil: number;
}

export class TokenLockout {
  private readonly entries = new Map<string, Entry>();
  private readonly o: Required<Omit<LockoutOptions, 'onFailed'>>;
  private readonly onFailed: ((address: string) => void) | undefined;

  constructor(opts: LockoutOptions = {}) {
    const { onFailed, ...rest } = opts;
    this.o = { maxFailures: 20, windowMs: 60_000, lockMs: 60_000, maxAddresses: 10_000, now: Date.now, ...rest };
    this.onFailed = onFailed;
  }

  /** Milliseconds `address` stays locked out (0: it is not). */
  lockedFor(address: string | undefined): number {
    const e = address === undefined ? undefined : this.entries.get(address);
    return e ? Math.max(0, e.lockedUntil - this.o.now()) : 0;
  }

  /** `address` sent a wrong token. */
  failed(address: string | undefined): void {
    if (address === undefined) return;
    this.onFailed?.(address);
    const now = this.o.now();
    let e = this.entries.get(address);
    if (!e || now - e.since > this.o.windowMs) e = { since: now, failures: 0, lockedUntil: e?.lockedUntil ?? 0 };
    e.failures++;
    if (e.failures >= this.o.maxFailures) {
      e.lockedUntil = now + this.o.lockMs;
      e.failures = 0;
      e.since = now;
    }
    this.entries.delete(address);
    this.entries.set(address, e);
    while (this.entries.size > this.o.maxAddresses) this.entries.delete(this.entries.keys().next().value!);
  }
}
