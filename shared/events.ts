/** The push contract: event envelope, event types and the socket.io event maps. Used by server, web and tests. */
import { z } from 'zod';
import { ResourceStatusSchema } from './resources.ts';

/** Event types a client can subscribe to. `hint`, `conflict`, `scheduling_update` are reserved for the scheduler and hints. */
export const EVENT_TYPES = ['resource_status', 'hint', 'conflict', 'scheduling_update'] as const;
export const EventTypeSchema = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventTypeSchema>;

/** Every pushed event. `id` strictly increases, also across restarts. */
export const EnvelopeSchema = z.object({
  id: z.number().int().positive(),
  type: EventTypeSchema,
  ts: z.number(),
  data: z.unknown(),
}).meta({ id: 'Envelope' });
export type Envelope<T = unknown> = { id: number; type: EventType; ts: number; data: T };

export const ResourceStatusEnvelopeSchema = EnvelopeSchema.extend({
  type: z.literal('resource_status'),
  data: ResourceStatusSchema,
});

/**
 * Sent (without an id) when a client asked to resume from an id that is no longer in the replay window:
 * events between `lastEventId` and `oldestId` are lost to it; the stream goes on from `oldestId`.
 */
export const ReplayGapSchema = z.object({
  lastEventId: z.number().int(),
  oldestId: z.number().int().nullable(),
  reason: z.enum(['out_of_window', 'ahead_of_server']),
});
export type ReplayGap = z.infer<typeof ReplayGapSchema>;
export const REPLAY_GAP_EVENT = 'replay_gap';

/** Comma-separated list of event types, e.g. `resource_status,hint`; empty or missing means all. */
export const EventTypesParamSchema = z
  .string()
  .transform((s) => s.split(',').map((t) => t.trim()).filter(Boolean))
  .pipe(z.array(EventTypeSchema));

/** What a socket.io client sends in `auth` when it connects. */
export const SocketAuthSchema = z.object({
  token: z.string().optional(),
  types: z.array(EventTypeSchema).optional(),
  lastEventId: z.number().int().nonnegative().optional(),
});
export type SocketAuth = z.infer<typeof SocketAuthSchema>;

export const SubscribeSchema = z.object({ types: z.array(EventTypeSchema) });
export type Subscribe = z.infer<typeof SubscribeSchema>;
export type SubscribeAck = { ok: true; types: EventType[] } | { ok: false; error: string };

/** socket.io event maps (see socket.io's typed events): each envelope arrives as the event named by its type. */
export interface ServerToClientEvents {
  resource_status: (env: Envelope<z.infer<typeof ResourceStatusSchema>>) => void;
  hint: (env: Envelope) => void;
  conflict: (env: Envelope) => void;
  scheduling_update: (env: Envelope) => void;
  replay_gap: (gap: ReplayGap) => void;
}
export interface ClientToServerEvents {
  subscribe: (msg: Subscribe, ack?: (res: SubscribeAck) => void) => void;
}
