/**
 * Task dispatch on a virtual clock: the same Dispatcher the server runs, instances simulated as FIFO servers (one
 * task at a time, each with its own speed), seeded Poisson arrivals of tasks whose execution time depends on a
 * metadata bucket. Measures each policy's waits, and the predictor's accuracy: the wait predicted for a task when it
 * is routed (its instance's expected wait then) against the wait it really had. Deliveries are instant here: what
 * is measured is the routing and the prediction, not the network.
 */
import { ManualClock } from '../clock.ts';
import { rng } from '../rng.ts';
import type { DispatchPolicy, PredictorTable } from '../../shared/dispatch.ts';
import { Dispatcher } from '../workloads/dispatch/dispatcher.ts';
import { Predictor } from '../workloads/dispatch/predictor.ts';

export interface SimBucket {
  name: string;
  /** execution time on a speed-1 instance, ms */
  meanMs: number;
  sdMs: number;
  /** share of the tasks */
  share: number;
}

export interface DispatchSimOptions {
  policy: DispatchPolicy;
  /** one entry per instance: its speed (2 = twice as fast) and weight (the weighted policy) */
  instances: readonly { speed: number; weight?: number }[];
  tasks: number;
  /** mean arrivals per second */
  ratePerSec: number;
  buckets: readonly SimBucket[];
  /** `bucketed`: the predictor learns per bucket (metadata `size`); `mean_only`: one mean per model */
  predictor: 'bucketed' | 'mean_only';
  /** the predictor's prior @default 1 s ± 1 s for everything */
  prior?: PredictorTable;
  /** tasks not counted in the figures (the predictor learning) @default 10 % */
  warmup?: number;
  seed?: number;
}

export interface DispatchSimResult {
  policy: DispatchPolicy;
  tasks: number;
  meanWaitMs: number;
  p95WaitMs: number;
  /** mean absolute error of the predicted wait, after the warm-up */
  maeMs: number;
  /** the same error of the execution time alone */
  execMaeMs: number;
  /** routing decisions per second of wall time (Dispatcher.submit) */
  decisionsPerSec: number;
  /** tasks each instance ran */
  perInstance: number[];
}

export function simulateDispatch(o: DispatchSimOptions): DispatchSimResult {
  const clock = new ManualClock(0);
  const random = rng(o.seed ?? 1);
  let n = 0;
  const prior = o.prior;
  const predictor = new Predictor(o.predictor === 'bucketed'
    ? { table: { sim: { key: 'size', buckets: {}, ...(prior?.sim?.default ? { default: prior.sim.default } : {}) }, ...prior } }
    : { table: { sim: { buckets: {}, ...(prior?.sim?.default ? { default: prior.sim.default } : {}) } } });
  const d = new Dispatcher({ clock, newId: () => `t${++n}`, policy: o.policy, predictor, seed: o.seed ?? 1 });
  const ids = o.instances.map((inst, i) => d.register(`sim-${i}`, 1, 'sim', inst.weight).instance.id);
  const speed = new Map(ids.map((id, i) => [id, o.instances[i]!.speed]));
  // per instance: when it is free again (FIFO: the next task starts then)
  const freeAt = new Map(ids.map((id) => [id, 0]));
  const ran = new Map(ids.map((id) => [id, 0]));
  const completions: { at: number; id: string; execSec: number }[] = [];
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const totalShare = o.buckets.reduce((s, b) => s + b.share, 0);
  const warmup = o.warmup ?? Math.floor(o.tasks / 10);
  const waits: number[] = [];
  let absErr = 0;
  let execErr = 0;
  let counted = 0;
  let t = 0;
  let routeNs = 0n;
  for (let k = 0; k < o.tasks; k++) {
    t += (-Math.log(1 - random()) / o.ratePerSec) * 1000;
    // completions up to now teach the predictor and free the queues
    completions.sort((a, b) => a.at - b.at);
    while (completions.length && completions[0]!.at <= t) {
      const c = completions.shift()!;
      clock.set(c.at);
      d.complete(c.id, null, c.execSec);
    }
    clock.set(t);
    let r = random() * totalShare;
    const bucket = o.buckets.find((b) => (r -= b.share) < 0) ?? o.buckets[o.buckets.length - 1]!;
    const t0 = process.hrtime.bigint();
    const task = d.submit('sim', {}, { size: bucket.name });
    routeNs += process.hrtime.bigint() - t0;
    const inst = task.instance!;
    const predicted = d.waitOf(inst).meanMs - task.predictedMs.mean; // the wait ahead of it when it was routed
    d.accepted(task.id, inst);
    const execMs = Math.max(0, bucket.meanMs + bucket.sdMs * normal()) / speed.get(inst)!;
    const start = Math.max(t, freeAt.get(inst)!);
    freeAt.set(inst, start + execMs);
    ran.set(inst, ran.get(inst)! + 1);
    completions.push({ at: start + execMs, id: task.id, execSec: execMs / 1000 });
    if (k < warmup) continue;
    const wait = start - t;
    waits.push(wait);
    absErr += Math.abs(predicted - wait);
    execErr += Math.abs(task.predictedMs.mean - execMs);
    counted++;
  }
  waits.sort((a, b) => a - b);
  return {
    policy: o.policy,
    tasks: o.tasks,
    meanWaitMs: waits.reduce((s, w) => s + w, 0) / Math.max(1, waits.length),
    p95WaitMs: waits[Math.min(waits.length - 1, Math.ceil(0.95 * waits.length) - 1)] ?? 0,
    maeMs: absErr / Math.max(1, counted),
    execMaeMs: execErr / Math.max(1, counted),
    decisionsPerSec: o.tasks / (Number(routeNs) / 1e9),
    perInstance: ids.map((id) => ran.get(id)!),
  };
}
