/**
 * The workers' upkeep, every `checkMs`: a starting worker whose port answers `GET /health` is running; the lease of
 * every worker holding an allocation is renewed every `renewMs` (a worker is never stopped by a lease it cannot
 * see); ended workers are forgotten `retentionMs` after they ended (checked hourly).
 */
import type { Clock, Timer } from '../../clock.ts';
import type { Logger } from '../../log.ts';
import type { SchedulerEngine } from '../../scheduler/engine.ts';
import { LIVE, type WorkerBook } from '../../workloads/workers/book.ts';
import type { GetJson } from '../json-http.ts';

export interface UpkeepOptions {
  book: WorkerBook;
  engine: SchedulerEngine;
  clock: Clock;
  log: Logger;
  get: GetJson;
  /** @default 500 */
  checkMs?: number;
  /** @default 60000 */
  renewMs?: number;
  /** @default 7 days */
  retentionMs?: number;
}

export class WorkerUpkeep {
  private timer: Timer | null = null;
  private stopped = false;
  private renewedAt = 0;
  private prunedAt = 0;
  /** workers whose health check is in flight */
  private readonly checking = new Set<string>();

  constructor(private readonly o: UpkeepOptions) {}

  /** Renew at once (after a restart, before the engine's first tick), then every round. */
  start(): void {
    this.renewAll();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimeout(() => {
      this.check();
      this.schedule();
    }, this.o.checkMs ?? 500);
  }

  /** One round: ask starting workers for /health; renew leases and forget ended workers when due. */
  check(): void {
    const { book } = this.o;
    for (const r of book.all()) {
      const id = r.worker.id;
      if (r.worker.state !== 'starting' || r.ref === null || r.worker.port === null || this.checking.has(id)) continue;
      this.checking.add(id);
      void this.o.get(`http://${r.worker.host}:${r.worker.port}/health`, { timeoutMs: 2000 })
        .then((a) => {
          if (a.status >= 200 && a.status < 300 && book.get(id)?.worker.state === 'starting') book.healthy(id);
        })
        .catch(() => {})
        .finally(() => this.checking.delete(id));
    }
    const now = this.o.clock.now();
    if (now - this.renewedAt >= (this.o.renewMs ?? 60_000)) this.renewAll();
    if (now - this.prunedAt >= 3_600_000) {
      this.prunedAt = now;
      book.forgetEnded(now - (this.o.retentionMs ?? 7 * 86_400_000));
    }
  }

  /** Renew the lease of every worker that holds an allocation. */
  private renewAll(): void {
    const { book, engine } = this.o;
    this.renewedAt = this.o.clock.now();
    for (const r of book.all()) {
      if (!LIVE.has(r.worker.state) || !r.worker.allocation_id) continue;
      const a = engine.allocation(r.worker.allocation_id);
      if (!a || a.state !== 'active') continue;
      try {
        engine.renew(a.id);
      } catch (err) {
        this.o.log.warn({ err, worker: r.worker.id }, 'could not renew a worker’s lease');
      }
    }
  }
}
