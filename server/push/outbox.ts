/**
 * Events waiting for one slow client, in id order. A newer event of a coalesced type replaces the older one
 * still waiting with the same coalesce key (resource_status: of the same node), so a slow client gets the latest
 * status of every node instead of a growing backlog; other events are kept, up to `limit`, after which the client
 * is to be disconnected.
 */
import { coalesceKey } from '../../shared/events.ts';
import type { StoredEvent } from './hub.ts';

interface Waiting {
  ev: StoredEvent;
  /** its coalesce key, computed once; undefined: never replaced */
  key: string | undefined;
}

export class Outbox {
  private items: Waiting[] = [];

  constructor(private readonly limit: number) {}

  get length(): number {
    return this.items.length;
  }

  /** @returns false when the client exceeded its bound */
  add(ev: StoredEvent): boolean {
    const key = coalesceKey(ev.env);
    if (key !== undefined) this.items = this.items.filter((w) => w.key !== key);
    this.items.push({ ev, key });
    return this.items.length <= this.limit;
  }

  take(): StoredEvent[] {
    const out = this.items.map((w) => w.ev);
    this.items = [];
    return out;
  }
}
