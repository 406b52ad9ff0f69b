/**
 * The name lists of the API as plain `as const` arrays, without zod: the shared schemas build their zod enums from
 * these, and the dashboard imports them at run time without pulling zod into its bundle.
 */

/** The scheduling strategies, in the order menus list them. */
export const STRATEGY_NAMES = ['priority_based', 'fair_sharing', 'time_slicing', 'resource_pooling', 'load_balancing', 'hybrid'] as const;

/**
 * Who a token is, each role with the rights of those before it: `viewer` reads and subscribes; `operator` also
 * submits, releases, cancels, resolves, runs workers, tasks and workflows; `admin` also switches the strategy and
 * the dispatch policy, registers and removes task instances, and manages tokens.
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;

export const REQUEST_STATUSES = ['queued', 'granted', 'released', 'cancelled', 'expired', 'preempted'] as const;

export const CONFLICT_TYPES = ['resource_competition', 'priority_conflict', 'schedule_conflict'] as const;

/** The pushed event types (a client filters by them on both transports). */
export const EVENT_TYPES = ['resource_status', 'hint', 'conflict', 'scheduling_update', 'task_update', 'instance_update', 'worker_update', 'workflow_update'] as const;

/**
 * How an SSE stream names its events: `event` (the default of /api/events) gives every frame an `event:` line with
 * its type, for `addEventListener(type)`; `message` writes unnamed frames, which `EventSource.onmessage` receives,
 * the type being the envelope's `type` inside `data`. Both carry `id:` lines and resume alike.
 */
export const SSE_FORMATS = ['event', 'message'] as const;

/** How FGD weighs the workload's request types: by how often each comes (the paper) or by the GPUs it brings. */
export const FGD_WEIGHTINGS = ['count', 'demand'] as const;

/** How submitted tasks are routed to task instances (task dispatch); `custom`: the module of --dispatch-policy-module. */
export const DISPATCH_POLICIES = ['shortest_queue', 'round_robin', 'weighted', 'probabilistic', 'custom'] as const;

/** A dispatched task's states: the specification's three, and `failed` (Arbiter's addition). */
export const TASK_STATUSES = ['queued', 'scheduled', 'completed', 'failed'] as const;

/** A worker's states (issue: workers): waiting for its grant, starting, running, paused by time-slicing, ended. */
export const WORKER_STATES = ['queued', 'starting', 'running', 'suspended', 'exited', 'failed', 'stopped', 'preempted'] as const;

/** Where workers run: child processes of Arbiter's node, or containers of its Docker-API engine. */
export const WORKER_BACKENDS = ['local', 'docker'] as const;

/** A workflow job's states: waiting for its parents, ready (a manual job waits here for its result), its request queued, running, ended. */
export const JOB_STATUSES = ['PENDING', 'READY', 'QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELLED'] as const;

/** A workflow's states. */
export const WORKFLOW_STATUSES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;

/** A node's reachability as the hub sees it (GET /api/nodes): its agent reports, or has not for too long. */
export const NODE_STATUSES = ['reachable', 'unreachable'] as const;

/**
 * The placements of the workload-inflation experiment (the FGD paper's, `arbiter simulate --experiment inflation` and
 * the compare's chart): FGD, the paper's baselines, and the resource_pooling and load_balancing strategies' own.
 */
export const INFLATION_PLACEMENTS = ['fgd', 'random', 'dot_product', 'gpu_clustering', 'gpu_packing', 'best_fit', 'resource_pooling', 'load_balancing'] as const;
