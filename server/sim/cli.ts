/**
 * `arbiter simulate`: replay a trace in the Alibaba GPU v2023 format through the scheduler engine under each
 * strategy and print the evaluation table (or JSON with --json).
 */
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { STRATEGY_NAMES, StrategyNameSchema, type StrategyName } from '../../shared/scheduler.ts';
import { STRATEGY_CONFIG_SCHEMAS } from '../../shared/strategy.ts';
import { fieldProblems, problemsText } from '../errors.ts';
import { simulate, traceNodes, uniformNodes, type SimResult } from './simulator.ts';
import { findTraceFiles, podsToJobs, readNodes, readPods, type TraceNode } from './trace.ts';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const SimulateArgsSchema = z.object({
  trace: z.string().min(1),
  /** a node list (`openb_node_list_*.csv`): the cluster is its nodes (replaces --nodes, --gpus-per-node, --cpu-per-node, --memory-per-node) */
  nodesFrom: z.string().min(1).optional(),
  nodes: int(1, 10_000).default(16),
  gpusPerNode: int(0, 1024).default(8),
  cpuPerNode: int(1, 100_000_000).default(128_000),
  memoryPerNode: int(1, 2 ** 31).default(786_432),
  gpuMemory: int(1, 2 ** 31).default(16_384),
  strategies: z.string().default('all').transform((s, ctx) => {
    if (s === 'all') return [...STRATEGY_NAMES];
    const names = s.split(',').map((x) => x.trim()).filter(Boolean);
    const out: StrategyName[] = [];
    for (const n of names) {
      const p = StrategyNameSchema.safeParse(n);
      if (!p.success) ctx.addIssue({ code: 'custom', message: `unknown strategy ${JSON.stringify(n)} (one of ${STRATEGY_NAMES.join(', ')}, or all)` });
      else out.push(p.data);
    }
    return out;
  }),
  timeScale: z.coerce.number().positive().max(1_000_000).default(1),
  owners: int(1, 100_000).default(8),
  /** hash: owner-<k> from the pod name; qos: one owner per qos class (LS, Guaranteed, Burstable, BE) */
  ownerBy: z.enum(['hash', 'qos']).default('hash'),
  starvationMs: int(1, 365 * 86_400_000).default(600_000),
  /** JSON file: {"<strategy>": {config}} */
  strategyConfig: z.string().optional(),
  json: z.boolean().default(false),
});
export type SimulateArgs = z.input<typeof SimulateArgsSchema>;

export interface SimulateOutput {
  trace: string;
  ownerBy: 'hash' | 'qos';
  nodes: number;
  gpusPerNode: number;
  /** the node list the cluster was built from (--nodes-from) */
  nodesFrom?: string;
  gpus: number;
  timeScale: number;
  jobs: number;
  results: SimResult[];
}

/** A bad argument of `arbiter simulate`, each problem named by its flag (`--gpus-per-node: …`). */
export class SimulateArgsError extends Error {}

export function runSimulate(input: SimulateArgs): SimulateOutput {
  const parsed = SimulateArgsSchema.safeParse(input);
  if (!parsed.success) {
    const problems = fieldProblems(parsed.error).map((p) => ({ ...p, field: `--${p.field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` }));
    throw new SimulateArgsError(problemsText(problems));
  }
  const args = parsed.data;
  const files = findTraceFiles(args.trace);
  if (!files) throw new Error(`no trace at ${args.trace} (a directory holding *openb_pod_list_default.csv, or a pod list .csv)`);
  const jobs = podsToJobs(readPods(files.pods), args.ownerBy === 'qos' ? { gpuMemoryMiB: args.gpuMemory, ownerBy: 'qos' } : { gpuMemoryMiB: args.gpuMemory, owners: args.owners });
  const configs = strategyConfigs(args.strategyConfig, args.strategies);
  const nodes = args.nodesFrom !== undefined
    ? traceNodes(readNodeList(args.nodesFrom), args.gpuMemory)
    : uniformNodes(args.nodes, { cpu: args.cpuPerNode, memoryMiB: args.memoryPerNode, gpus: args.gpusPerNode, gpuMemoryMiB: args.gpuMemory });
  const results = args.strategies.map((strategy) => simulate(jobs, {
    strategy, config: configs[strategy], nodes, timeScale: args.timeScale, starvationMs: args.starvationMs,
  }));
  const gpus = nodes.reduce((n, x) => n + x.gpus, 0);
  const perNode = new Set(nodes.map((n) => n.gpus));
  return {
    trace: files.pods, ownerBy: args.ownerBy, nodes: nodes.length, gpusPerNode: perNode.size === 1 ? nodes[0]!.gpus : Math.round(gpus / nodes.length),
    ...(args.nodesFrom !== undefined ? { nodesFrom: args.nodesFrom } : {}), gpus, timeScale: args.timeScale, jobs: jobs.length, results,
  };
}

/** The nodes of a node list; a missing or empty file is an argument error. */
export function readNodeList(file: string): TraceNode[] {
  if (!existsSync(file)) throw new SimulateArgsError(`--nodes-from: no file at ${file}`);
  const nodes = readNodes(file);
  if (!nodes.length) throw new SimulateArgsError(`--nodes-from: ${file} lists no node`);
  return nodes;
}

/** The config of each strategy replayed, from `--strategy-config <file>` or the defaults, checked against its schema. */
function strategyConfigs(file: string | undefined, strategies: readonly StrategyName[]): Partial<Record<StrategyName, unknown>> {
  const invalid = (problems: string) => new SimulateArgsError(`invalid --strategy-config ${file}: ${problems}`);
  const all = z.partialRecord(StrategyNameSchema, z.unknown()).safeParse(file ? JSON.parse(readFileSync(file, 'utf8')) : {});
  if (!all.success) throw invalid(problemsText(fieldProblems(all.error)));
  const out: Partial<Record<StrategyName, unknown>> = {};
  for (const strategy of strategies) {
    const parsed = STRATEGY_CONFIG_SCHEMAS[strategy].safeParse(all.data[strategy] ?? {});
    if (!parsed.success) throw invalid(problemsText(fieldProblems(parsed.error, [strategy])));
    out[strategy] = parsed.data;
  }
  return out;
}

const secs = (ms: number | null | undefined) => (ms === null || ms === undefined ? '–' : ms >= 3600_000 ? `${(ms / 3600_000).toFixed(1)} h` : ms >= 60_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(0)} s`);
const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)} %`);
const num = (x: number | null | undefined, d = 3) => (x === null || x === undefined ? '–' : x.toFixed(d));

/** The table as Markdown (what RESULTS.md holds). */
export function formatTable(out: SimulateOutput): string {
  const head = ['strategy', 'wall', 'requests', 'granted', 'failed', 'cancelled', 'success', 'wait mean', 'wait p50', 'wait p95', 'JCT mean', 'JCT p95', 'makespan', 'GPU util', 'Jain', 'preempted', 'suspended', 'starved', 'fragmented GPUs'];
  const rows = out.results.map((r) => [
    r.strategy, `${(r.wallMs! / 1000).toFixed(2)} s`, String(r.requests), String(r.granted), String(r.failed), String(r.cancelled), pct(r.successRate),
    secs(r.waitMs.mean), secs(r.waitMs.p50), secs(r.waitMs.p95),
    secs(r.jctMs?.mean), secs(r.jctMs?.p95), secs(r.makespanMs), pct(r.utilisation), num(r.jain), String(r.preemptions), String(r.suspensions),
    String(r.starved), pct(r.fragmentation),
  ]);
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}
