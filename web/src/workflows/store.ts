/**
 * Workflows in the page: the summaries of the newest workflows (status, jobs per state) and the one workflow open
 * with its jobs. Pushed `workflow_update` events keep it current from the start (every change carries its
 * workflow's summary; a `job_state` change also the job, applied to the open workflow); REST fills the list once the
 * push is live and the Workflows view is open (subscribe first, then read, then apply on top what arrived
 * meanwhile), and again after a replay gap. Framework-free (React reads it through useSyncExternalStore), time
 * injected.
 */
import type { WorkflowChange, WorkflowStatus, WorkflowSummary, WorkflowsResponse } from '../../../shared/workflows.ts';
import { Backfill } from '../lib/backfill.ts';
import { ExternalStore } from '../lib/external-store.ts';
import type { Timers } from '../lib/timers.ts';
import type { LiveSource } from '../live/source.ts';
import type { WorkflowsApi } from './api.ts';
import { OpenedWorkflow, type OpenedView, type WorkflowAction } from './opened.ts';

export type { JobShape, OpenedView, WorkflowAction } from './opened.ts';

export interface WorkflowsSnapshot {
  /** the REST list has arrived at least once */
  readonly ready: boolean;
  readonly loading: boolean;
  /** the last read of the list failed with this */
  readonly error: string | null;
  /** newest first */
  readonly workflows: readonly WorkflowSummary[];
  /** how many of `workflows` are in each state */
  readonly byStatus: Readonly<Partial<Record<WorkflowStatus, number>>>;
  /** the users of `workflows`, by name */
  readonly users: readonly string[];
  /** the workflow open in the view, while one is */
  readonly opened: OpenedView | null;
  readonly version: number;
}

export interface WorkflowsDeps extends Timers {
  api: WorkflowsApi;
}

export interface WorkflowsOptions {
  /** newest workflows kept (and asked for); default 200 */
  maxWorkflows?: number;
  /** first retry of a failed read (doubles up to a minute); default 2 s */
  retryMs?: number;
}

export class WorkflowsStore extends ExternalStore<WorkflowsSnapshot> {
  private readonly max: number;
  private readonly retryMs: number;
  private readonly summaries = new Map<string, WorkflowSummary>();
  /** the list part of the snapshot, built again only when a summary changed */
  private list: Pick<WorkflowsSnapshot, 'workflows' | 'byStatus' | 'users'> | null = null;
  private opened: OpenedWorkflow | null = null;

  private started = false;
  /** REST: the list, read once live and watched, again after a replay gap */
  private readonly live: Backfill<WorkflowsResponse, WorkflowChange>;
  private offs: (() => void)[] = [];

  constructor(
    private readonly source: LiveSource,
    private readonly deps: WorkflowsDeps,
    opts: WorkflowsOptions = {},
  ) {
    super();
    this.max = opts.maxWorkflows ?? 200;
    this.retryMs = opts.retryMs ?? 2000;
    this.live = new Backfill(source, deps, {
      read: () => this.deps.api.list(this.max),
      take: (answer) => this.take(answer),
      replay: (c) => this.apply(c),
      changed: () => this.changed(),
    }, { retryMs: this.retryMs });
  }

  /** Listen to the push. Cheap: REST is asked only while watched. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.offs = [this.source.onEnvelopes('workflow_update', (envs) => this.receive(envs.map((e) => e.data)))];
    this.live.start();
    this.opened?.start();
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    for (const off of this.offs.splice(0)) off();
    this.live.stop();
    this.opened?.stop();
  }

  /** A view shows the list: read when needed. Returns the release. */
  watch(): () => void {
    return this.live.watch();
  }

  /** Read the list (and the open workflow) again, after an error or when asked. */
  refresh(): void {
    this.live.refresh();
    this.opened?.refresh();
  }

  /** A view shows one workflow: read it (and follow its jobs) while it is open. Returns the release. */
  open(id: string): () => void {
    if (this.opened?.id !== id) {
      this.opened?.close();
      this.opened = new OpenedWorkflow(id, this.source, this.deps, this.summaries.get(id) ?? null, () => this.changed(), this.retryMs);
      if (this.started) this.opened.start();
      this.changed();
    }
    const o = this.opened;
    o.watchers++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // the jobs of a large workflow are not kept once nobody shows them
      if (--o.watchers === 0 && this.opened === o) {
        o.close();
        this.opened = null;
        this.changed();
      }
    };
  }

  /** Cancel or retry the open workflow; resolves true once the server has answered. */
  async act(kind: WorkflowAction): Promise<boolean> {
    const o = this.opened;
    if (!o) return false;
    const done = await o.act(kind);
    const latest = o.latest;
    if (done && latest) this.put(latest);
    this.changed();
    return done;
  }

  // ---- REST -------------------------------------------------------------------------------------------------

  private take(answer: WorkflowsResponse): void {
    if (!Array.isArray(answer?.workflows)) throw new Error('GET /api/workflows answered something this page does not understand');
    this.summaries.clear();
    for (const w of answer.workflows) this.summaries.set(w.id, w);
    this.list = null;
  }

  // ---- events -----------------------------------------------------------------------------------------------

  private receive(changes: readonly WorkflowChange[]): void {
    if (changes.length === 0) return;
    for (const c of changes) this.apply(c);
    this.opened?.receive(changes);
    this.live.note(changes);
    this.prune();
    this.changed();
  }

  /** Every change carries its workflow's summary as it is now (whatever its kind, also one this page does not know). */
  private apply(c: WorkflowChange): void {
    if (c.workflow?.id) this.put(c.workflow);
  }

  private put(w: WorkflowSummary): void {
    this.summaries.set(w.id, w);
    this.list = null;
  }

  /** The newest `max` are kept (and the open one). */
  private prune(): void {
    if (this.summaries.size <= this.max) return;
    for (const w of [...this.summaries.values()].sort(newestFirst).slice(this.max)) {
      if (w.id !== this.opened?.id) this.summaries.delete(w.id);
    }
    this.list = null;
  }

  // ---- snapshot ---------------------------------------------------------------------------------------------

  protected build(): WorkflowsSnapshot {
    this.list ??= this.buildList();
    return {
      ready: this.live.ready,
      loading: this.live.loading,
      error: this.live.error,
      ...this.list,
      opened: this.opened?.view() ?? null,
      version: this.version,
    };
  }

  private buildList(): Pick<WorkflowsSnapshot, 'workflows' | 'byStatus' | 'users'> {
    const workflows = [...this.summaries.values()].sort(newestFirst);
    const byStatus: Partial<Record<WorkflowStatus, number>> = {};
    for (const w of workflows) byStatus[w.status] = (byStatus[w.status] ?? 0) + 1;
    const users = [...new Set(workflows.map((w) => w.username))].sort();
    return { workflows, byStatus, users };
  }
}

function newestFirst(a: WorkflowSummary, b: WorkflowSummary): number {
  const ta = Date.parse(a.created_at);
  const tb = Date.parse(b.created_at);
  return (tb || 0) - (ta || 0) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}
