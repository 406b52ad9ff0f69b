/**
 * decisions: scheduling decisions per second with 10,000 requests waiting on 16 nodes × 8 GPUs, per strategy.
 * A decision is a grant: the strategy picks a request out of the 10,000 waiting (its order) and places it (node
 * and GPUs). Steady state: the cluster is full and 10,000 wait; each step releases the oldest allocation (a job
 * ends), the engine's decision pass grants what now fits (usually one request, sometimes several small ones),
 * and one new request is submitted so that 10,000 keep waiting; each step is 10 ms of virtual time (preemption
 * notices, 30 s grace, are carried out along the run). Figures: grants per second of wall time (the throughput; the
 * target is checked on it, whole step) and of CPU time of the whole process (process.cpuUsage: every thread, the
 * GC's helper threads too, so it can exceed the wall time on 2 cores), per-step time (release + pass + submit), and
 * grants per second of the release + decision pass alone (without the submit that keeps the queue at 10,000).
 * Requests: a trace-like mix (seeded): 13 % cpu-only, 36 % a share of one GPU, 48 % one GPU, 3 % 2/4/8 GPUs;
 * 8 owners, priorities 0–3, priority 0 preemptible. Target ≥ 5,000 decisions/s (kube-scheduler CI 180–810 pods/s;
 * Slurm 500 jobs/s).
 * `node --import tsx --import ./bench/compiled.ts bench/decisions.ts [--quick]` or `npm run bench -- --only decisions`.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../server/clock.ts';
import { SchedulerEngine } from '../server/scheduler/engine.ts';
import { declaredInventory } from '../server/scheduler/inventory.ts';
import { createStrategy } from '../server/scheduler/strategies/index.ts';
import { STRATEGY_NAMES, type RequestInputBody, type StrategyName } from '../shared/scheduler.ts';
import { rng } from '../server/rng.ts';
import { NODE_TS, type BenchOptions, type BenchResult } from './lib.ts';

const TARGET = 5000;
const QUEUED = 10_000;

function mix(r: () => number, i: number): RequestInputBody {
  const owner = `owner-${Math.floor(r() * 8)}`;
  const priority = Math.floor(r() * 4);
  const base = { owner, priority, preemptible: priority === 0, labels: { i: String(i) } };
  const x = r();
  if (x < 0.13) return { ...base, resources: { cpu: 4000 + 4000 * Math.floor(r() * 4), memoryMiB: 8192 * (1 + Math.floor(r() * 4)) } };
  if (x < 0.49) return { ...base, resources: { cpu: 4000, memoryMiB: 16_384, gpus: 1, gpuMemMiB: r() < 0.5 ? 4096 : 8192 } };
  if (x < 0.97) return { ...base, resources: { cpu: 8000, memoryMiB: 32_768, gpus: 1 } };
  const gpus = [2, 4, 8][Math.floor(r() * 3)]!;
  return { ...base, resources: { cpu: 8000 * gpus, memoryMiB: 32_768 * gpus, gpus } };
}

export interface DecisionFigures {
  strategy: StrategyName;
  steps: number;
  grants: number;
  wallPerSec: number;
  cpuPerSec: number;
  /** grants per second of the release + decision pass alone (CPU, wall) */
  passCpuPerSec: number;
  passWallPerSec: number;
  stepUs: { p50: number; p99: number };
  queued: number;
}

/**
 * `probe`: read the process's CPU time around every release + pass (the pass-only figures); the reads cost about a
 * tenth of a step, so the throughput runs go without them and one extra run with them gives the pass-only figures.
 */
export function measure(strategy: StrategyName, steps: number, probe = false): DecisionFigures {
  const clock = new ManualClock(1_700_000_000_000);
  let id = 0;
  const engine = new SchedulerEngine({
    clock, newId: () => `x${++id}`, strategy: createStrategy(strategy),
    leases: { defaultMs: 366 * 86_400_000, maxMs: 366 * 86_400_000 },
    onListenerError: (e) => { throw e; },
  });
  for (let n = 0; n < 16; n++) {
    engine.onSnapshot(declaredInventory(`node-${String(n).padStart(2, '0')}`, {
      resources: { cpu: 128_000, memoryMiB: 786_432, gpus: Array.from({ length: 8 }, (_, i) => ({ index: i, memoryMiB: 16_384 })) },
    }));
  }
  const r = rng(7);
  let grants = 0;
  const active: string[] = [];
  let head = 0;
  engine.onChange((cs) => {
    for (const c of cs) {
      if (c.kind === 'allocation_granted') {
        grants++;
        active.push(c.allocation.id);
      }
    }
  });
  let i = 0;
  while (engine.queueSize < QUEUED) {
    clock.set(clock.now() + 1);
    engine.submit(mix(r, i++));
  }
  grants = 0;
  const times: number[] = [];
  // the scheduler's decision work alone: the release and the decision pass it runs (the submit that keeps 10,000
  // waiting is the workload, measured in the step figures)
  let passCpuUs = 0;
  let passWallMs = 0;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let k = 0; k < steps; k++) {
    const t = performance.now();
    // 10 ms of virtual time per step: preemption notices (30 s grace) are carried out along the run
    clock.set(clock.now() + 10);
    // the oldest allocation still active ends (one may have been preempted meanwhile)
    while (head < active.length && engine.allocation(active[head]!)?.state !== 'active') head++;
    const c0 = probe ? process.cpuUsage() : undefined;
    if (head < active.length) engine.release(active[head++]!);
    if (c0) {
      const c1 = process.cpuUsage(c0);
      passCpuUs += c1.user + c1.system;
    }
    passWallMs += performance.now() - t;
    engine.submit(mix(r, i++));
    times.push(performance.now() - t);
  }
  const wallS = (performance.now() - wall0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  times.sort((a, b) => a - b);
  return {
    strategy, steps, grants, wallPerSec: grants / wallS, cpuPerSec: grants / cpuS,
    passCpuPerSec: grants / (passCpuUs / 1e6), passWallPerSec: grants / (passWallMs / 1000),
    stepUs: { p50: times[Math.floor(times.length / 2)]! * 1000, p99: times[Math.floor(times.length * 0.99)]! * 1000 },
    queued: engine.queueSize,
  };
}

export async function run(opts: BenchOptions = { quick: false }): Promise<BenchResult> {
  const steps = opts.quick ? 1000 : 5000;
  // each strategy in a process of its own, as a server runs one strategy at a time: with all six in one process the
  // engine's call sites see six strategy classes and V8 optimises them worse (≈ 40 % slower, measured); runs on this
  // shared VM also swing, so each strategy runs `reps` times and the run with the median wall rate is reported
  const reps = opts.quick ? 1 : 5;
  const rows: (DecisionFigures & { min: number; max: number })[] = [];
  for (const s of STRATEGY_NAMES) {
    const out = execFileSync(process.execPath, [...NODE_TS, fileURLToPath(import.meta.url), '--one', s, '--steps', String(steps), '--reps', String(reps)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const xs = (JSON.parse(out) as DecisionFigures[]).sort((a, b) => a.wallPerSec - b.wallPerSec);
    rows.push({ ...xs[Math.floor(xs.length / 2)]!, min: xs[0]!.wallPerSec, max: xs[xs.length - 1]!.wallPerSec });
  }
  const ok = (v: boolean) => (v ? '✓' : '✗');
  const markdown = [
    '## decisions',
    '',
    `Decisions (grants) per second with ${QUEUED.toLocaleString('en')} requests waiting on 16 nodes × 8 GPUs; ${steps.toLocaleString('en')} steps of release the oldest allocation → decision pass → submit one; each strategy in its own process, the median of ${reps} run(s) (range of the wall rate beside it); machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}.`,
    '',
    '| strategy | grants | decisions/s, whole step (wall / process CPU) | wall, range of the runs | decisions/s, release + pass only (wall / process CPU of a further run that reads it per step) | step p50 | step p99 | waiting at the end | target (whole step, wall) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((x) => `| ${x.strategy} | ${x.grants} | ${Math.round(x.wallPerSec).toLocaleString('en')} / ${Math.round(x.cpuPerSec).toLocaleString('en')} | ${Math.round(x.min).toLocaleString('en')}–${Math.round(x.max).toLocaleString('en')} | ${Math.round(x.passWallPerSec).toLocaleString('en')} / ${Math.round(x.passCpuPerSec).toLocaleString('en')} | ${x.stepUs.p50.toFixed(0)} µs | ${x.stepUs.p99.toFixed(0)} µs | ${x.queued.toLocaleString('en')} | ≥ ${TARGET.toLocaleString('en')} ${ok(x.wallPerSec >= TARGET)} |`),
    '',
  ].join('\n');
  return { name: 'decisions', markdown, data: rows };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const one = arg('--one');
  if (one) {
    // a child of run(): one strategy, `reps` runs after a warm-up, JSON on stdout
    const strategy = one as StrategyName;
    measure(strategy, 500);
    const steps = Number(arg('--steps') ?? 5000);
    const out = Array.from({ length: Number(arg('--reps') ?? 1) }, () => measure(strategy, steps));
    // the pass-only CPU figure, from one more run that reads the CPU time around each release + pass
    const probed = measure(strategy, steps, true);
    for (const x of out) x.passCpuPerSec = probed.passCpuPerSec;
    process.stdout.write(JSON.stringify(out));
  } else {
    const r = await run({ quick: process.argv.includes('--quick') });
    process.stdout.write(`${r.markdown}\n`);
  }
}
