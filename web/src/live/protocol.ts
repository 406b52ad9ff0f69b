/**
 * Protocol constants the browser needs at run time. shared/events.ts holds them too, but importing a value
 * from there would pull zod into the bundle; these are tied to it at compile time instead.
 */
import type { REPLAY_GAP_EVENT, ReplayGap, ServerToClientEvents } from '../../../shared/events.ts';

export const REPLAY_GAP: typeof REPLAY_GAP_EVENT & keyof ServerToClientEvents = 'replay_gap';

/** Every reason a replay gap can give (a record, so a reason added to the contract must be added here). */
const GAP_REASONS: Record<ReplayGap['reason'], true> = { out_of_window: true, ahead_of_server: true };

/** The shape of a `replay_gap` event's data, checked by hand (no zod in the browser). */
export function isReplayGap(x: unknown): x is ReplayGap {
  if (typeof x !== 'object' || x === null || !('lastEventId' in x) || !('oldestId' in x) || !('reason' in x)) return false;
  const { lastEventId, oldestId, reason } = x;
  return typeof lastEventId === 'number' && (oldestId === null || typeof oldestId === 'number') &&
    typeof reason === 'string' && Object.hasOwn(GAP_REASONS, reason);
}
