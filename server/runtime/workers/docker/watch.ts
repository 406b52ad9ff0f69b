/**
 * Following one container to its end with `POST /containers/{id}/wait`, a request that lasts as long as the
 * container runs. Each container has its own, so nothing is missed when a shared `/events` stream drops: when the
 * request fails (the engine restarted, the connection was reset) the container is inspected again once the engine
 * answers — with an exponential backoff — and waited on anew, or found ended. The end is confirmed by inspect:
 * Podman's wait answers for a container removed meanwhile too (status 0 with an error), so its status alone is
 * not trusted.
 */
import type { Clock, Timer } from '../../../clock.ts';
import { containerGone, type WorkerEngine, type WorkerInspect } from './engine.ts';
import { isAlive } from './create.ts';

export type WatchEnd =
  /** no longer running: the inspect body that says how it ended */
  | { kind: 'exited'; body: WorkerInspect }
  /** the container is gone (removed by someone else) */
  | { kind: 'gone' }
  /** the watch was cancelled (the backend closed) */
  | { kind: 'cancelled' };

export interface WatchSettings {
  clock: Clock;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** a failed attempt, with the delay before the next */
  onRetry?: (containerId: string, err: unknown, delayMs: number) => void;
}

export class ExitWatch {
  /** settles once, with how the container ended or that the watch was cancelled */
  readonly ended: Promise<WatchEnd>;
  private readonly abort = new AbortController();
  private timer: Timer | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly engine: () => Promise<WorkerEngine>, readonly containerId: string, private readonly s: WatchSettings) {
    this.ended = this.follow();
  }

  /** Stop following (the container keeps running). */
  cancel(): void {
    this.abort.abort();
    this.timer?.cancel();
    this.wake?.();
  }

  private get cancelled(): boolean {
    return this.abort.signal.aborted;
  }

  private async follow(): Promise<WatchEnd> {
    let delay = this.s.reconnectMinMs;
    while (!this.cancelled) {
      const t0 = this.s.clock.now();
      try {
        const engine = await this.engine();
        await engine.wait(this.containerId, this.abort.signal);
        if (this.cancelled) break;
        const body = await engine.inspect(this.containerId);
        if (!isAlive(body)) return { kind: 'exited', body };
        // answered while it still runs (it was restarted, or the engine ended the request early): wait again
        await this.pause(delay, new Error('wait answered while the container still runs'));
      } catch (err) {
        if (this.cancelled) break;
        if (containerGone(err)) return { kind: 'gone' };
        // a request that had been answering for a while (not refused at once): the engine was there, start over
        if (this.s.clock.now() - t0 >= delay) delay = this.s.reconnectMinMs;
        await this.pause(delay, err);
      }
      delay = Math.min(delay * 2, this.s.reconnectMaxMs);
    }
    return { kind: 'cancelled' };
  }

  private pause(ms: number, err: unknown): Promise<void> {
    this.s.onRetry?.(this.containerId, err, ms);
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = this.s.clock.setTimeout(resolve, ms);
    });
  }
}
