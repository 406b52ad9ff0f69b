/** GET /api/openapi.json's document, generated from the shared zod schemas (served by routes/openapi.ts). */
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { AllocationsQuerySchema, AllocationsResponseSchema, SessionSchema, ContainerIdParamsSchema, ErrorBodySchema, EventsQuerySchema, GpuIndexParamsSchema, HealthResponseSchema, HistoryQuerySchema, HistoryResponseSchema, SeriesListResponseSchema } from '../../shared/api.ts';
import { ContainerSchema, CpuSchema, DiskSchema, GpuSchema, MemorySchema, NetworkInterfaceSchema, ResourceStatusSchema, SourceStatusSchema } from '../../shared/resources.ts';
import { EnvelopeSchema } from '../../shared/events.ts';
import { VERSION } from '../version.ts';
import { AllocationSchema, ConflictSchema, QueueEntrySchema, RequestInputSchema, RequestSchema } from '../../shared/scheduler.ts';
import { HintSchema } from '../../shared/hints.ts';
import {
  DispatchErrorSchema, DispatchInstancesResponseSchema, DispatchPolicyBodySchema, DispatchPolicyResponseSchema, DispatchTasksQuerySchema, DispatchTasksResponseSchema, QueueInfoQuerySchema, QueueInfoResponseSchema, QueueSubmitBodySchema, QueueSubmitResponseSchema,
  TaskCompleteBodySchema, TaskCompleteResponseSchema, TaskQueryQuerySchema, TaskQueryResponseSchema, TiRegisterBodySchema,
  TiRegisterResponseSchema, TiRemoveBodySchema, TiRemoveResponseSchema,
} from '../../shared/dispatch.ts';
import { CompareBodySchema, CompareResponseSchema, PerformanceResponseSchema, ResolveBodySchema, StrategiesResponseSchema, StrategyPutSchema, StrategyStateSchema } from '../../shared/strategy.ts';
import { ConflictsQuerySchema, QueueQuerySchema, RenewBodySchema, SubmitHeadersSchema } from './routes/scheduler.ts';
import {
  CallBodySchema, CallResponseSchema, EngineBodySchema, EngineErrorSchema, EngineResponseSchema, NotReadyDetailSchema, WorkerGroupResponseSchema,
  WorkerLogsQuerySchema, WorkerLogsResponseSchema, WorkersCreateBodySchema, WorkersDeleteQuerySchema, WorkersQuerySchema, WorkersResponseSchema,
} from '../../shared/workers.ts';
import { HintsQuerySchema } from './routes/hints.ts';
import { RS_TAG, registerResourceScheduler } from './openapi-resource-scheduler.ts';
import { NodesResponseSchema } from '../../shared/agents.ts';
import { WEBSOCKET_PATHS } from '../../shared/websocket.ts';
import { IdParamsSchema } from './routes/workflows.ts';
import {
  JobCompleteBodySchema, UserCreateBodySchema, UserSchema, WorkflowCreateBodySchema, WorkflowCreatedSchema, WorkflowSchema, WorkflowsQuerySchema, WorkflowsResponseSchema,
} from '../../shared/workflows.ts';

export function buildOpenApi(): object {
  const reg = new OpenAPIRegistry();
  reg.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  const err = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBodySchema } } });
  const ok = (schema: z.ZodType, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
  const secured = [{ bearer: [] }];

  reg.registerPath({ method: 'get', path: '/api/health', summary: 'Liveness (no auth); with the token also the version, uptime, node and source states', responses: { 200: ok(HealthResponseSchema) } });
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
    responses: { 200: { description: 'text/event-stream: `id:` envelope id, `event:` type (none with format=message, for EventSource.onmessage), `data:` envelope JSON', content: { 'text/event-stream': { schema: EnvelopeSchema } } }, 400: err('bad query'), 401: err('no or wrong token') },
  });
  const idParam = z.object({ id: z.string() });
  const scheduling: [string, string, string, Record<string, unknown>, Record<number, unknown>][] = [
    ['post', '/api/requests', 'Submit a resource request (Idempotency-Key header supported)', { headers: SubmitHeadersSchema, body: { content: { 'application/json': { schema: RequestInputSchema } } } },
      { 201: ok(z.object({ request: RequestSchema, allocation: AllocationSchema }), 'granted'), 202: ok(z.object({ request: RequestSchema, conflict: ConflictSchema }), 'queued'), 400: err('invalid body or Idempotency-Key'), 409: err('Idempotency-Key reused with another body'), 422: err('can never fit'), 429: err('the owner has --max-waiting-per-owner requests waiting') }],
    ['get', '/api/requests/{id}', 'A request', { params: idParam }, { 200: ok(RequestSchema), 404: err('unknown id') }],
    ['delete', '/api/requests/{id}', 'Cancel a queued request', { params: idParam }, { 200: ok(RequestSchema), 404: err('unknown id'), 409: err('not queued') }],
    ['get', '/api/allocations', 'Active allocations, or (state=all) also those ended since sinceMs (default an hour ago), with their owners', { query: AllocationsQuerySchema }, { 200: ok(AllocationsResponseSchema), 400: err('bad query') }],
    ['post', '/api/allocations/{id}/renew', 'Extend a lease', { params: idParam, body: { content: { 'application/json': { schema: RenewBodySchema } } } }, { 200: ok(AllocationSchema), 404: err('unknown id'), 409: err('not active') }],
    ['delete', '/api/allocations/{id}', 'Release an allocation', { params: idParam }, { 200: ok(AllocationSchema), 404: err('unknown id') }],
    ['get', '/api/queue', 'Waiting requests with their conflicts, FIFO or priority order', { query: QueueQuerySchema }, { 200: ok(z.object({ order: z.string(), total: z.number(), limit: z.number(), offset: z.number(), items: z.array(QueueEntrySchema) })), 400: err('bad query') }],
    ['get', '/api/conflicts', 'Conflicts, open or resolved', { query: ConflictsQuerySchema }, { 200: ok(z.object({ total: z.number(), items: z.array(ConflictSchema) })), 400: err('bad query') }],
    ['get', '/api/conflicts/{id}', 'A conflict', { params: idParam }, { 200: ok(ConflictSchema), 404: err('unknown id') }],
    ['post', '/api/conflicts/{id}/resolve', 'Resolve with the named or current strategy: re-place, rotate time slices, or preempt (202 while the victims\' grace runs)', { params: idParam, body: { content: { 'application/json': { schema: ResolveBodySchema } } } },
      { 200: ok(ConflictSchema), 202: ok(ConflictSchema, 'preempting: resolved when the grace period ends'), 400: err('unknown strategy'), 404: err('unknown id'), 409: err('cannot be resolved now (why)') }],
    ['get', '/api/strategy', 'The current strategy, its config and since when', {}, { 200: ok(StrategyStateSchema) }],
    ['put', '/api/strategy', 'Switch strategy (admin token); config validated against its schema', { body: { content: { 'application/json': { schema: StrategyPutSchema } } } },
      { 200: ok(StrategyStateSchema), 400: err('unknown name or invalid config (the field)'), 403: err('not the admin token') }],
    ['get', '/api/strategies', 'Every strategy with its config JSON Schema and defaults', {}, { 200: ok(StrategiesResponseSchema) }],
    ['get', '/api/strategy/performance', 'Figures per strategy over the time it was active', {}, { 200: ok(PerformanceResponseSchema) }],
    ['post', '/api/strategy/compare', "This server's recent requests replayed under every strategy", { body: { content: { 'application/json': { schema: CompareBodySchema } } } }, { 200: ok(CompareResponseSchema), 400: err('invalid body') }],
    ['get', '/api/session', 'Whether auth is on and this token may act as admin', {}, { 200: ok(SessionSchema) }],
    ['get', '/api/hints', 'Hints', { query: HintsQuerySchema }, { 200: ok(z.object({ status: z.string(), hints: z.array(HintSchema) })) }],
  ];
  for (const [method, path, summary, request, responses] of scheduling) {
    reg.registerPath({ method: method as 'get', path, summary, security: secured, request, responses: { ...responses, 401: err('no or wrong token') } } as never);
  }
  // workers: groups of replicas on granted resources, their engines
  const json = (schema: z.ZodType) => ({ body: { content: { 'application/json': { schema } } } });
  const name = z.object({ name: z.string() });
  const workers: [string, string, string, Record<string, unknown>, Record<number, unknown>][] = [
    ['post', '/api/workers', 'Ask for a group of workers: each replica a resource request, started when granted', json(WorkersCreateBodySchema),
      { 202: ok(WorkerGroupResponseSchema), 400: err('invalid body (the field)'), 409: err('a live group has that name'), 422: err('a replica can never fit, or the backend is not available') }],
    ['get', '/api/workers', 'Workers (of one group with name); with timeoutMs: once every replica runs and answers, else 408 not_ready with why each is not', { query: WorkersQuerySchema },
      { 200: ok(WorkersResponseSchema), 400: err('bad query'), 404: err('unknown group'), 408: { description: 'not_ready: error.details = [{id, state, why}]', content: { 'application/json': { schema: z.object({ error: z.object({ code: z.literal('not_ready'), message: z.string(), details: z.array(NotReadyDetailSchema) }) }) } } } }],
    ['delete', '/api/workers', 'Stop every live group (of owner when given): graceful stop, then kill; allocations released', { query: WorkersDeleteQuerySchema }, { 200: ok(WorkersResponseSchema) }],
    ['delete', '/api/workers/{name}', 'Stop a group (URL-encode the name); answers when every replica has ended', { params: name }, { 200: ok(WorkerGroupResponseSchema), 404: err('unknown group') }],
    ['get', '/api/workers/{id}/logs', "A worker's output, its last lines", { params: idParam, query: WorkerLogsQuerySchema }, { 200: ok(WorkerLogsResponseSchema), 404: err('unknown worker') }],
    ['post', '/api/workers/{id}/engine', 'Create (or replace) the engine of a running worker, named, never pickled', { params: idParam, ...json(EngineBodySchema) },
      { 200: ok(EngineResponseSchema), 400: err('engine_not_found'), 404: err('unknown worker'), 409: err('not running'), 502: { description: 'engine_error: error.remote_type, error.remote_stack', content: { 'application/json': { schema: EngineErrorSchema } } } }],
    ['post', '/api/workers/{id}/call', "Call a method of a running worker's engine", { params: idParam, ...json(CallBodySchema) },
      { 200: ok(CallResponseSchema), 404: err('unknown worker or method'), 409: err('not running, or no engine'), 502: { description: 'engine_error: error.remote_type, error.remote_stack', content: { 'application/json': { schema: EngineErrorSchema } } } }],
  ];
  for (const [method, path, summary, request, responses] of workers) {
    reg.registerPath({ method: method as 'get', path, summary, security: secured, request, responses: { ...responses, 401: err('no or wrong token') } } as never);
  }
  // task dispatch (Scheduler.md): the same handlers also answer at /ti/…, /queue/…, /task/…, /notify/… and GET /health
  const derr = (description: string) => ({ description, content: { 'application/json': { schema: DispatchErrorSchema } } });
  const body = (schema: z.ZodType) => ({ body: { content: { 'application/json': { schema } } } });
  const dispatch: [string, string, string, Record<string, unknown>, Record<number, unknown>][] = [
    ['post', '/ti/register', 'Register a task instance (again: the same ti_uuid, the new model)', body(TiRegisterBodySchema), { 200: ok(TiRegisterResponseSchema), 400: derr('invalid body') }],
    ['post', '/ti/remove', 'Remove a task instance; its tasks go to other instances', body(TiRemoveBodySchema), { 200: ok(TiRemoveResponseSchema), 400: derr('invalid body'), 404: derr('no instance at host:port') }],
    ['post', '/queue/submit', 'Submit a task: routed to an instance of its model by the routing policy', body(QueueSubmitBodySchema), { 200: ok(QueueSubmitResponseSchema), 400: derr('invalid body'), 404: derr('no instance serves the model') }],
    ['get', '/queue/info', 'Expected wait and its error per instance (seconds)', { query: QueueInfoQuerySchema }, { 200: ok(QueueInfoResponseSchema), 400: derr('bad query') }],
    ['get', '/task/query', "A task's status, instance, submit time, result and times", { query: TaskQueryQuerySchema }, { 200: ok(TaskQueryResponseSchema), 404: derr('unknown task') }],
    ['post', '/notify/task_complete', 'An instance reports a task done', body(TaskCompleteBodySchema), { 200: ok(TaskCompleteResponseSchema), 404: derr('unknown task'), 409: derr('already completed or failed: the first result is kept') }],
    ['get', '/instances', 'Every registered task instance', {}, { 200: ok(DispatchInstancesResponseSchema) }],
    ['get', '/tasks', 'Recent tasks, newest first', { query: DispatchTasksQuerySchema }, { 200: ok(DispatchTasksResponseSchema) }],
    ['get', '/policy', 'The routing policy in force', {}, { 200: ok(DispatchPolicyResponseSchema) }],
    ['put', '/policy', 'Switch the routing policy (admin token); kept across restarts, pushed as instance_update policy_changed', body(DispatchPolicyBodySchema), { 200: ok(DispatchPolicyResponseSchema), 400: derr('unknown policy'), 403: derr('not the admin token') }],
  ];
  for (const [method, path, summary, request, responses] of dispatch) {
    reg.registerPath({ method: method as 'get', path: `/api/dispatch${path}`, summary, security: secured, request, responses: { ...responses, 401: derr('no or wrong token') } } as never);
  }
  reg.registerPath({ method: 'get', path: '/health', summary: 'Liveness of the task dispatch API (no auth; Scheduler.md)', responses: { 200: ok(z.object({ status: z.literal('ok') }).loose()) } });
  // workflows: under /api and at the reference's own paths (FastAPI's, with its `detail` in errors)
  const werr = (description: string) => ({ description, content: { 'application/json': { schema: ErrorBodySchema.extend({ detail: z.string() }) } } });
  const jobParams = z.object({ id: z.string(), index: z.int().nonnegative() });
  for (const base of ['/api', '']) {
    const slash = base ? '' : '/';
    const flows: [string, string, string, Record<string, unknown>, Record<number, unknown>][] = [
      ['post', `${base}/users${slash}`, 'Create a user (the owner of its workflows\' resource requests)', body(UserCreateBodySchema), { 201: ok(UserSchema), 400: werr('invalid body'), 409: werr('the username is taken') }],
      ['get', `${base}/users/{id}`, 'A user', { params: IdParamsSchema }, { 200: ok(UserSchema), 404: werr('unknown user') }],
      ['post', `${base}/workflows${slash}`, 'Submit a workflow: a DAG of jobs by parent_indices; jobs with `run` run as workers when their parents have succeeded, jobs without wait for their result', body(WorkflowCreateBodySchema),
        { 201: ok(WorkflowCreatedSchema), 400: werr('invalid: error.details names each job index and field (unknown user_id, bad parent index, own parent, duplicate name, a cycle by its indices)'), 422: werr('a job can never run here (resources, backend)') }],
      ['get', `${base}/workflows${slash}`, 'Workflows, newest first, of a user and in a status when given', { query: WorkflowsQuerySchema }, { 200: ok(WorkflowsResponseSchema), 400: werr('bad query') }],
      ['get', `${base}/workflows/{id}`, 'A workflow with every job: status, times, attempts, exit code, log tail, request / allocation / worker ids', { params: IdParamsSchema }, { 200: ok(WorkflowSchema), 404: werr('unknown workflow') }],
      ['delete', `${base}/workflows/{id}`, 'Cancel: running jobs stopped, queued requests withdrawn; answers once they have ended', { params: IdParamsSchema }, { 200: ok(WorkflowSchema), 404: werr('unknown workflow'), 409: werr('already ended') }],
      ['post', `${base}/workflows/{id}/retry`, 'Run the failed and skipped jobs again (what succeeded stays)', { params: IdParamsSchema }, { 200: ok(WorkflowSchema), 404: werr('unknown workflow'), 409: werr('nothing failed, or cancelled') }],
      ['post', `${base}/workflows/{id}/jobs/{index}/complete`, "A manual job's result (a job without `run`, READY)", { params: jobParams, ...body(JobCompleteBodySchema) },
        { 200: ok(WorkflowSchema), 400: werr('invalid body'), 404: werr('unknown workflow or job'), 409: werr('not a manual job, or not READY') }],
    ];
    for (const [method, path, summary, request, responses] of flows) {
      reg.registerPath({ method: method as 'get', path, summary, security: secured, request, responses: { ...responses, 401: werr('no or wrong token') } } as never);
    }
  }
  reg.registerPath({
    method: 'get', path: '/api/nodes', summary: "Every node the hub schedules on (its own first, then the agents'): reachability, last snapshot, capacity, what is allocated", security: secured,
    responses: { 200: ok(NodesResponseSchema), 401: err('no or wrong token') },
  });
  registerResourceScheduler(reg);
  reg.registerPath({ method: 'get', path: '/metrics', summary: 'Prometheus metrics', security: secured, responses: { 200: { description: 'Prometheus text format' } } });

  const doc = new OpenApiGeneratorV31(reg.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'Arbiter API', version: VERSION, description: 'Resource monitor and scheduler. Push over socket.io (path /socket.io) and SSE (named frames, or unnamed with format=message). Interactive page: /docs.' },
    tags: TAGS.map(([name, description]) => ({ name, description })),
  });
  for (const [path, ops] of Object.entries(doc.paths ?? {})) {
    for (const op of Object.values(ops as Record<string, { tags?: string[] }>)) if (op && typeof op === 'object') op.tags = [tagOf(path)];
  }
  documentRefusals(doc.paths ?? {});
  return doc;
}

type Responses = Record<string, { description: string; headers?: object; content?: object }>;
const REFUSED = 'too many requests from this token or address (--rate-limit, --rate-burst), or too many wrong tokens from this address: retry after Retry-After seconds';

/**
 * The 429 that any HTTP request may get but the health checks' (the WebSocket upgrades are not counted): added to
 * what an operation documents already, in the shape of its other errors (its 401's), with Retry-After.
 */
function documentRefusals(paths: object): void {
  const exempt = new Set<string>(['/api/health', '/health', ...WEBSOCKET_PATHS]);
  for (const [path, ops] of Object.entries(paths)) {
    if (exempt.has(path)) continue;
    for (const op of Object.values(ops as Record<string, { responses?: Responses }>)) {
      if (!op?.responses) continue;
      const r = op.responses;
      const own = r['429'];
      r['429'] = {
        description: own ? `${own.description}; or ${REFUSED}` : REFUSED,
        headers: { 'Retry-After': { description: 'seconds to wait', schema: { type: 'integer', minimum: 1 } } },
        content: own?.content ?? r['401']?.content ?? { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      };
    }
  }
}

/** The document's sections, in order, with the paths each holds. */
const TAGS: [string, string, RegExp][] = [
  RS_TAG,
  ['monitoring', 'The node: CPU, memory, disks, network, GPUs, containers, their history, the event stream', /^\/(api\/(health|status|history|events|openapi)|metrics)/],
  ['scheduling', 'Resource requests, allocations with leases, the queue, conflicts, strategies, hints, the nodes', /^\/api\/(requests|allocations|queue|conflicts|strateg|session|hints|nodes)/],
  ['workers', 'Workers on granted resources, their engines', /^\/api\/workers/],
  ['workflows', 'Users and their DAGs of jobs (also at the reference paths /users/ and /workflows/)', /^\/(api\/)?(users|workflows)/],
  ['task dispatch', 'Task instances and routed tasks (Scheduler.md; also at /ti, /queue, /task, /notify, /health)', /^\/(api\/dispatch|health$)/],
];

function tagOf(path: string): string {
  return TAGS.find(([, , re]) => re.test(path))?.[0] ?? 'monitoring';
}
