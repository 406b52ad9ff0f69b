/**
 * The plain WebSocket push protocol (`GET /api/ws`, `GET /api/resource-scheduler/push/ws`), for clients that speak
 * WebSocket but not socket.io (a browser's `new WebSocket`, Python's `websockets`). Every event is one JSON text
 * message: the envelope `{id, type, data, ts}` of shared/events.ts. The server's other messages carry no `id`:
 * `replay_gap` (the same notice SSE and socket.io send), `subscribed` (a subscription took effect) and `error`.
 * A client sends `{"subscribe": [types]}` (an empty list: every type) or `{"resume": lastId}`.
 */
import { z } from 'zod';
import { REPLAY_GAP_EVENT, type ReplayGap, type EventType } from './events.ts';

/** The paths the plain WebSocket transport answers on. */
export const WEBSOCKET_PATHS = ['/api/ws', '/api/resource-scheduler/push/ws'] as const;

/** What a client may send: a subscription (type names checked by the server, to name the unknown ones) or a resume point. */
export const WsClientMessageSchema = z.union([
  z.strictObject({ subscribe: z.array(z.string()) }),
  z.strictObject({ resume: z.int().nonnegative() }),
]);
export type WsClientMessage = z.infer<typeof WsClientMessageSchema>;

/** The server's messages that are not events (they have no `id`). */
export type WsControlMessage =
  | { type: typeof REPLAY_GAP_EVENT; data: ReplayGap }
  | { type: 'subscribed'; data: { types: EventType[] } }
  | { type: 'error'; data: { message: string; unknownTypes?: string[] } };

/**
 * Close codes the server uses: shutting down, a client too slow to keep up (its events passed the bound), a message
 * of the client's whose handling failed on the server (reconnect and resume).
 */
export const WS_CLOSE = { goingAway: 1001, tooSlow: 1008, internalError: 1011 } as const;
