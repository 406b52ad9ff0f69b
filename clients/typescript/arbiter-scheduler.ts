/**
 * The TypeScript client of Arbiter's workers, with the reference scheduler API's names, signatures and defaults:
 * `create_workers(scheduling_config)`, `get_workers(timeout = 300.0)` (seconds), `delete_workers(name?)`,
 * `create_engine(worker_id, engine_obj, init_config?)`, `call_engine(worker_id, method, ...args)` (and
 * `call_engine_kw` for keyword arguments), configured as `{type: "arbiter", endpoint, expr_name, trial_name}`.
 * The group is `expr_name/trial_name` and the owner `expr_name`, unless given. Only `fetch`: it runs in Node ≥ 18,
 * Deno, Bun and browsers. Types come from shared/workers.ts.
 */
import { ArbiterError } from '../../shared/error.ts';
import type {
  CallBody, CallResponse, ContainerSpec, EngineError, NotReadyDetail, Worker, WorkerBackend, WorkerGroupResponse, WorkersResponse,
} from '../../shared/workers.ts';

export type { ContainerSpec, Worker } from '../../shared/workers.ts';

/** The client config of the reference API (`type` "arbiter"); `token`: Arbiter's API token (else env ARBITER_TOKEN). */
export interface SchedulerConfig {
  type: 'arbiter';
  endpoint: string;
  expr_name: string;
  trial_name: string;
  token?: string;
}

/** What `create_workers` takes: how many replicas, and one spec for all or one per replica. */
export interface SchedulingConfig {
  replicas: number;
  specs: ContainerSpec[];
  /** Arbiter's additions (optional) */
  name?: string;
  backend?: WorkerBackend;
  owner?: string;
  priority?: number;
  preemptible?: boolean;
}

/** A failed call: Arbiter's status, code and message (and details: e.g. each replica's `why` of a `not_ready`). */
export class ArbiterClientError extends ArbiterError {}

/** An exception the engine raised in the worker: its type and traceback as the worker reported them. */
export class RemoteEngineError extends ArbiterClientError {
  constructor(readonly remoteType: string, readonly remoteStack: string, message: string) {
    super(502, 'engine_error', message, { remote_type: remoteType, remote_stack: remoteStack });
  }
}

/** A long wait is asked for in slices, so that no proxy or server time limit cuts it. */
const WAIT_SLICE_MS = 30_000;

export class ArbiterScheduler {
  readonly group: string;
  private readonly base: string;
  private readonly token: string | undefined;
  private readonly fetch: typeof fetch;

  constructor(readonly config: SchedulerConfig, opts: { fetch?: typeof fetch } = {}) {
    if (config.type !== 'arbiter') throw new TypeError(`config.type must be "arbiter", not ${JSON.stringify(config.type)}`);
    this.base = config.endpoint.replace(/\/+$/, '');
    this.group = `${config.expr_name}/${config.trial_name}`;
    this.token = config.token ?? (typeof process !== 'undefined' ? process.env.ARBITER_TOKEN : undefined);
    this.fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** Ask for the workers; they start as the scheduler grants them. Returns them as they are now (queued or starting). */
  async create_workers(scheduling_config: SchedulingConfig): Promise<Worker[]> {
    const { name, owner, ...rest } = scheduling_config;
    const body = { name: name ?? this.group, owner: owner ?? this.config.expr_name, ...rest };
    return (await this.request<WorkerGroupResponse>('POST', '/api/workers', body)).workers;
  }

  /**
   * The group's workers once every one is running and answering (`timeout` in seconds, as the reference API);
   * at the timeout an ArbiterClientError `not_ready` whose details say, for each worker, why it is not running.
   */
  async get_workers(timeout = 300.0, name = this.group): Promise<Worker[]> {
    const deadline = Date.now() + timeout * 1000;
    for (;;) {
      const left = Math.max(0, deadline - Date.now());
      try {
        const q = new URLSearchParams({ name, timeoutMs: String(Math.min(left, WAIT_SLICE_MS)) });
        return (await this.request<WorkersResponse>('GET', `/api/workers?${q}`)).workers;
      } catch (err) {
        const final = !(err instanceof ArbiterClientError) || err.code !== 'not_ready' || Date.now() >= deadline;
        // a replica that ended will never run: no use waiting longer
        const ended = err instanceof ArbiterClientError && Array.isArray(err.details) && (err.details as NotReadyDetail[]).some((d) => ['exited', 'failed', 'stopped', 'preempted'].includes(d.state));
        if (final || ended) throw err;
      }
    }
  }

  /** Stop the group's workers (`name`: another group; none: this client's group). */
  async delete_workers(name: string | null = null): Promise<void> {
    await this.request('DELETE', `/api/workers/${encodeURIComponent(name ?? this.group)}`);
  }

  /** Create the engine `engine_obj` (`path/to/module.js#Export` or `package.module:Class`) in a worker. */
  async create_engine(worker_id: string, engine_obj: string, init_config: unknown = null): Promise<void> {
    await this.request('POST', `/api/workers/${encodeURIComponent(worker_id)}/engine`, { engine: engine_obj, ...(init_config !== null ? { init_config } : {}) });
  }

  /** Call a method of a worker's engine with positional arguments; its result. */
  async call_engine(worker_id: string, method: string, ...args: unknown[]): Promise<unknown> {
    return this.call_engine_kw(worker_id, method, args, {});
  }

  /** Call with positional and keyword arguments (Python's `**kwargs`). */
  async call_engine_kw(worker_id: string, method: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}): Promise<unknown> {
    const body: CallBody = { method, args, kwargs };
    return (await this.request<CallResponse>('POST', `/api/workers/${encodeURIComponent(worker_id)}/call`, body)).result;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.fetch(`${this.base}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    if (res.ok) return parsed as T;
    const e = (parsed as { error?: { code?: string; message?: string; details?: unknown } & Partial<EngineError['error']> } | null)?.error;
    if (e?.code === 'engine_error' && e.remote_type !== undefined) throw new RemoteEngineError(e.remote_type, e.remote_stack ?? '', e.message ?? 'engine error');
    throw new ArbiterClientError(res.status, e?.code ?? 'http_error', e?.message ?? `${method} ${path}: HTTP ${res.status}`, e?.details);
  }
}
