/**
 * Task dispatch in the page: task instances with their expected waits, the recent tasks, completions per second
 * per model over a sliding window, and the routing policy. Pushed `task_update` and `instance_update` events keep
 * it current from the start; REST fills it once the push is live and the Tasks view is open (subscribe first,
 * then backfill, then replay on top what arrived meanwhile), and again after a replay gap. Expected waits change
 * with every task event: `GET /api/dispatch/queue/info` (and the instances, whose health is not pushed) is asked
 * again after events, at most once per `waitsMinIntervalMs`, one read at a time, and only while the view is open.
 * Framework-free (React reads it through useSyncExternalStore), time injected.
 */
import type {
  DispatchInstancesResponse, DispatchPolicy, DispatchTask, DispatchTasksResponse, InstanceChange, QueueInfoResponse, TaskChange, TaskInstance,
} from '../../../shared/dispatch.ts';
import { errorMessage } from '../lib/api.ts';
import { Backfill } from '../lib/backfill.ts';
import { Reread } from '../lib/reread.ts';
import type { Timers } from '../lib/timers.ts';
import type { LiveSource } from '../live/source.ts';
import type { DispatchApi, PolicyAnswer } from './api.ts';
import { ExternalStore } from '../lib/external-store.ts';

/** An instance's expected wait for a task sent to it now, and its error (one standard deviation), seconds. */
export interface Wait {
  expectSec: number;
  errorSec: number;
}

export interface InstanceView {
  instance: TaskInstance;
  /** null until the server has told */
  wait: Wait | null;
}

export interface ModelView {
  model: string;
  /** by host and port */
  instances: readonly InstanceView[];
  /** its tasks the page knows, newest first */
  tasks: readonly DispatchTask[];
  /** tasks completed within the window */
  completed: number;
  /** completed / window */
  tasksPerSec: number;
  /** the largest expected wait plus its error among its instances: the common scale of their bars, seconds */
  waitScaleSec: number;
}

export interface TasksSnapshot {
  /** the REST backfill has arrived at least once */
  readonly ready: boolean;
  readonly loading: boolean;
  /** the last backfill failed with this */
  readonly error: string | null;
  /** by name: every model with an instance, a known task, or a completion within the window */
  readonly models: readonly ModelView[];
  readonly instances: ReadonlyMap<string, TaskInstance>;
  readonly policy: DispatchPolicy | null;
  /** when the policy in force was switched, as far as the page saw */
  readonly policySince: number | null;
  /** whether the server has a `custom` policy to switch to; null: not known */
  readonly customPolicy: boolean | null;
  /** the tasks-per-second window */
  readonly windowMs: number;
  /** when the page began counting, while it has counted for less than the window; then null */
  readonly countingSince: number | null;
  /** when the expected waits were last read */
  readonly waitsAt: number | null;
  /** the last read of the expected waits failed with this */
  readonly waitsError: string | null;
  readonly version: number;
}

export interface TasksDeps extends Timers {
  api: DispatchApi;
}

export interface TasksOptions {
  /** window of tasks per second; default 60 s */
  windowMs?: number;
  /** newest tasks kept (and asked for); default 200 */
  maxTasks?: number;
  /** expected waits read at most this often while events arrive; default 500 ms */
  waitsMinIntervalMs?: number;
  /** while an instance's last health said tasks were queued there, read again after this; default 5 s */
  healthRefreshMs?: number;
  /** first retry of a failed backfill (doubles up to a minute); default 2 s */
  retryMs?: number;
}

type Item = { type: 'task_update'; data: TaskChange } | { type: 'instance_update'; data: InstanceChange };
type Answer = [DispatchInstancesResponse, DispatchTasksResponse, PolicyAnswer, QueueInfoResponse];

interface Completion {
  taskId: string;
  model: string;
  /** page clock */
  at: number;
}

const ended = (t: DispatchTask) => t.status === 'completed' || t.status === 'failed';

export class TasksStore extends ExternalStore<TasksSnapshot> {
  private readonly windowMs: number;
  private readonly maxTasks: number;
  private readonly healthMs: number;

  private readonly instances = new Map<string, TaskInstance>();
  private readonly tasks = new Map<string, DispatchTask>();
  private readonly waits = new Map<string, Wait>();
  private completions: Completion[] = [];
  private readonly counted = new Set<string>();
  private policy: DispatchPolicy | null = null;
  private policySince: number | null = null;
  private customPolicy: boolean | null = null;
  /** the newest server time of a change seen: the age of a replayed completion is told against it */
  private newestAt = -Infinity;
  private startedAt = 0;

  private started = false;
  /** REST: read once live and watched, again after a replay gap */
  private readonly live: Backfill<Answer, Item>;
  /** the expected waits (and the instances' health), read again after events */
  private readonly waitsRead: Reread<[QueueInfoResponse, DispatchInstancesResponse | null]>;

  private waitsAt: number | null = null;
  private waitsError: string | null = null;
  private windowTimer: unknown = null;
  private healthTimer: unknown = null;

  private offs: (() => void)[] = [];

  constructor(
    private readonly source: LiveSource,
    private readonly deps: TasksDeps,
    opts: TasksOptions = {},
  ) {
    super();
    this.windowMs = opts.windowMs ?? 60_000;
    this.maxTasks = opts.maxTasks ?? 200;
    this.healthMs = opts.healthRefreshMs ?? 5000;
    this.live = new Backfill(source, deps, {
      read: () => {
        const { api } = this.deps;
        return Promise.all([api.instances(), api.tasks(this.maxTasks), api.policy(), api.queueInfo()]);
      },
      take: (answer) => this.take(answer),
      replay: (item) => this.apply(item),
      // the backfill reads the waits too; a read under way is of the old state and is dropped
      begin: () => this.waitsRead.supersede(),
      // the waits read may predate what arrived meanwhile
      done: (replayed) => {
        if (replayed.some(movesWaits)) this.waitsRead.ask();
      },
      watched: () => {
        if (this.live.ready) this.waitsRead.ask();
        this.changed();
      },
      unwatched: () => {
        this.waitsRead.pause();
        this.clearTimer('window');
        this.clearTimer('health');
      },
      changed: () => this.changed(),
    }, { retryMs: opts.retryMs ?? 2000 });
    this.waitsRead = new Reread(deps, {
      minIntervalMs: opts.waitsMinIntervalMs ?? 500,
      may: () => this.started && this.live.ready && this.live.watched,
      // the instances too: what their health probes said is not pushed (an instance's queue grows with its tasks)
      read: () => Promise.all([this.deps.api.queueInfo(), this.deps.api.instances().catch(() => null)]),
      answer: ([info, instances]) => {
        if (Array.isArray(info?.queues)) this.takeWaits(info.queues);
        else this.waitsError = 'GET /api/dispatch/queue/info answered something this page does not understand';
        if (Array.isArray(instances?.instances)) {
          this.instances.clear();
          for (const i of instances.instances) this.instances.set(i.id, i);
        }
        this.changed();
      },
      // no retry loop: the next event asks again
      failed: (err) => {
        this.waitsError = errorMessage(err);
        this.changed();
      },
    });
  }

  /** Listen to the push (completions count from here on). Cheap: REST is asked only while watched. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.startedAt = this.deps.now();
    this.offs = [
      this.source.onEnvelopes('task_update', (envs) => this.receive(envs.map((e) => ({ type: 'task_update', data: e.data })))),
      this.source.onEnvelopes('instance_update', (envs) => this.receive(envs.map((e) => ({ type: 'instance_update', data: e.data })))),
    ];
    this.changed();
    this.live.start();
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    for (const off of this.offs.splice(0)) off();
    this.live.stop();
    this.waitsRead.cancel();
    this.clearTimer('window');
    this.clearTimer('health');
  }

  /** A view shows the store: backfill when needed, keep the expected waits current. Returns the release. */
  watch(): () => void {
    return this.live.watch();
  }

  /** The policy as a REST answer gave it (PUT /api/dispatch/policy). */
  notePolicy(answer: PolicyAnswer): void {
    if (answer.policy !== this.policy) this.policySince = null;
    this.policy = answer.policy;
    this.learnCustom(answer);
    this.changed();
  }

  /** The server said it has no `custom` policy (422 `no_custom_policy`). */
  noteNoCustomPolicy(): void {
    this.customPolicy = false;
    this.changed();
  }

  /** Fetch everything again (after an error, or when asked). */
  refresh(): void {
    this.live.refresh();
  }

  // ---- backfill ---------------------------------------------------------------------------------------------

  /** The REST answers in place of what the page held (what arrived meanwhile is applied again after). */
  private take([instances, tasks, policy, info]: Answer): void {
    if (!Array.isArray(instances?.instances) || !Array.isArray(tasks?.tasks) || typeof policy?.policy !== 'string' || !Array.isArray(info?.queues)) {
      throw new Error('the task dispatch routes answered something this page does not understand');
    }
    this.instances.clear();
    for (const i of instances.instances) this.instances.set(i.id, i);
    this.tasks.clear();
    for (const t of tasks.tasks) this.tasks.set(t.id, t);
    if (policy.policy !== this.policy) this.policySince = null;
    this.policy = policy.policy;
    this.learnCustom(policy);
    this.takeWaits(info.queues);
  }

  private learnCustom(answer: PolicyAnswer): void {
    this.customPolicy = answer.available.includes('custom');
  }

  // ---- expected waits ---------------------------------------------------------------------------------------

  private takeWaits(queues: readonly { ti_uuid: string; waiting_time_expect: number; waiting_time_error: number }[]): void {
    this.waits.clear();
    for (const q of queues) this.waits.set(q.ti_uuid, { expectSec: q.waiting_time_expect, errorSec: q.waiting_time_error });
    this.waitsAt = this.deps.now();
    this.waitsError = null;
  }

  // ---- events -----------------------------------------------------------------------------------------------

  private receive(items: Item[]): void {
    if (items.length === 0) return;
    for (const item of items) if (item.data.at > this.newestAt) this.newestAt = item.data.at;
    for (const item of items) {
      if (item.type === 'task_update' && item.data.kind === 'task_completed') this.count(item.data);
      this.apply(item);
    }
    this.live.note(items);
    this.changed();
    if (items.some(movesWaits)) this.waitsRead.ask();
  }

  /** A completion, at the page's time less its age against the newest change seen (a replayed one is old). */
  private count(c: TaskChange): void {
    if (this.counted.has(c.task.id)) return;
    const now = this.deps.now();
    const at = now - Math.max(0, this.newestAt - c.at);
    if (at <= now - this.windowMs) return;
    this.counted.add(c.task.id);
    this.completions.push({ taskId: c.task.id, model: c.task.model, at });
  }

  private apply(item: Item): void {
    if (item.type === 'task_update') {
      const t = item.data.task;
      const before = this.tasks.get(t.id);
      // an ended task does not change again: an older record (replayed after a backfill) does not bring it back
      if (before && ended(before) && !ended(t)) return;
      this.tasks.set(t.id, t);
      return;
    }
    const c = item.data;
    switch (c.kind) {
      case 'instance_registered':
      case 'instance_up':
      case 'instance_down':
        this.instances.set(c.instance.id, c.instance);
        return;
      case 'instance_removed':
        this.instances.delete(c.instance.id);
        this.waits.delete(c.instance.id);
        return;
      case 'policy_changed':
        this.policy = c.policy;
        this.policySince = c.at;
        if (c.policy === 'custom') this.customPolicy = true;
        return;
      default:
        // a kind this page does not know yet (newer server)
        return;
    }
  }

  // ---- snapshot ---------------------------------------------------------------------------------------------

  protected override changed(): void {
    this.scheduleHealth();
    super.changed();
  }

  /**
   * An instance's health changes without an event (its probe is not pushed): while one last said tasks were
   * queued there, read again after a while, until every queue said empty (or nobody watches).
   */
  private scheduleHealth(): void {
    if (this.healthTimer !== null || !this.started || !this.live.ready || !this.live.watched) return;
    if (![...this.instances.values()].some((i) => (i.health?.queue_size ?? 0) > 0)) return;
    this.healthTimer = this.deps.setTimeout(() => {
      this.healthTimer = null;
      this.waitsRead.ask();
    }, this.healthMs);
  }

  private prune(now: number): void {
    const from = now - this.windowMs;
    if (this.completions.some((c) => c.at <= from)) {
      const kept: Completion[] = [];
      for (const c of this.completions) {
        if (c.at > from) kept.push(c);
        else this.counted.delete(c.taskId);
      }
      this.completions = kept;
    }
    if (this.tasks.size > this.maxTasks) {
      const old = [...this.tasks.values()].sort(newestFirst).slice(this.maxTasks);
      for (const t of old) this.tasks.delete(t.id);
    }
  }

  /** Build again when a completion leaves the window, and when the window has filled (only while watched). */
  private scheduleWindow(now: number): void {
    this.clearTimer('window');
    if (!this.started || !this.live.watched) return;
    let next = Infinity;
    for (const c of this.completions) next = Math.min(next, c.at + this.windowMs);
    if (now - this.startedAt < this.windowMs) next = Math.min(next, this.startedAt + this.windowMs);
    if (next === Infinity) return;
    this.windowTimer = this.deps.setTimeout(() => {
      this.windowTimer = null;
      this.changed();
    }, Math.max(1, next - now));
  }

  protected build(): TasksSnapshot {
    const now = this.deps.now();
    this.prune(now);
    this.scheduleWindow(now);
    const by = new Map<string, { instances: InstanceView[]; tasks: DispatchTask[]; completed: number }>();
    const of = (model: string) => {
      let m = by.get(model);
      if (!m) by.set(model, (m = { instances: [], tasks: [], completed: 0 }));
      return m;
    };
    for (const i of this.instances.values()) of(i.model).instances.push({ instance: i, wait: this.waits.get(i.id) ?? null });
    for (const t of [...this.tasks.values()].sort(newestFirst)) of(t.model).tasks.push(t);
    for (const c of this.completions) of(c.model).completed++;
    const windowSec = this.windowMs / 1000;
    const models: ModelView[] = [...by.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([model, m]) => {
        m.instances.sort((a, b) => (a.instance.host < b.instance.host ? -1 : a.instance.host > b.instance.host ? 1 : a.instance.port - b.instance.port));
        const waitScaleSec = m.instances.reduce((max, i) => (i.wait ? Math.max(max, i.wait.expectSec + i.wait.errorSec) : max), 0);
        return { model, instances: m.instances, tasks: m.tasks, completed: m.completed, tasksPerSec: m.completed / windowSec, waitScaleSec };
      });
    return {
      ready: this.live.ready,
      loading: this.live.loading,
      error: this.live.error,
      models,
      instances: new Map(this.instances),
      policy: this.policy,
      policySince: this.policySince,
      customPolicy: this.customPolicy,
      windowMs: this.windowMs,
      countingSince: this.started && now - this.startedAt < this.windowMs ? this.startedAt : null,
      waitsAt: this.waitsAt,
      waitsError: this.waitsError,
      version: this.version,
    };
  }

  private clearTimer(which: 'window' | 'health'): void {
    const key = `${which}Timer` as const;
    if (this[key] !== null) {
      this.deps.clearTimeout(this[key]);
      this[key] = null;
    }
  }
}

/** Changes that move an instance's expected wait (all but a policy switch). */
function movesWaits(item: Item): boolean {
  return !(item.type === 'instance_update' && item.data.kind === 'policy_changed');
}

function newestFirst(a: DispatchTask, b: DispatchTask): number {
  return b.submittedAt - a.submittedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}
