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
import type { SchedulerEngine } from './engine.ts';
import { inventoryFrom, type DeclaredInventory } from './inventory.ts';

export interface ChangeStore {
  apply(changes: readonly Change[]): void;
}

export interface SchedulerServiceOptions {
  engine: SchedulerEngine;
  hub: EventHub;
  board: StatusBoard;
  clock: Clock;
  log: Logger;
  declared?: DeclaredInventory;
  store?: ChangeStore;
  tickMs?: number;
}

export function eventTypeOf(change: Change): 'conflict' | 'scheduling_update' {
  return change.kind.startsWith('conflict_') ? 'conflict' : 'scheduling_update';
}

export class SchedulerService {
  private timer: Timer | null = null;
  private readonly offs: (() => void)[] = [];

  constructor(private readonly opts: SchedulerServiceOptions) {}

  start(): void {
    const { engine, hub, board, store } = this.opts;
    // persist first (a change is acknowledged only once stored), then push
    this.offs.push(engine.onChange((batch) => {
      store?.apply(batch);
      for (const c of batch) hub.publish(eventTypeOf(c), c);
    }));
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
