/**
 * Task dispatch in the running server: stores and pushes the dispatcher's change records (group commit, like the
 * scheduler's), delivers every task routed to an instance (`POST http://{host}:{port}/task/submit`; a 2xx is
 * `accepted`, anything else — refused, 5xx, timeout — a failed delivery that the dispatcher re-routes, retried
 * after a backoff), probes every instance's `GET /health` in the background (an answer brings a down instance back
 * and records what it says; no answer counts like a failed delivery; down longer than `lostAfterMs` and the tasks it
 * had accepted are re-dispatched), and prunes the task history.
 */
import type { Clock, Timer } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { EventHub } from '../push/hub.ts';
import type { DispatchStore } from '../store/dispatch-store.ts';
import type { Dispatcher } from '../workloads/dispatch/dispatcher.ts';
import { InstanceHealthSchema, type DispatchChange, type DispatchTask, type InstanceTask, type TaskInstance } from '../../shared/dispatch.ts';
import { GroupCommit, type Transact } from './group-commit.ts';
import { answerText, errorText, getJson, postJson, type GetJson, type PostJson } from './json-http.ts';

export interface DispatchServiceOptions {
  dispatcher: Dispatcher;
  hub: EventHub;
  clock: Clock;
  log: Logger;
  store?: DispatchStore;
  transact?: Transact;
  /** what the store loaded at start */
  restore?: Parameters<Dispatcher['restore']>[0];
  /** one delivery's time limit @default 5000 */
  deliveryTimeoutMs?: number;
  /** wait before delivering a task again after a failure: doubles from this @default 200 */
  retryBaseMs?: number;
  /** @default 5000 */
  retryMaxMs?: number;
  /** health probe of every instance @default 5000 */
  probeMs?: number;
  /** an instance down this long loses the tasks it accepted (re-dispatched once) @default 30000 */
  lostAfterMs?: number;
  /** ended tasks are kept this long @default 7 days */
  retentionMs?: number;
  /** JSON over HTTP to the instances (tests) @default json-http.ts */
  http?: { post: PostJson; get: GetJson };
}

export class DispatchService {
  private readonly commits: GroupCommit<DispatchChange>;
  /** tasks with a delivery under way or waiting for its retry: task id → the instance it goes to */
  private readonly delivering = new Map<string, string>();
  private readonly retryTimers = new Map<string, Timer>();
  /** when each down instance went down */
  private readonly downSince = new Map<string, number>();
  private probeTimer: Timer | null = null;
  private prunedAt = 0;
  private stopped = false;
  private off: (() => void) | null = null;
  private readonly http: { post: PostJson; get: GetJson };

  constructor(private readonly opts: DispatchServiceOptions) {
    this.http = opts.http ?? { post: postJson, get: getJson };
    this.commits = new GroupCommit<DispatchChange>({
      log: opts.log, what: 'dispatch changes', ...(opts.transact ? { transact: opts.transact } : {}),
      write: (batch) => {
        opts.store?.apply(batch);
        for (const c of batch) {
          if ('task' in c) opts.hub.publish('task_update', c);
          else opts.hub.publish('instance_update', c);
        }
      },
      // deliveries start once the task is durable: an instance never runs a task a crash could make Arbiter forget
      committed: (batch) => {
        for (const c of batch) this.follow(c);
      },
    });
  }

  start(): void {
    const d = this.opts.dispatcher;
    this.off = d.onChange(this.commits.add);
    if (this.opts.restore) d.restore(this.opts.restore);
    for (const i of d.instances.all()) if (i.state === 'down') this.downSince.set(i.id, this.opts.clock.now());
    for (const t of d.undelivered()) this.deliverSoon(t, 0);
    this.scheduleProbe();
  }

  /** Resolves once every change so far is stored and pushed. */
  committed(): Promise<void> {
    return this.commits.committed();
  }

  stop(): void {
    this.stopped = true;
    this.off?.();
    this.commits.flush();
    this.probeTimer?.cancel();
    for (const t of this.retryTimers.values()) t.cancel();
    this.retryTimers.clear();
  }

  /** What a change asks of the runtime: deliver a task routed to an instance, note when an instance went down. */
  private follow(c: DispatchChange): void {
    if (c.kind === 'instance_down') this.downSince.set(c.instance.id, c.at);
    else if (c.kind === 'instance_up' || c.kind === 'instance_removed') this.downSince.delete(c.instance.id);
    else if ('task' in c && c.task.status === 'queued' && c.task.instance !== null) {
      // a re-routed task waits its backoff; a new one goes at once
      this.deliverSoon(c.task, c.kind === 'task_queued' ? 0 : this.backoff(c.task.attempts));
    }
  }

  private backoff(attempts: number): number {
    const base = this.opts.retryBaseMs ?? 200;
    return Math.min(this.opts.retryMaxMs ?? 5000, base * 2 ** Math.max(0, attempts - 1));
  }

  private deliverSoon(task: DispatchTask, delayMs: number): void {
    if (this.stopped || this.delivering.get(task.id) === task.instance) return;
    this.delivering.set(task.id, task.instance!);
    this.retryTimers.get(task.id)?.cancel();
    if (delayMs <= 0) {
      void this.deliver(task.id);
      return;
    }
    this.retryTimers.set(task.id, this.opts.clock.setTimeout(() => {
      this.retryTimers.delete(task.id);
      void this.deliver(task.id);
    }, delayMs));
  }

  /** One delivery of the task to the instance it is routed to now. */
  private async deliver(taskId: string): Promise<void> {
    const d = this.opts.dispatcher;
    const t = d.task(taskId);
    const target = this.delivering.get(taskId);
    this.delivering.delete(taskId);
    if (this.stopped || !t || t.status !== 'queued' || t.instance === null || t.instance !== target) return;
    const instance = d.instances.get(t.instance);
    if (!instance) return;
    const body: InstanceTask = { task_id: t.id, model_name: t.model, task_input: t.input, metadata: t.metadata };
    let failure: string | null = null;
    try {
      const res = await this.http.post(`${baseUrl(instance)}/task/submit`, body, { timeoutMs: this.opts.deliveryTimeoutMs ?? 5000 });
      if (res.status < 200 || res.status > 299) failure = `${answerText(res)} from ${instance.host}:${instance.port}`;
    } catch (err) {
      failure = `${instance.host}:${instance.port}: ${errorText(err)}`;
    }
    if (this.stopped) return;
    if (failure === null) d.accepted(t.id, instance.id);
    else d.deliveryFailed(t.id, instance.id, failure);
  }

  private scheduleProbe(): void {
    if (this.stopped) return;
    this.probeTimer = this.opts.clock.setTimeout(() => {
      void this.probeAll().finally(() => this.scheduleProbe());
    }, this.opts.probeMs ?? 5000);
  }

  /** Ask every instance for its health; down too long → its accepted tasks go elsewhere; prune the history hourly. */
  async probeAll(): Promise<void> {
    const d = this.opts.dispatcher;
    await Promise.all(d.instances.all().map((i) => this.probe(i)));
    if (this.stopped) return;
    const now = this.opts.clock.now();
    for (const [id, since] of this.downSince) if (now - since >= (this.opts.lostAfterMs ?? 30_000)) d.lost(id);
    if (now - this.prunedAt >= 3600_000) {
      this.prunedAt = now;
      const before = now - (this.opts.retentionMs ?? 7 * 86_400_000);
      d.forgetEnded(before);
      this.opts.store?.prune(before);
    }
  }

  private async probe(i: TaskInstance): Promise<void> {
    let health: TaskInstance['health'] = null;
    let ok = false;
    try {
      const res = await this.http.get(`${baseUrl(i)}/health`, { timeoutMs: this.opts.deliveryTimeoutMs ?? 5000 });
      ok = res.status >= 200 && res.status <= 299;
      const parsed = InstanceHealthSchema.safeParse(res.body);
      if (parsed.success) health = parsed.data;
    } catch {
      ok = false;
    }
    if (this.stopped || !this.opts.dispatcher.instances.get(i.id)) return;
    if (ok) this.opts.dispatcher.up(i.id, health);
    else this.opts.dispatcher.unreachable(i.id);
  }
}

function baseUrl(i: TaskInstance): string {
  return `http://${i.host.includes(':') ? `[${i.host}]` : i.host}:${i.port}`;
}
