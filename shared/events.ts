/**
 * The push contract, declared once: each event type with the zod schema of its payload (`EVENT_PAYLOADS`), the
 * envelope every event travels in, which types coalesce, and the socket.io event maps. Used by the server, the
 * tests and (types only: this module imports zod) the web.
 */
import { z } from 'zod';
import { InstanceChangeSchema, TaskChangeSchema } from './dispatch.ts';
import { HintEventSchema } from './hints.ts';
import { ResourceStatusSchema } from './resources.ts';
import { EVENT_TYPES as EVENT_NAMES } from './names.ts';
import { ConflictChangeSchema, SchedulingChangeSchema } from './scheduler.ts';
import { WorkerChangeSchema } from './workers.ts';
import { WorkflowChangeSchema } from './workflows.ts';

/**
 * Every event type and the schema of its `data`: exactly the names of shared/names.ts (the zod-free list the
 * dashboard subscribes with), no more, no fewer — `satisfies` fails the build otherwise. The hub refuses to publish
 * a type that is missing (by its types, and at run time), and the tests parse what a running server really
 * publishes with these schemas.
 */
export const EVENT_PAYLOADS = {
  /** a snapshot of the node's resources */
  resource_status: ResourceStatusSchema,
  /** a hint raised or cleared */
  hint: HintEventSchema,
  /** a conflict opened, updated or resolved (the engine's conflict change records) */
  conflict: ConflictChangeSchema,
  /** grants, releases, queue changes, strategy changes (the engine's other change records) */
  scheduling_update: SchedulingChangeSchema,
  /** a dispatched task queued, scheduled on its instance, completed, failed or re-routed */
  task_update: TaskChangeSchema,
  /** a task instance registered, removed, down or up; the routing policy switched */
  instance_update: InstanceChangeSchema,
  /** a worker created, its state changed (queued, starting, running, suspended, ended), an engine created in it, or removed */
  worker_update: WorkerChangeSchema,
  /** a workflow created, its state changed, or one of its jobs changed state */
  workflow_update: WorkflowChangeSchema,
} satisfies Record<(typeof EVENT_NAMES)[number], z.ZodType>;
export type EventPayloads = typeof EVENT_PAYLOADS;

/** Event types a client can subscribe to: the keys of EVENT_PAYLOADS. */
export const EventTypeSchema = z.object(EVENT_PAYLOADS).keyof();
export type EventType = z.infer<typeof EventTypeSchema>;
export const EVENT_TYPES: readonly EventType[] = EventTypeSchema.options;

/** The `data` of an event of type T. */
export type Payload<T extends EventType> = z.infer<EventPayloads[T]>;

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && Object.hasOwn(EVENT_PAYLOADS, value);
}

/**
 * Event types of which only the newest matters (latest wins): a slow client gets the newest instead of a backlog,
 * a new client gets the newest at once, and they are not archived.
 */
export const COALESCED_TYPES: ReadonlySet<EventType> = new Set<EventType>(['resource_status']);

interface EnvelopeOf<T extends EventType> {
  /** strictly increases, also across restarts */
  id: number;
  type: T;
  ts: number;
  data: Payload<T>;
}
/** Every pushed event; `Envelope` alone is the union over every type, narrowed by `type`. */
export type Envelope<T extends EventType = EventType> = { [K in T]: EnvelopeOf<K> }[T];

/**
 * What a newer event replaces, for the coalesced types: a status snapshot replaces the previous snapshot of the
 * same node only (with several nodes publishing, each node's latest is kept); another coalesced type replaces
 * its previous event. Undefined for the types that are never coalesced. Type names hold no `:`, so a key is
 * never shared by two (type, node) pairs.
 */
export function coalesceKey(env: Envelope): string | undefined {
  if (!COALESCED_TYPES.has(env.type)) return undefined;
  return env.type === 'resource_status' ? `${env.type}:${env.data.node}` : env.type;
}

const envelopeSchema = <T extends EventType>(type: T) =>
  z.object({ id: z.int().positive(), type: z.literal(type), ts: z.number(), data: EVENT_PAYLOADS[type] });
/** The envelope as a schema (the OpenAPI document shows it; the type to use is `Envelope`). */
export const EnvelopeSchema = z.union(EVENT_TYPES.map(envelopeSchema)).meta({ id: 'Envelope' });

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

/**
 * Sent (without an id) to a push client just before it is cut off for falling too far behind: more events waited for
 * it than `limit` (--max-buffered-events). It may reconnect and resume from the last id it read.
 */
export const DroppedSchema = z.object({
  reason: z.literal('too_slow'),
  limit: z.number().int(),
  message: z.string(),
});
export type Dropped = z.infer<typeof DroppedSchema>;
export const DROPPED_EVENT = 'dropped';

/** The notice of a client cut off past `limit` waiting events. */
export function droppedNotice(limit: number): Dropped {
  return { reason: 'too_slow', limit, message: `too slow: more than ${limit} events waited for this client; reconnect and resume from the last id read` };
}

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
export type ServerToClientEvents = { [K in EventType]: (env: Envelope<K>) => void } & {
  [REPLAY_GAP_EVENT]: (gap: ReplayGap) => void;
  [DROPPED_EVENT]: (notice: Dropped) => void;
};
export interface ClientToServerEvents {
  subscribe: (msg: Subscribe, ack?: (res: SubscribeAck) => void) => void;
}
