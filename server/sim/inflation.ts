/**
 * The workload-inflation experiment of the FGD paper (Weng et al., USENIX ATC '23, §6.2): pods drawn at random
 * (seeded, with replacement) from a trace's pod list are submitted one after another onto an empty cluster, with no
 * departures, until the GPU demand that has arrived reaches the cluster's GPU capacity; a pod that fits nowhere is
 * turned away and the next one comes. At every 1 % of arrived demand it records:
 * - unallocated GPUs: arrived GPU demand − allocated GPUs, in % of the capacity (what the cluster failed to place;
 *   at 100 % arrived it is the share of the cluster's GPUs left unallocated);
 * - the fragmentation rate: the cluster's fragmentation (placement/fragmentation.ts, for the trace's distribution
 *   of requests) ÷ its free GPU capacity, in %.
 * Placements: FGD and the paper's baselines (scheduler/placement/), and the `resource_pooling` and
 * `load_balancing` strategies' own `place`. Every placement sees the same pods in the same order.
 * Units: every GPU is declared with 1000 MiB, so a pod's gpu_milli is its share in MiB; a pod naming GPU models
 * (gpu_spec) goes only to GPUs of those models, as a request's gpuModels do (scheduler/gpu-models.ts).
 */
import { INFLATION_PLACEMENTS } from '../../shared/names.ts';
import type { Request } from '../../shared/scheduler.ts';
import { Cluster } from '../scheduler/cluster.ts';
import { declaredInventory } from '../scheduler/inventory.ts';
import type { Shape } from '../scheduler/ledger.ts';
import { PLACERS, type PlacerName } from '../scheduler/placement/baselines.ts';
import { FragmentationMemo, WorkloadDistribution, weighTypes, type FgdWeighting, type TaskType } from '../scheduler/placement/fragmentation.ts';
import { createStrategy } from '../scheduler/strategies/index.ts';
import type { StrategyContext } from '../scheduler/strategy.ts';
import { UsageTracker } from '../scheduler/usage.ts';
import { rng } from '../rng.ts';
import type { SimNode } from './simulator.ts';
import { podModels, type TracePod } from './trace.ts';

export type InflationPlacement = (typeof INFLATION_PLACEMENTS)[number];

/** MiB of every GPU: a share's MiB is its gpu_milli */
const GPU_MIB = 1000;

export interface InflationPoint {
  /** arrived GPU demand, % of capacity */
  arrivedPct: number;
  /** arrived demand − allocated GPUs, % of capacity */
  unallocatedGpuPct: number;
  /** fragmentation ÷ free GPU capacity, %; null when nothing is free */
  fragmentationPct: number | null;
}

export interface InflationRun {
  name: InflationPlacement;
  unallocatedGpuPctAt: { '90': number; '100': number };
  fragmentationPctAt: { '90': number | null; '100': number | null };
  /** pods submitted, and turned away */
  pods: number;
  failed: number;
  wallMs: number;
  /** one point per 1 % of arrived demand */
  points: InflationPoint[];
}

/** What the experiment reads of a pod: a trace's, or a live request in the trace's units (live-inflation.ts). */
export type InflationPod = Pick<TracePod, 'cpuMilli' | 'memoryMiB' | 'numGpu' | 'gpuMilli' | 'gpuSpec'>;

export interface InflationOptions {
  pods: readonly InflationPod[];
  nodes: readonly SimNode[];
  placements?: readonly InflationPlacement[];
  seed?: number;
  /** how FGD weighs the task types (fragmentation.ts); the fragmentation rate reported always counts them */
  fgdWeighting?: FgdWeighting;
  /** pods drawn per placement at most (a bound on the work): a run stops there, its points where the arrived demand got */
  maxPods?: number;
}

/** A pod's shape in the experiment's units, with its GPU models when it names some and asks GPUs. */
export function podShape(p: InflationPod): Shape {
  const share = p.numGpu === 1 && p.gpuMilli > 0 && p.gpuMilli < 1000;
  const shape: Shape = { cpu: p.cpuMilli, memoryMiB: p.memoryMiB, whole: share ? 0 : p.numGpu, fracMiB: share ? p.gpuMilli : 0 };
  const models = podModels(p);
  if (models) shape.models = models;
  return shape;
}

/** GPUs a pod asks for. */
const demandOf = (s: Shape) => s.whole + s.fracMiB / GPU_MIB;

/** The trace's distribution of requests: one type per distinct shape and models, weighted by its count. */
export function traceDistribution(pods: readonly InflationPod[]): readonly TaskType[] {
  const d = new WorkloadDistribution();
  for (const p of pods) d.observe(podShape(p));
  return d.types();
}

function buildCluster(nodes: readonly SimNode[]): Cluster {
  const cluster = new Cluster(nodes[0]?.name ?? 'node', true);
  for (const n of nodes) {
    cluster.setInventory(declaredInventory(n.name, {
      resources: { cpu: n.cpu, memoryMiB: n.memoryMiB, gpus: Array.from({ length: n.gpus }, (_, i) => ({ index: i, memoryMiB: GPU_MIB, ...(n.model !== undefined ? { name: n.model } : {}) })) },
    }));
  }
  return cluster;
}

export function runInflation(opts: InflationOptions): InflationRun[] {
  const types = traceDistribution(opts.pods);
  return (opts.placements ?? INFLATION_PLACEMENTS).map((name) => inflate(name, opts, types));
}

function inflate(name: InflationPlacement, opts: InflationOptions, types: readonly TaskType[]): InflationRun {
  const wallStart = performance.now();
  const seed = opts.seed ?? 1;
  const draw = rng(seed);
  const random = rng(seed ^ 0x5bd1e995);
  const cluster = buildCluster(opts.nodes);
  const memo = new FragmentationMemo(types);
  const weighting = opts.fgdWeighting ?? 'count';
  const placerMemo = weighting === 'count' ? memo : new FragmentationMemo(weighTypes(types, weighting, GPU_MIB));
  const all = cluster.ledgers();
  const capacity = opts.nodes.reduce((n, x) => n + x.gpus, 0);
  if (capacity <= 0) throw new Error('the cluster has no GPU');
  const strategy = name === 'resource_pooling' || name === 'load_balancing' ? createStrategy(name) : null;
  const context: StrategyContext = { now: 0, cluster, usage: new UsageTracker(), gpuUtilisation: () => null, preempting: () => false, noticeEpoch: 0 };

  const points: InflationPoint[] = [];
  let arrived = 0;
  let allocated = 0;
  let pods = 0;
  let failed = 0;
  let nextPct = 1;
  const maxPods = opts.maxPods ?? Infinity;
  while (arrived < capacity && opts.pods.length && pods < maxPods) {
    const pod = opts.pods[Math.floor(draw() * opts.pods.length)]!;
    const shape = podShape(pod);
    const id = `p${++pods}`;
    let placement;
    if (strategy) {
      const request: Request = {
        id, owner: 'trace', priority: 0, preemptible: false, submittedAt: 0, updatedAt: 0, status: 'queued',
        resources: { cpu: shape.cpu, memoryMiB: shape.memoryMiB, gpus: shape.fracMiB > 0 ? 1 : shape.whole, ...(shape.fracMiB > 0 ? { gpuMemMiB: shape.fracMiB } : {}) },
      };
      const models = podModels(pod);
      if (models) request.gpuModels = models;
      placement = strategy.place(request, context);
    } else {
      placement = PLACERS[name as PlacerName](shape, { ledgers: cluster.nodesFor(shape), random, memo: placerMemo });
    }
    const demand = demandOf(shape);
    arrived += demand;
    if (placement) {
      cluster.allocate(placement.node, id, shape, placement.gpuIndices, { requestId: id, owner: 'trace', priority: 0, grantedAt: 0 });
      allocated += demand;
    } else failed++;
    while (nextPct <= 100 && arrived >= (capacity * nextPct) / 100) {
      const rate = memo.cluster(all).rate;
      points.push({ arrivedPct: nextPct, unallocatedGpuPct: (100 * (arrived - allocated)) / capacity, fragmentationPct: rate === null ? null : 100 * rate });
      nextPct++;
    }
  }
  const at = (pct: number) => points.find((p) => p.arrivedPct === pct) ?? points[points.length - 1];
  return {
    name,
    unallocatedGpuPctAt: { '90': at(90)?.unallocatedGpuPct ?? 0, '100': at(100)?.unallocatedGpuPct ?? 0 },
    fragmentationPctAt: { '90': at(90)?.fragmentationPct ?? null, '100': at(100)?.fragmentationPct ?? null },
    pods, failed, wallMs: performance.now() - wallStart, points,
  };
}
