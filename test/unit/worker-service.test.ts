/**
 * WorkerService on the real scheduler engine (priority_based, preemption grace 30 s) and a ManualClock, with a
 * scripted backend and worker answers (the real processes and containers are in test/integration/workers*.test.ts):
 * replicas as requests (GPUs granted → CUDA_VISIBLE_DEVICES), starting → running once /health answers, a replica
 * that does not fit waits and says behind whom, an exit releases the allocation and the next replica starts,
 * delete stops live ones and withdraws queued ones, a preemption notice stops gracefully (preempted), leases are
 * renewed, engine errors come back with their remote type, a restart adopts instead of starting again, and the
 * requests are pinned to the server's own node (another node with room is not used).
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { createLogger } from '../../server/log.ts';
import { EventHub } from '../../server/push/hub.ts';
import type { Backend, Exit, ExitListener, Launch, Running } from '../../server/runtime/workers/backend.ts';
import { EngineCallError } from '../../server/runtime/workers/engine-calls.ts';
import { NotReadyError, WorkerService } from '../../server/runtime/workers/service.ts';
import type { JsonAnswer } from '../../server/runtime/json-http.ts';
import { SchedulerEngine } from '../../server/scheduler/engine.ts';
import { declaredInventory } from '../../server/scheduler/inventory.ts';
import { createStrategy } from '../../server/scheduler/strategies/index.ts';
import { MemoryIdStore } from '../../server/store/event-ids.ts';
import { WorkerBook } from '../../server/workloads/workers/book.ts';
import type { WorkerChange, WorkerRecord, WorkersCreateBody } from '../../shared/workers.ts';

class FakeBackend implements Backend {
  readonly kind = 'local' as const;
  launches: Launch[] = [];
  stops: { id: string; graceMs: number }[] = [];
  paused = new Set<string>();
  alive = new Set<string>();
  private listeners = new Set<ExitListener>();
  private pid = 1000;

  async start(l: Launch): Promise<Running> {
    this.launches.push(l);
    this.alive.add(l.id);
    return { id: l.id, host: '127.0.0.1', port: l.port, startedAt: 5, ref: { kind: 'local', pid: ++this.pid, startTime: 7, logFile: `/logs/${l.id}.log` } };
  }
  async stop(id: string, graceMs: number): Promise<void> {
    this.stops.push({ id, graceMs });
    if (this.alive.has(id)) this.exit(id, { code: null, signal: 'SIGTERM' });
  }
  async pause(id: string): Promise<void> {
    this.paused.add(id);
  }
  async resume(id: string): Promise<void> {
    this.paused.delete(id);
  }
  async adopt(known: readonly Running[]): Promise<{ alive: Running[]; strangers: Running[] }> {
    const alive = known.filter((k) => this.alive.has(k.id));
    for (const k of known) if (!this.alive.has(k.id)) queueMicrotask(() => this.emit(k.id, { code: 4, signal: null }));
    return { alive, strangers: [] };
  }
  onExit(l: ExitListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  async logs(id: string, tail: number): Promise<string[]> {
    return [`${id} line 1`, `${id} line 2`].slice(-tail);
  }
  async close(): Promise<void> {
    this.listeners.clear();
  }
  /** the worker process ends */
  exit(id: string, exit: Exit): void {
    this.alive.delete(id);
    this.emit(id, exit);
  }
  private emit(id: string, exit: Exit): void {
    for (const l of this.listeners) l(id, exit);
  }
}

const flush = () => new Promise<void>((r) => setImmediate(r));

function setup(opts: { gpus?: number; backend?: FakeBackend; book?: WorkerBook; records?: WorkerRecord[]; clock?: ManualClock; engine?: SchedulerEngine } = {}) {
  const clock = opts.clock ?? new ManualClock(1_000_000);
  let n = 0;
  const engine = opts.engine ?? new SchedulerEngine({ clock, newId: () => `id${++n}`, strategy: createStrategy('priority_based') });
  if (!opts.engine) engine.onSnapshot(declaredInventory('n1', { resources: { cpu: 16_000, memoryMiB: 65_536, gpus: Array.from({ length: opts.gpus ?? 2 }, (_, index) => ({ index, memoryMiB: 16_384 })) } }));
  const backend = opts.backend ?? new FakeBackend();
  const hub = new EventHub({ clock, replayCount: 1000, replayMaxAgeMs: 3_600_000, ids: new MemoryIdStore() });
  const pushed: WorkerChange[] = [];
  hub.subscribe((ev) => {
    if (ev.type === 'worker_update') pushed.push(ev.env.data as WorkerChange);
  });
  const healthy = new Set<number>();
  const posts: { url: string; body: unknown }[] = [];
  let answer: (url: string) => JsonAnswer = () => ({ status: 200, body: { result: 42 } });
  const stored = new Map<string, WorkerRecord>((opts.records ?? []).map((r) => [r.worker.id, r]));
  let port = 9000;
  const service = new WorkerService({
    engine, node: 'n1', book: opts.book ?? new WorkerBook(clock), backends: { local: backend }, defaultBackend: 'local', hub, clock, log: createLogger('silent'),
    freePort: async () => ++port, graceMs: 5000, checkMs: 100, renewMs: 60_000, processGroupOf: (pid) => (pid === 4242 ? 1002 : null),
    store: {
      apply: (changes, current) => {
        for (const c of changes) {
          const r = current(c.worker.id);
          if (r) stored.set(c.worker.id, structuredClone(r));
          else stored.delete(c.worker.id);
        }
      },
      load: () => [...stored.values()],
    },
    http: {
      get: async (url) => {
        if (healthy.has(Number(new URL(url).port))) return { status: 200, body: { status: 'ok' } };
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      },
      post: async (url, body) => {
        posts.push({ url, body });
        return answer(url);
      },
    },
  });
  return {
    clock, engine, backend, service, pushed, healthy, posts, stored,
    answer: (fn: (url: string) => JsonAnswer) => void (answer = fn),
    /** every started worker answers /health from now on, and a check round runs */
    up: async () => {
      for (const l of backend.launches) healthy.add(l.port);
      await clock.advance(100);
      await flush();
    },
  };
}

const body = (over: Partial<WorkersCreateBody> = {}): WorkersCreateBody => ({
  name: 'train', replicas: 3, specs: [{ cpu: 1000, gpu: 1, mem: 1024, cmd: 'python3 -m arbiter_worker', env_vars: { MODE: 'x' } }], ...over,
});

describe('WorkerService', () => {
  it('turns replicas into requests; granted ones start on exactly their GPUs, the third waits and says behind whom', async () => {
    const t = setup();
    await t.service.start();
    const made = await t.service.create(body(), 'ana');
    expect(made.map((w) => [w.id, w.state, w.gpus])).toEqual([['train-0', 'starting', [0]], ['train-1', 'starting', [1]], ['train-2', 'queued', []]]);
    expect(made[2]!.why).toMatch(/^queued behind ana \(request id\d+, priority 0, GPU [01]\): needs 1 whole GPU\(s\): 1 allocation\(s\) in the way/);
    await flush();
    expect(t.backend.launches.map((l) => [l.id, l.env.CUDA_VISIBLE_DEVICES, l.env.ARBITER_WORKER_ID, l.env.ARBITER_PORT, l.env.MODE])).toEqual([
      ['train-0', '0', 'train-0', '9001', 'x'], ['train-1', '1', 'train-1', '9002', 'x'],
    ]);
    expect(t.engine.listRequests().map((r) => [r.owner, r.resources.gpus, r.labels?.['arbiter.worker']])).toEqual([['ana', 1, 'train-0'], ['ana', 1, 'train-1'], ['ana', 1, 'train-2']]);
    // not running until the port answers
    expect(t.service.list('train').map((w) => w.state)).toEqual(['starting', 'starting', 'queued']);
    await t.up();
    expect(t.service.list('train').map((w) => w.state)).toEqual(['running', 'running', 'queued']);
    const err = await t.service.waitReady('train', 0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotReadyError);
    expect((err as NotReadyError).details).toEqual([{ id: 'train-2', state: 'queued', why: expect.stringMatching(/^queued behind ana/) }]);
    // why it waits is pushed as its conflict changes
    expect(t.pushed.filter((c) => c.worker.id === 'train-2').map((c) => c.worker.why)).toEqual(['waiting for its grant', 'waiting for its grant', made[2]!.why]);
    // the pushed records: created, then each state
    expect(t.pushed.filter((c) => c.worker.id === 'train-0').map((c) => `${c.kind}:${c.worker.state}`)).toEqual([
      'worker_created:queued', 'worker_state:queued', 'worker_state:starting', 'worker_state:starting', 'worker_state:running',
    ]);
  });

  it("pins every replica's request to the server's own node: an agent's node with room is not used", async () => {
    const t = setup();
    t.engine.onSnapshot(declaredInventory('agent-1', { resources: { cpu: 64_000, memoryMiB: 262_144, gpus: Array.from({ length: 8 }, (_, index) => ({ index, memoryMiB: 81_920 })) } }));
    await t.service.start();
    const made = await t.service.create(body(), 'ana');
    expect(made.map((w) => w.state)).toEqual(['starting', 'starting', 'queued']);
    expect(t.engine.listRequests().map((r) => r.node)).toEqual(['n1', 'n1', 'n1']);
    expect(made.slice(0, 2).map((w) => t.engine.allocation(w.allocation_id!)!.node)).toEqual(['n1', 'n1']);
    expect(made[2]!.why).toMatch(/^queued behind ana/);
    // more than the server's node has is refused, though the agent's node could hold it
    const err = await t.service.create(body({ name: 'big', replicas: 1, specs: [{ cpu: 32_000, gpu: 1, mem: 1024, cmd: 'x' }] }), 'ana').catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 422, code: 'never_fits', message: 'specs.0: on node n1: needs 32000 millicores of cpu; the node has 16000' });
  });

  it('a worker that exits fails with its code and last lines, its GPU goes to the waiting replica, which starts', async () => {
    const t = setup();
    await t.service.start();
    await t.service.create(body(), 'ana');
    await t.up();
    t.backend.exit('train-1', { code: 3, signal: null });
    await flush();
    await flush();
    const w1 = t.service.list('train')[1]!;
    expect(w1).toMatchObject({ state: 'failed', exit_code: 3, log_tail: ['train-1 line 1', 'train-1 line 2'] });
    expect(w1.why).toBe('exited with code 3; last lines: train-1 line 1 | train-1 line 2');
    expect(t.engine.allocation(w1.allocation_id!)!.state).toBe('released');
    expect(t.service.list('train')[2]).toMatchObject({ state: 'starting', gpus: [1] });
    expect(t.backend.launches.at(-1)!.env.CUDA_VISIBLE_DEVICES).toBe('1');
    // waiting for a group with a failed replica ends at once: it will never run
    await expect(t.service.waitReady('train', 60_000)).rejects.toThrow(/train-1 failed \(exited with code 3/);
  });

  it('waitReady answers as soon as the last replica runs', async () => {
    const t = setup({ gpus: 4 });
    await t.service.start();
    await t.service.create(body(), 'ana');
    const ready = t.service.waitReady('train', 10_000);
    await t.up();
    expect((await ready).map((w) => w.state)).toEqual(['running', 'running', 'running']);
  });

  it('delete stops the live replicas (grace), withdraws the queued one, releases everything', async () => {
    const t = setup();
    await t.service.start();
    await t.service.create(body(), 'ana');
    await t.up();
    const ended = await t.service.delete('train');
    expect(ended.map((w) => [w.state, w.why])).toEqual([['stopped', 'deleted'], ['stopped', 'deleted'], ['stopped', 'deleted']]);
    expect(t.backend.stops).toEqual([{ id: 'train-0', graceMs: 5000 }, { id: 'train-1', graceMs: 5000 }]);
    expect(t.engine.listAllocations('active')).toEqual([]);
    expect(t.engine.listRequests('queued')).toEqual([]);
    // the name is free again; the old records go
    const again = await t.service.create(body({ replicas: 1 }), 'bo');
    expect(again.map((w) => [w.id, w.owner, w.state])).toEqual([['train-0', 'bo', 'starting']]);
    expect(t.service.list('train')).toHaveLength(1);
    await expect(t.service.create(body({ replicas: 1 }), 'bo')).rejects.toMatchObject({ status: 409, code: 'name_taken' });
  });

  it('a preemption notice stops the worker within its grace: preempted, and the GPU goes to the higher priority', async () => {
    const t = setup({ gpus: 1 });
    await t.service.start();
    await t.service.create(body({ replicas: 1, preemptible: true }), 'ana');
    await t.up();
    const urgent = t.engine.submit({ owner: 'bo', priority: 5, resources: { gpus: 1 } });
    t.engine.tick(); // the notice: preemptAt = now + 30 s
    await flush();
    await flush();
    expect(t.backend.stops).toEqual([{ id: 'train-0', graceMs: 5000 }]);
    expect(t.service.list('train')[0]).toMatchObject({ state: 'preempted', why: expect.stringContaining(`preempted for request ${urgent.request.id}`) });
    // its allocation was released on exit: the urgent request need not wait for the grace to end
    t.engine.tick();
    expect(t.engine.request(urgent.request.id)!.status).toBe('granted');
  });

  it('renews the lease of every live worker, and answers engine errors with the remote type', async () => {
    const t = setup({ gpus: 1 });
    await t.service.start();
    const [w] = await t.service.create(body({ replicas: 1 }), 'ana');
    await t.up();
    const lease = () => t.engine.allocation(w!.allocation_id!)!.leaseExpiresAt;
    const before = lease();
    await t.clock.advance(60_000);
    expect(lease()).toBeGreaterThan(before + 59_000);

    expect(await t.service.createEngine('train-0', { engine: 'examples/workers/echo_engine.mjs#EchoEngine' })).toEqual({ result: 42 });
    expect(t.service.list('train')[0]!.engine).toBe('examples/workers/echo_engine.mjs#EchoEngine');
    t.answer(() => ({ status: 500, body: { error: { code: 'engine_error', message: 'boom', remote_type: 'ValueError', remote_stack: 'Traceback…' } } }));
    const err = await t.service.call('train-0', { method: 'fail' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineCallError);
    expect(err).toMatchObject({ status: 502, remote: { message: 'boom', remote_type: 'ValueError', remote_stack: 'Traceback…' } });
    t.answer(() => ({ status: 404, body: { error: { code: 'no_method', message: 'no method nope' } } }));
    await expect(t.service.call('train-0', { method: 'nope' })).rejects.toMatchObject({ status: 404, code: 'no_method' });
    expect(t.posts.map((p) => new URL(p.url).pathname)).toEqual(['/engine', '/call', '/call']);
  });

  it("says which allocation a GPU process runs under: a worker's own pid or a process of its group", async () => {
    const t = setup();
    await t.service.start();
    const [w0, w1] = await t.service.create(body({ replicas: 2 }), 'ana');
    await flush();
    // the fake backend gave pids 1001 and 1002
    expect(t.service.ownerOf({ pid: 1001, containerId: null })).toBe(w0!.allocation_id);
    expect(t.service.ownerOf({ pid: 4242, containerId: null })).toBe(w1!.allocation_id); // a child in 1002's group
    expect(t.service.ownerOf({ pid: 7, containerId: null })).toBeNull();
    expect(t.service.ownerOf({ pid: null, containerId: 'abc' })).toBeNull();
    await t.service.delete('train');
    expect(t.service.ownerOf({ pid: 1001, containerId: null })).toBeNull();
  });

  it('a call to a worker that is not running is a 409', async () => {
    const t = setup({ gpus: 0 });
    await t.service.start();
    await t.service.create(body({ replicas: 1, specs: [{ cpu: 100, gpu: 0, mem: 10, cmd: 'x' }] }), 'ana');
    await expect(t.service.call('train-0', { method: 'm' })).rejects.toMatchObject({ status: 409, code: 'invalid_state' });
    await expect(t.service.call('nope-0', { method: 'm' })).rejects.toMatchObject({ status: 404 });
  });

  it('after a restart adopts the live workers (no second start), records the ones that died meanwhile', async () => {
    const clock = new ManualClock(1_000_000);
    const backend = new FakeBackend();
    const first = setup({ clock, backend, gpus: 4 });
    await first.service.start();
    await first.service.create(body(), 'ana');
    await first.up();
    await first.service.stop();
    backend.alive.delete('train-2'); // died while Arbiter was down
    const second = setup({ clock, backend, engine: first.engine, records: [...first.stored.values()] });
    await second.service.start();
    await flush();
    expect(backend.launches).toHaveLength(3);
    expect(second.service.list('train').map((w) => [w.id, w.state, w.exit_code])).toEqual([['train-0', 'running', null], ['train-1', 'running', null], ['train-2', 'failed', 4]]);
    expect(first.engine.allocation(second.service.list('train')[2]!.allocation_id!)!.state).toBe('released');
  });
});
