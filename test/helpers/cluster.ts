/**
 * Small builders for scheduler scenarios: declared nodes, an engine on a ManualClock with fixed ids, and a
 * compact, readable log of the change records (`granted a n1[0]`, `notice v at 30s`, `suspended b`…).
 */
import { ManualClock } from '../../server/clock.ts';
import { SchedulerEngine, SchedulerError, type EngineOptions, type SubmitResult } from '../../server/scheduler/engine.ts';
import { declaredInventory, type Inventory } from '../../server/scheduler/inventory.ts';
import type { Strategy } from '../../server/scheduler/strategy.ts';
import type { Allocation, Change, Request, RequestInputBody } from '../../shared/scheduler.ts';

export const GiB = 1024;
export const SEC = 1000;
export const MIN = 60_000;
export const HOUR = 3_600_000;
/** the ManualClock's start: scenario times are given in seconds after it */
export const T0 = 1_700_000_000_000;

/**
 * A node with `gpus` GPUs (16 GiB each unless told), 8 cores and 16 GiB of memory unless told; `models`: each GPU's
 * name (model), by index (absent: `GPU <index>`).
 */
export function gpuNode(name: string, gpus: number, o: { cpu?: number; memoryMiB?: number; gpuMiB?: number; models?: string[] } = {}): Inventory {
  return declaredInventory(name, {
    resources: {
      cpu: o.cpu ?? 8000,
      memoryMiB: o.memoryMiB ?? 16 * GiB,
      gpus: Array.from({ length: gpus }, (_, index) => ({ index, memoryMiB: o.gpuMiB ?? 16 * GiB, ...(o.models?.[index] !== undefined ? { name: o.models[index] } : {}) })),
    },
  });
}

/** The SchedulerError `fn` throws (anything else is thrown on; nothing thrown fails). */
export function schedulerError(fn: () => unknown): SchedulerError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SchedulerError) return e;
    throw e;
  }
  throw new Error('expected a SchedulerError');
}

export interface SimOptions {
  strategy: Strategy;
  nodes: Inventory[];
  /** 'desc': each new id sorts before the previous ones (to tell id ties from arrival order) @default 'asc' */
  ids?: 'asc' | 'desc';
  engine?: Partial<EngineOptions>;
}

export type Body = Omit<RequestInputBody, 'labels'>;

/** An engine over declared nodes; requests are named (label `name`) and the log speaks of names. */
export function sim(opts: SimOptions) {
  const clock = new ManualClock(T0);
  let n = 0;
  const newId = opts.ids === 'desc' ? () => `id${String(99_999 - ++n).padStart(5, '0')}` : () => `id${String(++n).padStart(5, '0')}`;
  const engine = new SchedulerEngine({
    clock, newId, strategy: opts.strategy, leases: { defaultMs: 7 * 24 * HOUR, maxMs: 7 * 24 * HOUR }, ...opts.engine,
  });
  const records: Change[] = [];
  engine.onChange((batch) => void records.push(...batch));
  for (const inv of opts.nodes) engine.onSnapshot(inv);
  const ids = new Map<string, string>();

  const nameOf = (requestId: string): string => engine.request(requestId)?.labels?.['name'] ?? requestId;
  const secs = (t: number): string => `${(t - T0) / 1000}s`;

  function describe(c: Change): string | null {
    switch (c.kind) {
      case 'request_queued': return `queued ${nameOf(c.request.id)}`;
      case 'request_cancelled': return `cancelled ${nameOf(c.request.id)}`;
      case 'allocation_granted': return `granted ${nameOf(c.allocation.requestId)} ${c.allocation.node}[${c.allocation.gpuIndices.join(',')}]`;
      case 'allocation_released': return `released ${nameOf(c.allocation.requestId)}`;
      case 'allocation_expired': return `expired ${nameOf(c.allocation.requestId)}`;
      case 'allocation_preempting': return `notice ${nameOf(c.allocation.requestId)} at ${secs(c.allocation.preemptAt!)}`;
      case 'allocation_preempted': return `preempted ${nameOf(c.allocation.requestId)}`;
      case 'allocation_renewed': return c.allocation.preemptAt === undefined ? `withdrawn ${nameOf(c.allocation.requestId)}` : `renewed ${nameOf(c.allocation.requestId)}`;
      case 'allocation_suspended': return `suspended ${nameOf(c.allocation.requestId)}`;
      case 'allocation_resumed': return `resumed ${nameOf(c.allocation.requestId)}`;
      case 'allocation_flagged': return `${c.allocation.unreachableSince != null ? 'flagged' : 'unflagged'} ${nameOf(c.allocation.requestId)}`;
      case 'conflict_resolved': return c.conflict.requestId !== null ? `resolved ${nameOf(c.conflict.requestId)} ${c.conflict.resolution}` : null;
      case 'strategy_changed': return `strategy ${c.strategy}`;
      default: return null;
    }
  }
  const log = (cs: readonly Change[]): string[] => cs.map(describe).filter((x): x is string => x !== null);

  const s = {
    clock,
    engine,
    records,
    log,
    /** submit a named request */
    submit(name: string, body: Body): SubmitResult {
      const r = engine.submit({ ...body, labels: { name } });
      ids.set(name, r.request.id);
      return r;
    },
    id(name: string): string {
      const id = ids.get(name);
      if (!id) throw new Error(`no request named ${name}`);
      return id;
    },
    request(name: string): Request {
      return engine.request(s.id(name))!;
    },
    status(name: string): Request['status'] {
      return s.request(name).status;
    },
    allocation(name: string): Allocation | undefined {
      const a = s.request(name).allocationId;
      return a === undefined ? undefined : engine.allocation(a);
    },
    /** where a granted request runs: `n1[0,1]` */
    where(name: string): string {
      const a = s.allocation(name);
      return a ? `${a.node}[${a.gpuIndices.join(',')}]` : '-';
    },
    /** the log of what `fn` did */
    step(fn: () => unknown): string[] {
      const mark = records.length;
      fn();
      return log(records.slice(mark));
    },
    /** move the clock to `sec` seconds after T0 */
    async at(sec: number): Promise<void> {
      const target = T0 + sec * 1000;
      if (target < clock.now()) throw new Error(`clock is at ${secs(clock.now())}, cannot go back to ${sec}s`);
      await clock.advance(target - clock.now());
    },
    /** the clock to `sec`, then one tick: its log */
    async tickAt(sec: number): Promise<string[]> {
      await s.at(sec);
      return s.step(() => engine.tick());
    },
    release(name: string): string[] {
      return s.step(() => engine.release(s.allocation(name)!.id));
    },
    names(status?: Request['status']): string[] {
      return engine.listRequests(status).map((r) => nameOf(r.id));
    },
  };
  return s;
}

export type Sim = ReturnType<typeof sim>;
