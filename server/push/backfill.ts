/**
 * What a client gets when it connects, before any live event (every transport): the events after its resume
 * point, with the gap first when some are lost to it; or, without a resume point, the newest event of each
 * coalesce key it takes (the latest resource_status of every node), so a new client shows the current state at once.
 * It goes through the client's slow-client policy, page by page as the client takes it, before its live events.
 * The caller subscribes in the same tick, so nothing published in between is missed or doubled.
 */
import { EVENT_TYPES, type EventType, type ReplayGap } from '../../shared/events.ts';
import { pages, type EventHub, type StoredEvent } from './hub.ts';
import type { SlowClientPolicy } from './slow-client.ts';

/** What a client asked for: its event types (none or empty: all) and where to resume. */
export interface Subscription {
  types?: readonly EventType[];
  lastEventId?: number;
}

/** The types a client takes: those it named, or all when it named none. */
export function subscribedTypes(types: readonly EventType[] | undefined): Set<EventType> {
  return new Set(types?.length ? types : EVENT_TYPES);
}

/**
 * Queue the backfill of one client on its policy; `gap` writes the gap notice (without an id) just before the
 * first event; `tap` (optional) sees each event as it goes.
 */
export function backfill(hub: EventHub, types: ReadonlySet<EventType>, lastEventId: number | undefined, policy: SlowClientPolicy, gap: (gap: ReplayGap) => void, tap?: (ev: StoredEvent) => void): void {
  const replay = lastEventId !== undefined ? hub.replayFrom(lastEventId, types) : { gap: () => undefined, next: pages(hub.latestOf(types)) };
  const next = tap ? () => {
    const page = replay.next();
    for (const ev of page) tap(ev);
    return page;
  } : replay.next;
  policy.backfill(next, () => {
    const g = replay.gap();
    if (g) gap(g);
  });
}
