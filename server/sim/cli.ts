/**
 * `arbiter simulate`: replay a trace in the Alibaba GPU v2023 format through the scheduler engine under each
 * strategy and print the evaluation table (or JSON with --json).
 */
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { FGD_WEIGHTINGS, INFLATION_PLACEMENTS } from '../../shared/names.ts';
import { STRATEGY_NAMES, StrategyNameSchema, type StrategyName } from '../../shared/scheduler.ts';
import { STRATEGY_CONFIG_SCHEMAS } from '../../shared/strategy.ts';
import { fieldProblems, problemsText } from '../errors.ts';
import { simulate, traceNodes, uniformNodes, type SimNode, type SimResult } from './simulator.ts';
import { findTraceFiles, podsToJobs, readNodes, readPods, type TraceFiles, type TraceNode } from './trace.ts';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** A comma-separated list of names out of `names`, or `all`. */
function nameList<T extends string>(names: readonly T[], what: string) {
  return z.string().default('all').transform((s, ctx) => {
    if (s === 'all') return [...names];
    const out: T[] = [];
    for (const n of s.split(',').map((x) => x.trim()).filter(Boolean)) {
      if ((names as readonly string[]).includes(n)) out.push(n as T);
      else ctx.addIssue({ code: 'custom', message: `unknown ${what} ${JSON.stringify(n)} (one of ${names.join(', ')}, or all)` });
    }
    return out;
  });
}

export const SimulateArgsSchema = z.object({
  trace: z.string().min(1),
  /** a node list (`openb_node_list_*.csv`): the cluster is its nodes (replaces --nodes, --gpus-per-node, --cpu-per-node, --memory-per-node) */
  nodesFrom: z.string().min(1).optional(),
  nodes: int(1, 10_000).default(16),
  gpusPerNode: int(0, 1024).default(8),
  cpuPerNode: int(1, 100_000_000).default(128_000),
  memoryPerNode: int(1, 2 ** 31).default(786_432),
  gpuMemory: int(1, 2 ** 31).default(16_384),
  strategies: nameList(STRATEGY_NAMES, 'strategy'),
  timeScale: z.coerce.number().positive().max(1_000_000).default(1),
  owners: int(1, 100_000).default(8),
  /** hash: owner-<k> from the pod name; qos: one owner per qos class (LS, Guaranteed, Burstable, BE) */
  ownerBy: z.enum(['hash', 'qos']).default('hash'),
  starvationMs: int(1, 365 * 86_400_000).default(600_000),
  /** be: only best-effort pods (qos BE) may be preempted; all: every pod (jobs that checkpoint) */
  preemptible: z.enum(['be', 'all']).default('be'),
  /** given: each request states its job's length (expectedDurationMs); hidden: none does (strategies learn lengths) */
  durations: z.enum(['given', 'hidden']).default('given'),
  /** JSON file: {"<strategy>": {config}} */
  strategyConfig: z.string().optional(),
  json: z.boolean().default(false),
  /** replay: the trace as recorded; inflation: the FGD paper's workload inflation (inflation-cli.ts) */
  experiment: z.enum(['replay', 'inflation']).default('replay'),
  /** inflation: the placements compared */
  placements: nameList(INFLATION_PLACEMENTS, 'placement'),
  /** inflation: seed of the pods drawn */
  seed: int(0, 2 ** 31 - 1).default(1),
  /** inflation: how FGD weighs the workload's task types */
  fgdWeighting: z.enum(FGD_WEIGHTINGS).default('count'),
  /** inflation: write the chart (SVG) there */
  plot: z.string().min(1).optional(),
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

/** The arguments checked, each problem named by its flag. */
export function parseSimulateArgs(input: SimulateArgs): z.output<typeof SimulateArgsSchema> {
  const parsed = SimulateArgsSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = fieldProblems(parsed.error).map((p) => ({ ...p, field: `--${p.field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` }));
  throw new SimulateArgsError(problemsText(problems));
}

/** The trace's files at --trace; an error naming what was expected when there is none. */
export function traceFilesAt(trace: string): TraceFiles {
  const files = findTraceFiles(trace);
  if (!files) throw new Error(`no trace at ${trace} (a directory holding *openb_pod_list_default.csv, or a pod list .csv)`);
  return files;
}

/** The cluster of the arguments: --nodes-from's nodes, else --nodes identical ones; GPUs of `gpuMemory` MiB. */
export function clusterOf(args: z.output<typeof SimulateArgsSchema>, gpuMemory = args.gpuMemory): SimNode[] {
  return args.nodesFrom !== undefined
    ? traceNodes(readNodeList(args.nodesFrom), gpuMemory)
    : uniformNodes(args.nodes, { cpu: args.cpuPerNode, memoryMiB: args.memoryPerNode, gpus: args.gpusPerNode, gpuMemoryMiB: gpuMemory });
}

export function runSimulate(input: SimulateArgs): SimulateOutput {
  const args = parseSimulateArgs(input);
  const files = traceFilesAt(args.trace);
  const owners = args.ownerBy === 'qos' ? { ownerBy: 'qos' as const } : { owners: args.owners };
  const jobs = podsToJobs(readPods(files.pods), { gpuMemoryMiB: args.gpuMemory, preemptible: args.preemptible, ...owners });
  const configs = strategyConfigs(args.strategyConfig, args.strategies);
  const nodes = clusterOf(args);
  const results = args.strategies.map((strategy) => simulate(jobs, {
    strategy, config: configs[strategy], nodes, timeScale: args.timeScale, starvationMs: args.starvationMs, durations: args.durations,
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
