/**
 * The scheduler in the running server: feeds the engine with inventory from each snapshot, runs its periodic
 * tick (lease expiry, severity growth), persists each batch of changes when a store is given, and pushes them:
 * conflict changes as `conflict` events, everything else as `scheduling_update` events.
 */
import { isConflictChange, type Change } from '../../shared/scheduler.ts';
import type { ResourceStatus } from '../../shared/resources.ts';
import type { Clock, Timer } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { EventHub } from '../push/hub.ts';
import type { StatusBoard } from '../monitor/status.ts';
import type { EngineState, SchedulerEngine } from '../scheduler/engine.ts';
import { inventoryFrom, type DeclaredInventory, type InventoryOptions } from '../scheduler/inventory.ts';
import { GroupCommit, type Transact } from './group-commit.ts';

export interface ChangeStore {
  apply(changes: readonly Change[]): void;
}

export type { Transact } from './group-commit.ts';

export interface SchedulerServiceOptions {
  engine: SchedulerEngine;
  hub: EventHub;
  board: StatusBoard;
  clock: Clock;
  log: Logger;
  declared?: DeclaredInventory;
  /** false: the hub's own machine is not a node (--no-local-node): its snapshots do not reach the engine */
  localNode?: boolean;
  store?: ChangeStore;
  transact?: Transact;
  /** what the store loaded at start: restored into the engine before anything else happens */
  restore?: EngineState;
  /** which allocation a GPU user (a process or container the monitor sees on `node`) runs under: the workers' (inventory.ts) */
  ownerOf?: (user: Parameters<NonNullable<InventoryOptions['ownerOf']>>[0], node: string) => string | null | undefined;
  /** periodic housekeeping (event archive trimming), every minute */
  housekeeping?: () => void;
  tickMs?: number;
}

export class SchedulerService {
  private timer: Timer | null = null;
  private houseKeptAt = 0;
  private readonly offs: (() => void)[] = [];
  private readonly commits: GroupCommit<Change>;

  constructor(private readonly opts: SchedulerServiceOptions) {
    this.commits = new GroupCommit<Change>({
      log: opts.log, what: 'scheduler changes',
      // the events reach the clients after the transaction commits, not while it is open (hub.held)
      transact: (fn) => opts.hub.held(() => (opts.transact ? opts.transact(fn) : fn())),
      write: (batch) => {
        opts.store?.apply(batch);
        for (const c of batch) {
          if (isConflictChange(c)) opts.hub.publish('conflict', c);
          else opts.hub.publish('scheduling_update', c);
        }
      },
    });
  }

  start(): void {
    const { engine, board } = this.opts;
    // group commit: HTTP answers wait for committed(), so nothing is acknowledged before it is durable
    this.offs.push(engine.onChange(this.commits.add));
    if (this.opts.restore) engine.restore(this.opts.restore);
    if (this.opts.localNode !== false) {
      this.offs.push(board.onSnapshot((s) => {
        engine.onSnapshot(inventoryFrom(s, this.opts.declared, this.owners(s.node)));
      }));
      const first = board.snapshot();
      engine.onSnapshot(inventoryFrom(first, this.opts.declared, this.owners(first.node)));
    }
    this.schedule();
  }

  /**
   * Another node's snapshot (an agent's): its inventory to the engine (its GPU users are unmanaged from here: no
   * worker of this process runs there), the snapshot to every client; resolves once the engine's changes are durable.
   */
  async nodeSnapshot(status: ResourceStatus): Promise<void> {
    this.opts.engine.onSnapshot(inventoryFrom(status, undefined, this.owners(status.node)));
    this.opts.hub.publish('resource_status', status);
    await this.committed();
  }

  private owners(node: string): InventoryOptions {
    return { ownerOf: (user) => this.opts.ownerOf?.(user, node) };
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
    return this.commits.committed();
  }

  /** Store and push the batches made since the last flush, in one transaction. */
  flush(): void {
    this.commits.flush();
  }

  stop(): void {
    this.flush();
    this.timer?.cancel();
    this.timer = null;
    for (const off of this.offs.splice(0)) off();
  }
}
