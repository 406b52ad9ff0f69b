/**
 * Users, workflows and their jobs in SQLite (migration 7): a user is written when created; a workflow with all
 * its jobs when submitted, then each job and the workflow as their states change (after each batch of the
 * workflow book's changes, in the caller's transaction). Loaded whole at start.
 */
import type { SqlStatement as Statement } from './sql.ts';
import type { User } from '../../shared/workflows.ts';
import { JobInputSchema, type WorkflowChange } from '../../shared/workflows.ts';
import type { JobRuns, WorkflowRecord } from '../workloads/workflows/book.ts';
import type { JobState } from '../workloads/workflows/run.ts';
import type { Db } from './db.ts';

/** workflows.data: what the columns do not hold */
interface WorkflowData {
  username: string;
  started_at: number | null;
  ended_at: number | null;
  cancelled: boolean;
  created_ms: number;
  depth: number[];
}

type JobStateData = JobState & JobRuns;

export class WorkflowStore {
  private readonly insertUser: Statement;
  private readonly putWorkflow: Statement;
  private readonly putJob: Statement;
  private readonly updateJob: Statement;

  constructor(private readonly db: Db) {
    this.insertUser = db.prepare('INSERT INTO users (id, username, created_at) VALUES (?, ?, ?) ON CONFLICT (username) DO NOTHING');
    this.putWorkflow = db.prepare(
      'INSERT INTO workflows (id, user_id, name, status, created_at, data) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET status = excluded.status, data = excluded.data',
    );
    this.putJob = db.prepare(
      'INSERT INTO workflow_jobs (workflow_id, idx, name, job_type, branch_id, parent_ids_json, status, spec, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.updateJob = db.prepare('UPDATE workflow_jobs SET status = ?, state = ? WHERE workflow_id = ? AND idx = ?');
  }

  // ------------------------------------------------------------------ users

  /** Adds a user; false when the username is taken. */
  addUser(u: User): boolean {
    // no exception for a taken name: on PostgreSQL a failed statement would abort the transaction around it
    return this.insertUser.run(u.id, u.username, u.created_at).changes === 1;
  }

  users(): User[] {
    return this.db.prepare('SELECT id, username, created_at FROM users ORDER BY rowid').all() as User[];
  }

  // ------------------------------------------------------------------ workflows

  /** Write what these changes are about, as it is now. */
  apply(changes: readonly WorkflowChange[], current: (id: string) => WorkflowRecord): void {
    const created = new Set<string>();
    /** each workflow's status after the batch (the last summary says it) */
    const workflows = new Map<string, string>();
    const jobs = new Map<string, Set<number>>();
    for (const c of changes) {
      const id = c.workflow.id;
      workflows.set(id, c.workflow.status);
      if (c.kind === 'workflow_created') created.add(id);
      else if (c.kind === 'job_state' && c.job && !created.has(id)) {
        let set = jobs.get(id);
        if (!set) jobs.set(id, (set = new Set()));
        set.add(c.job.index);
      }
    }
    for (const [id, status] of workflows) {
      const rec = current(id);
      this.writeWorkflow(rec, status);
      if (created.has(id)) {
        rec.jobs.forEach((j, i) => {
          this.putJob.write(rec.id, i, j.name, j.job_type, String(j.branch_id), JSON.stringify(j.parent_indices), rec.states[i]!.status, JSON.stringify(j), JSON.stringify(this.stateOf(rec, i)));
        });
      } else {
        for (const i of jobs.get(id) ?? []) this.updateJob.write(rec.states[i]!.status, JSON.stringify(this.stateOf(rec, i)), rec.id, i);
      }
    }
  }

  load(): WorkflowRecord[] {
    const users = new Map(this.users().map((u) => [u.id, u.username]));
    const rows = this.db.prepare('SELECT id, user_id, name, data FROM workflows ORDER BY rowid').all() as { id: string; user_id: string; name: string | null; data: string }[];
    const jobRows = this.db.prepare('SELECT spec, state FROM workflow_jobs WHERE workflow_id = ? ORDER BY idx');
    return rows.map((row) => {
      const data = JSON.parse(row.data) as WorkflowData;
      const js = jobRows.all(row.id) as { spec: string; state: string }[];
      const states = js.map((j) => JSON.parse(j.state) as JobStateData);
      return {
        id: row.id, user_id: row.user_id, username: users.get(row.user_id) ?? data.username, name: row.name,
        created_at: data.created_ms, started_at: data.started_at, ended_at: data.ended_at, cancelled: data.cancelled, depth: data.depth,
        jobs: js.map((j) => JobInputSchema.parse(JSON.parse(j.spec))),
        states: states.map((s) => ({ status: s.status, attempts: s.attempts })),
        runs: states.map(({ status: _s, attempts: _a, ...runs }) => runs),
      };
    });
  }

  private writeWorkflow(rec: WorkflowRecord, status: string): void {
    const data: WorkflowData = {
      username: rec.username, started_at: rec.started_at, ended_at: rec.ended_at, cancelled: rec.cancelled, created_ms: rec.created_at, depth: rec.depth,
    };
    this.putWorkflow.write(rec.id, rec.user_id, rec.name, status, new Date(rec.created_at).toISOString(), JSON.stringify(data));
  }

  private stateOf(rec: WorkflowRecord, i: number): JobStateData {
    return { ...rec.states[i]!, ...rec.runs[i]! };
  }
}
