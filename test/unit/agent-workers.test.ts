/**
 * The agent's side of workers (server/agent/workers.ts) over a scripted link and backend, on a ManualClock: the
 * hub's worker_start runs the worker on the backend (a port picked when none is given, asked again: as it runs) and
 * is reported `started`; an exit is reported with its last lines until the hub acknowledges it — sent again on the
 * next connection when welcome's lastWorkerSeq is below it, dropped when not —, every connection sends the
 * inventory, and what it runs is kept in the state file, so a new agent on the same file takes it back.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentWorkerState, WorkerInventory } from '../../shared/agent-workers.ts';
import type { AgentWelcome } from '../../shared/agents.ts';
import { AgentWorkers } from '../../server/agent/workers.ts';
import type { AgentLink, LinkState } from '../../server/agent/link.ts';
import { ManualClock } from '../../server/clock.ts';
import { createLogger } from '../../server/log.ts';
import type { Backend, Exit, ExitListener, Launch, Running } from '../../server/runtime/workers/backend.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const flush = () => new Promise<void>((r) => setImmediate(r));

class ScriptedBackend implements Backend {
  readonly kind = 'local' as const;
  launches: Launch[] = [];
  adopted: Running[][] = [];
  stops: string[] = [];
  private listeners = new Set<ExitListener>();
  async start(l: Launch): Promise<Running> {
    this.launches.push(l);
    return { id: l.id, host: '127.0.0.1', port: l.port, startedAt: 11, ref: { kind: 'local', pid: 500 + this.launches.length, startTime: 9, logFile: `/l/${l.id}.log` } };
  }
  async stop(id: string): Promise<void> {
    this.stops.push(id);
  }
  async pause(): Promise<void> {}
  async resume(): Promise<void> {}
  async adopt(known: readonly Running[]) {
    this.adopted.push([...known]);
    return { alive: [...known], strangers: [] };
  }
  onExit(l: ExitListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  async logs(id: string): Promise<string[]> {
    return [`${id}: bye`];
  }
  async close(): Promise<void> {}
  exit(id: string, e: Exit): void {
    for (const l of this.listeners) l(id, e);
  }
}

/** The link as AgentWorkers uses it: calls from the hub, reports to it (acked as the test says), connections. */
class ScriptedLink {
  ready = false;
  sent: { event: string; msg: unknown }[] = [];
  /** ack each report: true (ok), or never (a lost ack) */
  ackReports = true;
  handlers = new Map<string, (msg: unknown) => Promise<unknown>>();
  private listeners = new Set<(s: LinkState) => void>();
  handle(event: string, fn: (msg: unknown) => Promise<unknown>): void {
    this.handlers.set(event, fn);
  }
  async call(event: string, msg: unknown): Promise<unknown> {
    if (!this.ready) throw new Error('not connected');
    this.sent.push({ event, msg: structuredClone(msg) });
    if (!this.ackReports) return new Promise(() => {});
    return event === 'worker_state' ? { ok: true, seq: (msg as AgentWorkerState).seq } : { ok: true };
  }
  onState(l: (s: LinkState) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  connect(lastWorkerSeq: number | null): void {
    this.ready = true;
    const welcome: AgentWelcome = { node: 'n', protocol: 2, hubNow: 0, lastSeq: null, lastWorkerSeq };
    for (const l of this.listeners) l({ state: 'connected', welcome, again: true });
  }
  drop(): void {
    this.ready = false;
  }
  reports(): AgentWorkerState[] {
    return this.sent.filter((s) => s.event === 'worker_state').map((s) => s.msg as AgentWorkerState);
  }
  inventories(): WorkerInventory[] {
    return this.sent.filter((s) => s.event === 'worker_inventory').map((s) => s.msg as WorkerInventory);
  }
}

function setup(stateFile: string) {
  const link = new ScriptedLink();
  const backend = new ScriptedBackend();
  const workers = new AgentWorkers({
    link: link as unknown as AgentLink, backends: { local: backend }, stateFile, freePort: async () => 4321,
    clock: new ManualClock(0), log: createLogger('silent'), ackTimeoutMs: 1000,
  });
  return { link, backend, workers };
}
const start = { workerId: 'w-0', group: 'w', replica: 0, backend: 'local', spec: { cpu: 1, gpu: 0, mem: 1, cmd: 'x' }, env: { ARBITER_WORKER_ID: 'w-0' }, gpus: [], port: 0 };

describe('an agent’s workers', () => {
  it('starts what the hub asks on its backend, reports exits until acknowledged, resends after a reconnect, keeps them across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-workers-'));
    dirs.push(dir);
    const file = join(dir, 'workers.json');
    const t = setup(file);
    await t.workers.start();
    t.link.connect(null);
    await flush();
    expect(t.link.inventories()).toEqual([{ workers: [] }]);

    const ack = await t.link.handlers.get('worker_start')!(start);
    expect(ack).toEqual({ ok: true, running: { port: 4321, startedAt: 11, ref: { kind: 'local', pid: 501, startTime: 9, logFile: '/l/w-0.log' } } });
    expect(t.backend.launches[0]!.env).toEqual({ ARBITER_HOST: '0.0.0.0', ARBITER_WORKER_ID: 'w-0', ARBITER_PORT: '4321' });
    // asked again (its ack was lost): as it runs, not a second start
    expect(await t.link.handlers.get('worker_start')!(start)).toEqual(ack);
    expect(t.backend.launches).toHaveLength(1);
    expect(await t.link.handlers.get('worker_start')!({ ...start, backend: 'docker', workerId: 'd-0' })).toEqual({ ok: false, error: 'this agent runs no docker workers' });
    expect(await t.link.handlers.get('worker_stop')!({ workerId: 'w-0', graceMs: 5 })).toEqual({ ok: true });
    expect(t.backend.stops).toEqual(['w-0']);
    await flush();
    expect(t.link.reports().map((r) => [r.seq, r.state])).toEqual([[1, 'started']]);

    // the exit goes while the connection is down: its ack never comes; the next welcome says the hub has seq 1 only
    t.link.drop();
    t.backend.exit('w-0', { code: 3, signal: null });
    await flush();
    expect(t.link.reports()).toHaveLength(1);
    expect((JSON.parse(readFileSync(file, 'utf8')) as { exit: unknown }[])[0]!.exit).toEqual({ code: 3, signal: null });
    t.link.connect(1);
    await flush();
    expect(t.link.reports().slice(1)).toEqual([{ seq: 2, workerId: 'w-0', backend: 'local', state: 'exited', exit: { code: 3, signal: null }, lastLines: ['w-0: bye'] }]);
    // acknowledged: forgotten, here and in the file
    expect(t.workers.inventory()).toEqual([]);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual([]);
    expect(t.link.inventories()).toHaveLength(2);

    // a second worker, then the agent dies: a new one on the same file takes it back and lists it
    await t.link.handlers.get('worker_start')!({ ...start, workerId: 'w-1', port: 7000 });
    const again = setup(file);
    await again.workers.start();
    expect(again.backend.adopted).toEqual([[{ id: 'w-1', host: '127.0.0.1', port: 7000, startedAt: 11, ref: { kind: 'local', pid: 502, startTime: 9, logFile: '/l/w-1.log' } }]]);
    again.link.connect(null);
    await flush();
    expect(again.link.inventories()[0]!.workers.map((w) => [w.workerId, w.exit])).toEqual([['w-1', null]]);
  });

  it('does not resend what the hub says it has; an unacknowledged end survives a restart of the agent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-workers-'));
    dirs.push(dir);
    const file = join(dir, 'workers.json');
    const t = setup(file);
    await t.workers.start();
    t.link.ackReports = false;
    t.link.connect(null);
    await t.link.handlers.get('worker_start')!(start);
    t.backend.exit('w-0', { code: null, signal: 'SIGKILL' });
    await flush();
    expect(t.link.reports().map((r) => r.state)).toEqual(['started', 'exited']);
    // the hub has both (its acks were lost): nothing goes again
    t.link.ackReports = true;
    t.link.connect(2);
    await flush();
    expect(t.link.reports()).toHaveLength(2);

    // an end the hub never had outlives the agent: the next one reports it again from the file
    const u = setup(join(dir, 'other.json'));
    await u.workers.start();
    u.link.ackReports = false;
    u.link.connect(null);
    await u.link.handlers.get('worker_start')!(start);
    u.backend.exit('w-0', { code: 0, signal: null });
    await flush();
    const v = setup(join(dir, 'other.json'));
    await v.workers.start();
    v.link.connect(null);
    await flush();
    expect(v.link.reports().map((r) => [r.seq, r.state, r.workerId])).toEqual([[1, 'exited', 'w-0']]);
    expect(v.backend.adopted).toEqual([]);
  });
});
