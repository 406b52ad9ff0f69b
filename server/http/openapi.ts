/** GET /api/openapi.json, generated from the shared zod schemas. */
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ContainerIdParamsSchema, ErrorBodySchema, EventsQuerySchema, GpuIndexParamsSchema, HealthResponseSchema, HistoryQuerySchema, HistoryResponseSchema, SeriesListResponseSchema } from '../../shared/api.ts';
import { ContainerSchema, CpuSchema, DiskSchema, GpuSchema, MemorySchema, NetworkInterfaceSchema, ResourceStatusSchema, SourceStatusSchema } from '../../shared/resources.ts';
import { EnvelopeSchema } from '../../shared/events.ts';
import { VERSION } from '../version.ts';

export function buildOpenApi(): object {
  const reg = new OpenAPIRegistry();
  reg.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  const err = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBodySchema } } });
  const ok = (schema: z.ZodType, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
  const secured = [{ bearer: [] }];

  reg.registerPath({ method: 'get', path: '/api/health', summary: 'Liveness and source states (no auth)', responses: { 200: ok(HealthResponseSchema) } });
  reg.registerPath({ method: 'get', path: '/api/status', summary: 'Latest resource snapshot', security: secured, responses: { 200: ok(ResourceStatusSchema), 401: err('no or wrong token') } });
  const parts = { cpu: CpuSchema, memory: MemorySchema, disks: z.array(DiskSchema), network: z.array(NetworkInterfaceSchema) };
  for (const [part, schema] of Object.entries(parts)) {
    reg.registerPath({
      method: 'get', path: `/api/status/${part}`, summary: `Latest ${part} figures`, security: secured,
      responses: { 200: ok(z.object({ sampledAt: z.number(), [part]: schema })), 401: err('no or wrong token'), 503: err('no sample yet') },
    });
  }
  reg.registerPath({
    method: 'get', path: '/api/status/gpus', summary: 'NVIDIA GPUs with their processes and MIG instances, and the gpu source state', security: secured,
    responses: { 200: ok(z.object({ source: SourceStatusSchema.nullable(), gpus: z.array(GpuSchema) })), 401: err('no or wrong token') },
  });
  reg.registerPath({
    method: 'get', path: '/api/status/gpus/{index}', summary: 'One GPU by index', security: secured,
    request: { params: GpuIndexParamsSchema },
    responses: { 200: ok(GpuSchema), 400: err('index is not a non-negative integer'), 401: err('no or wrong token'), 404: err('no GPU with that index') },
  });
  reg.registerPath({
    method: 'get', path: '/api/status/containers', summary: 'Docker/Podman containers with stats and GPUs, and the docker source state', security: secured,
    responses: { 200: ok(z.object({ source: SourceStatusSchema.nullable(), containers: z.array(ContainerSchema) })), 401: err('no or wrong token') },
  });
  reg.registerPath({
    method: 'get', path: '/api/status/containers/{id}', summary: 'One container by id, id prefix or name', security: secured,
    request: { params: ContainerIdParamsSchema },
    responses: { 200: ok(ContainerSchema), 401: err('no or wrong token'), 404: err('no such container'), 409: err('prefix matches several containers') },
  });
  reg.registerPath({
    method: 'get', path: '/api/history', summary: 'History of series at 1 s resolution (last hour)', security: secured,
    request: { query: HistoryQuerySchema },
    responses: { 200: ok(HistoryResponseSchema), 400: err('bad query'), 401: err('no or wrong token'), 404: err('unknown series') },
  });
  reg.registerPath({ method: 'get', path: '/api/history/series', summary: 'Names of the series kept', security: secured, responses: { 200: ok(SeriesListResponseSchema) } });
  reg.registerPath({
    method: 'get', path: '/api/events', summary: 'Server-Sent Events stream of envelopes (resume with Last-Event-ID)', security: secured,
    request: { query: EventsQuerySchema },
    responses: { 200: { description: 'text/event-stream: `id:` envelope id, `event:` type, `data:` envelope JSON', content: { 'text/event-stream': { schema: EnvelopeSchema } } }, 400: err('bad query'), 401: err('no or wrong token') },
  });
  reg.registerPath({ method: 'get', path: '/metrics', summary: 'Prometheus metrics', security: secured, responses: { 200: { description: 'Prometheus text format' } } });

  return new OpenApiGeneratorV31(reg.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'Arbiter API', version: VERSION, description: 'Resource monitor and scheduler. Push over socket.io (path /socket.io) and SSE.' },
  });
}
