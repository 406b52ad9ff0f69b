/** GET /api/openapi.json's document, generated from the shared zod schemas (served by routes/openapi.ts). */
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { AllocationsQuerySchema, AllocationsResponseSchema, DoctorQuerySchema, DoctorResponseSchema, SessionSchema, TokenCreateBodySchema, TokenCreatedSchema, TokenNameParamsSchema, TokensResponseSchema, TokenViewSchema, ContainerIdParamsSchema, ErrorBodySchema, EventsQuerySchema, GpuIndexParamsSchema, HealthResponseSchema, HistoryQuerySchema, HistoryResponseSchema, SeriesListResponseSchema } from '../../shared/api.ts';
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
import { BEARER, SECURED, errorAnswer, jsonBody, ok, registerOperations, type Operation } from './openapi-ops.ts';
import { NodesResponseSchema } from '../../shared/agents.ts';
import { WEBSOCKET_PATHS } from '../../shared/websocket.ts';
import { IdParamsSchema } from './routes/workflows.ts';
import {
  JobCompleteBodySchema, UserCreateBodySchema, UserSchema, WorkflowCreateBodySchema, WorkflowCreatedSchema, WorkflowSchema, WorkflowsQuerySchema, WorkflowsResponseSchema,
} from '../../shared/workflows.ts';

export function buildOpenApi(): object {
  const reg = new OpenAPIRegistry();
  reg.registerComponent('securitySchemes', BEARER, { type: 'http', scheme: 'bearer', description: 'The API token (printed at start, kept in <data-dir>/token); the arbiter_token cookie or ?access_token= carry it too' });
  const err = (description: string) => errorAnswer(description);
  const idParam = z.object({ id: z.string() });
  const name = z.object({ name: z.string() });

  // no token: liveness for probes, load balancers and service managers
  reg.registerPath({ method: 'get', path: '/api/health', operationId: 'getHealth', summary: 'Liveness (no auth); with the token also the version, uptime, node and source states', security: [], responses: { 200: ok(HealthResponseSchema) } });
  reg.registerPath({ method: 'get', path: '/health', operationId: 'getDispatchHealth', summary: 'Liveness of the task dispatch API (no auth; Scheduler.md)', security: [], responses: { 200: ok(z.object({ status: z.literal('ok') }).loose()) } });

  const parts = { cpu: CpuSchema, memory: MemorySchema, disks: z.array(DiskSchema), network: z.array(NetworkInterfaceSchema) };
  const monitoring: Operation[] = [
    ['get', '/api/status', 'getStatus', 'Latest resource snapshot', {}, { 200: ok(ResourceStatusSchema) }],
    ...Object.entries(parts).map(([part, schema]): Operation => [
      'get', `/api/status/${part}`, `getStatus${part[0]!.toUpperCase()}${part.slice(1)}`, `Latest ${part} figures`, {}, { 200: ok(z.object({ sampledAt: z.number(), [part]: schema })), 503: err('no sample yet') },
    ]),
    ['get', '/api/status/gpus', 'listGpus', 'NVIDIA GPUs with their processes and MIG instances, and the gpu source state', {}, { 200: ok(z.object({ source: SourceStatusSchema.nullable(), gpus: z.array(GpuSchema) })) }],
    ['get', '/api/status/gpus/{index}', 'getGpu', 'One GPU by index', { params: GpuIndexParamsSchema }, { 200: ok(GpuSchema), 400: err('index is not a non-negative integer'), 404: err('no GPU with that index') }],
    ['get', '/api/status/containers', 'listContainers', 'Docker/Podman containers with stats and GPUs, and the docker source state', {}, { 200: ok(z.object({ source: SourceStatusSchema.nullable(), containers: z.array(ContainerSchema) })) }],
    ['get', '/api/status/containers/{id}', 'getContainer', 'One container by id, id prefix or name', { params: ContainerIdParamsSchema }, { 200: ok(ContainerSchema), 404: err('no such container'), 409: err('prefix matches several containers') }],
    ['get', '/api/history', 'getHistory', 'History of series at 1 s resolution (last hour)', { query: HistoryQuerySchema }, { 200: ok(HistoryResponseSchema), 400: err('bad query'), 404: err('unknown series') }],
    ['get', '/api/history/series', 'listHistorySeries', 'Names of the series kept', {}, { 200: ok(SeriesListResponseSchema) }],
    ['get', '/api/events', 'streamEvents', 'Server-Sent Events stream of envelopes (resume with Last-Event-ID)', { query: EventsQuerySchema },
      { 200: { description: 'text/event-stream: `id:` envelope id, `event:` type (none with format=message, for EventSource.onmessage), `data:` envelope JSON', content: { 'text/event-stream': { schema: EnvelopeSchema } } }, 400: err('bad query'), 503: err('too many push clients (--max-clients): Retry-After') }],
    ['get', '/api/nodes', 'listNodes', "Every node the hub schedules on (its own first, then the agents'): reachability, last snapshot, capacity, what is allocated", {}, { 200: ok(NodesResponseSchema) }],
    ['get', '/metrics', 'getMetrics', 'Prometheus metrics', {}, { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } }],
  ];
  const scheduling: Operation[] = [
    ['post', '/api/requests', 'submitRequest', 'Submit a resource request (Idempotency-Key header supported)', { headers: SubmitHeadersSchema, ...jsonBody(RequestInputSchema) },
      { 201: ok(z.object({ request: RequestSchema, allocation: AllocationSchema }), 'granted'), 202: ok(z.object({ request: RequestSchema, conflict: ConflictSchema }), 'queued'), 400: err('invalid body or Idempotency-Key'), 409: err('Idempotency-Key reused with another body'), 422: err('can never fit'), 429: err('the owner has --max-waiting-per-owner requests waiting, or this address is locked out for wrong tokens') }],
    ['get', '/api/requests/{id}', 'getRequest', 'A request', { params: idParam }, { 200: ok(RequestSchema), 404: err('unknown id') }],
    ['delete', '/api/requests/{id}', 'cancelRequest', 'Cancel a queued request', { params: idParam }, { 200: ok(RequestSchema), 404: err('unknown id'), 409: err('not queued') }],
    ['get', '/api/allocations', 'listAllocations', 'Active allocations, or (state=all) also those ended since sinceMs (default an hour ago), with their owners', { query: AllocationsQuerySchema }, { 200: ok(AllocationsResponseSchema), 400: err('bad query') }],
    ['post', '/api/allocations/{id}/renew', 'renewAllocation', 'Extend a lease', { params: idParam, ...jsonBody(RenewBodySchema) }, { 200: ok(AllocationSchema), 404: err('unknown id'), 409: err('not active') }],
    ['delete', '/api/allocations/{id}', 'releaseAllocation', 'Release an allocation', { params: idParam }, { 200: ok(AllocationSchema), 404: err('unknown id') }],
    ['get', '/api/queue', 'listQueue', 'Waiting requests with their conflicts, FIFO or priority order', { query: QueueQuerySchema }, { 200: ok(z.object({ order: z.string(), total: z.number(), limit: z.number(), offset: z.number(), items: z.array(QueueEntrySchema) })), 400: err('bad query') }],
    ['get', '/api/conflicts', 'listConflicts', 'Conflicts, open or resolved', { query: ConflictsQuerySchema }, { 200: ok(z.object({ total: z.number(), items: z.array(ConflictSchema) })), 400: err('bad query') }],
    ['get', '/api/conflicts/{id}', 'getConflict', 'A conflict', { params: idParam }, { 200: ok(ConflictSchema), 404: err('unknown id') }],
    ['post', '/api/conflicts/{id}/resolve', 'resolveConflict', 'Resolve with the named or current strategy: re-place, rotate time slices, or preempt (202 while the victims\' grace runs)', { params: idParam, ...jsonBody(ResolveBodySchema) },
      { 200: ok(ConflictSchema), 202: ok(ConflictSchema, 'preempting: resolved when the grace period ends'), 400: err('unknown strategy'), 404: err('unknown id'), 409: err('cannot be resolved now (why)') }],
    ['get', '/api/strategy', 'getStrategy', 'The current strategy, its config and since when', {}, { 200: ok(StrategyStateSchema) }],
    ['put', '/api/strategy', 'setStrategy', 'Switch strategy (admin token); config validated against its schema', jsonBody(StrategyPutSchema),
      { 200: ok(StrategyStateSchema), 400: err('unknown name or invalid config (the field)'), 403: err('not the admin token') }],
    ['get', '/api/strategies', 'listStrategies', 'Every strategy with its config JSON Schema and defaults', {}, { 200: ok(StrategiesResponseSchema) }],
    ['get', '/api/strategy/performance', 'getStrategyPerformance', 'Figures per strategy over the time it was active', {}, { 200: ok(PerformanceResponseSchema) }],
    ['post', '/api/strategy/compare', 'compareStrategies', "This server's recent requests replayed under every strategy (with inflation: true, also the workload-inflation experiment on the live cluster)", jsonBody(CompareBodySchema), { 200: ok(CompareResponseSchema), 400: err('invalid body') }],
    ['get', '/api/session', 'getSession', "Whether auth is on, and this token's role, name and the owner it is bound to", {}, { 200: ok(SessionSchema) }],
    ['get', '/api/doctor', 'getDoctor', "`arbiter doctor`'s checks of this server (nvidia-smi and its driver, the engine socket, the container toolkit, pid namespace, /proc), each with its fix", { query: DoctorQuerySchema }, { 200: ok(DoctorResponseSchema), 400: err('bad query') }],
    ['get', '/api/tokens', 'listTokens', 'Named tokens (admin): never the tokens, only who they are', {}, { 200: ok(TokensResponseSchema), 403: err('not an admin\'s token') }],
    ['post', '/api/tokens', 'createToken', 'Make a named token (admin): the token is in this answer only', jsonBody(TokenCreateBodySchema),
      { 201: ok(TokenCreatedSchema, 'made'), 400: err('invalid body'), 403: err('not an admin\'s token'), 409: err('the name is taken (revoked names too)') }],
    ['delete', '/api/tokens/{name}', 'revokeToken', 'Revoke a named token (admin)', { params: TokenNameParamsSchema }, { 200: ok(TokenViewSchema), 403: err('not an admin\'s token'), 404: err('no such token'), 409: err('revoked already') }],
    ['get', '/api/hints', 'listHints', 'Hints', { query: HintsQuerySchema }, { 200: ok(z.object({ status: z.string(), hints: z.array(HintSchema) })), 400: err('bad query') }],
  ];
  // workers: groups of replicas on granted resources, their engines
  const engineError = { description: 'engine_error: error.remote_type, error.remote_stack', content: { 'application/json': { schema: EngineErrorSchema } } };
  const workers: Operation[] = [
    ['post', '/api/workers', 'createWorkers', 'Ask for a group of workers: each replica a resource request, started when granted', jsonBody(WorkersCreateBodySchema),
      { 202: ok(WorkerGroupResponseSchema), 400: err('invalid body (the field)'), 409: err('a live group has that name'), 422: err('a replica can never fit, or the backend is not available') }],
    ['get', '/api/workers', 'listWorkers', 'Workers (of one group with name); with timeoutMs: once every replica runs and answers, else 408 not_ready with why each is not', { query: WorkersQuerySchema },
      { 200: ok(WorkersResponseSchema), 400: err('bad query'), 404: err('unknown group'), 408: { description: 'not_ready: error.details = [{id, state, why}]', content: { 'application/json': { schema: z.object({ error: z.object({ code: z.literal('not_ready'), message: z.string(), details: z.array(NotReadyDetailSchema) }) }) } } } }],
    ['delete', '/api/workers', 'deleteWorkers', 'Stop every live group (of owner when given): graceful stop, then kill; allocations released', { query: WorkersDeleteQuerySchema }, { 200: ok(WorkersResponseSchema), 400: err('bad query') }],
    ['delete', '/api/workers/{name}', 'deleteWorkerGroup', 'Stop a group (URL-encode the name); answers when every replica has ended', { params: name }, { 200: ok(WorkerGroupResponseSchema), 404: err('unknown group') }],
    ['get', '/api/workers/{id}/logs', 'getWorkerLogs', "A worker's output, its last lines", { params: idParam, query: WorkerLogsQuerySchema }, { 200: ok(WorkerLogsResponseSchema), 400: err('bad query'), 404: err('unknown worker') }],
    ['post', '/api/workers/{id}/engine', 'createWorkerEngine', 'Create (or replace) the engine of a running worker, named, never pickled', { params: idParam, ...jsonBody(EngineBodySchema) },
      { 200: ok(EngineResponseSchema), 400: err('invalid body, or engine_not_found'), 404: err('unknown worker'), 409: err('not running'), 502: engineError }],
    ['post', '/api/workers/{id}/call', 'callWorkerEngine', "Call a method of a running worker's engine", { params: idParam, ...jsonBody(CallBodySchema) },
      { 200: ok(CallResponseSchema), 404: err('unknown worker or method'), 409: err('not running, or no engine'), 502: engineError }],
  ];
  registerOperations(reg, [...monitoring, ...scheduling, ...workers]);
  // task dispatch (Scheduler.md): the same handlers also answer at /ti/…, /queue/…, /task/…, /notify/… and GET /health
  const derr = (description: string) => errorAnswer(description, DispatchErrorSchema);
  const dispatch: Operation[] = [
    ['post', '/ti/register', 'registerTaskInstance', 'Register a task instance (again: the same ti_uuid, the new model)', jsonBody(TiRegisterBodySchema), { 200: ok(TiRegisterResponseSchema), 400: derr('invalid body') }],
    ['post', '/ti/remove', 'removeTaskInstance', 'Remove a task instance; its tasks go to other instances', jsonBody(TiRemoveBodySchema), { 200: ok(TiRemoveResponseSchema), 400: derr('invalid body'), 404: derr('no instance at host:port') }],
    ['post', '/queue/submit', 'submitTask', 'Submit a task: routed to an instance of its model by the routing policy', jsonBody(QueueSubmitBodySchema), { 200: ok(QueueSubmitResponseSchema), 400: derr('invalid body'), 404: derr('no instance serves the model') }],
    ['get', '/queue/info', 'getQueueInfo', 'Expected wait and its error per instance (seconds)', { query: QueueInfoQuerySchema }, { 200: ok(QueueInfoResponseSchema), 400: derr('bad query') }],
    ['get', '/task/query', 'getTask', "A task's status, instance, submit time, result and times", { query: TaskQueryQuerySchema }, { 200: ok(TaskQueryResponseSchema), 400: derr('bad query'), 404: derr('unknown task') }],
    ['post', '/notify/task_complete', 'notifyTaskComplete', 'An instance reports a task done', jsonBody(TaskCompleteBodySchema), { 200: ok(TaskCompleteResponseSchema), 404: derr('unknown task'), 409: derr('already completed or failed: the first result is kept') }],
    ['get', '/instances', 'listTaskInstances', 'Every registered task instance', {}, { 200: ok(DispatchInstancesResponseSchema) }],
    ['get', '/tasks', 'listTasks', 'Recent tasks, newest first', { query: DispatchTasksQuerySchema }, { 200: ok(DispatchTasksResponseSchema), 400: derr('bad query') }],
    ['get', '/policy', 'getDispatchPolicy', 'The routing policy in force', {}, { 200: ok(DispatchPolicyResponseSchema) }],
    ['put', '/policy', 'setDispatchPolicy', 'Switch the routing policy (admin token); kept across restarts, pushed as instance_update policy_changed', jsonBody(DispatchPolicyBodySchema), { 200: ok(DispatchPolicyResponseSchema), 400: derr('unknown policy'), 403: derr('not the admin token') }],
  ];
  registerOperations(reg, dispatch, derr, '/api/dispatch');
  // workflows: under /api and at the reference's own paths (FastAPI's: a trailing slash or none; its `detail` in errors)
  const werr = (description: string) => errorAnswer(description, ErrorBodySchema.extend({ detail: z.string() }));
  const jobParams = z.object({ id: z.string(), index: z.int().nonnegative() });
  for (const [base, idPrefix, note] of [['/api', '', ''], ['', 'reference', ' (the reference\'s path; a trailing slash too)']] as const) {
    const id = (verb: string) => (idPrefix ? `${idPrefix}${verb[0]!.toUpperCase()}${verb.slice(1)}` : verb);
    const flows: Operation[] = [
      ['post', `${base}/users`, id('createUser'), `Create a user (the owner of its workflows' resource requests)${note}`, jsonBody(UserCreateBodySchema), { 201: ok(UserSchema), 400: werr('invalid body'), 409: werr('the username is taken') }],
      ['get', `${base}/users/{id}`, id('getUser'), 'A user', { params: IdParamsSchema }, { 200: ok(UserSchema), 400: werr('bad id'), 404: werr('unknown user') }],
      ['post', `${base}/workflows`, id('createWorkflow'), `Submit a workflow: a DAG of jobs by parent_indices; jobs with \`run\` run as workers when their parents have succeeded, jobs without wait for their result${note}`, jsonBody(WorkflowCreateBodySchema),
        { 201: ok(WorkflowCreatedSchema), 400: werr('invalid: error.details names each job index and field (unknown user_id, bad parent index, own parent, duplicate name, a cycle by its indices)'), 422: werr('a job can never run here (resources, backend)') }],
      ['get', `${base}/workflows`, id('listWorkflows'), `Workflows, newest first, of a user and in a status when given${note}`, { query: WorkflowsQuerySchema }, { 200: ok(WorkflowsResponseSchema), 400: werr('bad query') }],
      ['get', `${base}/workflows/{id}`, id('getWorkflow'), 'A workflow with every job: status, times, attempts, exit code, log tail, request / allocation / worker ids', { params: IdParamsSchema }, { 200: ok(WorkflowSchema), 400: werr('bad id'), 404: werr('unknown workflow') }],
      ['delete', `${base}/workflows/{id}`, id('cancelWorkflow'), 'Cancel: running jobs stopped, queued requests withdrawn; answers once they have ended', { params: IdParamsSchema }, { 200: ok(WorkflowSchema), 400: werr('bad id'), 404: werr('unknown workflow'), 409: werr('already ended') }],
      ['post', `${base}/workflows/{id}/retry`, id('retryWorkflow'), 'Run the failed and skipped jobs again (what succeeded stays)', { params: IdParamsSchema }, { 200: ok(WorkflowSchema), 400: werr('bad id'), 404: werr('unknown workflow'), 409: werr('nothing failed, or cancelled') }],
      ['post', `${base}/workflows/{id}/jobs/{index}/complete`, id('completeJob'), "A manual job's result (a job without `run`, READY)", { params: jobParams, ...jsonBody(JobCompleteBodySchema) },
        { 200: ok(WorkflowSchema), 400: werr('invalid body or job index'), 404: werr('unknown workflow or job'), 409: werr('not a manual job, or not READY') }],
    ];
    registerOperations(reg, flows, werr);
  }
  registerResourceScheduler(reg);

  const doc = new OpenApiGeneratorV31(reg.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Arbiter API', version: VERSION, license: { name: 'MIT', identifier: 'MIT' },
      description: 'Resource monitor and scheduler. Push over socket.io (path /socket.io) and SSE (named frames, or unnamed with format=message). Interactive page: /docs.',
    },
    // relative: the server that serves this document
    servers: [{ url: '/', description: 'this server' }],
    security: SECURED,
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
  ['scheduling', 'Resource requests, allocations with leases, the queue, conflicts, strategies, hints, the nodes', /^\/api\/(requests|allocations|queue|conflicts|strateg|hints|nodes)/],
  ['access', 'Who a token is, and the named tokens with their roles (viewer, operator, admin)', /^\/api\/(session|tokens)/],
  ['diagnosis', 'What this machine gives the server, each lack with its fix', /^\/api\/doctor/],
  ['workers', 'Workers on granted resources, their engines', /^\/api\/workers/],
  ['workflows', 'Users and their DAGs of jobs (also at the reference paths /users/ and /workflows/)', /^\/(api\/)?(users|workflows)/],
  ['task dispatch', 'Task instances and routed tasks (Scheduler.md; also at /ti, /queue, /task, /notify, /health)', /^\/(api\/dispatch|health$)/],
];

function tagOf(path: string): string {
  return TAGS.find(([, , re]) => re.test(path))?.[0] ?? 'monitoring';
}
