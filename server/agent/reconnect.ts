/**
 * What the link needs beside socket.io-client's own reconnection: a backoff with jitter for the reconnects it makes
 * itself (after the hub closed the connection), shaped as socket.io-client's, and a readable reason for a failed
 * connection attempt.
 */

/** `initialMs` doubling up to `maxMs`, each wait spread by ±`jitter` of itself; back to the start on `reset`. */
export class Backoff {
  private attempts = 0;

  constructor(
    readonly initialMs: number,
    readonly maxMs: number,
    private readonly jitter: number,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempts++, 30));
    return Math.round(Math.min(this.maxMs, base * (1 + this.jitter * (2 * this.random() - 1))));
  }

  reset(): void {
    this.attempts = 0;
  }
}

/** socket.io-client's connect_error, with what lies under it (e.g. `websocket error (connect ECONNREFUSED 127.0.0.1:7070)`). */
export function reasonOf(err: Error & { description?: unknown }): string {
  const d = err.description;
  const inner = d instanceof Error ? d.message
    : typeof d === 'object' && d !== null && 'message' in d && typeof d.message === 'string' ? d.message
      : typeof d === 'string' ? d : '';
  return inner && inner !== err.message ? `${err.message} (${inner})` : err.message;
}
