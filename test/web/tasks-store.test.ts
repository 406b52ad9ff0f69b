/**
 * TasksStore: asks the dispatch routes only while watched and once the push is live; pushed task and instance
 * changes update it (also those that arrive during the backfill); the expected waits are read again after events,
 * at most once per interval and one read at a time; tasks per second per model over a sliding window on an injected
 * clock (a replayed old completion does not count); the policy follows pushes and PUT answers; a replay gap reads
 * everything again.
 */
import { describe, expect, it } from 'vitest';
import type { QueueInfoResponse } from '../../shared/dispatch.ts';
import { TasksStore } from '../../web/src/tasks/store.ts';
import { FakeClock, StaticSource } from './fakes.ts';
import { T0, liveSnapshot } from './scheduler-fakes.ts';
import { FakeDispatchApi, dispatchTask, instanceEnv, taskEnv, taskInstance } from './tasks-fakes.ts';

const flush = () => new Promise((r) => setTimeout(r, 0));
const WINDOW = 10_000;

function setup(api: FakeDispatchApi, state = liveSnapshot()) {
  const source = new StaticSource(state);
  const clock = new FakeClock();
  clock.now = T0;
  const store = new TasksStore(source, { api, now: () => clock.now, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout }, { windowMs: WINDOW, waitsMinIntervalMs: 500, maxTasks: 50 });
  store.start();
  return { source, clock, store };
}

function twoInstances(api: FakeDispatchApi) {
  api.instanceList = [taskInstance('fast', { port: 9001 }), taskInstance('slow', { port: 9002 }), taskInstance('emb', { port: 9003, model: 'embed' })];
  api.wait('llm', 'fast', 0.2, 0.05);
  api.wait('llm', 'slow', 1.5, 0.5);
  api.wait('embed', 'emb', 0, 0);
}

const model = (store: TasksStore, name: string) => store.getSnapshot().models.find((m) => m.model === name)!;

describe('TasksStore', () => {
  it('asks nothing until watched and live, then reads instances, tasks, policy and waits once', async () => {
    const api = new FakeDispatchApi();
    twoInstances(api);
    api.taskList = [dispatchTask('t1', { status: 'completed', instance: 'fast', scheduledAt: T0 - 900, endedAt: T0 - 500, submittedAt: T0 - 1000 })];
    const { source, store } = setup(api, liveSnapshot({ state: { kind: 'connecting', transport: 'websocket' } }));
    await flush();
    expect(api.calls).toEqual([]);
    const release = store.watch();
    await flush();
    expect(api.calls).toEqual([]); // not live yet
    source.set(liveSnapshot());
    await flush();
    expect(api.calls.sort()).toEqual(['instances', 'policy', 'queueInfo', 'tasks:50']);
    const snap = store.getSnapshot();
    expect(snap.ready).toBe(true);
    expect(snap.policy).toBe('shortest_queue');
    expect(snap.models.map((m) => m.model)).toEqual(['embed', 'llm']);
    const llm = model(store, 'llm');
    expect(llm.instances.map((i) => [i.instance.port, i.wait])).toEqual([[9001, { expectSec: 0.2, errorSec: 0.05 }], [9002, { expectSec: 1.5, errorSec: 0.5 }]]);
    expect(llm.waitScaleSec).toBe(2);
    expect(llm.tasks.map((t) => t.id)).toEqual(['t1']);
    // a task completed before the page listened is not a completion of the window
    expect(llm.completed).toBe(0);
    release();
    source.set(liveSnapshot());
    await flush();
    expect(api.calls).toHaveLength(4);
  });

  it('keeps tasks and instances current from pushed changes, also those that arrive during the backfill', async () => {
    const api = new FakeDispatchApi();
    twoInstances(api);
    let answerTasks: () => void = () => undefined;
    const plain = api.tasks.bind(api);
    api.tasks = (limit) => new Promise((ok) => (answerTasks = () => void plain(limit).then(ok)));
    api.taskList = [dispatchTask('a', { status: 'scheduled', instance: 'fast', submittedAt: T0 - 100, scheduledAt: T0 - 50 })];
    const { source, store } = setup(api);
    store.watch();
    await flush();
    // while the tasks answer is on its way: a completes, b is queued
    const aDone = dispatchTask('a', { status: 'completed', instance: 'fast', submittedAt: T0 - 100, scheduledAt: T0 - 50, endedAt: T0 + 10, executionMs: 60 });
    source.emit('task_update', [taskEnv('task_completed', aDone, T0 + 10), taskEnv('task_queued', dispatchTask('b', { instance: 'slow', submittedAt: T0 + 20 }), T0 + 20)]);
    answerTasks();
    await flush();
    let llm = model(store, 'llm');
    expect(llm.tasks.map((t) => [t.id, t.status])).toEqual([['b', 'queued'], ['a', 'completed']]);
    expect(llm.completed).toBe(1);

    // an older record of an ended task does not bring it back
    source.emit('task_update', [taskEnv('task_scheduled', dispatchTask('a', { status: 'scheduled', instance: 'fast' }), T0 + 5)]);
    expect(model(store, 'llm').tasks.find((t) => t.id === 'a')!.status).toBe('completed');

    // instances: one goes down, one is removed, one registers for a new model
    source.emit('instance_update', [
      instanceEnv({ kind: 'instance_down', at: T0 + 30, instance: taskInstance('slow', { port: 9002, state: 'down', failures: 3 }) }),
      instanceEnv({ kind: 'instance_removed', at: T0 + 31, instance: taskInstance('emb', { port: 9003, model: 'embed' }) }),
      instanceEnv({ kind: 'instance_registered', at: T0 + 32, instance: taskInstance('asr1', { port: 9004, model: 'asr', health: { status: 'ok', replicas_running: 2, queue_size: 0 } }) }),
    ]);
    const snap = store.getSnapshot();
    expect(snap.models.map((m) => m.model)).toEqual(['asr', 'llm']);
    llm = model(store, 'llm');
    expect(llm.instances.find((i) => i.instance.id === 'slow')!.instance.state).toBe('down');
    expect(model(store, 'asr').instances[0]!.instance.health).toEqual({ status: 'ok', replicas_running: 2, queue_size: 0 });
    // not read yet for the new one
    expect(model(store, 'asr').instances[0]!.wait).toBeNull();
  });

  it('reads the expected waits again after events: at once, then at most once per interval, one read at a time', async () => {
    const api = new FakeDispatchApi();
    twoInstances(api);
    const { source, clock, store } = setup(api);
    store.watch();
    await flush();
    expect(api.count('queueInfo')).toBe(1);

    // a burst of events within the interval since the backfill's read: one read when the interval has passed
    clock.advance(100);
    api.wait('llm', 'slow', 1.7, 0.52);
    for (let k = 0; k < 5; k++) source.emit('task_update', [taskEnv('task_queued', dispatchTask(`q${k}`, { instance: 'slow', submittedAt: T0 + 100 + k }), T0 + 100)]);
    await flush();
    expect(api.count('queueInfo')).toBe(1);
    clock.advance(399);
    await flush();
    expect(api.count('queueInfo')).toBe(1);
    clock.advance(1);
    await flush();
    expect(api.count('queueInfo')).toBe(2);
    expect(model(store, 'llm').instances.find((i) => i.instance.id === 'slow')!.wait).toEqual({ expectSec: 1.7, errorSec: 0.52 });
    // with the instances, whose health is not pushed
    expect(api.count('instances')).toBe(2);

    // what an instance's health probe said shows with the next read
    api.instanceList = api.instanceList.map((i) => (i.id === 'slow' ? { ...i, health: { status: 'busy', replicas_running: 1, queue_size: 0 } } : i));
    clock.advance(1000);
    source.emit('task_update', [taskEnv('task_queued', dispatchTask('q5', { instance: 'slow', submittedAt: T0 + 1600 }), T0 + 1600)]);
    await flush();
    expect(model(store, 'llm').instances.find((i) => i.instance.id === 'slow')!.instance.health).toEqual({ status: 'busy', replicas_running: 1, queue_size: 0 });
    expect(api.count('queueInfo')).toBe(3);

    // long after: the next event reads at once; events while that read is out make one more read after it
    clock.advance(5000);
    let answer: () => void = () => undefined;
    api.onQueueInfo = () => new Promise<QueueInfoResponse>((ok) => (answer = () => ok({ status: 'success', queues: api.queues.map((q) => ({ ...q })) })));
    source.emit('task_update', [taskEnv('task_scheduled', dispatchTask('q0', { status: 'scheduled', instance: 'slow' }), T0 + 5500)]);
    await flush();
    expect(api.count('queueInfo')).toBe(4);
    source.emit('task_update', [taskEnv('task_scheduled', dispatchTask('q1', { status: 'scheduled', instance: 'slow' }), T0 + 5501)]);
    source.emit('task_update', [taskEnv('task_scheduled', dispatchTask('q2', { status: 'scheduled', instance: 'slow' }), T0 + 5502)]);
    await flush();
    expect(api.count('queueInfo')).toBe(4);
    clock.advance(600);
    answer();
    await flush();
    expect(api.count('queueInfo')).toBe(5);
    answer();
    await flush();

    // a policy switch moves no wait
    api.onQueueInfo = () => Promise.resolve({ status: 'success', queues: [] });
    clock.advance(5000);
    source.emit('instance_update', [instanceEnv({ kind: 'policy_changed', at: T0 + 20_000, policy: 'round_robin', previous: 'shortest_queue' })]);
    await flush();
    expect(api.count('queueInfo')).toBe(5);
    expect(store.getSnapshot().policy).toBe('round_robin');
    expect(store.getSnapshot().policySince).toBe(T0 + 20_000);
  });

  it('reads nothing while unwatched, and the waits at once when watched again', async () => {
    const api = new FakeDispatchApi();
    twoInstances(api);
    const { source, clock, store } = setup(api);
    const release = store.watch();
    await flush();
    release();
    clock.advance(5000);
    source.emit('task_update', [taskEnv('task_queued', dispatchTask('x', { instance: 'fast', submittedAt: T0 + 5000 }), T0 + 5000)]);
    await flush();
    expect(api.count('queueInfo')).toBe(1);
    // the event was kept all the same
    expect(model(store, 'llm').tasks.map((t) => t.id)).toEqual(['x']);
    store.watch();
    await flush();
    expect(api.count('queueInfo')).toBe(2);
    // one backfill only; the instances again with the waits
    expect(api.count('tasks:50')).toBe(1);
  });

  it('reads the instances again while one last said tasks were queued there, until every queue said empty', async () => {
    const api = new FakeDispatchApi();
    twoInstances(api);
    api.instanceList = api.instanceList.map((i) => (i.id === 'slow' ? { ...i, health: { status: 'ok', queue_size: 2 } } : i));
    const { clock, store } = setup(api);
    const release = store.watch();
    await flush();
    expect(api.count('instances')).toBe(1);
    clock.advance(4999);
    await flush();
    expect(api.count('instances')).toBe(1);
    api.instanceList = api.instanceList.map((i) => (i.id === 'slow' ? { ...i, health: { status: 'ok', queue_size: 0 } } : i));
    clock.advance(1);
    await flush();
    expect(api.count('instances')).toBe(2);
    expect(model(store, 'llm').instances.find((i) => i.instance.id === 'slow')!.instance.health).toEqual({ status: 'ok', queue_size: 0 });
    // every queue empty: no more reads
    clock.advance(60_000);
    await flush();
    expect(api.count('instances')).toBe(2);
    // nor while nobody watches
    api.instanceList = api.instanceList.map((i) => (i.id === 'slow' ? { ...i, health: { status: 'ok', queue_size: 3 } } : i));
    store.refresh();
    await flush();
    release();
    clock.advance(60_000);
    await flush();
    expect(api.count('instances')).toBe(3);
  });

  it('counts completions per model over the sliding window, whether watched or not', async () => {
    const api = new FakeDispatchApi();
    twoInstances(api);
    const { source, clock, store } = setup(api);
    const done = (id: string, m: string, at: number) => taskEnv('task_completed', dispatchTask(id, { model: m, status: 'completed', endedAt: at }), at);
    // 3 llm completions at t=0, 2 more and one embed at t=4 s
    source.emit('task_update', [done('a', 'llm', T0), done('b', 'llm', T0), done('c', 'llm', T0)]);
    clock.advance(4000);
    source.emit('task_update', [done('d', 'llm', T0 + 4000), done('e', 'llm', T0 + 4000), done('f', 'embed', T0 + 4000)]);
    // the same completion again (a resumed stream) counts once
    source.emit('task_update', [done('e', 'llm', T0 + 4000)]);
    expect(model(store, 'llm').completed).toBe(5);
    expect(model(store, 'llm').tasksPerSec).toBeCloseTo(0.5);
    expect(model(store, 'embed').tasksPerSec).toBeCloseTo(0.1);
    expect(store.getSnapshot().countingSince).toBe(T0);

    // the view watches: the snapshot is rebuilt by itself when completions leave the window
    store.watch();
    await flush();
    clock.advance(6000); // t = 10 s: the first three have left
    expect(model(store, 'llm').completed).toBe(2);
    expect(model(store, 'llm').tasksPerSec).toBeCloseTo(0.2);
    expect(store.getSnapshot().countingSince).toBeNull();
    clock.advance(4000); // t = 14 s: all gone
    expect(model(store, 'llm').tasksPerSec).toBe(0);
    expect(model(store, 'embed').tasksPerSec).toBe(0);

    // a replayed backlog: one completion 12 s older than the newest change is outside the window, one 3 s older inside
    source.emit('task_update', [done('old', 'llm', T0 + 2000), done('recent', 'llm', T0 + 11_000), taskEnv('task_queued', dispatchTask('n', { submittedAt: T0 + 14_000 }), T0 + 14_000)]);
    expect(model(store, 'llm').completed).toBe(1);
    clock.advance(7000); // the recent one was stamped 3 s ago: gone after 7 s more
    expect(model(store, 'llm').completed).toBe(0);
  });

  it('follows the policy: pushes, PUT answers, and whether the server has a custom one', async () => {
    const api = new FakeDispatchApi();
    const { source, store } = setup(api);
    store.watch();
    await flush();
    // the server said what it can switch to: no custom policy
    expect(store.getSnapshot()).toMatchObject({ policy: 'shortest_queue', customPolicy: false });
    store.notePolicy({ policy: 'weighted', available: ['shortest_queue', 'round_robin', 'weighted', 'probabilistic', 'custom'] });
    expect(store.getSnapshot()).toMatchObject({ policy: 'weighted', customPolicy: true });
    store.noteNoCustomPolicy(); // a switch to it was refused
    expect(store.getSnapshot().customPolicy).toBe(false);
    source.emit('instance_update', [instanceEnv({ kind: 'policy_changed', at: T0 + 1, policy: 'custom', previous: 'weighted' })]);
    expect(store.getSnapshot()).toMatchObject({ policy: 'custom', customPolicy: true });
    // a server that lists what it can switch to, without custom
    store.notePolicy({ policy: 'round_robin', available: ['shortest_queue', 'round_robin', 'weighted', 'probabilistic'] });
    expect(store.getSnapshot().customPolicy).toBe(false);
  });

  it('reads everything again after a replay gap, and retries a failed read on the injected clock', async () => {
    const api = new FakeDispatchApi();
    twoInstances(api);
    const { source, clock, store } = setup(api);
    const plain = api.instances.bind(api);
    let failing = true;
    api.instances = () => (failing ? Promise.reject(new Error('boom')) : plain());
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
    const asked = api.count('queueInfo');
    api.instanceList = [taskInstance('fast', { port: 9001 })];
    source.gap({ lastEventId: 3, oldestId: 50, reason: 'out_of_window' });
    await flush();
    expect(api.count('queueInfo')).toBe(asked + 1);
    expect(model(store, 'llm').instances.map((i) => i.instance.id)).toEqual(['fast']);
    expect(store.getSnapshot().models.map((m) => m.model)).toEqual(['llm']);
  });
});
