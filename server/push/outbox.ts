/**
 * Events waiting for one slow client, in id order. A newer event of a coalesced type (resource_status)
 * replaces the older one still waiting, so a slow client gets the latest status instead of a growing backlog;
 * other events are kept, up to `limit`, after which the client is to be disconnected.
 */
import { COALESCED_TYPES } from '../../shared/events.ts';
import type { StoredEvent } from './hub.ts';

export class Outbox {
  private items: StoredEvent[] = [];

  constructor(private readonly limit: number) {}

  get length(): number {
    return this.items.length;
  }

  /** @returns false when the client exceeded its bound */
  add(ev: StoredEvent): boolean {
    if (COALESCED_TYPES.has(ev.type)) this.items = this.items.filter((e) => e.type !== ev.type);
    this.items.push(ev);
    return this.items.length <= this.limit;
  }

  take(): StoredEvent[] {
    const out = this.items;
    this.items = [];
    return out;
  }
}
