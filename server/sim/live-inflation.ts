/**
 * The workload-inflation experiment (inflation.ts, the FGD paper's) on the live cluster, for the strategy view's
 * compare: the nodes the scheduler can place on now (reachable, cpu and memory known) with their available GPUs,
 * emptied; pods drawn (seeded) from the requests the compare replays; every placement of the experiment.
 *
 * Units, as the experiment has them: every GPU counts 1000 (inflation.ts declares it with 1000 MiB). A request for a
 * share of a GPU (gpuMemMiB) becomes gpu_milli = its MiB ÷ the largest GPU of the cluster × 1000 (at least 1; a
 * share as large as that GPU is one whole GPU): live GPUs differ in size, the experiment's do not. A request's
 * gpuModels are its pod's gpu_spec, and a node's model is the name of its first GPU (the experiment declares a node's
 * GPUs alike).
 *
 * Bounded work (the answer is computed on the server's event loop). FGD, the costliest placement, measures every
 * GPU of every node against every type of request at each draw (about 10 ns each here), so a placement costs about
 * draws × GPUs × types. Hence: pods are drawn from the newest MAX_REQUESTS requests, only those of the MAX_TYPES
 * most frequent shapes (for a live server usually all of them, those asking GPUs first); each placement draws at
 * most WORK ÷ (GPUs × types) pods, between MIN_PODS and MAX_PODS (at the cap about ½ s for FGD, as much for the 7
 * others together); a line that reaches the cap stops short of 100 % arrived, and `maxPods` in the answer says
 * where the cap was. The points are one per 1 % of arrived demand: at most 100 per placement. The cluster is not
 * cut: building it costs about 0.15 ms a node per placement (a 1,000-node hub: about 1 s more in all).
 */
import { INFLATION_PLACEMENTS } from '../../shared/names.ts';
import type { Request, Resources, StrategyName } from '../../shared/scheduler.ts';
import type { InflationResult } from '../../shared/strategy.ts';
import type { FreeView } from '../scheduler/ledger-types.ts';
import type { NodeView } from '../scheduler/node-views.ts';
import { podShape, runInflation, type InflationPlacement, type InflationPod } from './inflation.ts';
import type { SimNode } from './simulator.ts';

export const MAX_REQUESTS = 2000;
export const MAX_TYPES = 64;
const WORK = 40_000_000;
const MIN_PODS = 100;
export const MAX_PODS = 20_000;

/** What the experiment reads of the engine: its nodes and, per node, what is free. */
export interface LiveCluster {
  nodeViews(): NodeView[];
  free(node: string): FreeView;
}

export interface LiveInflationInput {
  cluster: LiveCluster;
  /** the requests the pods are drawn from (the compare's), oldest first */
  requests: readonly Request[];
  seed: number;
  /** the strategy in force and its config: which line is its placement */
  strategy: { name: StrategyName; config: Record<string, unknown> };
}

/**
 * The nodes the scheduler can place on now, as a simulation declares them: their GPUs of 1000 MiB (`experiment`, the
 * inflation's units) or of the node's largest GPU's MiB (`actual`, compare's replay); and the largest GPU's MiB of
 * all (0 without GPUs).
 */
export function liveNodes(cluster: LiveCluster, gpuMemory: 'experiment' | 'actual' = 'experiment'): { nodes: SimNode[]; gpuMiB: number } {
  const nodes: SimNode[] = [];
  let gpuMiB = 0;
  for (const v of cluster.nodeViews()) {
    const { cpu, memoryMiB } = v.capacity;
    if (v.state !== 'reachable' || cpu === null || memoryMiB === null) continue;
    const gpus = cluster.free(v.name).gpus.filter((g) => g.available);
    const largest = gpus.reduce((m, g) => Math.max(m, g.memoryMiB), 0);
    gpuMiB = Math.max(gpuMiB, largest);
    const gpuMemoryMiB = gpuMemory === 'experiment' ? 1000 : largest || 16_384;
    nodes.push({ name: v.name, cpu, memoryMiB, gpus: gpus.length, gpuMemoryMiB, ...(gpus[0] ? { model: gpus[0].name } : {}) });
  }
  return { nodes, gpuMiB };
}

/** A request as a pod of the experiment (a share in thousandths of the largest GPU). */
export function requestPod(r: Resources, gpuMiB: number, gpuModels: readonly string[] = []): InflationPod {
  const base = { cpuMilli: r.cpu, memoryMiB: r.memoryMiB, gpuSpec: [...gpuModels] };
  if (r.gpuMemMiB === undefined || r.gpuMemMiB <= 0) return { ...base, numGpu: r.gpus, gpuMilli: 0 };
  const milli = Math.max(1, Math.round((1000 * r.gpuMemMiB) / gpuMiB));
  return { ...base, numGpu: 1, gpuMilli: milli >= 1000 ? 0 : milli };
}

const asksGpu = (p: InflationPod) => p.numGpu > 0;

/**
 * The pods of the MAX_TYPES most frequent shapes, those asking GPUs first (the experiment fills GPUs: pods without
 * are kept while there is room), and how many shapes that is.
 */
function commonShapes(pods: readonly InflationPod[]): { pods: InflationPod[]; types: number } {
  const keyOf = (p: InflationPod) => Object.values(podShape(p)).join('|');
  const counts = new Map<string, { n: number; gpu: boolean }>();
  for (const p of pods) {
    const c = counts.get(keyOf(p));
    if (c) c.n++;
    else counts.set(keyOf(p), { n: 1, gpu: asksGpu(p) });
  }
  const ranked = [...counts].sort(([, a], [, b]) => Number(b.gpu) - Number(a.gpu) || b.n - a.n);
  const kept = new Set(ranked.slice(0, MAX_TYPES).map(([k]) => k));
  return { pods: pods.filter((p) => kept.has(keyOf(p))), types: kept.size };
}

/** The line of the strategy in force: the placement it uses, when it is one the experiment runs. */
export function currentPlacement(s: LiveInflationInput['strategy']): InflationPlacement | null {
  const fgd = s.config.placementMethod === 'fgd';
  if (s.name === 'resource_pooling') return fgd ? 'fgd' : 'resource_pooling';
  if (s.name === 'load_balancing') return 'load_balancing';
  if (s.name === 'hybrid' && fgd) return 'fgd';
  return null;
}

export function liveInflation(input: LiveInflationInput): InflationResult {
  const { nodes, gpuMiB } = liveNodes(input.cluster);
  const gpus = nodes.reduce((n, x) => n + x.gpus, 0);
  const recent = input.requests.slice(-MAX_REQUESTS);
  const all = recent.map((r) => requestPod(r.resources, gpuMiB, r.gpuModels));
  const asking = all.filter(asksGpu);
  const base = { nodes: nodes.length, gpus, seed: input.seed, requests: recent.length, gpuRequests: asking.length, current: currentPlacement(input.strategy) };
  const empty = gpus === 0 ? 'The cluster has no GPU the scheduler can place on now: there is nothing to fill.'
    : !recent.length ? 'No request in the compared hours: there is no workload to draw pods from.'
      : !asking.length ? `None of the ${recent.length} requests in the compared hours asks for a GPU: nothing would fill the GPUs.`
        : null;
  if (empty !== null) return { ...base, empty, maxPods: 0, placements: [] };
  const { pods, types } = commonShapes(all);
  const maxPods = Math.min(MAX_PODS, Math.max(MIN_PODS, Math.floor(WORK / (gpus * types))));
  const runs = runInflation({ pods, nodes, placements: INFLATION_PLACEMENTS, seed: input.seed, maxPods });
  return { ...base, empty: null, maxPods, placements: runs.map(({ name, pods: n, failed, points }) => ({ name, pods: n, failed, points })) };
}
