/**
 * `arbiter simulate --experiment inflation`: the FGD paper's workload inflation (inflation.ts) on the cluster of
 * --nodes-from (or --nodes identical ones), its table, its JSON and its chart (--plot out.svg).
 */
import { writeFileSync } from 'node:fs';
import { inflationChart } from '../../shared/plot.ts';
import { clusterOf, parseSimulateArgs, traceFilesAt, type SimulateArgs } from './cli.ts';
import { runInflation, type InflationRun } from './inflation.ts';
import { readPods } from './trace.ts';
import type { FgdWeighting } from '../scheduler/placement/fragmentation.ts';

export interface InflationOutput {
  experiment: 'inflation';
  trace: string;
  nodesFrom?: string;
  nodes: number;
  gpus: number;
  seed: number;
  fgdWeighting: FgdWeighting;
  placements: InflationRun[];
  /** FGD against the best other placement at 90 % and 100 % arrived demand (null without FGD or another) */
  fgd: { bestBaseline: string; reductionPctAt: { '90': number | null; '100': number | null } } | null;
}

/** How much fewer GPUs FGD leaves unallocated than the best other placement, in % of that placement's. */
export function fgdReduction(runs: readonly InflationRun[]): InflationOutput['fgd'] {
  const fgd = runs.find((r) => r.name === 'fgd');
  const others = runs.filter((r) => r.name !== 'fgd');
  if (!fgd || !others.length) return null;
  const best = others.reduce((a, b) => (b.unallocatedGpuPctAt['100'] < a.unallocatedGpuPctAt['100'] ? b : a));
  const cut = (pct: '90' | '100') => {
    const base = Math.min(...others.map((r) => r.unallocatedGpuPctAt[pct]));
    return base > 0 ? (100 * (base - fgd.unallocatedGpuPctAt[pct])) / base : null;
  };
  return { bestBaseline: best.name, reductionPctAt: { '90': cut('90'), '100': cut('100') } };
}

export function runInflationExperiment(input: SimulateArgs): InflationOutput {
  const args = parseSimulateArgs(input);
  const files = traceFilesAt(args.trace);
  // every GPU has 1000 MiB: a pod's gpu_milli is its share in MiB, whatever the model
  const nodes = clusterOf(args, 1000);
  const placements = runInflation({ pods: readPods(files.pods), nodes, placements: args.placements, seed: args.seed, fgdWeighting: args.fgdWeighting });
  const out: InflationOutput = {
    experiment: 'inflation', trace: files.pods, ...(args.nodesFrom !== undefined ? { nodesFrom: args.nodesFrom } : {}),
    nodes: nodes.length, gpus: nodes.reduce((n, x) => n + x.gpus, 0), seed: args.seed, fgdWeighting: args.fgdWeighting, placements, fgd: fgdReduction(placements),
  };
  if (args.plot !== undefined) writeFileSync(args.plot, inflationChart(placements, out));
  return out;
}

const pct = (x: number | null) => (x === null ? '–' : `${x.toFixed(2)} %`);

/** The table as Markdown. */
export function formatInflation(out: InflationOutput): string {
  const head = ['placement', 'unallocated GPUs at 90 %', 'at 100 %', 'fragmentation rate at 90 %', 'at 100 %', 'pods', 'turned away', 'wall'];
  const lines = [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i ? '---:' : '---')).join('|')}|`,
    ...out.placements.map((r) => `| ${[r.name, pct(r.unallocatedGpuPctAt['90']), pct(r.unallocatedGpuPctAt['100']), pct(r.fragmentationPctAt['90']),
      pct(r.fragmentationPctAt['100']), String(r.pods), String(r.failed), `${(r.wallMs / 1000).toFixed(2)} s`].join(' | ')} |`),
  ];
  if (out.fgd) {
    const f = out.fgd;
    lines.push('', `FGD leaves ${pct(f.reductionPctAt['100'])} fewer GPUs unallocated at 100 % arrived demand than the best other placement (${f.bestBaseline}); at 90 %: ${pct(f.reductionPctAt['90'])}.`);
  }
  return lines.join('\n');
}
