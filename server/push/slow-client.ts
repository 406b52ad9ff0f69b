/**
 * The one slow-client policy of every transport. A client is congested once its transport still holds unsent data
 * when an event comes (`busy`); from then on its events wait in its outbox (the newest of a coalesced type replaces
 * the older one waiting; the others are kept, in id order) until the transport drains, when the outbox is written
 * whole and the client is live again. A client whose outbox passes its bound is disconnected.
 *
 * A backfill (the events a client missed, hub.replayFrom) goes through here too, before anything newer: a page at a
 * time, the next one when the transport has taken the last (its drain). Meanwhile the client counts as congested and
 * its live events wait in its outbox. So what a client far behind costs the server is one page and its transport's
 * buffer, not all it missed at once. The pages of every client are written by one pacer, in turn, a few
 * milliseconds of them per turn of the event loop: hundreds of clients resuming at once do not hold up the others.
 */
import { performance } from 'node:perf_hooks';
import { Outbox } from './outbox.ts';
import type { StoredEvent } from './hub.ts';

/** What the policy needs from a transport for one client. */
export interface ClientLink {
  /** the transport still holds data it has not sent to this client */
  busy(): boolean;
  write(ev: StoredEvent): void;
  /** the client passed its bound: cut it off */
  disconnect(): void;
}

interface Backfill {
  /** the next page; empty when it is over */
  next(): StoredEvent[];
  /** what is left of the page being written (the transport filled before its end) */
  rest: StoredEvent[];
  /** called once, before its first page (a gap notice) */
  start?(): void;
  started: boolean;
}

/** Milliseconds of backfill pages written per turn of the event loop, for every client together. */
export const BACKFILL_BUDGET_MS = 4;

/** The clients with a backfill page to write, served in turn for BACKFILL_BUDGET_MS per turn of the event loop. */
class BackfillPacer {
  private readonly waiting = new Set<SlowClientPolicy>();
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];

  want(p: SlowClientPolicy): void {
    this.waiting.add(p);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.run());
    }
  }

  forget(p: SlowClientPolicy): void {
    this.waiting.delete(p);
  }

  /** Resolves once no client waits for a page (tests). */
  idle(): Promise<void> {
    if (!this.waiting.size) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private run(): void {
    this.scheduled = false;
    const end = performance.now() + BACKFILL_BUDGET_MS;
    while (this.waiting.size && performance.now() < end) {
      const p = this.waiting.values().next().value!;
      this.waiting.delete(p);
      if (p.step()) this.waiting.add(p); // after the others
    }
    if (this.waiting.size) {
      this.scheduled = true;
      setImmediate(() => this.run());
    } else {
      for (const r of this.idleWaiters.splice(0)) r();
    }
  }
}

const pacer = new BackfillPacer();

/** Resolves once every backfill that can go on has been written (tests). */
export const backfillsIdle = (): Promise<void> => pacer.idle();

export class SlowClientPolicy {
  private readonly outbox: Outbox;
  private behind = false;
  private readonly backfills: Backfill[] = [];
  private closed = false;

  constructor(private readonly link: ClientLink, maxBufferedEvents: number) {
    this.outbox = new Outbox(maxBufferedEvents);
  }

  get congested(): boolean {
    return this.behind;
  }

  /** Write the event now, or keep it in the outbox when the client is behind. */
  deliver(ev: StoredEvent): void {
    if (!this.hold(ev)) this.link.write(ev);
  }

  /**
   * For a transport that writes to many clients at once (socket.io rooms): keep the event when the client is
   * behind. @returns true when kept (the caller must not write it to this client), false when the client is live
   */
  hold(ev: StoredEvent): boolean {
    if (this.closed) return true;
    if (!this.behind) {
      if (!this.link.busy()) return false;
      this.behind = true;
    }
    if (!this.outbox.add(ev)) this.cutOff();
    return true;
  }

  /**
   * Send `next()`'s pages before any event that comes from now on (after the backfills already waiting); `start`
   * is called just before its first page.
   */
  backfill(next: () => StoredEvent[], start?: () => void): void {
    if (this.closed) return;
    this.backfills.push({ next, ...(start ? { start } : {}), started: false, rest: [] });
    this.behind = true;
    this.pump();
  }

  /** The transport drained: the next page of a backfill, or what waited, in id order, and live again. */
  drain(): void {
    if (this.behind) this.pump();
  }

  /** The client is gone: nothing more is read or written for it. */
  close(): void {
    this.closed = true;
    this.backfills.length = 0;
    pacer.forget(this);
  }

  /**
   * Write the backfill until the transport is full, at most a page (the pacer's call): a client that does not
   * read holds its transport's high-water mark and one event more. True when more may follow at once.
   */
  step(): boolean {
    while (!this.closed && this.backfills.length) {
      if (this.link.busy()) return false; // its drain comes back
      const b = this.backfills[0]!;
      if (!b.started) {
        b.started = true;
        b.start?.();
      }
      if (!b.rest.length) b.rest = b.next();
      if (!b.rest.length) {
        this.backfills.shift();
        continue;
      }
      let i = 0;
      while (i < b.rest.length && !this.closed) {
        this.link.write(b.rest[i++]!);
        if (this.link.busy()) break;
      }
      b.rest = b.rest.slice(i);
      return !this.closed && !this.link.busy();
    }
    if (!this.closed) this.caughtUp();
    return false;
  }

  private pump(): void {
    if (this.closed) return;
    if (!this.backfills.length) this.caughtUp();
    else if (!this.link.busy()) pacer.want(this);
  }

  /** Nothing more to backfill: what waited meanwhile, in id order, and live again. */
  private caughtUp(): void {
    this.behind = false;
    for (const ev of this.outbox.take()) this.link.write(ev);
  }

  private cutOff(): void {
    this.close();
    this.link.disconnect();
  }
}
