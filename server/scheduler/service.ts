/**
 * The scheduler in the running server: feeds the engine with inventory from each snapshot, runs its periodic
 * tick (lease expiry, severity growth), persists each batch of changes when a store is given, and pushes them:
 * conflict changes as `conflict` events, everything else as `scheduling_update` events.
 */
import type { Change } from '../../shared/scheduler.ts';
import type { Clock, Timer } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { EventHub } from '../push/hub.ts';
import type { StatusBoard } from '../monitor/status.ts';
import type { EngineState, SchedulerEngine } from './engine.ts';
import { inventoryFrom, type DeclaredInventory } from './inventory.ts';

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

export function eventTypeOf(change: Change): 'conflict' | 'scheduling_update' {
  return change.kind.startsWith('conflict_') ? 'conflict' : 'scheduling_update';
}

export class SchedulerService {
  private timer: Timer | null = null;
  private houseKeptAt = 0;
  private readonly offs: (() => void)[] = [];

  constructor(private readonly opts: SchedulerServiceOptions) {}

  start(): void {
    const { engine, hub, board, store } = this.opts;
    const transact: Transact = this.opts.transact ?? ((fn) => fn());
    // the batch and its archived events commit together, before the HTTP answer acknowledges anything
    this.offs.push(engine.onChange((batch) => {
      transact(() => {
        store?.apply(batch);
        for (const c of batch) hub.publish(eventTypeOf(c), c);
      });
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

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    for (const off of this.offs.splice(0)) off();
  }
}
