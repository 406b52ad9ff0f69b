/** Exponential backoff between retries: `initialMs`, doubling up to `maxMs`, back to the start on `reset`. */
export interface BackoffOptions {
  /** @default 100 */
  initialMs?: number;
  /** @default 5000 */
  maxMs?: number;
}

export class Backoff {
  private failures = 0;
  readonly initialMs: number;
  readonly maxMs: number;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 100;
    this.maxMs = opts.maxMs ?? 5000;
    if (!(this.initialMs > 0 && this.maxMs >= this.initialMs)) throw new Error(`backoff needs 0 < initialMs (${this.initialMs}) ≤ maxMs (${this.maxMs})`);
  }

  /** The wait before the next try, after one more failure. */
  next(): number {
    this.failures++;
    return Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures - 1, 30));
  }

  reset(): void {
    this.failures = 0;
  }
}
