/**
 * The one place that reads configuration: command-line flags > ARBITER_* environment > --config file (JSON or YAML) > defaults.
 * Every option is declared once in OPTIONS with its default and meaning; `--help`, the README table and validation derive from it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import YAML from 'yaml';
import { DeclaredInventorySchema, type DeclaredInventory } from './scheduler/inventory.ts';
import { STRATEGY_NAMES, type StrategyName } from '../shared/scheduler.ts';
import { DISPATCH_POLICIES, WORKER_BACKENDS } from '../shared/names.ts';
import type { WorkerBackend } from '../shared/workers.ts';
import { PredictorTableSchema, TiRegisterBodySchema, type DispatchPolicy, type PredictorTable } from '../shared/dispatch.ts';

/** `dispatch.instances` of the config file: task instances registered at start, as `POST /ti/register` takes them. */
const DispatchInstancesSchema = z.array(TiRegisterBodySchema);
type DispatchInstances = z.infer<typeof DispatchInstancesSchema>;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const percent = z.coerce.number().min(0).max(100);
const celsius = z.coerce.number().min(0).max(150);
const bool = z.union([
  z.boolean(),
  z.enum(['1', 'true', 'yes', 'on', '0', 'false', 'no', 'off']).transform((v) => ['1', 'true', 'yes', 'on'].includes(v)),
]);

export interface OptionSpec {
  /** dotted path in the config object and the config file, e.g. `health.cpu.warning` */
  key: string;
  /** command-line flag with its value placeholder */
  flag: string;
  /** environment variable(s), first found wins */
  env: string[];
  schema: z.ZodType;
  default: unknown;
  doc: string;
  /** a token: an error names the option but never repeats its value (which may be a mistyped secret) */
  secret?: boolean;
}

/** @see README "Configuration" — generated from this table. */
export const OPTIONS: OptionSpec[] = [
  { key: 'port', flag: '--port <n>', env: ['ARBITER_PORT', 'PORT'], schema: int(0, 65535), default: 7070, doc: 'TCP port for API, push and dashboard (0 = any free port)' },
  { key: 'host', flag: '--host <addr>', env: ['ARBITER_HOST'], schema: z.string().min(1), default: '127.0.0.1', doc: 'address to listen on' },
  { key: 'dataDir', flag: '--data-dir <dir>', env: ['ARBITER_DATA_DIR'], schema: z.string().min(1), default: './.arbiter', doc: 'directory for the token, event ids and the database' },
  { key: 'database', flag: '--database <url>', env: ['ARBITER_DATABASE', 'DATABASE_URL'], schema: z.string().regex(/^postgres(ql)?:\/\/.+/i, 'a postgres://user:password@host:port/database connection string').optional(), default: undefined, secret: true, doc: 'keep the store in PostgreSQL (postgres://user:password@host:port/database; the same schema and migrations) instead of SQLite in <data-dir>/arbiter.db; for hub replicas' },
  { key: 'token', flag: '--token <token>', env: ['ARBITER_TOKEN'], schema: z.string().min(16, 'at least 16 characters').optional(), default: undefined, secret: true, doc: 'API token; default: generated once and kept in <data-dir>/token' },
  { key: 'adminToken', flag: '--admin-token <token>', env: ['ARBITER_ADMIN_TOKEN'], schema: z.string().min(16, 'at least 16 characters').optional(), default: undefined, secret: true, doc: 'the admin role\'s token (switch the strategy and dispatch policy, task instances, tokens); with it the API token is an operator\'s; without it the API token has every right' },
  { key: 'auth', flag: '--no-auth', env: ['ARBITER_NO_AUTH'], schema: bool, default: true, doc: 'turn token checks off (ARBITER_NO_AUTH=1); only for trusted networks' },
  { key: 'webBuild', flag: '--no-web-build', env: ['ARBITER_NO_WEB_BUILD'], schema: bool, default: true, doc: 'do not build the dashboard bundle at start when it is missing (ARBITER_NO_WEB_BUILD=1)' },
  { key: 'nodeName', flag: '--node-name <name>', env: ['ARBITER_NODE_NAME'], schema: z.string().min(1).optional(), default: undefined, doc: "this node's name; default: the hostname" },
  { key: 'logLevel', flag: '--log-level <level>', env: ['ARBITER_LOG_LEVEL'], schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), default: 'info', doc: 'log level (lines for people on a terminal, JSON lines otherwise; tokens and passwords never logged)' },
  { key: 'monitor.hostIntervalMs', flag: '--host-interval-ms <ms>', env: ['ARBITER_HOST_INTERVAL_MS'], schema: int(100, 3_600_000), default: 1000, doc: 'host sample interval' },
  { key: 'monitor.gpu', flag: '--no-gpu', env: ['ARBITER_NO_GPU'], schema: bool, default: true, doc: 'do not monitor NVIDIA GPUs (ARBITER_NO_GPU=1)' },
  { key: 'monitor.docker', flag: '--no-docker', env: ['ARBITER_NO_DOCKER'], schema: bool, default: true, doc: 'do not monitor Docker/Podman containers (ARBITER_NO_DOCKER=1)' },
  { key: 'monitor.gpuIntervalMs', flag: '--gpu-interval-ms <ms>', env: ['ARBITER_GPU_INTERVAL_MS'], schema: int(100, 3_600_000), default: 1000, doc: 'GPU sample interval (nvidia-smi -lms)' },
  { key: 'monitor.nvidiaSmi', flag: '--nvidia-smi <path>', env: ['ARBITER_NVIDIA_SMI'], schema: z.string().min(1), default: 'nvidia-smi', doc: 'nvidia-smi executable (name on PATH or path); absent → the gpu source is `unavailable`' },
  { key: 'monitor.dockerIntervalMs', flag: '--docker-interval-ms <ms>', env: ['ARBITER_DOCKER_INTERVAL_MS'], schema: int(500, 3_600_000), default: 2000, doc: 'container stats interval' },
  { key: 'monitor.dockerHost', flag: '--docker-host <url>', env: ['ARBITER_DOCKER_HOST', 'DOCKER_HOST'], schema: z.string().min(1).optional(), default: undefined, doc: 'Docker/Podman API socket (unix:///path or tcp://host:port); default /var/run/docker.sock' },
  { key: 'monitor.dockerStatsMode', flag: '--docker-stats-mode <mode>', env: ['ARBITER_DOCKER_STATS_MODE'], schema: z.enum(['one-shot', 'stream']), default: 'stream', doc: 'container stats: one long stats stream per running container, its latest frame used each round (Docker sends one a second, Podman one every 5 s), or one request per container per round (one-shot: fresher on Podman, ~4× the CPU)' },
  { key: 'monitor.dockerResyncMs', flag: '--docker-resync-ms <ms>', env: ['ARBITER_DOCKER_RESYNC_MS'], schema: int(1000, 86_400_000), default: 60_000, doc: 'full container re-list that heals missed events' },
  { key: 'monitor.sampleTimeoutMs', flag: '--sample-timeout-ms <ms>', env: ['ARBITER_SAMPLE_TIMEOUT_MS'], schema: int(100, 600_000), default: 5000, doc: 'a sample taking longer fails its source' },
  { key: 'monitor.maxBackoffMs', flag: '--max-backoff-ms <ms>', env: ['ARBITER_MAX_BACKOFF_MS'], schema: int(100, 3_600_000), default: 30_000, doc: 'longest wait between retries of a failing source' },
  { key: 'monitor.inventoryIntervalMs', flag: '--inventory-interval-ms <ms>', env: ['ARBITER_INVENTORY_INTERVAL_MS'], schema: int(1000, 86_400_000), default: 60_000, doc: 'how often the list of mounted filesystems is re-read' },
  { key: 'monitor.historySeconds', flag: '--history-seconds <s>', env: ['ARBITER_HISTORY_SECONDS'], schema: int(60, 86_400), default: 3600, doc: 'in-memory history per series, at one point per second' },
  { key: 'monitor.historyBucketMs', flag: '--history-bucket-ms <ms>', env: ['ARBITER_HISTORY_BUCKET_MS'], schema: int(10_000, 3_600_000), default: 60_000, doc: 'history older than the in-memory window: one point (mean, min, max) per this long, in the database; whole seconds that divide an hour, at most half of --history-seconds' },
  { key: 'monitor.historyRetentionMs', flag: '--history-retention-ms <ms>', env: ['ARBITER_HISTORY_RETENTION_MS'], schema: int(3_600_000, 3650 * 86_400_000), default: 30 * 86_400_000, doc: 'how long the database keeps those points (default 30 days)' },
  { key: 'health.cpu.warning', flag: '--health-cpu-warning <pct>', env: ['ARBITER_HEALTH_CPU_WARNING'], schema: percent, default: 85, doc: 'CPU load % from which CPU is warning' },
  { key: 'health.cpu.critical', flag: '--health-cpu-critical <pct>', env: ['ARBITER_HEALTH_CPU_CRITICAL'], schema: percent, default: 95, doc: 'CPU load % from which CPU is critical' },
  { key: 'health.memory.warning', flag: '--health-memory-warning <pct>', env: ['ARBITER_HEALTH_MEMORY_WARNING'], schema: percent, default: 85, doc: 'memory used % from which memory is warning' },
  { key: 'health.memory.critical', flag: '--health-memory-critical <pct>', env: ['ARBITER_HEALTH_MEMORY_CRITICAL'], schema: percent, default: 95, doc: 'memory used % from which memory is critical' },
  { key: 'health.disk.warning', flag: '--health-disk-warning <pct>', env: ['ARBITER_HEALTH_DISK_WARNING'], schema: percent, default: 85, doc: 'filesystem used % from which a disk is warning' },
  { key: 'health.disk.critical', flag: '--health-disk-critical <pct>', env: ['ARBITER_HEALTH_DISK_CRITICAL'], schema: percent, default: 95, doc: 'filesystem used % from which a disk is critical' },
  { key: 'health.gpuTemperature.warning', flag: '--health-gpu-temp-warning <celsius>', env: ['ARBITER_HEALTH_GPU_TEMP_WARNING'], schema: celsius, default: 80, doc: 'GPU temperature °C from which a GPU is warning' },
  { key: 'health.gpuTemperature.critical', flag: '--health-gpu-temp-critical <celsius>', env: ['ARBITER_HEALTH_GPU_TEMP_CRITICAL'], schema: celsius, default: 90, doc: 'GPU temperature °C from which a GPU is critical' },
  { key: 'health.gpuMemory.warning', flag: '--health-gpu-memory-warning <pct>', env: ['ARBITER_HEALTH_GPU_MEMORY_WARNING'], schema: percent, default: 90, doc: 'GPU memory used % from which a GPU is warning' },
  { key: 'health.gpuMemory.critical', flag: '--health-gpu-memory-critical <pct>', env: ['ARBITER_HEALTH_GPU_MEMORY_CRITICAL'], schema: percent, default: 98, doc: 'GPU memory used % from which a GPU is critical' },
  { key: 'health.containerMemory.warning', flag: '--health-container-memory-warning <pct>', env: ['ARBITER_HEALTH_CONTAINER_MEMORY_WARNING'], schema: percent, default: 90, doc: 'container memory % of its limit from which it is warning' },
  { key: 'health.containerMemory.critical', flag: '--health-container-memory-critical <pct>', env: ['ARBITER_HEALTH_CONTAINER_MEMORY_CRITICAL'], schema: percent, default: 98, doc: 'container memory % of its limit from which it is critical' },
  { key: 'scheduler.leaseDefaultMs', flag: '--lease-default-ms <ms>', env: ['ARBITER_LEASE_DEFAULT_MS'], schema: int(1000, 7 * 86_400_000), default: 600_000, doc: 'lease of an allocation whose request names none' },
  { key: 'scheduler.leaseMaxMs', flag: '--lease-max-ms <ms>', env: ['ARBITER_LEASE_MAX_MS'], schema: int(1000, 7 * 86_400_000), default: 86_400_000, doc: 'longest lease granted or renewed (longer asks are cut to it)' },
  { key: 'scheduler.strategy', flag: '--strategy <name>', env: ['ARBITER_STRATEGY'], schema: z.enum(STRATEGY_NAMES), default: 'priority_based', doc: 'scheduling strategy until one is chosen with PUT /api/strategy (that choice is kept across restarts)' },
  { key: 'scheduler.maxWaitingPerOwner', flag: '--max-waiting-per-owner <n>', env: ['ARBITER_MAX_WAITING_PER_OWNER'], schema: int(0, 10_000_000), default: 0, doc: 'requests one owner may have waiting at once; a submit beyond it is a 429 (0: no limit)' },
  { key: 'scheduler.starvationMs', flag: '--starvation-ms <ms>', env: ['ARBITER_STARVATION_MS'], schema: int(1000, 30 * 86_400_000), default: 600_000, doc: 'a request waiting longer counts as starved (GET /api/strategy/performance)' },
  { key: 'hints.leaseWarningMs', flag: '--hint-lease-warning-ms <ms>', env: ['ARBITER_HINT_LEASE_WARNING_MS'], schema: int(1000, 86_400_000), default: 120_000, doc: 'hint when a lease ends within this' },
  { key: 'hints.longWaitMs', flag: '--hint-long-wait-ms <ms>', env: ['ARBITER_HINT_LONG_WAIT_MS'], schema: int(1000, 86_400_000), default: 600_000, doc: 'hint when a request has waited longer than this' },
  { key: 'dispatch.policy', flag: '--dispatch-policy <name>', env: ['ARBITER_DISPATCH_POLICY'], schema: z.enum(DISPATCH_POLICIES), default: 'shortest_queue', doc: 'how tasks are routed to task instances until a policy is chosen with PUT /api/dispatch/policy (that choice is kept across restarts)' },
  { key: 'dispatch.policyModule', flag: '--dispatch-policy-module <file>', env: ['ARBITER_DISPATCH_POLICY_MODULE'], schema: z.string().min(1).optional(), default: undefined, doc: 'ES module whose default export makes the `custom` routing policy (see examples/dispatch-policy.mjs)' },
  { key: 'dispatch.maxAttempts', flag: '--dispatch-max-attempts <n>', env: ['ARBITER_DISPATCH_MAX_ATTEMPTS'], schema: int(1, 100), default: 3, doc: 'deliveries of a task to instances before it fails' },
  { key: 'dispatch.downAfter', flag: '--dispatch-down-after <n>', env: ['ARBITER_DISPATCH_DOWN_AFTER'], schema: int(1, 100), default: 3, doc: 'failed deliveries or health probes in a row after which an instance is down (skipped until it answers)' },
  { key: 'dispatch.timeoutMs', flag: '--dispatch-timeout-ms <ms>', env: ['ARBITER_DISPATCH_TIMEOUT_MS'], schema: int(100, 600_000), default: 5000, doc: 'time limit of one delivery or health probe' },
  { key: 'dispatch.probeMs', flag: '--dispatch-probe-ms <ms>', env: ['ARBITER_DISPATCH_PROBE_MS'], schema: int(100, 3_600_000), default: 5000, doc: "how often every instance's GET /health is probed" },
  { key: 'dispatch.lostAfterMs', flag: '--dispatch-lost-after-ms <ms>', env: ['ARBITER_DISPATCH_LOST_AFTER_MS'], schema: int(1000, 86_400_000), default: 30_000, doc: 'an instance down this long loses the tasks it accepted: they are dispatched again, once' },
  { key: 'workers.backend', flag: '--worker-backend <name>', env: ['ARBITER_WORKER_BACKEND'], schema: z.enum(WORKER_BACKENDS), default: 'local', doc: 'where workers run when a group names no backend: local processes or containers (docker: needs the Docker engine the monitor uses)' },
  { key: 'workers.graceMs', flag: '--worker-grace-ms <ms>', env: ['ARBITER_WORKER_GRACE_MS'], schema: int(0, 3_600_000), default: 10_000, doc: 'a worker asked to stop (delete, preemption) is killed after this long' },
  { key: 'workers.callTimeoutMs', flag: '--worker-call-timeout-ms <ms>', env: ['ARBITER_WORKER_CALL_TIMEOUT_MS'], schema: int(100, 86_400_000), default: 300_000, doc: 'time limit of one engine creation or call through Arbiter' },
  { key: 'workers.renewMs', flag: '--worker-renew-ms <ms>', env: ['ARBITER_WORKER_RENEW_MS'], schema: int(1000, 86_400_000), default: 60_000, doc: "how often Arbiter renews a running worker's lease (keep it well under --lease-default-ms)" },
  { key: 'workers.retentionMs', flag: '--worker-retention-ms <ms>', env: ['ARBITER_WORKER_RETENTION_MS'], schema: int(60_000, 3650 * 86_400_000), default: 7 * 86_400_000, doc: 'how long ended workers stay listed (default 7 days)' },
  { key: 'dispatch.retentionMs', flag: '--dispatch-retention-ms <ms>', env: ['ARBITER_DISPATCH_RETENTION_MS'], schema: int(60_000, 3650 * 86_400_000), default: 7 * 86_400_000, doc: 'how long ended tasks are kept (default 7 days)' },
  { key: 'push.replayCount', flag: '--replay-count <n>', env: ['ARBITER_REPLAY_COUNT'], schema: int(1, 1_000_000), default: 1000, doc: 'events kept for resume (count)' },
  { key: 'push.replayMaxAgeMs', flag: '--replay-max-age-ms <ms>', env: ['ARBITER_REPLAY_MAX_AGE_MS'], schema: int(1000, 86_400_000), default: 600_000, doc: 'events kept for resume (age)' },
  { key: 'push.archiveCount', flag: '--archive-count <n>', env: ['ARBITER_ARCHIVE_COUNT'], schema: int(1000, 100_000_000), default: 1_000_000, doc: 'scheduling and conflict events kept in the database for resume after restarts (count)' },
  { key: 'push.archiveMaxAgeMs', flag: '--archive-max-age-ms <ms>', env: ['ARBITER_ARCHIVE_MAX_AGE_MS'], schema: int(60_000, 365 * 86_400_000), default: 7 * 86_400_000, doc: 'same, by age' },
  { key: 'push.heartbeatMs', flag: '--heartbeat-ms <ms>', env: ['ARBITER_HEARTBEAT_MS'], schema: int(1000, 15_000), default: 15_000, doc: 'SSE heartbeat: no stream is silent for longer, a quiet one gets a comment (at most 15 s)' },
  { key: 'push.retryMs', flag: '--sse-retry-ms <ms>', env: ['ARBITER_SSE_RETRY_MS'], schema: int(100, 600_000), default: 2000, doc: 'reconnect delay advised to SSE clients (`retry:`)' },
  { key: 'push.wsPingMs', flag: '--ws-ping-ms <ms>', env: ['ARBITER_WS_PING_MS'], schema: int(1000, 600_000), default: 15_000, doc: 'plain WebSocket ping interval (/api/ws): a client that has not answered a ping by the next one is dropped' },
  { key: 'maxConnections', flag: '--max-connections <n>', env: ['ARBITER_MAX_CONNECTIONS'], schema: int(0, 10_000_000).optional(), default: undefined, doc: 'TCP connections held at a time; one more is answered 503 with Retry-After and closed (one past the open-files limit itself can only be closed unanswered; 0: no limit; default: the open-files limit less 256)' },
  { key: 'rateLimit', flag: '--rate-limit <per-second>', env: ['ARBITER_RATE_LIMIT'], schema: z.coerce.number().min(0).max(10_000_000), default: 2000, doc: 'HTTP requests a second one token, and one address, may make on average (a token bucket each; /api/health and /health are not counted); past it 429 with Retry-After (0: no limit)' },
  { key: 'rateBurst', flag: '--rate-burst <n>', env: ['ARBITER_RATE_BURST'], schema: int(1, 100_000_000), default: 4000, doc: 'HTTP requests one token or address may make at once before --rate-limit holds it back (the size of its bucket)' },
  { key: 'push.maxClients', flag: '--max-clients <n>', env: ['ARBITER_MAX_CLIENTS'], schema: int(0, 1_000_000), default: 10_000, doc: 'push clients (SSE, socket.io, WebSocket together) served at a time; more are refused with 503 and Retry-After (0: no limit)' },
  { key: 'push.workers', flag: '--push-workers <n>', env: ['ARBITER_PUSH_WORKERS'], schema: int(0, 64), default: 0, doc: 'processes that write the push streams (SSE, the plain WebSocket, socket.io opened on WebSocket): each such connection is handed to one, so that the writes of an event use more than one core; for thousands of clients on a machine with cores to spare (0: the server writes every stream itself)' },
  { key: 'push.maxBufferedEvents', flag: '--max-buffered-events <n>', env: ['ARBITER_MAX_BUFFERED_EVENTS'], schema: int(10, 1_000_000), default: 1000, doc: 'events a stalled client may have pending before it is disconnected' },
  { key: 'agents.token', flag: '--agent-token <token>', env: ['ARBITER_AGENT_TOKEN'], schema: z.string().min(16, 'at least 16 characters').optional(), default: undefined, secret: true, doc: 'token the agents of other nodes present to join this hub (`arbiter agent --token`), not one of the API tokens; absent: no agent is accepted' },
  { key: 'agents.unreachableAfterMs', flag: '--unreachable-after-ms <ms>', env: ['ARBITER_UNREACHABLE_AFTER_MS'], schema: int(1000, 86_400_000), default: 30_000, doc: "a node whose agent has not reported for this long is unreachable: its allocations are flagged and a conflict is opened, they are not freed" },
  { key: 'redis', flag: '--redis <url>', env: ['ARBITER_REDIS', 'REDIS_URL'], schema: z.string().regex(/^rediss?:\/\/.+/i, 'a redis://host:port connection string').optional(), default: undefined, secret: true, doc: "push across hub replicas: the leader appends every event to a Redis stream, the followers serve it to their clients with the same ids (needs --database)" },
  { key: 'replicas.advertiseUrl', flag: '--advertise-url <url>', env: ['ARBITER_ADVERTISE_URL'], schema: z.url({ protocol: /^https?$/ }).optional(), default: undefined, doc: "the URL the other hub replicas reach this one at, to forward writes when it leads; default: the address it listens on" },
  { key: 'replicas.leaderPollMs', flag: '--leader-poll-ms <ms>', env: ['ARBITER_LEADER_POLL_MS'], schema: int(100, 60_000), default: 1000, doc: "how often a follower replica asks for the leader's lock: a dead leader is replaced after about this long plus the follower's start as leader" },
  { key: 'agents.localNode', flag: '--no-local-node', env: ['ARBITER_NO_LOCAL_NODE'], schema: bool, default: true, doc: "the hub's own machine is not a node (ARBITER_NO_LOCAL_NODE=1): only the agents' nodes are listed and scheduled on; needs --agent-token" },
];

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** PostgreSQL connection string; absent: SQLite in dataDir */
  database?: string;
  token?: string;
  adminToken?: string;
  auth: boolean;
  webBuild: boolean;
  nodeName?: string;
  /** TCP connections held at a time (0: no cap; undefined: the open-files limit less a reserve) */
  maxConnections?: number;
  /** HTTP requests a second per token and per address, on average (0: no limit) */
  rateLimit: number;
  /** HTTP requests per token and per address at once (the size of each bucket) */
  rateBurst: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  monitor: {
    hostIntervalMs: number; gpu: boolean; docker: boolean; gpuIntervalMs: number; nvidiaSmi: string;
    dockerIntervalMs: number; dockerHost?: string; dockerStatsMode: 'one-shot' | 'stream'; dockerResyncMs: number;
    sampleTimeoutMs: number; maxBackoffMs: number; inventoryIntervalMs: number; historySeconds: number;
    historyBucketMs: number; historyRetentionMs: number };
  health: Record<'cpu' | 'memory' | 'disk' | 'gpuTemperature' | 'gpuMemory' | 'containerMemory', { warning: number; critical: number }>;
  scheduler: { leaseDefaultMs: number; leaseMaxMs: number; strategy: StrategyName; starvationMs: number; maxWaitingPerOwner: number };
  hints: { leaseWarningMs: number; longWaitMs: number };
  workers: { backend: WorkerBackend; graceMs: number; callTimeoutMs: number; renewMs: number; retentionMs: number };
  dispatch: {
    policy: DispatchPolicy; policyModule?: string; maxAttempts: number; downAfter: number; timeoutMs: number; probeMs: number; lostAfterMs: number; retentionMs: number;
    /** config file only: instances registered at start */
    instances?: DispatchInstances;
    /** config file only: the predictor's prior, per model and metadata bucket */
    predictor?: PredictorTable;
  };
  /** declared inventory (config file only, key `resources`): replaces what the monitor reports for what it names */
  resources?: DeclaredInventory['resources'];
  push: { replayCount: number; replayMaxAgeMs: number; archiveCount: number; archiveMaxAgeMs: number; heartbeatMs: number; retryMs: number; wsPingMs: number; maxBufferedEvents: number; maxClients: number; workers: number };
  /** the hub's side of agents: who may join, when a silent node is unreachable, whether the hub's machine is a node */
  agents: { token?: string; unreachableAfterMs: number; localNode: boolean };
  /** Redis connection string for push across replicas */
  redis?: string;
  /** hub replicas (with --database): where this one is reached, how often a follower asks to lead */
  replicas: { advertiseUrl?: string; leaderPollMs: number };
}

export class ConfigError extends Error {}

/** camelCase key of a commander option, e.g. `--host-interval-ms <ms>` → `hostIntervalMs`, `--no-auth` → `auth`. */
export function flagAttribute(flag: string): string {
  const long = flag.split(' ')[0]!.replace(/^--(no-)?/, '');
  return long.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The value at a dotted key, e.g. `health.cpu.warning`. */
export function getPath(obj: unknown, key: string): unknown {
  let cur: unknown = obj;
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Set the value at a dotted key, making the objects on its way. */
export function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) cur = (cur[part] ??= {}) as Record<string, unknown>;
  cur[parts.at(-1)!] = value;
}

function allowedText(schema: z.ZodType, issue: z.core.$ZodIssue): string {
  const json = z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' }) as Record<string, unknown>;
  if (Array.isArray(json.enum)) return `one of ${json.enum.join(', ')}`;
  if (json.type === 'integer' || json.type === 'number') {
    const range = json.minimum !== undefined && json.maximum !== undefined ? ` ${json.minimum}–${json.maximum}` : '';
    return `${json.type === 'integer' ? 'an integer' : 'a number'}${range}`;
  }
  return issue.message;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`invalid --config "${path}": cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    const parsed: unknown = /\.json$/i.test(path) ? JSON.parse(text) : YAML.parse(text);
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('top level must be an object');
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`invalid --config "${path}": ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Structured options that only a config file can give. */
const FILE_ONLY_KEYS = new Set(['resources', 'dispatch.instances', 'dispatch.predictor']);
/** Every key of the configuration: the options and what only a file gives. */
export const CONFIG_KEYS: readonly string[] = [...OPTIONS.map((o) => o.key), ...FILE_ONLY_KEYS];
const KNOWN_FILE_KEYS = new Set(CONFIG_KEYS);

function checkUnknownKeys(file: Record<string, unknown>, path: string, prefix = ''): void {
  for (const [k, v] of Object.entries(file)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (KNOWN_FILE_KEYS.has(key)) continue;
    const isBranch = [...KNOWN_FILE_KEYS].some((known) => known.startsWith(`${key}.`));
    if (isBranch && v !== null && typeof v === 'object' && !Array.isArray(v)) checkUnknownKeys(v as Record<string, unknown>, path, key);
    else throw new ConfigError(`invalid --config "${path}": unknown option "${key}"`);
  }
}

/**
 * Each option of `specs` from the first place that gives it (flags > env > file), checked with its schema, else its
 * default: an object keyed by the options' dotted keys. A bad value is named by where it came from.
 */
function readOptions(
  specs: readonly OptionSpec[], flags: Record<string, unknown>, env: Record<string, string | undefined>,
  file: Record<string, unknown> = {}, configPath?: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const opt of specs) {
    const attr = flagAttribute(opt.flag);
    let raw: unknown;
    let origin: string;
    const envName = opt.env.find((e) => env[e] !== undefined && env[e] !== '');
    if (flags[attr] !== undefined) {
      raw = flags[attr];
      origin = opt.flag.split(' ')[0]!;
    } else if (envName) {
      raw = env[envName];
      origin = envName;
    } else if (getPath(file, opt.key) !== undefined) {
      raw = getPath(file, opt.key);
      origin = `"${opt.key}" in ${configPath}`;
    } else {
      setPath(out, opt.key, opt.default);
      continue;
    }
    // `--no-x` / ARBITER_NO_X=1 mean x=false; the file says `x: false`
    if (opt.flag.startsWith('--no-') && origin !== `"${opt.key}" in ${configPath}`) {
      const parsed = bool.safeParse(raw === false ? '1' : raw);
      if (!parsed.success) throw new ConfigError(`invalid ${origin} "${String(raw)}": expected 1/0, true/false, yes/no or on/off`);
      setPath(out, opt.key, raw === false ? false : !parsed.data);
      continue;
    }
    const parsed = opt.schema.safeParse(raw);
    if (!parsed.success) {
      const shown = opt.secret ? '' : ` "${String(raw)}"`;
      throw new ConfigError(`invalid ${origin}${shown}: expected ${allowedText(opt.schema, parsed.error.issues[0]!)}`);
    }
    setPath(out, opt.key, parsed.data);
  }
  return out;
}

/**
 * Resolve the configuration.
 * @param flags values given on the command line, keyed by `flagAttribute` (only those the user gave)
 * @param env the environment (process.env)
 */
export function loadConfig(flags: Record<string, unknown>, env: Record<string, string | undefined>): Config {
  const configPath = (flags.config as string | undefined) ?? env.ARBITER_CONFIG;
  const file = configPath ? readConfigFile(configPath) : {};
  if (configPath) checkUnknownKeys(file, configPath);

  const out = readOptions(OPTIONS, flags, env, file, configPath);
  if (file.resources !== undefined) {
    const parsed = DeclaredInventorySchema.safeParse({ resources: file.resources });
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new ConfigError(`invalid "${i.path.join('.')}" in ${configPath}: ${i.message}`);
    }
    out.resources = parsed.data.resources;
  }
  for (const [key, schema] of [['dispatch.instances', DispatchInstancesSchema], ['dispatch.predictor', PredictorTableSchema]] as const) {
    const raw = getPath(file, key);
    if (raw === undefined) continue;
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new ConfigError(`invalid "${[key, ...i.path.map(String)].join('.')}" in ${configPath}: ${i.message}`);
    }
    setPath(out, key, parsed.data);
  }
  const config = out as unknown as Config;
  if (config.scheduler.leaseDefaultMs > config.scheduler.leaseMaxMs) {
    throw new ConfigError(`invalid leases: default ${config.scheduler.leaseDefaultMs} ms must not exceed max ${config.scheduler.leaseMaxMs} ms`);
  }
  if (config.workers.renewMs >= config.scheduler.leaseDefaultMs) {
    throw new ConfigError(`invalid --worker-renew-ms ${config.workers.renewMs}: workers' leases (--lease-default-ms ${config.scheduler.leaseDefaultMs}) would end before they are renewed`);
  }
  if (config.dispatch.policy === 'custom' && config.dispatch.policyModule === undefined) {
    throw new ConfigError('invalid --dispatch-policy "custom": it needs --dispatch-policy-module <file>');
  }
  const { historyBucketMs: bucket, historySeconds: window } = config.monitor;
  if (bucket % 1000 !== 0 || 3_600_000 % bucket !== 0) {
    throw new ConfigError(`invalid history bucket ${bucket} ms: must be whole seconds that divide an hour (e.g. 10000, 60000, 300000)`);
  }
  if (bucket * 2 > window * 1000) {
    throw new ConfigError(`invalid history bucket ${bucket} ms: must be at most half the in-memory history of ${window} s (buckets are rolled up from it)`);
  }
  checkHealth(config.health);
  checkAgents(config);
  if (config.redis !== undefined && config.database === undefined) {
    throw new ConfigError('invalid --redis: it carries push between hub replicas, which share a PostgreSQL store (--database)');
  }
  config.dataDir = resolve(config.dataDir);
  return config;
}

function checkHealth(health: Config['health']): void {
  for (const kind of ['cpu', 'memory', 'disk', 'gpuTemperature', 'gpuMemory', 'containerMemory'] as const) {
    const t = health[kind];
    if (t.warning > t.critical) {
      throw new ConfigError(`invalid health thresholds for ${kind}: warning ${t.warning} must not exceed critical ${t.critical}`);
    }
  }
}

/** Agents and users are told apart by their tokens, and a hub needs some node to schedule on. Names options, never tokens. */
function checkAgents({ agents, token, adminToken }: Config): void {
  if (agents.token !== undefined && (agents.token === token || agents.token === adminToken)) {
    throw new ConfigError(`invalid --agent-token: it must differ from ${agents.token === token ? '--token' : '--admin-token'} (agents and users are told apart by their tokens)`);
  }
  if (!agents.localNode && agents.token === undefined) {
    throw new ConfigError('invalid --no-local-node: without --agent-token no agent may join, and the hub would have no node at all');
  }
}

/** What a node's monitor samples and how (the history options are the server's: it keeps and serves the history). */
export type MonitorSampling = Omit<Config['monitor'], 'historySeconds' | 'historyBucketMs' | 'historyRetentionMs'>;

/** The configuration of a process that only monitors its node and reports it elsewhere (`arbiter agent`). */
export interface NodeMonitorConfig {
  nodeName?: string;
  logLevel: Config['logLevel'];
  monitor: MonitorSampling;
  health: Config['health'];
}

const SERVER_ONLY_MONITOR_KEYS = new Set(['monitor.historySeconds', 'monitor.historyBucketMs', 'monitor.historyRetentionMs']);

/** The options of OPTIONS that `arbiter agent` takes too, with the same flags, environment and defaults as `serve`. */
export const NODE_MONITOR_OPTIONS: readonly OptionSpec[] = OPTIONS.filter((o) =>
  o.key === 'nodeName' || o.key === 'logLevel' || o.key.startsWith('health.') || (o.key.startsWith('monitor.') && !SERVER_ONLY_MONITOR_KEYS.has(o.key)));

/**
 * Resolve a node monitor's configuration: flags > ARBITER_* environment > defaults (no config file), checked as
 * loadConfig checks them.
 * @param flags values given on the command line, keyed by `flagAttribute` (only those the user gave)
 */
export function loadNodeMonitorConfig(flags: Record<string, unknown>, env: Record<string, string | undefined>): NodeMonitorConfig {
  const config = readOptions(NODE_MONITOR_OPTIONS, flags, env) as unknown as NodeMonitorConfig;
  checkHealth(config.health);
  return config;
}

/** The option table of the README (kept in step by `npm run docs`; a test checks it). */
export function optionsMarkdown(): string {
  const rows = OPTIONS.map((o) => {
    const def = o.default === undefined ? '—' : `\`${JSON.stringify(o.default)}\``;
    return `| \`${o.flag}\` | ${o.env.map((e) => `\`${e}\``).join(', ')} | \`${o.key}\` | ${def} | ${o.doc} |`;
  });
  return ['| flag | environment | config file key | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

/**
 * The body of examples/config.yaml (server/docs.ts): every option nested by its dotted key, with its meaning, flag,
 * environment and default. `values` replaces defaults (the service's data directory); an option without a value is a
 * comment; `live` marks the options a running server takes on SIGHUP.
 */
export function configFileYaml(values: Record<string, unknown>, live: ReadonlySet<string>): string {
  type Tree = Map<string, Tree | OptionSpec>;
  const root: Tree = new Map();
  for (const o of OPTIONS) {
    const parts = o.key.split('.');
    let node = root;
    for (const p of parts.slice(0, -1)) node = (node.get(p) as Tree | undefined) ?? (node.set(p, new Map()).get(p) as Tree);
    node.set(parts.at(-1)!, o);
  }
  const lines: string[] = [];
  const emit = (tree: Tree, indent: string): void => {
    for (const [name, node] of tree) {
      if (node instanceof Map) {
        lines.push(`${indent}${name}:`);
        emit(node, `${indent}  `);
        continue;
      }
      const value = node.key in values ? values[node.key] : node.default;
      const meaning = node.flag.startsWith('--no-') ? `false: ${node.doc.replace(/ \(ARBITER_NO_\w+=1\)/, '')}` : node.doc;
      const notes = [
        ...(node.key in values ? [`default ${node.default === undefined ? 'none' : JSON.stringify(node.default)}`] : []),
        ...(live.has(node.key) ? ['SIGHUP applies it'] : []),
        `${node.flag.split(' ')[0]}, ${node.env.join(' or ')}`,
      ];
      lines.push(`${indent}# ${meaning} (${notes.join('; ')})`);
      lines.push(value === undefined ? `${indent}# ${name}:` : `${indent}${name}: ${JSON.stringify(value)}`);
    }
  };
  emit(root, '');
  return `${lines.join('\n')}\n`;
}
