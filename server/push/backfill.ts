/**
 * What a client gets when it connects, before any live event (every transport): the events after its resume
 * point, with the gap first when some are lost to it; or, without a resume point, the newest event of each
 * coalesce key it takes (the latest resource_status of every node), so a new client shows the current state at once.
 * The caller subscribes in the same tick, so nothing published in between is missed or doubled.
 */
import { EVENT_TYPES, type EventType, type ReplayGap } from '../../shared/events.ts';
import type { EventHub, StoredEvent } from './hub.ts';

/** What a client asked for: its event types (none or empty: all) and where to resume. */
export interface Subscription {
  types?: readonly EventType[];
  lastEventId?: number;
}

/** The types a client takes: those it named, or all when it named none. */
export function subscribedTypes(types: readonly EventType[] | undefined): Set<EventType> {
  return new Set(types?.length ? types : EVENT_TYPES);
}

/** Where the backfill goes: the gap notice (without an id) and the events, in id order. */
export interface BackfillTarget {
  gap(gap: ReplayGap): void;
  event(ev: StoredEvent): void;
}

/** Write the backfill whole: it is bounded by the replay window (live events are what a slow client coalesces). */
export function backfill(hub: EventHub, types: ReadonlySet<EventType>, lastEventId: number | undefined, to: BackfillTarget): void {
  if (lastEventId !== undefined) {
    const { gap, events } = hub.replay(lastEventId, types);
    if (gap) to.gap(gap);
    for (const ev of events) to.event(ev);
    return;
  }
  for (const ev of hub.latestOf(types)) to.event(ev);
}
