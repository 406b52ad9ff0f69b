/**
 * Workers on agents' nodes, without sockets: the protocol's messages (shared/agent-workers.ts), the reconcile
 * decisions of an agent's inventory against the book, the RemoteBackend over a scripted channel, and the worker
 * service on the real engine with two nodes — pinned to the hub's node while no agent runs workers, placed by the
 * strategy once one does and started by that node's agent (port picked there, host the agent's), its exit taken
 * from the agent's report, and an inventory that adopts, stops a stranger and marks a missing worker lost.
 * The real agent process is in test/integration/agent-workers.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  AgentWorkerStateSchema, InventoryItemSchema, WorkerInventorySchema, WorkerStartAckSchema, WorkerStartSchema,
  type AgentWorkerState, type InventoryItem, type WorkerCall, type WorkerCalls, type WorkerInventory,
} from '../../shared/agent-workers.ts';
import { AgentHelloSchema, AGENT_PROTOCOL } from '../../shared/agents.ts';
import type { ResourceStatus } from '../../shared/resources.ts';
import type { WorkerBackend, WorkerRecord, WorkersCreateBody } from '../../shared/workers.ts';
import { withProcessGroups } from '../../server/agent/agent.ts';
import { ManualClock } from '../../server/clock.ts';
import { createLogger } from '../../server/log.ts';
import { EventHub } from '../../server/push/hub.ts';
import { hostOfAddress } from '../../server/runtime/agents/worker-channel.ts';
import type { Backend, ExitListener, Launch, Running } from '../../server/runtime/workers/backend.ts';
import { RemoteBackend, RemoteBackends, type AgentWorkerChannel, type AgentWorkerSink } from '../../server/runtime/workers/remote.ts';
import { WorkerService } from '../../server/runtime/workers/service.ts';
import { SchedulerEngine } from '../../server/scheduler/engine.ts';
import { declaredInventory } from '../../server/scheduler/inventory.ts';
import { createStrategy } from '../../server/scheduler/strategies/index.ts';
import { MemoryIdStore } from '../../server/store/event-ids.ts';
import { WorkerBook } from '../../server/workloads/workers/book.ts';
import { reconcileInventory } from '../../server/workloads/workers/reconcile.ts';

const flush = () => new Promise<void>((r) => setImmediate(r));
const running = (pid: number) => ({ port: 9100, startedAt: 5, ref: { kind: 'local' as const, pid, startTime: 77, logFile: `/w/${pid}.log` } });

/** A channel whose agents answer from a script; every call recorded. */
class FakeChannel implements AgentWorkerChannel {
  nodes = new Map<string, { backends: WorkerBackend[]; host: string }>();
  calls: { node: string; event: WorkerCall; msg: unknown }[] = [];
  sink: AgentWorkerSink | null = null;
  answer: { [K in WorkerCall]?: (node: string, msg: WorkerCalls[K][0]) => WorkerCalls[K][1] } = {
    worker_start: () => ({ ok: true, running: running(4000) }),
    worker_stop: () => ({ ok: true }),
    worker_pause: () => ({ ok: true }),
    worker_resume: () => ({ ok: true }),
    worker_logs: () => ({ ok: true, lines: ['from the agent'] }),
  };
  workerNodes(): string[] {
    return [...this.nodes.keys()];
  }
  backendsOf(node: string): WorkerBackend[] {
    return this.nodes.get(node)?.backends ?? [];
  }
  hostOf(node: string): string | null {
    return this.nodes.get(node)?.host ?? null;
  }
  async call<K extends WorkerCall>(node: string, event: K, msg: WorkerCalls[K][0]): Promise<WorkerCalls[K][1]> {
    this.calls.push({ node, event, msg });
    if (!this.nodes.has(node)) throw new Error(`no agent of node ${node} is connected`);
    return (this.answer[event] as (n: string, m: WorkerCalls[K][0]) => WorkerCalls[K][1])(node, msg);
  }
  attach(sink: AgentWorkerSink): void {
    this.sink = sink;
  }
  of(event: WorkerCall) {
    return this.calls.filter((c) => c.event === event);
  }
}

describe('the messages of workers on agents', () => {
  it('worker_start: the worker, its spec, env and GPUs, and a port (0: the agent picks one); nothing else', () => {
    const m = { workerId: 'train-0', group: 'train', replica: 0, backend: 'local', spec: { cpu: 100, gpu: 1, mem: 64, cmd: 'sleep 1' }, env: { A: 'b' }, gpus: [1], port: 0 };
    expect(WorkerStartSchema.parse(m)).toEqual(m);
    expect(WorkerStartSchema.safeParse({ ...m, port: -1 }).success).toBe(false);
    expect(WorkerStartSchema.safeParse({ ...m, extra: 1 }).success).toBe(false);
    expect(WorkerStartSchema.safeParse({ ...m, backend: 'ssh' }).success).toBe(false);
    expect(WorkerStartAckSchema.parse({ ok: true, running: running(12) })).toEqual({ ok: true, running: running(12) });
    expect(WorkerStartAckSchema.parse({ ok: false, error: 'no' })).toEqual({ ok: false, error: 'no' });
  });

  it('worker_state: started with where it runs, or exited with its status and last lines, numbered from 1', () => {
    const started: AgentWorkerState = { seq: 1, workerId: 'w', backend: 'local', state: 'started', running: running(3) };
    const exited: AgentWorkerState = { seq: 2, workerId: 'w', backend: 'local', state: 'exited', exit: { code: 3, signal: null }, lastLines: ['boom'] };
    expect(AgentWorkerStateSchema.parse(started)).toEqual(started);
    expect(AgentWorkerStateSchema.parse(exited)).toEqual(exited);
    expect(AgentWorkerStateSchema.safeParse({ ...exited, seq: 0 }).success).toBe(false);
    expect(AgentWorkerStateSchema.safeParse({ ...started, state: 'exited' }).success).toBe(false);
    expect(AgentWorkerStateSchema.safeParse({ ...exited, state: 'vanished' }).success).toBe(false);
  });

  it('the inventory lists running and ended-unacknowledged workers; a hello may offer backends and a host', () => {
    const inv: WorkerInventory = { workers: [{ workerId: 'a', backend: 'local', running: running(1), exit: null, lastLines: [] }, { workerId: 'b', backend: 'docker', running: { port: 80, startedAt: 1, ref: { kind: 'docker', containerId: 'c1' } }, exit: { code: 0, signal: null }, lastLines: ['bye'] }] };
    expect(WorkerInventorySchema.parse(inv)).toEqual(inv);
    expect(InventoryItemSchema.safeParse({ ...inv.workers[0], exit: undefined }).success).toBe(false);
    const hello = { token: 't'.repeat(16), node: 'gpu-1', bootId: crypto.randomUUID(), version: '1', protocol: AGENT_PROTOCOL };
    expect(AgentHelloSchema.parse({ ...hello, workers: { backends: ['local'], host: '10.0.0.5' } }).workers).toEqual({ backends: ['local'], host: '10.0.0.5' });
    expect(AgentHelloSchema.safeParse({ ...hello, workers: { backends: [] } }).success).toBe(false);
  });

  it('the address an agent connects from, as a URL host', () => {
    expect(hostOfAddress('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(hostOfAddress('127.0.0.1')).toBe('127.0.0.1');
    expect(hostOfAddress('fe80::1')).toBe('[fe80::1]');
  });
});

function record(id: string, over: Partial<WorkerRecord['worker']> = {}, rec: Partial<WorkerRecord> = {}): WorkerRecord {
  return {
    worker: {
      id, name: id.replace(/-\d+$/, ''), replica: 0, state: 'running', backend: 'local', owner: 'ana', node: 'n2', host: '127.0.0.1', port: 9100, gpus: [0],
      allocation_id: `a-${id}`, request_id: `r-${id}`, exit_code: null, started_at: 5, ended_at: null, log_tail: [], engine: null, why: null, ...over,
    },
    spec: { cpu: 100, gpu: 1, mem: 64, cmd: 'x' }, ask: { owner: 'ana', priority: 0, preemptible: false }, ref: running(1).ref, answered: true, stopping: null, ...rec,
  };
}
const item = (id: string, over: Partial<InventoryItem> = {}): InventoryItem => ({ workerId: id, backend: 'local', running: running(7), exit: null, lastLines: [], ...over });

describe('reconciling an agent’s inventory with the book', () => {
  it('adopts what both have, takes a reported end, stops strangers, and marks lost what the agent no longer has', () => {
    const book = [
      record('both-0'),
      record('ended-there-0'),
      record('gone-0'),
      record('starting-0', { state: 'starting' }, { ref: null }),
      record('stopping-0', {}, { stopping: 'stopped' }),
      record('finished-0', { state: 'stopped' }),
      record('elsewhere-0', { node: 'n3' }),
      record('queued-0', { state: 'queued', node: null }, { ref: null }),
    ];
    const get = (id: string) => book.find((r) => r.worker.id === id);
    const items = [
      item('both-0'), item('ended-there-0', { exit: { code: 1, signal: null }, lastLines: ['oops'] }), item('stopping-0'),
      item('finished-0'), item('elsewhere-0'), item('queued-0'), item('stranger-0'), item('stranger-ended-0', { exit: { code: 0, signal: null } }),
    ];
    const onNode = book.filter((r) => r.worker.node === 'n2');
    expect(reconcileInventory('n2', get, onNode, items)).toEqual([
      { kind: 'adopt', id: 'both-0', running: running(7) },
      { kind: 'exited', id: 'ended-there-0', exit: { code: 1, signal: null }, lastLines: ['oops'] },
      { kind: 'adopt', id: 'stopping-0', running: running(7) },
      { kind: 'stop', id: 'stopping-0', backend: 'local', why: 'being stopped' },
      { kind: 'stop', id: 'finished-0', backend: 'local', why: "it is stopped in the hub's book" },
      { kind: 'stop', id: 'elsewhere-0', backend: 'local', why: 'the hub has it on node n3' },
      { kind: 'stop', id: 'queued-0', backend: 'local', why: 'the hub has it on no node' },
      { kind: 'stop', id: 'stranger-0', backend: 'local', why: 'unknown to the hub' },
      // its start is under way (no ref yet): not lost
      { kind: 'lost', id: 'gone-0' },
    ]);
  });

  it('an empty inventory loses every started worker of that node, and only of that node', () => {
    const book = [record('a-0'), record('b-0', { node: 'n3' }), record('c-0', { state: 'suspended' })];
    expect(reconcileInventory('n2', () => undefined, book, []).map((a) => [a.kind, a.id])).toEqual([['lost', 'a-0'], ['lost', 'c-0']]);
  });
});

describe('RemoteBackend', () => {
  const launch: Launch = { id: 'w-0', group: 'w', replica: 0, spec: { cpu: 1, gpu: 0, mem: 1, cmd: 'x' }, gpus: [2], port: 0, env: { ARBITER_WORKER_ID: 'w-0' } };

  it('asks the agent of its node to start a worker; it runs at the agent’s host on the port the agent chose', async () => {
    const ch = new FakeChannel();
    ch.nodes.set('n2', { backends: ['local'], host: '10.0.0.2' });
    const b = new RemoteBackend('n2', 'local', ch);
    expect(await b.start(launch)).toEqual({ id: 'w-0', host: '10.0.0.2', ...running(4000) });
    expect(ch.calls[0]).toEqual({ node: 'n2', event: 'worker_start', msg: { workerId: 'w-0', group: 'w', replica: 0, backend: 'local', spec: launch.spec, env: launch.env, gpus: [2], port: 0 } });
    ch.answer.worker_start = () => ({ ok: false, error: 'could not start: ENOENT' });
    await expect(b.start(launch)).rejects.toThrow('the agent of n2: could not start: ENOENT');
    await expect(new RemoteBackend('n2', 'docker', ch).start(launch)).rejects.toThrow('node n2 has no connected agent that runs docker workers');
  });

  it('stop, pause, resume go to the agent; with no agent a stop waits for its inventory; logs are kept once it ended', async () => {
    const ch = new FakeChannel();
    const b = new RemoteBackend('n2', 'local', ch);
    await b.stop('w-0', 100);
    expect(ch.calls).toEqual([]);
    ch.nodes.set('n2', { backends: ['local'], host: 'h' });
    await b.stop('w-0', 100);
    await b.pause('w-0');
    await b.resume('w-0');
    expect(ch.calls.map((c) => [c.event, c.msg])).toEqual([['worker_stop', { workerId: 'w-0', graceMs: 100 }], ['worker_pause', { workerId: 'w-0' }], ['worker_resume', { workerId: 'w-0' }]]);
    expect(await b.logs('w-0', 5)).toEqual(['from the agent']);
    const exits: unknown[] = [];
    b.onExit((id, exit) => exits.push([id, exit]));
    b.reportExit('w-0', { code: 2, signal: null }, ['a', 'b', 'c']);
    expect(exits).toEqual([['w-0', { code: 2, signal: null }]]);
    expect(await b.logs('w-0', 2)).toEqual(['b', 'c']);
    expect(new RemoteBackends(ch).of('n2', 'local')).toBeInstanceOf(RemoteBackend);
  });
});

/** A local backend that only counts. */
class CountingBackend implements Backend {
  readonly kind = 'local' as const;
  launches: Launch[] = [];
  async start(l: Launch): Promise<Running> {
    this.launches.push(l);
    return { id: l.id, host: '127.0.0.1', port: l.port, startedAt: 1, ref: { kind: 'local', pid: 1, startTime: 1, logFile: 'x' } };
  }
  async stop(): Promise<void> {}
  async pause(): Promise<void> {}
  async resume(): Promise<void> {}
  async adopt(known: readonly Running[]) {
    return { alive: [...known], strangers: [] };
  }
  onExit(_l: ExitListener): () => void {
    return () => {};
  }
  async logs(): Promise<string[]> {
    return [];
  }
  async close(): Promise<void> {}
}

function setup() {
  const clock = new ManualClock(1_000_000);
  let n = 0;
  const engine = new SchedulerEngine({ clock, newId: () => `id${++n}`, strategy: createStrategy('priority_based'), node: 'hub' });
  // the hub's node has no GPU; n2 (an agent's) has two
  engine.onSnapshot(declaredInventory('hub', { resources: { cpu: 16_000, memoryMiB: 65_536, gpus: [] } }));
  engine.onSnapshot(declaredInventory('n2', { resources: { cpu: 16_000, memoryMiB: 65_536, gpus: [0, 1].map((index) => ({ index, memoryMiB: 16_384 })) } }));
  const channel = new FakeChannel();
  const local = new CountingBackend();
  const hub = new EventHub({ clock, replayCount: 1000, replayMaxAgeMs: 3_600_000, ids: new MemoryIdStore() });
  const service = new WorkerService({
    engine, node: 'hub', remote: new RemoteBackends(channel), book: new WorkerBook(clock), backends: { local }, defaultBackend: 'local', hub, clock,
    log: createLogger('silent'), freePort: async () => 7000, graceMs: 1000, checkMs: 100,
    http: { get: async () => ({ status: 200, body: {} }), post: async () => ({ status: 200, body: {} }) },
  });
  return { clock, engine, channel, local, service };
}
const gpuBody = (over: Partial<WorkersCreateBody> = {}): WorkersCreateBody => ({ name: 'train', replicas: 1, specs: [{ cpu: 100, gpu: 1, mem: 64, cmd: 'x' }], ...over });

describe('WorkerService with agents', () => {
  it('pins to the hub’s node while no agent runs workers (a GPU worker then never fits), places by strategy once one does', async () => {
    const t = setup();
    await t.service.start();
    await expect(t.service.create(gpuBody(), 'ana')).rejects.toMatchObject({ status: 422, code: 'never_fits' });
    t.channel.nodes.set('n2', { backends: ['local'], host: '10.0.0.2' });
    const [w] = await t.service.create(gpuBody(), 'ana');
    expect(t.engine.request(w!.request_id!)?.node).toBeUndefined();
    await flush();
    const started = t.service.book.get('train-0')!.worker;
    expect([started.state, started.node, started.host, started.port, started.gpus.length]).toEqual(['starting', 'n2', '10.0.0.2', 9100, 1]);
    const start = t.channel.of('worker_start')[0]!.msg as WorkerCalls['worker_start'][0];
    expect([start.port, start.env.ARBITER_WORKER_ID, start.env.CUDA_VISIBLE_DEVICES]).toEqual([0, 'train-0', String(started.gpus[0])]);
    expect(t.local.launches).toEqual([]);
    // an explicit node is kept even with agents
    const [pinned] = await t.service.create(gpuBody({ name: 'cpu', specs: [{ cpu: 100, gpu: 0, mem: 64, cmd: 'x' }], node: 'hub' }), 'ana');
    expect(t.engine.request(pinned!.request_id!)?.node).toBe('hub');
    await flush();
    expect(t.local.launches.map((l) => l.id)).toEqual(['cpu-0']);
  });

  it('a GPU process on an agent’s node is its worker’s when the agent says it runs in that worker’s process group', async () => {
    const t = setup();
    t.channel.nodes.set('n2', { backends: ['local'], host: 'h2' });
    await t.service.start();
    await t.service.create(gpuBody(), 'ana');
    await flush();
    const w = t.service.book.get('train-0')!;
    const leader = w.ref?.kind === 'local' ? w.ref.pid : -1;
    expect(leader).toBeGreaterThan(0);
    const child = { pid: leader + 7, containerId: null };
    expect(t.service.ownerOf({ ...child, processGroup: leader }, 'n2')).toBe(w.worker.allocation_id);
    // without the group (an agent that could not read it), or another group: not the worker's
    expect(t.service.ownerOf(child, 'n2')).toBeNull();
    expect(t.service.ownerOf({ ...child, processGroup: leader + 1 }, 'n2')).toBeNull();
    // the same numbers on the hub's own node are another machine's processes
    expect(t.service.ownerOf({ pid: leader, containerId: null, processGroup: leader }, 'hub')).toBeNull();
    // and the agent fills the group in from its /proc
    const status = withProcessGroups({ node: 'n2', gpus: [{ index: 0, processes: [{ pid: 11 }, { pid: 12 }] }] } as unknown as ResourceStatus, (pid) => (pid === 11 ? leader : null));
    expect(status.gpus[0]!.processes.map((p) => p.processGroup)).toEqual([leader, null]);
  });

  it('takes an exit the agent reports (its last lines kept, the allocation released); a started report of an unknown worker stops it', async () => {
    const t = setup();
    t.channel.nodes.set('n2', { backends: ['local'], host: 'h2' });
    await t.service.start();
    await t.service.create(gpuBody(), 'ana');
    await flush();
    const alloc = t.service.book.get('train-0')!.worker.allocation_id!;
    await t.channel.sink!.state('n2', { seq: 1, workerId: 'train-0', backend: 'local', state: 'exited', exit: { code: 3, signal: null }, lastLines: ['Traceback', 'Boom'] });
    const w = t.service.book.get('train-0')!.worker;
    expect([w.state, w.exit_code, w.log_tail]).toEqual(['failed', 3, ['Traceback', 'Boom']]);
    expect(t.engine.allocation(alloc)?.state).not.toBe('active');
    await t.channel.sink!.state('n2', { seq: 2, workerId: 'ghost-0', backend: 'local', state: 'started', running: running(9) });
    await flush();
    expect(t.channel.of('worker_stop').map((c) => c.msg)).toEqual([{ workerId: 'ghost-0', graceMs: 1000 }]);
  });

  it('squares an inventory: adopts a worker whose start ack was lost, stops a stranger, loses one the agent no longer has', async () => {
    const t = setup();
    t.channel.nodes.set('n2', { backends: ['local'], host: 'h2' });
    await t.service.start();
    t.channel.answer.worker_start = () => ({ ok: true, running: running(4000) });
    await t.service.create(gpuBody({ name: 'a' }), 'ana');
    await t.service.create(gpuBody({ name: 'b' }), 'ana');
    await flush();
    expect(t.service.book.get('a-0')!.ref).not.toBeNull();
    await t.channel.sink!.inventory('n2', { workers: [item('a-0', { running: running(4000) }), item('stranger-0')] });
    await flush();
    expect(t.service.book.get('a-0')!.worker.state).toBe('starting');
    const b = t.service.book.get('b-0')!.worker;
    expect([b.state, b.why]).toEqual(['failed', expect.stringContaining('lost: the agent of node n2 no longer runs it')]);
    expect(t.channel.of('worker_stop').map((c) => (c.msg as { workerId: string }).workerId)).toEqual(['stranger-0']);
  });
});
