/**
 * The task dispatcher (pure: time from the injected clock, ids from the injected generator, no I/O). It keeps the
 * instances (InstanceRegistry), every task, and per instance the running sums of its unfinished tasks' predicted
 * execution times — `ti_queue_info` of the specification: expected wait = Σ predicted means, error = √Σ variances —
 * and routes each task with the policy in force. Delivering a task to its instance is the runtime's part: it
 * delivers every task that is `queued` on an instance and reports `accepted` or `deliveryFailed`; the instance later
 * reports the completion. Every change is a record (task_update / instance_update events), batched per operation.
 *
 * Lifecycle: queued (routed to an instance, not yet accepted) → scheduled (the instance accepted it) → completed,
 * or failed (its deliveries failed `maxAttempts` times, or its instance went away twice). A task waiting on an
 * instance that is removed goes to another at once; one its instance had accepted is re-dispatched once and marked
 * `rerouted`. A task of a model with no instance left waits unrouted until one registers.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import { ArbiterError } from '../../errors.ts';
import { rng } from '../../rng.ts';
import { ChangeBatch, type ChangeListener } from '../../scheduler/changes.ts';
import type { DispatchChange, DispatchPolicy, DispatchTask, QueueInfoItem, TaskInstance } from '../../../shared/dispatch.ts';
import { DISPATCH_POLICIES } from '../../../shared/names.ts';
import { InstanceRegistry } from './instances.ts';
import { POLICIES, type PolicyFactory, type RouteCandidate, type RoutingPolicy } from './policies.ts';
import { Predictor } from './predictor.ts';

export type DispatchErrorCode = 'no_instance' | 'not_found' | 'already_done' | 'no_custom_policy';
const STATUS: Record<DispatchErrorCode, number> = { no_instance: 404, not_found: 404, already_done: 409, no_custom_policy: 422 };

export class DispatchError extends ArbiterError {
  declare readonly code: DispatchErrorCode;
  constructor(code: DispatchErrorCode, message: string, details?: unknown) {
    super(STATUS[code], code, message, details);
  }
}

export interface DispatcherOptions {
  clock: Clock;
  /** task and instance ids @default crypto.randomUUID */
  newId?: () => string;
  predictor?: Predictor;
  /** @default shortest_queue */
  policy?: DispatchPolicy;
  /** the `custom` policy (a module's default export), when one is configured */
  customPolicy?: PolicyFactory;
  /** deliveries of one task before it fails @default 3 */
  maxAttempts?: number;
  /** deliveries to one instance that fail in a row before it is down @default 3 */
  downAfter?: number;
  /** seed of the probabilistic policy's random source @default 1 */
  seed?: number;
  /** a listener threw: by default rethrown outside the transaction */
  onListenerError?: (err: unknown) => void;
}

interface Load {
  tasks: Set<string>;
  meanMs: number;
  varMs: number;
}

export class Dispatcher {
  readonly instances = new InstanceRegistry();
  private readonly tasks = new Map<string, DispatchTask>();
  private readonly loads = new Map<string, Load>();
  /** queued tasks of a model that has no instance: routed when one registers */
  private readonly parked = new Map<string, Set<string>>();
  private readonly changes: ChangeBatch<DispatchChange>;
  private readonly clock: Clock;
  private readonly newId: () => string;
  private readonly random: () => number;
  readonly predictor: Predictor;
  readonly maxAttempts: number;
  readonly downAfter: number;
  private policyName: DispatchPolicy;
  private policy: RoutingPolicy;
  private readonly customPolicy: PolicyFactory | undefined;

  /** The policies it can switch to: `custom` only when a module gave one. */
  get availablePolicies(): DispatchPolicy[] {
    return DISPATCH_POLICIES.filter((p) => p !== 'custom' || this.customPolicy !== undefined);
  }

  constructor(opts: DispatcherOptions) {
    this.clock = opts.clock;
    this.newId = opts.newId ?? randomUUID;
    this.predictor = opts.predictor ?? new Predictor();
    this.maxAttempts = opts.maxAttempts ?? 3;
    this.downAfter = opts.downAfter ?? 3;
    if (!(Number.isInteger(this.maxAttempts) && this.maxAttempts >= 1)) throw new Error(`maxAttempts must be an integer ≥ 1, not ${this.maxAttempts}`);
    if (!(Number.isInteger(this.downAfter) && this.downAfter >= 1)) throw new Error(`downAfter must be an integer ≥ 1, not ${this.downAfter}`);
    this.random = rng(opts.seed ?? 1);
    this.customPolicy = opts.customPolicy;
    this.policyName = opts.policy ?? 'shortest_queue';
    this.policy = this.policyFor(this.policyName);
    this.changes = new ChangeBatch<DispatchChange>(opts.onListenerError ?? ((err) => queueMicrotask(() => { throw err; })));
  }

  onChange(listener: ChangeListener<DispatchChange>): () => void {
    return this.changes.onChange(listener);
  }

  get policyInForce(): DispatchPolicy {
    return this.policyName;
  }

  // ------------------------------------------------------------------ instances

  /** Register an instance (again: same uuid, the new model and weight). Tasks of its model waiting unrouted go to it. */
  register(host: string, port: number, model: string, weight?: number): { instance: TaskInstance; created: boolean } {
    return this.changes.transact(() => {
      const now = this.clock.now();
      const before = this.instances.at(host, port);
      const instance: TaskInstance = before
        ? { ...before, model, weight: weight ?? before.weight }
        : { id: this.newId(), host, port, model, weight: weight ?? 1, state: 'up', registeredAt: now, failures: 0, health: null };
      this.instances.put(instance);
      this.changes.emit({ kind: 'instance_registered', at: now, instance });
      const parked = this.parked.get(model);
      if (parked) {
        this.parked.delete(model);
        for (const id of parked) this.route(this.tasks.get(id)!, now, null, 'task_rerouted');
      }
      return { instance, created: !before };
    }).value;
  }

  /** Remove the instance at host:port; its tasks go elsewhere (see the class comment). Undefined when unknown. */
  remove(host: string, port: number): TaskInstance | undefined {
    const instance = this.instances.at(host, port);
    if (!instance) return undefined;
    return this.changes.transact(() => {
      const now = this.clock.now();
      this.instances.delete(instance.id);
      this.changes.emit({ kind: 'instance_removed', at: now, instance });
      this.evacuate(instance.id, now, `instance ${instance.host}:${instance.port} was removed`);
      this.loads.delete(instance.id);
      return instance;
    }).value;
  }

  /** The instance answered (its health probe, or it accepted a task): up again, with what its health said. */
  up(instanceId: string, health?: TaskInstance['health']): void {
    const i = this.instances.get(instanceId);
    if (!i) return;
    const next: TaskInstance = { ...i, failures: 0, ...(health !== undefined ? { health } : {}) };
    if (i.state === 'up' && health === undefined) {
      if (i.failures) this.instances.put(next);
      return;
    }
    this.changes.transact(() => {
      this.instances.put({ ...next, state: 'up' });
      if (i.state !== 'up') this.changes.emit({ kind: 'instance_up', at: this.clock.now(), instance: this.instances.get(instanceId)! });
    });
  }

  /** The instance did not answer (a delivery or a health probe): down after `downAfter` times in a row. */
  unreachable(instanceId: string): void {
    const i = this.instances.get(instanceId);
    if (!i) return;
    const failures = i.failures + 1;
    const down = failures >= this.downAfter && i.state === 'up';
    this.instances.put({ ...i, failures, state: down ? 'down' : i.state });
    if (down) this.changes.transact(() => this.changes.emit({ kind: 'instance_down', at: this.clock.now(), instance: this.instances.get(instanceId)! }));
  }

  /** The instance has been down too long: the tasks it accepted are re-dispatched (once), those waiting go elsewhere. */
  lost(instanceId: string): void {
    const i = this.instances.get(instanceId);
    if (!i || i.state !== 'down') return;
    this.changes.transact(() => this.evacuate(instanceId, this.clock.now(), `instance ${i.host}:${i.port} stopped answering`));
  }

  // ------------------------------------------------------------------ tasks

  /** Route a new task; throws no_instance when no instance serves the model. */
  submit(model: string, input: Record<string, unknown>, metadata: Record<string, unknown>): DispatchTask {
    if (!this.instances.ofModel(model).length) throw new DispatchError('no_instance', `no task instance serves model ${JSON.stringify(model)}`);
    return this.changes.transact(() => {
      const now = this.clock.now();
      const task: DispatchTask = {
        id: this.newId(), model, input, metadata, status: 'queued', instance: null, submittedAt: now, scheduledAt: null, endedAt: null,
        attempts: 0, rerouted: false, predictedMs: this.predictor.predict(model, metadata), executionMs: null, result: null, error: null,
      };
      return this.route(task, now, null, 'task_queued');
    }).value;
  }

  /** The instance accepted the task (its delivery answered 2xx). */
  accepted(taskId: string, instanceId: string): DispatchTask | undefined {
    const t = this.tasks.get(taskId);
    if (!t || t.status !== 'queued' || t.instance !== instanceId) return t;
    return this.changes.transact(() => {
      const now = this.clock.now();
      this.up(instanceId);
      return this.put({ ...t, status: 'scheduled', scheduledAt: now, attempts: t.attempts + 1 }, 'task_scheduled', now);
    }).value;
  }

  /**
   * A delivery of the task to its instance failed: it goes to the best other instance of its model (the same one
   * when there is no other), or fails after `maxAttempts`; the instance is down after `downAfter` failures in a row.
   */
  deliveryFailed(taskId: string, instanceId: string, reason: string): DispatchTask | undefined {
    const t = this.tasks.get(taskId);
    if (!t || t.status !== 'queued' || t.instance !== instanceId) return t;
    return this.changes.transact(() => {
      const now = this.clock.now();
      this.unreachable(instanceId);
      const tried = { ...t, attempts: t.attempts + 1 };
      if (tried.attempts >= this.maxAttempts) return this.fail(tried, `not delivered after ${tried.attempts} attempt(s): ${reason}`, now);
      return this.route(tried, now, instanceId, 'task_rerouted');
    }).value;
  }

  /** The instance says the task is done (`executionSec` as it measured; else the time since it was accepted). */
  complete(taskId: string, result: unknown, executionSec?: number): DispatchTask {
    const t = this.tasks.get(taskId);
    if (!t) throw new DispatchError('not_found', `no task ${taskId}`);
    if (t.status === 'completed' || t.status === 'failed') {
      throw new DispatchError('already_done', `task ${taskId} is already ${t.status}; the first result is kept`, { task_status: t.status });
    }
    return this.changes.transact(() => {
      const now = this.clock.now();
      const executionMs = executionSec !== undefined ? executionSec * 1000 : now - (t.scheduledAt ?? t.submittedAt);
      this.predictor.learn(t.model, t.metadata, executionMs);
      return this.put({ ...t, status: 'completed', endedAt: now, executionMs, result: result ?? null }, 'task_completed', now);
    }).value;
  }

  /** Switch the routing policy (takes effect at the next task); `custom` needs a configured module (422). */
  setPolicy(name: DispatchPolicy): void {
    const policy = this.policyFor(name);
    this.changes.transact(() => {
      const previous = this.policyName;
      this.policyName = name;
      this.policy = policy;
      this.changes.emit({ kind: 'policy_changed', at: this.clock.now(), policy: name, previous });
    });
  }

  // ------------------------------------------------------------------ queries

  task(id: string): DispatchTask | undefined {
    return this.tasks.get(id);
  }

  listTasks(): DispatchTask[] {
    return [...this.tasks.values()];
  }

  /** Tasks routed to an instance and not yet accepted by it: what the runtime has to deliver. */
  undelivered(): DispatchTask[] {
    return this.listTasks().filter((t) => t.status === 'queued' && t.instance !== null);
  }

  /** Expected wait of a task sent to the instance now (ms) and its standard deviation. */
  waitOf(instanceId: string): { meanMs: number; sdMs: number } {
    const l = this.loads.get(instanceId);
    return l ? { meanMs: l.meanMs, sdMs: Math.sqrt(Math.max(0, l.varMs)) } : { meanMs: 0, sdMs: 0 };
  }

  /** `ti_queue_info` of a model's instances (or every model's), in seconds. */
  queueInfo(model?: string): QueueInfoItem[] {
    const models = model === undefined ? this.instances.models() : [model];
    return models.flatMap((m) => this.instances.ofModel(m).map((i) => {
      const w = this.waitOf(i.id);
      return { model_name: m, ti_uuid: i.id, waiting_time_expect: w.meanMs / 1000, waiting_time_error: w.sdMs / 1000 };
    }));
  }

  /** Rebuild from the store (an empty dispatcher): instances, then tasks with their loads. */
  restore(state: { instances: readonly TaskInstance[]; tasks: readonly DispatchTask[]; policy?: DispatchPolicy }): void {
    if (this.tasks.size || this.instances.all().length) throw new Error('restore needs an empty dispatcher');
    for (const i of state.instances) this.instances.put(i);
    for (const t of state.tasks) {
      this.tasks.set(t.id, t);
      if (t.status === 'completed' || t.status === 'failed') continue;
      if (t.instance !== null && this.instances.get(t.instance)) this.addLoad(t);
      else this.park(t);
    }
    if (state.policy && state.policy !== this.policyName && (state.policy !== 'custom' || this.customPolicy)) {
      this.policyName = state.policy;
      this.policy = this.policyFor(state.policy);
    }
  }

  /** Forget ended tasks that ended before `before` (the store keeps its own history). */
  forgetEnded(before: number): number {
    let n = 0;
    for (const [id, t] of this.tasks) {
      if (t.endedAt !== null && t.endedAt < before) {
        this.tasks.delete(id);
        n++;
      }
    }
    return n;
  }

  // ------------------------------------------------------------------ internals

  private policyFor(name: DispatchPolicy): RoutingPolicy {
    if (name !== 'custom') return POLICIES[name]();
    if (!this.customPolicy) throw new DispatchError('no_custom_policy', 'no custom routing policy is configured (--dispatch-policy-module)');
    return this.customPolicy();
  }

  /** Send the task to an instance chosen by the policy (avoiding `avoid` when there is another), or park it. */
  private route(task: DispatchTask, now: number, avoid: string | null, kind: 'task_queued' | 'task_rerouted'): DispatchTask {
    this.removeLoad(task);
    const all = this.instances.ofModel(task.model);
    if (!all.length) {
      this.park(task);
      return this.put({ ...task, status: 'queued', instance: null }, kind, now);
    }
    const up = all.filter((i) => i.state === 'up');
    let pool = up.length ? up : all;
    if (avoid !== null && pool.length > 1) pool = pool.filter((i) => i.id !== avoid);
    const candidates: RouteCandidate[] = pool.map((i) => {
      const w = this.waitOf(i.id);
      return { id: i.id, waitMs: w.meanMs, waitSdMs: w.sdMs, weight: i.weight };
    });
    const chosen = this.policy.choose(task.model, candidates, this.random);
    const next = this.put({ ...task, status: 'queued', instance: chosen.id }, kind, now);
    this.addLoad(next);
    return next;
  }

  /** Every unfinished task on the instance moves: waiting ones to another instance, accepted ones once (rerouted). */
  private evacuate(instanceId: string, now: number, why: string): void {
    const load = this.loads.get(instanceId);
    if (!load) return;
    for (const id of [...load.tasks]) {
      const t = this.tasks.get(id)!;
      if (t.status === 'scheduled') {
        if (t.rerouted) {
          this.fail(t, `${why} after it accepted the task, which had been re-dispatched once already`, now);
          continue;
        }
        this.route({ ...t, rerouted: true, scheduledAt: null }, now, instanceId, 'task_rerouted');
      } else {
        this.route(t, now, instanceId, 'task_rerouted');
      }
    }
  }

  private fail(t: DispatchTask, error: string, now: number): DispatchTask {
    return this.put({ ...t, status: 'failed', endedAt: now, error }, 'task_failed', now);
  }

  /** Keep the new record, keep the loads right, and emit its change. */
  private put(t: DispatchTask, kind: DispatchChangeKind, now: number): DispatchTask {
    const before = this.tasks.get(t.id);
    if (before && (t.status === 'completed' || t.status === 'failed')) this.removeLoad(before);
    this.tasks.set(t.id, t);
    this.changes.emit({ kind, at: now, task: t });
    return t;
  }

  private addLoad(t: DispatchTask): void {
    if (t.instance === null) return;
    let l = this.loads.get(t.instance);
    if (!l) this.loads.set(t.instance, (l = { tasks: new Set(), meanMs: 0, varMs: 0 }));
    if (l.tasks.has(t.id)) return;
    l.tasks.add(t.id);
    l.meanMs += t.predictedMs.mean;
    l.varMs += t.predictedMs.sd ** 2;
  }

  private removeLoad(t: DispatchTask): void {
    for (const set of this.parked.values()) set.delete(t.id);
    if (t.instance === null) return;
    const l = this.loads.get(t.instance);
    if (!l || !l.tasks.delete(t.id)) return;
    l.meanMs -= t.predictedMs.mean;
    l.varMs -= t.predictedMs.sd ** 2;
    // sums of floats: back to an exact 0 when nothing is left
    if (l.tasks.size === 0) l.meanMs = l.varMs = 0;
  }

  private park(t: DispatchTask): void {
    const set = this.parked.get(t.model) ?? new Set<string>();
    set.add(t.id);
    this.parked.set(t.model, set);
  }
}

type DispatchChangeKind = 'task_queued' | 'task_scheduled' | 'task_completed' | 'task_failed' | 'task_rerouted';
