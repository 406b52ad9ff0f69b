/** The resource-scheduler specification's surface in the OpenAPI document (tagged `compatibility: resource-scheduler`). */
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { EventsQuerySchema } from '../../shared/api.ts';
import { EnvelopeSchema } from '../../shared/events.ts';
import {
  RsAllocateBodySchema, RsAllocateResponseSchema, RsContainersResponseSchema, RsCpuResponseSchema, RsGpuResponseSchema, RsPerformanceQuerySchema,
  RsPerformanceResponseSchema, RsQueueQuerySchema, RsQueueResponseSchema, RsResolveBodySchema, RsResolveByIdBodySchema, RsResolveResponseSchema,
  RsStrategySetBodySchema, RsStrategySetResponseSchema, RsStrategyStateSchema,
} from '../../shared/resource-scheduler.ts';
import { RS_BASE } from './routes/resource-scheduler.ts';
import { SECURED, errorAnswer, jsonBody, ok, registerOperations, type Operation } from './openapi-ops.ts';

/** The plain WebSocket (an HTTP upgrade: OpenAPI describes its handshake, the messages are in the summary). */
const WS_SUMMARY = 'WebSocket (upgrade): each event one JSON text message, the envelope {id, type, data, ts}; send {"subscribe": [types]} or {"resume": lastId}; types and lastEventId in the query too; token by header, ?access_token= or the cookie';
const WS_RESPONSES = {
  101: { description: 'Switching Protocols: the WebSocket is open' },
  400: errorAnswer('a bad query, or an upgrade request that could not be read'),
  503: errorAnswer('too many push clients (--max-clients): Retry-After; or the server is shutting down'),
};
export const RS_TAG: [string, string, RegExp] = [
  'compatibility: resource-scheduler',
  "The resource-scheduler specification's API, its names and units (requested_amount: cpu % of the machine, GPU count, memory MiB; time_slice in s), over Arbiter's own",
  /^\/api\/resource-scheduler\//,
];

export function registerResourceScheduler(reg: OpenAPIRegistry): void {
  const err = (description: string) => errorAnswer(description);
  const idParam = z.object({ id: z.string() });
  const pushQuery = EventsQuerySchema.omit({ format: true });
  const routes: Operation[] = [
    ['get', 'status/cpu', 'resourceSchedulerCpuStatus', 'CPU figures as `cpu_state`', {}, { 200: ok(RsCpuResponseSchema), 503: err('no host sample yet') }],
    ['get', 'status/gpu', 'resourceSchedulerGpuStatus', 'GPUs, each with `state` available | in_use (an allocation or a process) | error, as a list and keyed by index (`gpu_states`)', {}, { 200: ok(RsGpuResponseSchema) }],
    ['get', 'status/containers', 'resourceSchedulerContainerStatus', 'Containers, as a list and keyed by id (`container_states`)', {}, { 200: ok(RsContainersResponseSchema) }],
    ['get', 'conflicts/queue', 'resourceSchedulerConflictQueue', 'Open conflicts and waiting requests, FIFO or (use_priority=true) priority order', { query: RsQueueQuerySchema }, { 200: ok(RsQueueResponseSchema), 400: err('bad query (the field)') }],
    ['post', 'conflicts/{id}/resolve', 'resourceSchedulerResolveConflict', 'Resolve a conflict as the named (or current) strategy would', { params: idParam, ...jsonBody(RsResolveBodySchema) },
      { 200: ok(RsResolveResponseSchema), 202: ok(RsResolveResponseSchema, 'preempting: resolved when the grace period ends'), 400: err('unknown strategy'), 404: err('unknown conflict'), 409: err('cannot be resolved now (why)') }],
    ['post', 'conflicts/resolve', 'resourceSchedulerResolveConflictById', 'The same, the conflict named in the body (`conflict_id`)', jsonBody(RsResolveByIdBodySchema),
      { 200: ok(RsResolveResponseSchema), 202: ok(RsResolveResponseSchema, 'preempting'), 400: err('invalid body'), 404: err('unknown conflict'), 409: err('cannot be resolved now') }],
    ['post', 'strategy/set', 'resourceSchedulerSetStrategy', 'Switch strategy (admin token); config: time_slice (s) → quantumMs of time_slicing / hybrid, and the strategy\'s own keys', jsonBody(RsStrategySetBodySchema),
      { 200: ok(RsStrategySetResponseSchema), 400: err('unknown strategy, unknown config key or invalid value (the field)'), 403: err('not the admin token') }],
    ['get', 'strategy', 'resourceSchedulerGetStrategy', 'The current strategy and its config (also at strategy/current)', {}, { 200: ok(RsStrategyStateSchema) }],
    ['get', 'strategy/performance', 'resourceSchedulerStrategyPerformance', 'Figures per strategy over the time it was active', { query: RsPerformanceQuerySchema }, { 200: ok(RsPerformanceResponseSchema), 400: err('unknown strategy') }],
    ['post', 'allocate', 'resourceSchedulerAllocate', 'A resource request owned by task_id: requested_amount in cpu % of the machine, GPUs, or memory MiB (201 granted, 202 queued)', jsonBody(RsAllocateBodySchema),
      { 201: ok(RsAllocateResponseSchema, 'granted'), 202: ok(RsAllocateResponseSchema, 'queued'), 400: err('invalid body (the field)'), 422: err('can never fit'), 503: err('CPU capacity not known yet') }],
    ['get', 'push/sse', 'resourceSchedulerPushSse', 'SSE of unnamed frames for EventSource.onmessage: `id:` and `data:` the envelope {id, type, data, ts}; resume with Last-Event-ID', { query: pushQuery },
      { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: EnvelopeSchema } } }, 400: err('bad query'), 503: err('too many push clients (--max-clients): Retry-After') }],
  ];
  registerOperations(reg, routes, err, `${RS_BASE}/`);
  // the WebSocket, under the API's own path and the specification's: refused before any route (no lockout answer)
  for (const [path, operationId] of [['/api/ws', 'openEventWebSocket'], [`${RS_BASE}/push/ws`, 'resourceSchedulerPushWebSocket']] as const) {
    reg.registerPath({ method: 'get', path, operationId, summary: WS_SUMMARY, security: SECURED, request: { query: pushQuery }, responses: { ...WS_RESPONSES, 401: err('no or wrong token') } });
  }
}
