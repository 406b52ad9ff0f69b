/**
 * WorkersStore: asks GET /api/workers only while watched and once the push is live; pushed worker changes update it
 * (also those that arrive during the read; an ended worker does not come back); groups split into live and ended;
 * why a queued replica waits comes from the list and is read again after worker and conflict events (at most once
 * per interval, one read at a time), never replaced by the push's placeholder; delete goes through the API with its
 * progress and error; a replay gap reads everything again, and a failed read is retried on the injected clock.
 */
import { describe, expect, it } from 'vitest';
import type { WorkerGroupResponse, WorkersResponse } from '../../shared/workers.ts';
import { ApiError } from '../../web/src/lib/api.ts';
import { WorkersStore } from '../../web/src/workers/store.ts';
import { FakeClock, StaticSource } from './fakes.ts';
import { T0, conflict, liveSnapshot } from './scheduler-fakes.ts';
import { FakeWorkersApi, conflictEnv, queuedWorker, worker, workerEnv } from './workers-fakes.ts';

const flush = () => new Promise((r) => setTimeout(r, 0));
const BEHIND = 'queued behind exp (request req-a-0, priority 0, GPU 0): gpu: needs 1, 0 free';

function setup(api: FakeWorkersApi, state = liveSnapshot()) {
  const source = new StaticSource(state);
  const clock = new FakeClock();
  clock.now = T0;
  const store = new WorkersStore(source, { api, now: () => clock.now, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout }, { whyMinIntervalMs: 1000 });
  store.start();
  return { source, clock, store };
}

/** group a: two running replicas; group b: one queued behind a */
function twoGroups(api: FakeWorkersApi) {
  api.workers = [worker('a', 0), worker('a', 1, { engine: 'echo.mjs#Echo' }), queuedWorker('b', 0, BEHIND, { owner: 'ana' })];
}

const group = (store: WorkersStore, name: string) => [...store.getSnapshot().live, ...store.getSnapshot().ended].find((g) => g.name === name);
const w = (store: WorkersStore, id: string) => store.getSnapshot().workers.get(id);

describe('WorkersStore', () => {
  it('asks nothing until watched and live, then lists every worker once, by group', async () => {
    const api = new FakeWorkersApi();
    twoGroups(api);
    api.workers.push(worker('z-old', 0, { state: 'failed', exit_code: 1, why: 'exited with code 1' }));
    const { source, store } = setup(api, liveSnapshot({ state: { kind: 'connecting', transport: 'websocket' } }));
    await flush();
    expect(api.calls).toEqual([]);
    const release = store.watch();
    await flush();
    expect(api.calls).toEqual([]); // not live yet
    source.set(liveSnapshot());
    await flush();
    expect(api.calls).toEqual(['list']);
    const snap = store.getSnapshot();
    expect(snap.ready).toBe(true);
    expect(snap.live.map((g) => g.name)).toEqual(['a', 'b']);
    expect(snap.ended.map((g) => g.name)).toEqual(['z-old']);
    expect(group(store, 'a')).toMatchObject({ owner: 'exp', backend: 'local', live: true, ended: 0, counts: [{ state: 'running', n: 2 }] });
    expect(group(store, 'a')!.workers.map((x) => x.replica)).toEqual([0, 1]);
    expect(group(store, 'b')).toMatchObject({ owner: 'ana', counts: [{ state: 'queued', n: 1 }] });
    expect(w(store, 'b-0')!.why).toBe(BEHIND);
    release();
    source.set(liveSnapshot());
    await flush();
    expect(api.calls).toEqual(['list']);
  });

  it('follows pushed changes, also those that arrive while the list is on its way; an ended worker does not come back', async () => {
    const api = new FakeWorkersApi();
    twoGroups(api);
    let answer: () => void = () => undefined;
    const plain = api.list.bind(api);
    api.list = (name) => new Promise<WorkersResponse>((ok) => (answer = () => void plain(name).then(ok)));
    const { source, store } = setup(api);
    store.watch();
    await flush();
    // while the list is on its way: a-1 fails, group c is created
    source.emit('worker_update', [
      workerEnv('worker_state', worker('a', 1, { state: 'failed', exit_code: 137, why: 'killed by SIGKILL' }), T0 + 10, 'running'),
      workerEnv('worker_created', queuedWorker('c', 0, 'waiting for its grant', { request_id: null }), T0 + 11),
    ]);
    answer();
    await flush();
    expect(w(store, 'a-1')).toMatchObject({ state: 'failed', exit_code: 137 });
    expect(group(store, 'a')!.counts).toEqual([{ state: 'running', n: 1 }, { state: 'failed', n: 1 }]);
    expect(store.getSnapshot().live.map((g) => g.name)).toEqual(['a', 'b', 'c']);

    // an older record of the failed worker does not bring it back
    source.emit('worker_update', [workerEnv('worker_state', worker('a', 1), T0 + 5, 'starting')]);
    expect(w(store, 'a-1')!.state).toBe('failed');

    // b is granted, starts, runs; an engine is created in it
    source.emit('worker_update', [workerEnv('worker_state', worker('b', 0, { state: 'starting', port: null, started_at: null, why: 'starting', owner: 'ana' }), T0 + 20, 'queued')]);
    expect(w(store, 'b-0')).toMatchObject({ state: 'starting', why: 'starting', gpus: [0] });
    source.emit('worker_update', [
      workerEnv('worker_state', worker('b', 0, { state: 'running', owner: 'ana' }), T0 + 21, 'starting'),
      workerEnv('worker_engine', worker('b', 0, { state: 'running', owner: 'ana', engine: 'm.mjs#E' }), T0 + 22),
    ]);
    expect(w(store, 'b-0')).toMatchObject({ state: 'running', why: null, engine: 'm.mjs#E' });

    // a ends: its group moves to the ended ones; created again under the same name, the old replicas are removed first
    source.emit('worker_update', [workerEnv('worker_state', worker('a', 0, { state: 'stopped', why: 'deleted' }), T0 + 30, 'running')]);
    expect(store.getSnapshot().ended.map((g) => g.name)).toEqual(['a']);
    expect(group(store, 'a')).toMatchObject({ live: false, ended: 2 });
    source.emit('worker_update', [
      workerEnv('worker_removed', worker('a', 0, { state: 'stopped' }), T0 + 40),
      workerEnv('worker_removed', worker('a', 1, { state: 'failed' }), T0 + 40),
      workerEnv('worker_created', queuedWorker('a', 0, 'waiting for its grant', { request_id: null }), T0 + 40),
    ]);
    expect(group(store, 'a')).toMatchObject({ live: true, counts: [{ state: 'queued', n: 1 }] });
    expect(w(store, 'a-1')).toBeUndefined();
  });

  it('keeps the reason a queued replica waits, and reads it again after conflict and worker events, at most once per interval', async () => {
    const api = new FakeWorkersApi();
    twoGroups(api);
    const { source, clock, store } = setup(api);
    store.watch();
    await flush();
    expect(api.count('list')).toBe(1);

    // the push carries the book's placeholder: the reason read stands
    source.emit('worker_update', [workerEnv('worker_state', queuedWorker('b', 0, 'waiting for its grant', { owner: 'ana' }), T0 + 5, 'queued')]);
    expect(w(store, 'b-0')!.why).toBe(BEHIND);
    // the event asked for the reason again: within the interval since the list, so once it has passed
    await flush();
    expect(api.count('list')).toBe(1);
    const moved = 'queued behind exp (request req-a-0, priority 0, GPU 0): gpu: needs 1, 0 free (2 waiting)';
    api.workers = api.workers.map((x) => (x.id === 'b-0' ? { ...x, why: moved } : x));
    clock.advance(1000);
    await flush();
    expect(api.count('list')).toBe(2);
    expect(w(store, 'b-0')!.why).toBe(moved);

    // a conflict event: read at once (the interval has passed); more while it is out make one more read after it
    clock.advance(5000);
    let answer: () => void = () => undefined;
    let asked = 0;
    const plain = api.list.bind(api);
    api.list = (name) => {
      asked++;
      return new Promise<WorkersResponse>((ok) => (answer = () => void plain(name).then(ok)));
    };
    source.emit('conflict', [conflictEnv('conflict_updated', conflict('k1', 'req-b-0'), T0 + 6000)]);
    await flush();
    expect(asked).toBe(1);
    source.emit('conflict', [conflictEnv('conflict_updated', conflict('k1', 'req-b-0'), T0 + 6001)]);
    source.emit('conflict', [conflictEnv('conflict_updated', conflict('k1', 'req-b-0'), T0 + 6002)]);
    await flush();
    expect(asked).toBe(1);
    clock.advance(1000);
    answer();
    await flush();
    expect(asked).toBe(2);
    answer();
    await flush();
    expect(api.count('list')).toBe(4);

    // nothing queued: conflicts ask nothing
    source.emit('worker_update', [workerEnv('worker_state', worker('b', 0, { owner: 'ana' }), T0 + 9000, 'queued')]);
    clock.advance(5000);
    source.emit('conflict', [conflictEnv('conflict_resolved', conflict('k1', 'req-b-0', { status: 'resolved' }), T0 + 9001)]);
    await flush();
    expect(api.count('list')).toBe(4);
    expect(w(store, 'b-0')!.why).toBeNull();
  });

  it('a replica created by a push gets the server’s reason once its conflict is pushed', async () => {
    const api = new FakeWorkersApi();
    api.workers = [worker('a', 0)];
    const { source, clock, store } = setup(api);
    store.watch();
    await flush();
    clock.advance(2000);
    const pushed = queuedWorker('b', 0, 'waiting for its grant');
    api.workers.push(queuedWorker('b', 0, BEHIND));
    source.emit('worker_update', [workerEnv('worker_created', { ...pushed, request_id: null }, T0 + 2000)]);
    await flush();
    // read at once: the server names whom it waits behind
    expect(api.count('list')).toBe(2);
    expect(w(store, 'b-0')!.why).toBe(BEHIND);
  });

  it('deletes a group through the API: in progress until it answers, its replicas ended from the answer', async () => {
    const api = new FakeWorkersApi();
    twoGroups(api);
    const { store } = setup(api);
    store.watch();
    await flush();
    let answer: () => void = () => undefined;
    const plain = api.onRemove;
    api.onRemove = (name) => new Promise<WorkerGroupResponse>((ok) => (answer = () => void plain(name).then(ok)));
    const done = store.deleteGroup('a');
    await flush();
    expect(api.calls).toContain('remove:a');
    expect(group(store, 'a')).toMatchObject({ deleting: true, deleteError: null });
    // a second click does not ask again
    expect(await store.deleteGroup('a')).toBe(false);
    expect(api.count('remove:a')).toBe(1);
    answer();
    expect(await done).toBe(true);
    expect(group(store, 'a')).toMatchObject({ deleting: false, live: false, ended: 2 });
    expect(w(store, 'a-0')).toMatchObject({ state: 'stopped', why: 'deleted' });
    expect(store.getSnapshot().ended.map((g) => g.name)).toEqual(['a']);
  });

  it('keeps the server’s error of a delete with the group; a 404 reads the list again', async () => {
    const api = new FakeWorkersApi();
    twoGroups(api);
    const { store } = setup(api);
    store.watch();
    await flush();
    api.onRemove = () => Promise.reject(new ApiError(409, 'invalid_state', 'worker a-0 is starting; try again'));
    expect(await store.deleteGroup('a')).toBe(false);
    expect(group(store, 'a')).toMatchObject({ deleting: false, deleteError: 'worker a-0 is starting; try again' });
    expect(api.count('list')).toBe(1);
    api.onRemove = () => Promise.reject(new ApiError(404, 'not_found', 'no worker group "a"'));
    await store.deleteGroup('a');
    await flush();
    expect(group(store, 'a')!.deleteError).toBe('no worker group "a"');
    expect(api.count('list')).toBe(2);
    // a later delete that works clears the error
    api.onRemove = (name) => Promise.resolve({ name, workers: api.workers.filter((x) => x.name === name).map((x) => ({ ...x, state: 'stopped' as const })) });
    await store.deleteGroup('a');
    expect(group(store, 'a')).toMatchObject({ deleteError: null, live: false });
  });

  it('reads everything again after a replay gap, and retries a failed read on the injected clock', async () => {
    const api = new FakeWorkersApi();
    twoGroups(api);
    const { source, clock, store } = setup(api);
    const plain = api.list.bind(api);
    let failing = true;
    api.list = (name) => (failing ? Promise.reject(new Error('boom')) : plain(name));
    store.watch();
    await flush();
    expect(store.getSnapshot()).toMatchObject({ ready: false, error: 'boom' });
    failing = false;
    clock.advance(1999);
    await flush();
    expect(store.getSnapshot().ready).toBe(false);
    clock.advance(1);
    await flush();
    expect(store.getSnapshot()).toMatchObject({ ready: true, error: null });
    expect(store.getSnapshot().live.map((g) => g.name)).toEqual(['a', 'b']);

    // events were lost: b started and a was deleted meanwhile; only the list says so
    api.workers = [worker('a', 0, { state: 'stopped' }), worker('a', 1, { state: 'stopped' }), worker('b', 0, { owner: 'ana' })];
    source.gap({ lastEventId: 3, oldestId: 50, reason: 'out_of_window' });
    await flush();
    expect(store.getSnapshot().live.map((g) => g.name)).toEqual(['b']);
    expect(store.getSnapshot().ended.map((g) => g.name)).toEqual(['a']);
    expect(w(store, 'b-0')).toMatchObject({ state: 'running', why: null });
  });

  it('a gap while nobody watches: read again when watched', async () => {
    const api = new FakeWorkersApi();
    twoGroups(api);
    const { source, store } = setup(api);
    const release = store.watch();
    await flush();
    release();
    source.gap({ lastEventId: 3, oldestId: 50, reason: 'out_of_window' });
    await flush();
    expect(store.getSnapshot().ready).toBe(false);
    expect(api.count('list')).toBe(1);
    store.watch();
    await flush();
    expect(api.count('list')).toBe(2);
    expect(store.getSnapshot().ready).toBe(true);
  });
});
