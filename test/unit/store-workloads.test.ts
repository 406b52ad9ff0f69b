/**
 * The workload stores on both engines (SQLite, PostgreSQL): workers, task dispatch and workflows — what is loaded
 * after a restart (a new connection to the same database) is what the books and the dispatcher had, and they go on
 * from there.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { DispatchStore } from '../../server/store/dispatch-store.ts';
import { WorkerStore } from '../../server/store/worker-store.ts';
import { WorkflowStore } from '../../server/store/workflow-store.ts';
import { Dispatcher } from '../../server/workloads/dispatch/dispatcher.ts';
import { Predictor } from '../../server/workloads/dispatch/predictor.ts';
import { WorkerBook } from '../../server/workloads/workers/book.ts';
import { WorkflowBook } from '../../server/workloads/workflows/book.ts';
import { JobInputSchema, type JobInput } from '../../shared/workflows.ts';
import { storeEngines } from '../helpers/store-engines.ts';

const T0 = 1_700_000_000_000;

describe.each(storeEngines())('workload stores on $name', (sql) => {
  it('WorkerStore: every worker as the book has it, a deleted one gone, in creation order', () => {
    const where = sql.fresh();
    let db = sql.open(where);
    let store = new WorkerStore(db);
    const clock = new ManualClock(T0);
    const book = new WorkerBook(clock);
    book.onChange((c) => db.transaction(() => store.apply(c, (id) => book.get(id)))());
    const made = book.create({ name: 'g', replicas: 3, specs: [{ cpu: 1, gpu: 1, mem: 1, cmd: 'x' }] }, { backend: 'local', owner: 'ana' });
    const [a, b, c] = made.map((r) => r.worker.id);
    book.granted(a!, { id: 'a1', gpuIndices: [2] });
    book.started(a!, { host: '127.0.0.1', port: 9000, startedAt: T0 + 5, ref: { kind: 'local', pid: 4242, startTime: 17, logFile: 'f' } });
    book.healthy(a!);
    book.ended(c!, 'stopped', 'deleted');
    void clock.advance(10_000);
    book.granted(b!, { id: 'a2', gpuIndices: [3] });
    book.started(b!, { host: '127.0.0.1', port: 9001, startedAt: T0 + 6, ref: { kind: 'local', pid: 4243, startTime: 18, logFile: 'g' } });
    book.exited(b!, { code: 3, signal: null }, ['oops']);
    expect(book.forgetEnded(T0 + 1)).toEqual([c]); // c ended at T0, b 10 s later
    db.close();

    db = sql.open(where);
    store = new WorkerStore(db);
    const loaded = store.load();
    const expected = [a, b].map((id) => book.get(id!));
    expect(loaded).toEqual(expected);
    expect(loaded.find((r) => r.worker.id === a)).toMatchObject({ worker: { state: 'running', port: 9000 }, ref: { pid: 4242 } });
    expect(loaded.find((r) => r.worker.id === b)?.worker).toMatchObject({ state: 'failed', exit_code: 3, log_tail: ['oops'] });
  });

  it('DispatchStore: instances, unfinished and recent tasks and the policy come back; old ended tasks are pruned', () => {
    const where = sql.fresh();
    let db = sql.open(where);
    let store = new DispatchStore(db);
    const clock = new ManualClock(T0);
    let n = 0;
    const d = new Dispatcher({ clock, newId: () => `id${++n}`, predictor: new Predictor({ fallback: { mean: 2, sd: 1 } }) });
    d.onChange((c) => db.transaction(() => store.apply(c))());
    const x = d.register('10.0.0.1', 8100, 'llm').instance;
    const y = d.register('10.0.0.2', 8100, 'llm').instance;
    const gone = d.register('10.0.0.3', 8100, 'vision').instance;
    d.remove('10.0.0.3', 8100);
    const t1 = d.submit('llm', { p: 1 }, {});
    const t2 = d.submit('llm', { p: 2 }, {});
    d.accepted(t1.id, t1.instance!);
    d.complete(t1.id, {});
    void clock.advance(60_000);
    const t3 = d.submit('llm', { p: 3 }, {});
    db.close();

    db = sql.open(where);
    store = new DispatchStore(db);
    const loaded = store.load(T0 - 1);
    expect(loaded.instances.map((i) => i.id)).toEqual([x.id, y.id]);
    expect(loaded.instances.some((i) => i.id === gone.id)).toBe(false);
    expect(loaded.tasks.map((t) => [t.id, t.status])).toEqual([[t1.id, 'completed'], [t2.id, 'queued'], [t3.id, 'queued']]);
    expect(store.task(t1.id)).toMatchObject({ id: t1.id, status: 'completed', instance: t1.instance });
    // ended before T0 + 1 s: pruned, and not loaded any more; unfinished ones stay
    expect(store.prune(T0 + 1_000_000)).toBe(1);
    expect(store.task(t1.id)).toBeUndefined();
    expect(store.load(0).tasks.map((t) => t.id)).toEqual([t2.id, t3.id]);
  });

  it('WorkflowStore: users (a taken name refused), workflows and every job’s state across a reopen', () => {
    const job = (name: string, parents: number[], extra: Partial<JobInput> = {}): JobInput =>
      JobInputSchema.parse({ name, job_type: 't', branch_id: name, parent_indices: parents, run: { cmd: `echo ${name}` }, ...extra });
    const ID = '00000000-0000-4000-8000-000000000001';
    const where = sql.fresh();
    let db = sql.open(where);
    let store = new WorkflowStore(db);
    expect(store.addUser({ id: 'u1', username: 'ana', created_at: new Date(T0).toISOString() })).toBe(true);
    expect(store.addUser({ id: 'u2', username: 'ana', created_at: new Date(T0).toISOString() })).toBe(false);
    // a taken name inside a transaction leaves the transaction usable (no exception to abort it)
    db.transaction(() => {
      expect(store.addUser({ id: 'u3', username: 'ana', created_at: new Date(T0).toISOString() })).toBe(false);
      expect(store.addUser({ id: 'u4', username: 'bob', created_at: new Date(T0).toISOString() })).toBe(true);
    })();
    const b = new WorkflowBook(new ManualClock(T0));
    b.onChange((c) => db.transaction(() => store.apply(c, (id) => b.record(id)))());
    b.create({ id: ID, user_id: 'u1', username: 'ana', name: 'w', jobs: [job('a', []), job('b', [0], { retries: 2, timeoutMs: 500 })], depth: [0, 1] });
    b.launching(ID, 0, 'w-0');
    b.running(ID, 0, { request_id: 'r1', allocation_id: 'a1', why: null });
    b.succeeded(ID, 0, { exit_code: 0, log_tail: ['done'] });
    b.running(ID, 1, { request_id: 'r2', allocation_id: 'a2', why: null });
    const before = b.view(ID);
    db.close();

    db = sql.open(where);
    store = new WorkflowStore(db);
    expect(store.users().map((u) => u.username)).toEqual(['ana', 'bob']);
    const again = new WorkflowBook(new ManualClock(T0 + 10_000));
    again.restore(store.load());
    expect(again.view(ID)).toEqual(before);
    expect(db.prepare('SELECT parent_ids_json, status FROM workflow_jobs ORDER BY idx').all()).toEqual([{ parent_ids_json: '[]', status: 'SUCCEEDED' }, { parent_ids_json: '[0]', status: 'RUNNING' }]);
    // and it goes on from there
    again.succeeded(ID, 1, { exit_code: 0, log_tail: [] });
    expect(again.status(ID)).toBe('SUCCEEDED');
  });
});
