/**
 * Arbiter benchmarks: `npm run bench [-- --only <name>[,<name>…]] [-- --quick] [-- --out <file.md>]`.
 * Each benchmark prints a markdown section; see bench/RESULTS.md for the figures and what they mean.
 * They measure the compiled server (dist/node, compiled first when stale), spawned or imported (bench/compiled.ts);
 * ARBITER_BENCH_SOURCES=1 measures the TypeScript sources through tsx instead.
 *   monitor-cpu      the monitor's own CPU at 1 s sampling, one client, vs sampling off             (issue 2)
 *   latency          publish-to-client latency with 1, 100 and 1,000 clients (half SSE, half socket.io)
 *   heap-per-client  server heap per idle connected client
 *   fanout           (diagnostic) the server's serial fan-out per event, seen from inside, vs client receipt
 *   gpu-parse        parse cost of the gpu source (nvidia-smi CSV/XML)                             (issue 3)
 *   gpu-cpu          server CPU with the gpu source at 1 s (nvidia-smi stand-in), nvidia-smi spawns
 *   scheduler-queue  the scheduler's queue (100k waiting) and decision pass (10k waiting)           (issue 5)
 *   store            SQLite store throughput
 *   api-requests     end-to-end POST /api/requests/s with persistence, vs GET /api/health
 *   agents-replicas  (only with --only) the agents benchmark with two hub replicas behind PostgreSQL and Redis: client
 *                    latency on the follower vs the leader, and the takeover time after the leader's kill -9 (issue 15)
 *   store-engines    (only with --only) POST /api/requests/s with the store on PostgreSQL vs SQLite    (issue 15)
 *   history          the on-disk history tier: roll-up per minute and bytes per series-day for 200 series
 *   decisions        grants/s with 10,000 waiting on 16 nodes × 8 GPUs, per strategy                  (issue 6)
 *   simulate         the Alibaba GPU trace replayed under each strategy: wall time and the evaluation table
 *   inflation        (only with --only) the FGD paper's workload inflation on the trace's 1,213-node cluster: unallocated
 *                    GPUs per placement, FGD's reduction; the trace replayed on that cluster, wall time (~3 min)
 *   dispatch         task dispatch: routing decisions/s, waits per policy, the predictor's error, loopback overhead (issue 12)
 *   workers          20 local workers → all running (wall time), call_engine through Arbiter vs straight (issue 13)
 *   workflows        a 1,000-job DAG (depth 20) of jobs that exit at once: submit + validate, ready → process started
 *                    p50/p99, wall time, against process starts from Node and a bare executor of the same DAG   (issue 14)
 *   agents           (only with --only) 50 simulated agents at 1 Hz into one hub: agent → client latency p50/p99 (socket.io
 *                    and SSE), ack round trip, hub CPU and RSS against the same hub with no agents; idle GPUs, then a
 *                    process no allocation accounts for on every GPU (~3 min)                        (issue 15)
 *   push-scale       (only with --only) latency at 1,000 and 10,000 clients per transport (SSE, socket.io, plain
 *                    WebSocket), and three clients that stop reading for 60 s beside 1,000 others        (issue 16)
 *   resumers         (only with --only) 200 SSE clients resuming from id 0 that never read: server RSS and health
 *                    latency p99 against the same server without them                               (issue 18)
 *   docker-stats     (only with --only) the docker source with 50 containers                       (issue 4)
 *   dom-latency      (only with --only) pushed event → DOM update in Chromium at 10 events/s, and the page's heap
 *                    over 31 min (--quick: 2 min; ARBITER_BENCH_DOM_MINUTES sets it)                  (issue 7)
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import os from 'node:os';
import { FROM_SOURCES, cleanupSync, installCleanupHandlers, machine, machineBusyPercent, machineTicks, setQuietBudget, ulimitN, waitQuiet, type BenchOptions, type BenchResult } from './lib.ts';

type Bench = () => Promise<{ run: (o: BenchOptions) => Promise<BenchResult> }>;
/** Loaded when selected, so that one benchmark's imports cannot break the others. */
const BENCHMARKS: Record<string, Bench> = {
  'monitor-cpu': () => import('./monitor-cpu.ts'),
  latency: () => import('./latency.ts'),
  'heap-per-client': () => import('./heap-per-client.ts'),
  fanout: () => import('./fanout.ts'),
  'gpu-parse': () => import('./gpu-parse.ts'),
  'docker-stats': () => import('./docker-stats.ts'),
  'scheduler-queue': () => import('./scheduler-queue.ts'),
  store: () => import('./store.ts'),
  'api-requests': () => import('./api-requests.ts'),
  'store-engines': () => import('./store-engines.ts'),
  'agents-replicas': () => import('./agents-replicas.ts'),
  'gpu-cpu': () => import('./gpu-cpu.ts'),
  'dom-latency': () => import('./dom-latency.ts'),
  history: () => import('./history.ts'),
  decisions: () => import('./decisions.ts'),
  simulate: () => import('./simulate.ts'),
  inflation: () => import('./inflation.ts'),
  dispatch: () => import('./dispatch.ts'),
  workers: () => import('./workers.ts'),
  workflows: () => import('./workflows.ts'),
  agents: () => import('./agents.ts'),
  resumers: () => import('./resumers.ts'),
  'push-scale': () => import('./push-scale.ts'),
};
/**
 * Run by default (~10 min on the 2-core reference machine: ~7.75 min, and ~2.5 min of workflows). docker-stats only
 * with --only: it starts Podman itself (test/podman.sh start, which may first apt-get install it) and 50 containers,
 * and would add its ~2.5 min to the default run; it also leaves the Podman service running for the other tests.
 */
const DEFAULT = ['monitor-cpu', 'latency', 'heap-per-client', 'fanout', 'gpu-parse', 'gpu-cpu', 'scheduler-queue', 'store', 'api-requests', 'history', 'decisions', 'simulate', 'dispatch', 'workers', 'workflows'];

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    'quiet-wait': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(`usage: npm run bench -- [--only ${Object.keys(BENCHMARKS).join('|')}[,…]] [--quick] [--out results.md] [--quiet-wait <s>]\n  --quiet-wait: seconds in all the run may wait for other load on the machine to calm down (default 30, quick 10)\n`);
  process.exit(0);
}
const names = values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : DEFAULT;
const unknown = names.filter((n) => !(n in BENCHMARKS));
if (unknown.length) {
  process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}\n`);
  process.exit(2);
}

/** The tree measured: HEAD plus how many files differ from it (the server is worked on in parallel). */
function gitState(): string {
  try {
    const git = (...a: string[]) => execFileSync('git', a, { cwd: new URL('..', import.meta.url), encoding: 'utf8' }).trim();
    const changed = git('status', '--porcelain').split('\n').filter(Boolean).length;
    return `commit ${git('rev-parse', '--short', 'HEAD')}${changed ? ` + ${changed} changed/untracked paths in the working tree` : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}

installCleanupHandlers();
const opts: BenchOptions = { quick: values.quick };
setQuietBudget(Number(values['quiet-wait'] ?? (opts.quick ? 10 : 30)) * 1000);
const m = machine();
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
const sections: string[] = [
  `# Arbiter benchmarks${opts.quick ? ' (quick)' : ''}`,
  '',
  `- command: \`${command}\``,
  `- date: ${new Date().toISOString()}`,
  `- machine: ${m.cores} cores (${m.cpu}), ${m.memGiB} GiB, ${m.kernel}, Node ${m.node}, ulimit -n ${ulimitN()}`,
  `- code: ${gitState()}`,
  `- server run as: ${FROM_SOURCES ? 'TypeScript sources through tsx (ARBITER_BENCH_SOURCES=1)' : 'compiled JavaScript (dist/node), as npm start runs it'}`,
  `- load average at start: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`,
  '',
];
process.stdout.write(`${sections.join('\n')}\n`);

const started = Date.now();
let failed = 0;
for (const name of names) {
  process.stderr.write(`bench: ${name}…\n`);
  const quiet = await waitQuiet();
  const t0 = Date.now();
  const m0 = machineTicks();
  try {
    const r = await (await BENCHMARKS[name]!()).run(opts);
    const busy = machineBusyPercent(m0, machineTicks());
    const text = `${r.markdown.trimEnd()}\n\n_${name} took ${((Date.now() - t0) / 1000).toFixed(0)} s; machine busy ${busy.toFixed(0)} % of one core on average (all processes, ${m.cores} cores), load average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}; before it, other load ${quiet.busyPercent.toFixed(0)} % of one core after waiting ${(quiet.waitedMs / 1000).toFixed(0)} s for a quiet machine_\n`;
    sections.push(text);
    process.stdout.write(`${text}\n`);
  } catch (e) {
    failed++;
    const text = `## ${name}\n\n**failed**: ${e instanceof Error ? e.message : String(e)}\n`;
    sections.push(text);
    process.stdout.write(`${text}\n`);
  } finally {
    cleanupSync();
  }
}
const tail = `_total ${((Date.now() - started) / 1000).toFixed(0)} s_`;
sections.push(tail);
process.stdout.write(`${tail}\n`);
if (values.out) writeFileSync(values.out, `${sections.join('\n')}\n`);
process.exit(failed ? 1 : 0);
