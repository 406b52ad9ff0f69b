/**
 * The one slow-client policy of every transport. A client is congested once its transport still holds unsent data
 * when an event comes (`busy`); from then on its events wait in its outbox (the newest of a coalesced type replaces
 * the older one waiting; the others are kept, in id order) until the transport drains, when the outbox is written
 * whole and the client is live again. A client whose outbox passes its bound is disconnected.
 */
import { Outbox } from './outbox.ts';
import type { StoredEvent } from './hub.ts';

/** What the policy needs from a transport for one client. */
export interface ClientLink {
  /** the transport still holds data it has not sent to this client */
  busy(): boolean;
  write(ev: StoredEvent): void;
  /** the client passed its bound: cut it off */
  disconnect(): void;
  /** the client fell behind (true) or caught up (false), e.g. to leave and rejoin a broadcast */
  congestion?(behind: boolean): void;
}

export class SlowClientPolicy {
  private readonly outbox: Outbox;
  private behind = false;

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
    if (!this.behind) {
      if (!this.link.busy()) return false;
      this.behind = true;
      this.link.congestion?.(true);
    }
    if (!this.outbox.add(ev)) this.link.disconnect();
    return true;
  }

  /** The transport drained: write what waited, in id order, and go live again. */
  drain(): void {
    if (!this.behind) return;
    this.behind = false;
    this.link.congestion?.(false);
    for (const ev of this.outbox.take()) this.link.write(ev);
  }
}
