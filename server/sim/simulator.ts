/**
 * The simulator: replays jobs through the same SchedulerEngine the server runs, on a virtual clock, and measures
 * each strategy with the same PerformanceRecorder (server/scheduler/evaluation.ts), plus what only a replay knows:
 * job completion time, makespan, GPU fragmentation, wall time.
 *
 * Event loop: the next of (a job's submit, a running job's completion, the engine's own timed work: preemption
 * deadlines, time-slice rotations) sets the clock; completions release their allocation, submits submit, then the
 * engine advances (expiries, deadlines, rotation, a decision pass). A job runs for its duration of *running* time:
 * a time-sliced job that is suspended stops its clock and resumes where it stopped (pause/unpause); a preempted job
 * loses its work and is submitted again at once with its full duration (a Kubernetes controller re-creating an
 * evicted pod) — its completion time still counts from its first submit. Leases never expire in a replay (the
 * simulated workers heartbeat). Jobs that can never fit a node are left out and counted (`neverFit`).
 * Jobs never scheduled by the trace (`cancelAfterMs`) are cancelled when still waiting that long after their submit.
 * Every holder runs at full speed: with time-slicing replicas > 1, sharing a GPU does not slow a job down here.
 * `fragmentation` (Engine.fragmentation: the share of free GPU capacity stranded on partly used GPUs) and
 * `utilisation` are measured from the first to the last submit: after it the cluster only drains, and with
 * compressed arrivals (`timeScale`) the trace's longest jobs (weeks) would make the drain dominate the figure.
 */
import { ManualClock } from '../clock.ts';
import type { Change, Resources, StrategyName } from '../../shared/scheduler.ts';
import type { StrategyPerformance } from '../../shared/strategy.ts';
import { SchedulerEngine, SchedulerError } from '../scheduler/engine.ts';
import { PerformanceRecorder } from '../scheduler/evaluation.ts';
import { declaredInventory } from '../scheduler/inventory.ts';
import { IndexedHeap } from '../scheduler/queue.ts';
import { createStrategy } from '../scheduler/strategies/index.ts';
import type { TraceNode } from './trace.ts';

export interface SimJob {
  id: string;
  owner: string;
  group?: string;
  priority: number;
  preemptible: boolean;
  resources: Resources;
  submitAtMs: number;
  durationMs: number;
  /** cancel it when still waiting this long after its submit */
  cancelAfterMs?: number;
  /** the GPU models its GPUs may be of (the request's gpuModels); absent: any */
  gpuModels?: string[];
}

export interface SimNode {
  name: string;
  /** millicores */
  cpu: number;
  memoryMiB: number;
  gpus: number;
  gpuMemoryMiB: number;
  /** GPU model (the name its GPUs are declared with); absent: `GPU <index>` */
  model?: string;
}

export interface SimOptions {
  strategy: StrategyName;
  config?: unknown;
  nodes: readonly SimNode[];
  /** submit times are divided by this (inter-arrival compression; durations unchanged) @default 1 */
  timeScale?: number;
  /** @default 600000 */
  starvationMs?: number;
  ownerWeights?: Readonly<Record<string, number>>;
  /** conflict refresh work per pass (EngineOptions.refreshBudget): a replay reads no conflicts while it runs @default 1 */
  refreshBudget?: number;
  /** given: each request states its job's length (expectedDurationMs); hidden: none does @default 'given' */
  durations?: 'given' | 'hidden';
}

export interface SimResult extends StrategyPerformance {
  jobs: number;
  /** left out: larger than any node */
  neverFit: number;
  /** finished within the replay */
  completed: number;
  /** re-submissions after a preemption */
  resubmitted: number;
  /** the longest wait from a job's submit to its first grant (jobs never granted are left out); null: none granted */
  maxWaitMs: number | null;
}

/**
 * The nodes of a trace's node list (`--nodes-from`): per node its cpu, memory, GPU count and model. Every GPU is
 * declared with `gpuMemoryMiB` whatever its model, so that a fractional pod's gpu_milli is the same share of any
 * GPU (the trace gives no GPU memory per model, and its pods ask a share, not MiB).
 */
export function traceNodes(nodes: readonly TraceNode[], gpuMemoryMiB: number): SimNode[] {
  return nodes.map((n) => ({
    name: n.sn, cpu: n.cpuMilli, memoryMiB: n.memoryMiB, gpus: n.gpus, gpuMemoryMiB, ...(n.model !== null ? { model: n.model } : {}),
  }));
}

/** `count` identical nodes named node-00, node-01, … */
export function uniformNodes(count: number, node: Omit<SimNode, 'name'>): SimNode[] {
  return Array.from({ length: count }, (_, i) => ({ name: `node-${String(i).padStart(2, '0')}`, ...node }));
}

interface Timed {
  at: number;
  heapIndex: number;
  /** job index */
  job: number;
  /** the run this completion belongs to (a suspension or preemption makes an older one stale) */
  run: number;
}

interface JobState {
  job: SimJob;
  requestId: string | null;
  allocationId: string | null;
  /** running time still owed */
  remainingMs: number;
  runningSince: number | null;
  run: number;
  done: boolean;
}

export function simulate(jobs: readonly SimJob[], opts: SimOptions): SimResult {
  const wallStart = performance.now();
  const scale = opts.timeScale ?? 1;
  if (!(scale > 0)) throw new Error(`timeScale must be > 0, not ${opts.timeScale}`);
  const sorted = [...jobs].map((j) => ({ ...j, submitAtMs: Math.round(j.submitAtMs / scale) })).sort((a, b) => a.submitAtMs - b.submitAtMs);
  const t0 = sorted[0]?.submitAtMs ?? 0;
  const clock = new ManualClock(t0);
  let ids = 0;
  const engine = new SchedulerEngine({
    clock,
    newId: () => `s${++ids}`,
    strategy: createStrategy(opts.strategy, opts.config),
    node: opts.nodes[0]?.name ?? 'node-00',
    leases: { defaultMs: 366 * 24 * 3600_000, maxMs: 366 * 24 * 3600_000 },
    refreshBudget: opts.refreshBudget ?? 1,
    onListenerError: (err) => { throw err; },
  });
  const gpuTotal = opts.nodes.reduce((n, x) => n + x.gpus, 0);
  const memOf = new Map(opts.nodes.map((n) => [n.name, n.gpuMemoryMiB]));
  const recorder = new PerformanceRecorder({
    strategy: opts.strategy, since: t0, gpus: gpuTotal, replay: true,
    starvationMs: opts.starvationMs ?? 600_000,
    gpuMemoryMiB: (node) => memOf.get(node),
    ...(opts.ownerWeights ? { ownerWeights: opts.ownerWeights } : {}),
  });
  for (const n of opts.nodes) {
    engine.onSnapshot(declaredInventory(n.name, {
      resources: { cpu: n.cpu, memoryMiB: n.memoryMiB, gpus: Array.from({ length: n.gpus }, (_, i) => ({ index: i, memoryMiB: n.gpuMemoryMiB, ...(n.model !== undefined ? { name: n.model } : {}) })) },
    }, t0));
  }

  const states: JobState[] = sorted.map((job) => ({ job, requestId: null, allocationId: null, remainingMs: job.durationMs, runningSince: null, run: 0, done: false }));
  const byRequest = new Map<string, number>();
  const byAllocation = new Map<string, number>();
  const completions = new IndexedHeap<Timed>((a, b) => a.at < b.at || (a.at === b.at && a.job < b.job));
  const cancels = new IndexedHeap<Timed>((a, b) => a.at < b.at || (a.at === b.at && a.job < b.job));
  let neverFit = 0;
  let completed = 0;
  let resubmitted = 0;
  let maxWait: number | null = null;
  const jct: number[] = [];
  let lastEnd = t0;
  // time-weighted fragmentation from the first to the last submit
  let fragSum = 0;
  let fragTime = 0;
  let lastAt = t0;
  const toResubmit: number[] = [];
  /** utilisation from the first to the last submit (after it the cluster drains the trace's longest jobs) */
  let arrivalWindow: number | null = null;

  const startRun = (st: JobState, i: number, now: number) => {
    st.runningSince = now;
    st.run++;
    completions.push({ at: now + st.remainingMs, heapIndex: -1, job: i, run: st.run });
  };
  const stopRun = (st: JobState, now: number) => {
    if (st.runningSince !== null) st.remainingMs = Math.max(0, st.remainingMs - (now - st.runningSince));
    st.runningSince = null;
    st.run++;
  };

  engine.onChange((changes: readonly Change[]) => {
    recorder.record(changes);
    for (const c of changes) {
      switch (c.kind) {
        case 'allocation_granted': {
          const i = byRequest.get(c.allocation.requestId);
          if (i === undefined) break;
          const st = states[i]!;
          if (st.run === 0) maxWait = Math.max(maxWait ?? 0, c.at - st.job.submitAtMs);
          st.allocationId = c.allocation.id;
          byAllocation.set(c.allocation.id, i);
          startRun(st, i, c.at);
          break;
        }
        case 'allocation_suspended': {
          const i = byAllocation.get(c.allocation.id);
          if (i !== undefined) stopRun(states[i]!, c.at);
          break;
        }
        case 'allocation_resumed': {
          const i = byAllocation.get(c.allocation.id);
          if (i !== undefined) startRun(states[i]!, i, c.at);
          break;
        }
        case 'allocation_preempted': {
          const i = byAllocation.get(c.allocation.id);
          if (i === undefined) break;
          const st = states[i]!;
          stopRun(st, c.at);
          byAllocation.delete(c.allocation.id);
          st.allocationId = null;
          st.remainingMs = st.job.durationMs;
          toResubmit.push(i);
          break;
        }
        default:
          break;
      }
    }
  });

  const submit = (i: number, now: number) => {
    const st = states[i]!;
    const j = st.job;
    try {
      const res = engine.submit({
        owner: j.owner, ...(j.group !== undefined ? { group: j.group } : {}), priority: j.priority, preemptible: j.preemptible,
        resources: j.resources,
        ...(j.gpuModels ? { gpuModels: j.gpuModels } : {}),
        ...(opts.durations !== 'hidden' ? { expectedDurationMs: Math.min(j.durationMs, 366 * 24 * 3600_000) } : {}),
      });
      st.requestId = res.request.id;
      byRequest.set(res.request.id, i);
      // granted at submit: the change listener ran before the id was known
      if (res.allocation && st.allocationId === null) {
        if (st.run === 0) maxWait = Math.max(maxWait ?? 0, now - j.submitAtMs);
        st.allocationId = res.allocation.id;
        byAllocation.set(res.allocation.id, i);
        startRun(st, i, now);
      }
      if (j.cancelAfterMs !== undefined && !res.allocation) cancels.push({ at: now + j.cancelAfterMs, heapIndex: -1, job: i, run: 0 });
    } catch (err) {
      if (err instanceof SchedulerError && err.code === 'never_fits') {
        neverFit++;
        st.done = true;
        return;
      }
      throw err;
    }
  };

  let next = 0;
  for (;;) {
    const arrival = next < sorted.length ? sorted[next]!.submitAtMs : Infinity;
    const done = completions.peek()?.at ?? Infinity;
    const cancelAt = cancels.peek()?.at ?? Infinity;
    const wake = engine.nextWakeup() ?? Infinity;
    const t = Math.min(arrival, done, cancelAt, wake);
    if (t === Infinity) break;
    if (arrivalWindow === null) {
      const f = engine.fragmentation();
      if (f !== null) {
        fragSum += f * (t - lastAt);
        fragTime += t - lastAt;
      }
    }
    lastAt = t;
    clock.set(t);
    for (let c = completions.peek(); c && c.at <= t; c = completions.peek()) {
      completions.pop();
      const st = states[c.job]!;
      if (c.run !== st.run || st.done || st.allocationId === null) continue;
      st.done = true;
      st.runningSince = null;
      completed++;
      jct.push(t - st.job.submitAtMs);
      lastEnd = Math.max(lastEnd, t);
      engine.release(st.allocationId);
    }
    for (let c = cancels.peek(); c && c.at <= t; c = cancels.peek()) {
      cancels.pop();
      const st = states[c.job]!;
      const r = st.requestId === null ? undefined : engine.request(st.requestId);
      if (r?.status === 'queued') {
        engine.cancel(r.id);
        st.done = true;
      }
    }
    while (next < sorted.length && sorted[next]!.submitAtMs <= t) submit(next++, t);
    engine.advance();
    if (next === sorted.length && arrivalWindow === null) arrivalWindow = recorder.snapshot(t).find((r) => r.strategy === opts.strategy)?.utilisation ?? null;
    while (toResubmit.length) {
      const i = toResubmit.shift()!;
      resubmitted++;
      submit(i, t);
      engine.advance();
    }
  }

  const row = recorder.snapshot(lastEnd).find((r) => r.strategy === opts.strategy) ?? emptyRow(opts.strategy);
  jct.sort((a, b) => a - b);
  const pct = (q: number) => (jct.length ? jct[Math.max(0, Math.ceil(q * jct.length) - 1)]! : null);
  return {
    ...row,
    activeMs: lastEnd - t0,
    utilisation: arrivalWindow ?? row.utilisation,
    jctMs: { mean: jct.length ? jct.reduce((a, b) => a + b, 0) / jct.length : null, p50: pct(0.5), p95: pct(0.95) },
    makespanMs: lastEnd - t0,
    fragmentation: fragTime > 0 ? fragSum / fragTime : null,
    wallMs: performance.now() - wallStart,
    jobs: sorted.length,
    neverFit,
    completed,
    resubmitted,
    maxWaitMs: maxWait,
  };
}

function emptyRow(strategy: StrategyName): StrategyPerformance {
  const none = { mean: null, p50: null, p95: null };
  return { strategy, activeMs: 0, requests: 0, granted: 0, cancelled: 0, failed: 0, successRate: null, waitMs: none, utilisation: null, jain: null, preemptions: 0, suspensions: 0, starved: 0 };
}
