/**
 * The push clients of every transport together against one limit (`--max-clients`): a server keeps serving the
 * clients it has rather than taking on more than its memory and file descriptors hold. A client refused is told to
 * come back later: SSE and the plain WebSocket's upgrade get 503 with Retry-After, socket.io a connect_error.
 */

/** Seconds a refused client is told to wait (Retry-After). */
export const RETRY_AFTER_S = 5;

export class ClientLimit {
  private readonly counters: (() => number)[] = [];

  /** `max` 0: no limit */
  constructor(readonly max: number) {}

  /** A transport's count of connected clients. */
  count(counter: () => number): void {
    this.counters.push(counter);
  }

  get total(): number {
    return this.counters.reduce((n, c) => n + c(), 0);
  }

  /** Whether one more client may connect now. */
  admits(): boolean {
    return this.max === 0 || this.total < this.max;
  }

  get message(): string {
    return `too many clients: this server takes ${this.max} push clients at a time (--max-clients); retry in ${RETRY_AFTER_S} s`;
  }
}
