/**
 * Task dispatch's tables: the registered instances, every task (current state; ended ones until pruned) and the
 * routing policy. `apply` writes one batch of the dispatcher's change records; `load` gives `Dispatcher.restore`
 * what it needs at start (every instance, every unfinished task, the recently ended ones, the policy).
 */
import type { SqlStatement as Statement } from './sql.ts';
import {
  DispatchPolicySchema, DispatchTaskSchema, TaskInstanceSchema,
  type DispatchChange, type DispatchPolicy, type DispatchTask, type TaskInstance,
} from '../../shared/dispatch.ts';
import type { Db } from './db.ts';

const POLICY_KEY = 'dispatch_policy';

export class DispatchStore {
  private readonly putInstance: Statement;
  private readonly deleteInstance: Statement;
  private readonly putTask: Statement;
  private readonly setMeta: Statement;
  private readonly getMeta: Statement;
  private readonly pruneTasks: Statement;

  constructor(private readonly db: Db) {
    this.putInstance = db.prepare('INSERT INTO dispatch_instances (id, data) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET data = excluded.data');
    this.deleteInstance = db.prepare('DELETE FROM dispatch_instances WHERE id = ?');
    this.putTask = db.prepare(`INSERT INTO dispatch_tasks (id, status, model, submitted_at, ended_at, data) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET status = excluded.status, ended_at = excluded.ended_at, data = excluded.data`);
    this.setMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    this.getMeta = db.prepare('SELECT value FROM meta WHERE key = ?');
    this.pruneTasks = db.prepare('DELETE FROM dispatch_tasks WHERE ended_at IS NOT NULL AND ended_at < ?');
  }

  /** Write one batch of change records (the caller's transaction makes it atomic). */
  apply(changes: readonly DispatchChange[]): void {
    for (const c of changes) {
      switch (c.kind) {
        case 'instance_registered':
        case 'instance_up':
        case 'instance_down':
          this.putInstance.write(c.instance.id, JSON.stringify(c.instance));
          break;
        case 'instance_removed':
          this.deleteInstance.write(c.instance.id);
          break;
        case 'policy_changed':
          this.setMeta.write(POLICY_KEY, c.policy);
          break;
        default: {
          const t = c.task;
          this.putTask.write(t.id, t.status, t.model, t.submittedAt, t.endedAt, JSON.stringify(t));
        }
      }
    }
  }

  /** Save an instance's record outside a change (its failures and health as the runtime learns them). */
  saveInstance(instance: TaskInstance): void {
    this.putInstance.write(instance.id, JSON.stringify(instance));
  }

  /** What the dispatcher restores: instances, unfinished tasks and those ended since `endedSince`, the policy. */
  load(endedSince: number): { instances: TaskInstance[]; tasks: DispatchTask[]; policy?: DispatchPolicy } {
    const instances = (this.db.prepare('SELECT data FROM dispatch_instances ORDER BY rowid').all() as { data: string }[])
      .map((r) => TaskInstanceSchema.parse(JSON.parse(r.data)));
    const tasks = (this.db.prepare('SELECT data FROM dispatch_tasks WHERE ended_at IS NULL OR ended_at >= ? ORDER BY submitted_at, rowid').all(endedSince) as { data: string }[])
      .map((r) => DispatchTaskSchema.parse(JSON.parse(r.data)));
    const row = this.getMeta.get(POLICY_KEY) as { value: string } | undefined;
    const policy = row ? DispatchPolicySchema.safeParse(row.value) : undefined;
    return { instances, tasks, ...(policy?.success ? { policy: policy.data } : {}) };
  }

  /** One task, from the history too. */
  task(id: string): DispatchTask | undefined {
    const row = this.db.prepare('SELECT data FROM dispatch_tasks WHERE id = ?').get(id) as { data: string } | undefined;
    return row ? DispatchTaskSchema.parse(JSON.parse(row.data)) : undefined;
  }

  /** Drop tasks that ended before `before`; returns how many. */
  prune(before: number): number {
    return this.pruneTasks.run(before).changes;
  }
}
