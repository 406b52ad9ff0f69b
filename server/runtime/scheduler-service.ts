/**
 * The scheduler in the running server: feeds the engine with inventory from each snapshot, runs its periodic
 * tick (lease expiry, severity growth), persists each batch of changes when a store is given, and pushes them:
 * conflict changes as `conflict` events, everything else as `scheduling_update` events.
 */
import { isConflictChange, type Change } from '../../shared/scheduler.ts';
import type { Clock, Timer } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { EventHub } from '../push/hub.ts';
import type { StatusBoard } from '../monitor/status.ts';
import type { EngineState, SchedulerEngine } from '../scheduler/engine.ts';
import { inventoryFrom, type DeclaredInventory } from '../scheduler/inventory.ts';

export interface ChangeStore {
  apply(changes: readonly Change[]): void;
}

/** Runs a function in one database transaction (better-sqlite3's db.transaction), so a batch and its events commit once. */
export type Transact = <T>(fn: () => T) => T;

export interface SchedulerServiceOptions {
  engine: SchedulerEngine;
  hub: EventHub;
  board: StatusBoard;
  clock: Clock;
  log: Logger;
  declared?: DeclaredInventory;
  store?: ChangeStore;
  transact?: Transact;
  /** what the store loaded at start: restored into the engine before anything else happens */
  restore?: EngineState;
  /** periodic housekeeping (event archive trimming), every minute */
  housekeeping?: () => void;
  tickMs?: number;
}

export class SchedulerService {
  private timer: Timer | null = null;
  private houseKeptAt = 0;
  private pending: (readonly Change[])[] = [];
  private flushing: Promise<void> | undefined;
  private readonly offs: (() => void)[] = [];

  constructor(private readonly opts: SchedulerServiceOptions) {}

  start(): void {
    const { engine, board } = this.opts;
    // group commit: the batches of one event-loop turn are stored with their archived events in one transaction,
    // right after the turn; HTTP answers wait for it (committed()), so nothing is acknowledged before it is durable
    this.offs.push(engine.onChange((batch) => {
      this.pending.push(batch);
      if (this.flushing) return;
      const flushing = new Promise<void>((resolve, reject) => {
        setImmediate(() => {
          try {
            this.flush();
            resolve();
          } catch (err) {
            this.opts.log.error({ err }, 'storing scheduler changes failed');
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      });
      // answers that wait see the failure; nobody else has to
      flushing.catch(() => {});
      this.flushing = flushing;
    }));
    if (this.opts.restore) engine.restore(this.opts.restore);
    this.offs.push(board.onSnapshot((s) => {
      engine.onSnapshot(inventoryFrom(s, this.opts.declared));
    }));
    engine.onSnapshot(inventoryFrom(board.snapshot(), this.opts.declared));
    this.schedule();
  }

  private schedule(): void {
    this.timer = this.opts.clock.setTimeout(() => {
      try {
        this.opts.engine.tick();
        const now = this.opts.clock.now();
        if (this.opts.housekeeping && now - this.houseKeptAt >= 60_000) {
          this.houseKeptAt = now;
          this.opts.housekeeping();
        }
      } catch (err) {
        this.opts.log.error({ err }, 'scheduler tick failed');
      }
      this.schedule();
    }, this.opts.tickMs ?? 1000);
  }

  /** Resolves once every change made so far is stored and pushed (at once when nothing waits). */
  committed(): Promise<void> {
    return this.flushing ?? Promise.resolve();
  }

  /** Store and push the batches made since the last flush, in one transaction. */
  flush(): void {
    const batches = this.pending.splice(0);
    this.flushing = undefined;
    if (batches.length === 0) return;
    const { hub, store } = this.opts;
    const transact: Transact = this.opts.transact ?? ((fn) => fn());
    transact(() => {
      for (const batch of batches) {
        store?.apply(batch);
        for (const c of batch) {
          if (isConflictChange(c)) hub.publish('conflict', c);
          else hub.publish('scheduling_update', c);
        }
      }
    });
  }

  stop(): void {
    this.flush();
    this.timer?.cancel();
    this.timer = null;
    for (const off of this.offs.splice(0)) off();
  }
}
