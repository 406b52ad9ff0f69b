/** The whole of a hub's replay at once (hub.replayFrom, every page): what a client resuming from `lastEventId` gets. */
import type { EventHub, StoredEvent } from '../../server/push/hub.ts';
import type { EventType, ReplayGap } from '../../shared/events.ts';

export function replayAll(hub: EventHub, lastEventId: number, types: ReadonlySet<EventType>): { gap?: ReplayGap; events: StoredEvent[] } {
  const replay = hub.replayFrom(lastEventId, types);
  const gap = replay.gap();
  const events: StoredEvent[] = [];
  for (let page = replay.next(); page.length; page = replay.next()) events.push(...page);
  return gap ? { gap, events } : { events };
}
