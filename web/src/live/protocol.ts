/**
 * Protocol constants the browser needs at run time. shared/events.ts holds them too, but importing a value
 * from there would pull zod into the bundle; these are tied to it at compile time instead.
 */
import type { REPLAY_GAP_EVENT, ServerToClientEvents } from '../../../shared/events.ts';

export const REPLAY_GAP: typeof REPLAY_GAP_EVENT & keyof ServerToClientEvents = 'replay_gap';
