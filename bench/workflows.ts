/**
 * workflows: a 1,000-job DAG of jobs that exit at once (issue 14), on the compiled server with the local backend.
 *   1. submit + validate: `POST /api/workflows` of the body to its 201 (median and max of several, each workflow
 *      cancelled again at once), as in a run (its roots granted and started at once) and with the cluster held by
 *      another allocation (its roots' requests wait: no process starts), beside the in-process cost of each step the
 *      server takes on the same body (JSON.parse, the body's schema, checkWorkflow and its dagProblems, dagShape, the
 *      book's create with the roots' launches); the same for a 10,000-job body of the same shape, ten times as wide;
 *   2. ready → running: the DAG run to SUCCEEDED, per job from `ready_at` to its `started_at` (the grant) and to its
 *      worker's process start (the worker's `started_at`), split by the `workflow_update` events; wall time, jobs/s,
 *      the server's CPU and RSS;
 *   3. baselines measured in the same run: one `/bin/sh -c true` started from Node (spawn → 'spawn' event, spawn →
 *      exit), bare and the way the local backend starts a worker; and the same DAG run by a bare executor in this
 *      process (each job started the local backend's way once its parents have exited), in alternating rounds with
 *      Arbiter's runs.
 * `node --import tsx --import ./bench/compiled.ts bench/workflows.ts [--quick]` or `npm run bench -- --only workflows`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventSource } from 'eventsource';
import { ManualClock } from '../server/clock.ts';
import { rng } from '../server/rng.ts';
import { WorkflowBook } from '../server/workloads/workflows/book.ts';
import { dagProblems, dagShape } from '../server/workloads/workflows/dag.ts';
import { checkWorkflow, type WorkflowChecks } from '../server/workloads/workflows/validate.ts';
import type { Allocation } from '../shared/scheduler.ts';
import type { WorkersResponse } from '../shared/workers.ts';
import { WorkflowCreateBodySchema, type User, type Workflow, type WorkflowChange, type WorkflowCreateBody, type WorkflowCreated, type WorkflowsResponse } from '../shared/workflows.ts';
import { clockTicks, fmt, percentile, procTimes, removeDir, sleep, spawnServer, table, tempDir, withTimeout, type BenchOptions, type BenchResult, type ServerProcess } from './lib.ts';
import { bareDag, spawnBaseline, type BareRun, type SpawnBaseline, type SpawnTimes } from './process-starts.ts';

const LAYERS = 20;
const WIDTH = 50;
const SEED = 14;
/** declared to the server: enough that no job of the DAG waits for resources */
const CPU_MILLICORES = 64_000;
/** the 10,000-job body is submitted again only while each submit stays under this */
const SCALE_LIMIT_MS = 30_000;
const ENDED = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

// ------------------------------------------------------------------ the DAG

interface DagJobBody {
  name: string;
  job_type: string;
  branch_id: number;
  parent_indices: number[];
  resources: { cpu: number };
  run: { cmd: string };
}

interface Dag {
  jobs: DagJobBody[];
  edges: number;
  roots: number;
  /** longest path, in jobs */
  depth: number;
}

/**
 * `layers` layers of `width` jobs; a job of layer L > 0 has one parent in layer L − 1 (so the depth is the number of
 * layers) and up to two more from any earlier layer, all drawn from a seeded generator. Each job its own branch.
 */
function randomDag(layers: number, width: number, seed: number): Dag {
  const next = rng(seed);
  const pick = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo));
  const jobs: DagJobBody[] = [];
  for (let layer = 0; layer < layers; layer++) {
    for (let k = 0; k < width; k++) {
      const i = jobs.length;
      const parents = new Set<number>();
      if (layer > 0) {
        parents.add(pick((layer - 1) * width, layer * width));
        const more = pick(0, 3);
        while (parents.size < 1 + more) parents.add(pick(0, layer * width));
      }
      jobs.push({ name: `j${i}`, job_type: 'bench', branch_id: i, parent_indices: [...parents].sort((a, b) => a - b), resources: { cpu: 50 }, run: { cmd: 'true' } });
    }
  }
  if (dagProblems(jobs).length) throw new Error('the generated DAG is not valid');
  const depth = Math.max(...dagShape(jobs).depth) + 1;
  return { jobs, edges: jobs.reduce((n, j) => n + j.parent_indices.length, 0), roots: jobs.filter((j) => !j.parent_indices.length).length, depth };
}

function bodyOf(dag: Dag, userId: string, name: string): string {
  return JSON.stringify({ user_id: userId, name, jobs: dag.jobs });
}

// ------------------------------------------------------------------ in-process: what the server does with the body

interface StepTimes {
  parse: number;
  schema: number;
  check: number;
  dagProblems: number;
  dagShape: number;
  /** the book's create and, for each root, launching → queued → running (the service's synchronous part) */
  book: number;
  /** the book's bookkeeping per job of a run (launching → queued → running → succeeded), over its first `runJobs` jobs */
  bookPerJob: number;
  runJobs: number;
}

const checks: WorkflowChecks = { userExists: () => true, backendAvailable: () => true, defaultBackend: 'local', neverFits: () => null };

function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** Median wall time of `fn` over `reps` runs, after one unmeasured. */
function timeIt(reps: number, fn: () => void): number {
  fn();
  const out: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return median(out);
}

/** What the service tells the book when a job's worker is asked for and granted at once. */
function launchOf(book: WorkflowBook, id: string, i: number): void {
  book.launching(id, i, `wf-${id}-${i}-1-0`);
  book.queued(id, i, { request_id: `r${i}`, why: 'waiting for its grant' });
  book.running(id, i, { request_id: `r${i}`, allocation_id: `a${i}`, why: null });
}

/**
 * The steps in this process, each the median of `reps`; the book's run over its first `runJobs` jobs (the book's
 * cost per change grows with the workflow's size, not with the run's progress, so a part gives the cost per job).
 */
function inProcess(text: string, reps: number, runJobs: number): StepTimes {
  const body: WorkflowCreateBody = WorkflowCreateBodySchema.parse(JSON.parse(text));
  const create = (book: WorkflowBook, id: string) => book.create({ id, user_id: body.user_id, username: 'bench', name: null, jobs: body.jobs, depth: dagShape(body.jobs).depth });
  let n = 0;
  const parse = timeIt(reps, () => JSON.parse(text));
  return {
    parse,
    schema: timeIt(reps, () => WorkflowCreateBodySchema.parse(JSON.parse(text))) - parse,
    check: timeIt(reps, () => checkWorkflow(body, checks)),
    dagProblems: timeIt(reps, () => dagProblems(body.jobs)),
    dagShape: timeIt(reps, () => dagShape(body.jobs)),
    book: timeIt(reps, () => {
      const book = new WorkflowBook(new ManualClock());
      const id = `w${++n}`;
      for (const i of create(book, id)) launchOf(book, id, i);
    }),
    bookPerJob: timeIt(3, () => {
      const book = new WorkflowBook(new ManualClock());
      const id = `w${++n}`;
      const ready = create(book, id);
      for (let done = 0; done < runJobs; done++) {
        const i = ready.shift()!;
        launchOf(book, id, i);
        ready.push(...book.succeeded(id, i, { exit_code: 0, log_tail: [] }));
      }
      if (runJobs === body.jobs.length && book.status(id) !== 'SUCCEEDED') throw new Error(`the book's run ended ${book.status(id)}`);
    }) / runJobs,
    runJobs,
  };
}

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

// ------------------------------------------------------------------ Arbiter

interface Api {
  call<T>(method: string, path: string, body?: string): Promise<{ status: number; body: T }>;
}

function api(server: ServerProcess): Api {
  return {
    async call<T>(method: string, path: string, body?: string) {
      try {
        const res = await fetch(`${server.url}${path}`, {
          method, headers: { authorization: `Bearer ${server.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body } : {}),
        });
        return { status: res.status, body: (await res.json()) as T };
      } catch (err) {
        throw new Error(`${method} ${path}${body !== undefined ? ` (${body.length} bytes)` : ''}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    },
  };
}

/** POST the body (serialized already) → its 201 (ms), then cancel the workflow (its roots were asked for at once) and let it settle. */
async function submitOnce(a: Api, text: string): Promise<{ ms: number; cancelMs: number }> {
  const t0 = performance.now();
  const r = await a.call<WorkflowCreated>('POST', '/api/workflows', text);
  const ms = performance.now() - t0;
  if (r.status !== 201) throw new Error(`POST /api/workflows: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
  const t1 = performance.now();
  const c = await a.call<Workflow>('DELETE', `/api/workflows/${r.body.workflow_id}`);
  if (c.status !== 200 || c.body.status !== 'CANCELLED') throw new Error(`cancel: ${c.status} ${c.body.status}`);
  const cancelMs = performance.now() - t1;
  await sleep(300);
  return { ms, cancelMs };
}

/** Submit `reps` times; stop early once one takes longer than `limitMs`. */
async function submits(a: Api, text: string, reps: number, limitMs = Infinity): Promise<{ ms: number[]; cancelMs: number[] }> {
  const out = { ms: [] as number[], cancelMs: [] as number[] };
  for (let k = 0; k < reps; k++) {
    const s = await submitOnce(a, text);
    out.ms.push(s.ms);
    out.cancelMs.push(s.cancelMs);
    if (s.ms > limitMs) break;
  }
  return out;
}

/** Hold every core of the server with one allocation while `fn` runs: jobs asked for meanwhile wait, none starts. */
async function holdingTheCluster<T>(a: Api, fn: () => Promise<T>): Promise<T> {
  const r = await a.call<{ allocation?: Allocation }>('POST', '/api/requests', JSON.stringify({ owner: 'bench-hold', resources: { cpu: CPU_MILLICORES } }));
  if (r.status !== 201 || !r.body.allocation) throw new Error(`holding the cluster: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  try {
    return await fn();
  } finally {
    await a.call('DELETE', `/api/allocations/${r.body.allocation.id}`);
  }
}

/** The `workflow_update` events of the server, kept per workflow as they come. */
function watchWorkflows(server: ServerProcess) {
  const byWorkflow = new Map<string, WorkflowChange[]>();
  const waiters = new Map<string, () => void>();
  const endedIds = new Set<string>();
  const es = new EventSource(`${server.url}/api/events?types=workflow_update&access_token=${server.token}`);
  es.addEventListener('workflow_update', (e) => {
    const c = (JSON.parse((e as MessageEvent<string>).data) as { data: WorkflowChange }).data;
    const id = c.workflow.id;
    let list = byWorkflow.get(id);
    if (!list) byWorkflow.set(id, (list = []));
    list.push(c);
    if (c.kind === 'workflow_state' && ENDED.has(c.workflow.status)) {
      endedIds.add(id);
      waiters.get(id)?.();
    }
  });
  return {
    opened: new Promise<void>((resolve, reject) => {
      es.addEventListener('open', () => resolve());
      es.addEventListener('error', () => reject(new Error('the workflow_update stream failed')));
    }),
    events: (id: string) => byWorkflow.get(id) ?? [],
    forget: (id: string) => byWorkflow.delete(id),
    /** resolves when the workflow has ended (its event seen, or a summary says so: checked every 5 s) */
    async ended(a: Api, userId: string, id: string, timeoutMs: number): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!endedIds.has(id)) {
        if (Date.now() > deadline) throw new Error(`workflow ${id} did not end within ${timeoutMs} ms`);
        await Promise.race([new Promise<void>((r) => waiters.set(id, r)), sleep(5000)]);
        const list = await a.call<WorkflowsResponse>('GET', `/api/workflows?user_id=${userId}&limit=10`);
        if (list.body.workflows.some((w) => w.id === id && ENDED.has(w.status))) break;
      }
      waiters.delete(id);
    },
    close: () => es.close(),
  };
}

interface JobIntervals {
  readyToQueued: number[];
  queuedToGranted: number[];
  readyToGranted: number[];
  grantedToProcess: number[];
  readyToProcess: number[];
  /** the same, of the roots (made ready together by the submit) and of the other jobs */
  readyToProcessRoots: number[];
  readyToProcessOthers: number[];
  processToExit: number[];
  exitToSucceeded: number[];
  succeededToChildReady: number[];
  readyToSucceeded: number[];
}

interface ArbiterRun {
  wallMs: number;
  maxLive: number;
  /** the server's own CPU over the run (ms), and that of the children it reaped (the jobs' shells) */
  cpuMs: number;
  childrenCpuMs: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  intervals: JobIntervals;
}

const ms = (iso: string | null) => (iso === null ? NaN : Date.parse(iso));

async function arbiterRun(a: Api, server: ServerProcess, watch: ReturnType<typeof watchWorkflows>, userId: string, text: string): Promise<ArbiterRun> {
  const rssBeforeMiB = rssMiB(server.pid);
  const cpu0 = procTimes(server.pid);
  const sent = Date.now();
  const r = await a.call<WorkflowCreated>('POST', '/api/workflows', text);
  if (r.status !== 201) throw new Error(`POST /api/workflows: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
  const id = r.body.workflow_id;
  await watch.ended(a, userId, id, 600_000);
  const cpu1 = procTimes(server.pid);
  const rssAfterMiB = rssMiB(server.pid);
  const w = (await a.call<Workflow>('GET', `/api/workflows/${id}`)).body;
  if (w.status !== 'SUCCEEDED') throw new Error(`workflow ${id} ended ${w.status}: ${w.jobs.filter((j) => j.status !== 'SUCCEEDED').slice(0, 3).map((j) => `${j.name} ${j.status} ${j.why}`).join('; ')}`);
  const workers = new Map((await a.call<WorkersResponse>('GET', '/api/workers')).body.workers.map((x) => [x.id, x]));
  const queuedAt = new Map<number, number>();
  for (const c of watch.events(id)) if (c.kind === 'job_state' && c.job?.status === 'QUEUED' && !queuedAt.has(c.job.index)) queuedAt.set(c.job.index, c.at);
  watch.forget(id);
  const iv: JobIntervals = {
    readyToQueued: [], queuedToGranted: [], readyToGranted: [], grantedToProcess: [], readyToProcess: [], readyToProcessRoots: [], readyToProcessOthers: [],
    processToExit: [], exitToSucceeded: [], succeededToChildReady: [], readyToSucceeded: [],
  };
  const spans: [number, number][] = [];
  for (const j of w.jobs) {
    if (j.attempts !== 1 || j.exit_code !== 0) throw new Error(`job ${j.name}: ${j.attempts} attempts, exit ${j.exit_code}`);
    const worker = j.worker_id ? workers.get(j.worker_id) : undefined;
    if (!worker || worker.started_at === null || worker.ended_at === null) throw new Error(`job ${j.name}: its worker ${j.worker_id} is not listed with its times`);
    const ready = ms(j.ready_at);
    const granted = ms(j.started_at);
    const queued = queuedAt.get(j.index) ?? NaN;
    iv.readyToQueued.push(queued - ready);
    iv.queuedToGranted.push(granted - queued);
    iv.readyToGranted.push(granted - ready);
    iv.grantedToProcess.push(worker.started_at - granted);
    iv.readyToProcess.push(worker.started_at - ready);
    (j.parent_indices.length ? iv.readyToProcessOthers : iv.readyToProcessRoots).push(worker.started_at - ready);
    iv.processToExit.push(worker.ended_at - worker.started_at);
    iv.exitToSucceeded.push(ms(j.ended_at) - worker.ended_at);
    iv.readyToSucceeded.push(ms(j.ended_at) - ready);
    if (j.parent_indices.length) iv.succeededToChildReady.push(ready - Math.max(...j.parent_indices.map((p) => ms(w.jobs[p]!.ended_at))));
    spans.push([worker.started_at, worker.ended_at]);
  }
  const tick = 1000 / clockTicks();
  return {
    wallMs: ms(w.ended_at) - sent, maxLive: maxOverlap(spans), cpuMs: (cpu1.self - cpu0.self) * tick, childrenCpuMs: (cpu1.children - cpu0.children) * tick,
    rssBeforeMiB, rssAfterMiB, intervals: iv,
  };
}

/** Most spans open at once (a span ending at t is closed before one starting at t opens). */
function maxOverlap(spans: readonly [number, number][]): number {
  const points = spans.flatMap(([s, e]): [number, number][] => [[s, 1], [e, -1]]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let open = 0;
  let most = 0;
  for (const [, d] of points) most = Math.max(most, (open += d));
  return most;
}

// ------------------------------------------------------------------ the benchmark

interface SubmitFigures {
  /** as in a run: the roots granted and started before the 201 */
  started: number[];
  /** the cluster held: the roots' requests wait */
  held: number[];
  cancelMs: number[];
}

export async function run(opts: BenchOptions = { quick: false }): Promise<BenchResult> {
  const dag = randomDag(LAYERS, WIDTH, SEED);
  const wide = randomDag(LAYERS, WIDTH * 10, SEED);
  const runs = opts.quick ? 1 : 2;
  const reps = opts.quick ? 3 : 5;
  const wideReps = opts.quick ? 1 : 3;
  const steps = { small: inProcess(bodyOf(dag, 'u', 'bench'), opts.quick ? 5 : 21, dag.jobs.length), wide: inProcess(bodyOf(wide, 'u', 'bench'), opts.quick ? 3 : 5, dag.jobs.length) };

  const scratch = tempDir('arbiter-bench-wf-procs-');
  const spawns = await spawnBaseline(opts.quick ? 100 : 300, scratch);

  const dataDir = tempDir('arbiter-bench-workflows-');
  const configPath = join(dataDir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ resources: { cpu: CPU_MILLICORES, memoryMiB: 65_536, gpus: [] } }));
  const server = await spawnServer(['--config', configPath, '--no-gpu', '--no-docker', '--no-web-build', '--worker-grace-ms', '1000'], 120_000, [], { dataDir });
  const a = api(server);
  const watch = watchWorkflows(server);
  const bare: BareRun[] = [];
  const arbiter: ArbiterRun[] = [];
  const small: SubmitFigures = { started: [], held: [], cancelMs: [] };
  const big: SubmitFigures = { started: [], held: [], cancelMs: [] };
  const bytes = { small: 0, wide: 0 };
  let serverRssMiB = NaN;
  try {
    await withTimeout(watch.opened, 15_000, 'SSE open');
    const u = await a.call<User>('POST', '/api/users', JSON.stringify({ username: 'bench' }));
    if (u.status !== 201) throw new Error(`POST /api/users: ${u.status}`);
    const userId = u.body.id;
    const text = bodyOf(dag, userId, 'bench-1k');
    const wideText = bodyOf(wide, userId, 'bench-10k');
    bytes.small = Buffer.byteLength(text);
    bytes.wide = Buffer.byteLength(wideText);
    // warm-up: the submit, launch and cancel paths, and the workers' process starts
    await submits(a, text, 2);
    for (let k = 0; k < runs; k++) {
      bare.push(await bareDag(dag.jobs, scratch));
      await sleep(500);
      arbiter.push(await arbiterRun(a, server, watch, userId, text));
      await sleep(500);
    }
    const s = await submits(a, text, reps);
    small.started.push(...s.ms);
    small.cancelMs.push(...s.cancelMs);
    await holdingTheCluster(a, async () => {
      small.held.push(...(await submits(a, text, reps)).ms);
      big.held.push(...(await submits(a, wideText, wideReps, SCALE_LIMIT_MS)).ms);
    });
    if (Math.max(...big.held) <= SCALE_LIMIT_MS) {
      const w = await submits(a, wideText, 1);
      big.started.push(...w.ms);
      big.cancelMs.push(...w.cancelMs);
    }
    serverRssMiB = rssMiB(server.pid);
  } catch (err) {
    // what the server said last tells why a call failed
    throw new Error(`${err instanceof Error ? `${err.message}${err.cause ? ` (${String(err.cause)})` : ""}` : String(err)}; the server's last output: ${server.stderr().slice(-2000)}`, { cause: err });
  } finally {
    watch.close();
    await server.stop();
    removeDir(scratch);
  }
  const markdown = report({ dag, wide, bytes, steps, spawns, bare, arbiter, small, big, serverRssMiB });
  return {
    name: 'workflows', markdown,
    data: { steps, bare: bare.map((b) => b.wallMs), arbiter: arbiter.map(({ intervals: _i, ...r }) => r), small, big, serverRssMiB },
  };
}

// ------------------------------------------------------------------ the report

interface Figures {
  dag: Dag;
  wide: Dag;
  bytes: { small: number; wide: number };
  steps: { small: StepTimes; wide: StepTimes };
  spawns: SpawnBaseline;
  bare: BareRun[];
  arbiter: ArbiterRun[];
  small: SubmitFigures;
  big: SubmitFigures;
  serverRssMiB: number;
}

function report(f: Figures): string {
  const { dag, wide, steps } = f;
  const jobs = dag.jobs.length;
  const n = (v: number) => v.toLocaleString('en');
  const quantiles = (v: number[], digits: number) => {
    const s = v.filter(Number.isFinite).sort((x, y) => x - y);
    return [...[50, 90, 99].map((q) => `${fmt(percentile(s, q), digits)} ms`), `${fmt(s[s.length - 1] ?? NaN, digits)} ms`];
  };
  const pool = (k: keyof JobIntervals) => f.arbiter.flatMap((r) => r.intervals[k]);
  const inProc = (s: StepTimes) => s.parse + s.schema + s.check + s.dagShape + s.book;
  const timed = (v: number[]) => (v.length ? `${fmt(median(v), 0)} ms (max ${fmt(Math.max(...v), 0)}, ${v.length} runs)` : '–');
  const rest = (v: number[], s: StepTimes) => (v.length ? `${fmt(median(v) - inProc(s), 0)} ms` : '–');
  const step = (k: keyof StepTimes, digits = 2) => [`${fmt(steps.small[k], digits)} ms`, `${fmt(steps.wide[k], digits)} ms`];
  const perRun = (r: ArbiterRun) => `${fmt(r.cpuMs / jobs, 1)} ms (children ${fmt(r.childrenCpuMs / jobs, 1)} ms)`;
  return [
    '## workflows',
    '',
    `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}. The compiled server (\`--no-gpu --no-docker\`, ${CPU_MILLICORES / 1000} cores declared so that no job waits for resources, \`--worker-grace-ms 1000\`), local backend, SQLite store.`,
    '',
    `The DAG: ${n(jobs)} jobs in ${LAYERS} layers of ${WIDTH} (seed ${SEED}); a job of layer L > 0 has one parent in layer L − 1 and up to two more from any earlier layer: ${n(dag.edges)} edges, ${dag.roots} roots, **depth ${dag.depth}** (longest path, in jobs). Each job \`run: {cmd: 'true'}\`, \`resources: {cpu: 50}\`, its own branch. Body ${fmt(f.bytes.small / 1024, 0)} KiB. The ${n(wide.jobs.length)}-job body: the same generator with ${LAYERS} layers of ${WIDTH * 10} (${n(wide.edges)} edges, ${wide.roots} roots, depth ${wide.depth}), ${fmt(f.bytes.wide / 1024, 0)} KiB.`,
    '',
    '### Submit + validate',
    '',
    `\`POST /api/workflows\` sent → 201 received, each workflow cancelled right after (a workflow starts when it is submitted). *Roots started*: as in a run — the 201 answers once the workflow is stored, its roots are asked for and their processes started right after it. *Cluster held*: another allocation holds every core, so the roots' requests wait and no process starts. Then the steps the server takes, timed in this process on the compiled modules with the same body (median):`,
    '',
    table(['', `${n(jobs)} jobs`, `${n(wide.jobs.length)} jobs`], [
      ['**POST → 201, roots started** (median, max)', timed(f.small.started), timed(f.big.started)],
      ['**POST → 201, cluster held** (median, max)', timed(f.small.held), timed(f.big.held)],
      ['JSON.parse of the body', ...step('parse')],
      ['the body\'s schema (WorkflowCreateBodySchema, zod)', ...step('schema')],
      ['checkWorkflow (user, DAG, backends, never-fits)', ...step('check')],
      ['of which dagProblems (indices, names, cycle)', ...step('dagProblems')],
      ['dagShape (depths)', ...step('dagShape')],
      [`the book: create, and each root launching → QUEUED → RUNNING (${dag.roots} / ${wide.roots} roots)`, ...step('book')],
      ['sum of these steps', `${fmt(inProc(steps.small), 1)} ms`, `${fmt(inProc(steps.wide), 1)} ms`],
      ['the rest of the 201, cluster held (HTTP, the store\'s write of every job, group commit, events)', rest(f.small.held, steps.small), rest(f.big.held, steps.wide)],
      ['the rest of the 201, roots started (the same, and whatever of the previous workflow\'s stop and this one\'s starts shares its time)', rest(f.small.started, steps.small), rest(f.big.started, steps.wide)],
    ]),
    '',
    `Cancel of a just-submitted ${n(jobs)}-job workflow (DELETE, its roots' workers stopped): median ${fmt(median(f.small.cancelMs), 0)} ms. The book's bookkeeping during a run, in this process (each job launching → QUEUED → RUNNING → SUCCEEDED, no workers), per job: **${fmt(steps.small.bookPerJob * 1000, 0)} µs** in the ${n(jobs)}-job workflow (its whole run: ${fmt(steps.small.bookPerJob * jobs, 0)} ms), **${fmt(steps.wide.bookPerJob * 1000, 0)} µs** in the ${n(wide.jobs.length)}-job one (over its first ${n(steps.wide.runJobs)} jobs; its whole run ≈ ${fmt((steps.wide.bookPerJob * wide.jobs.length) / 1000, 1)} s).`,
    '',
    '### The run: ready → running',
    '',
    `The DAG run to SUCCEEDED, ${f.arbiter.length} time(s), alternating with the same DAG run by a bare executor in the bench process (each job started the local backend's way — its /bin/sh wrapper, a session of its own, output to a file — the moment its last parent has exited; no HTTP, scheduler, store or events). Wall: POST sent → the workflow's \`ended_at\` (Arbiter), first start → last exit (bare). Server CPU: its own utime+stime over the run, per job (children: the jobs' shells it reaped). The server's RSS: ${f.arbiter.map((r) => `${fmt(r.rssBeforeMiB, 0)} → ${fmt(r.rssAfterMiB, 0)} MiB`).join(', ')} over the runs, ${fmt(f.serverRssMiB, 0)} MiB at the end of the benchmark.`,
    '',
    table(['run', 'wall', 'jobs/s', 'per layer (wall / depth)', 'processes at once (max)', 'server CPU per job'], [
      ...f.arbiter.map((r, k) => [`Arbiter, run ${k + 1}`, `${fmt(r.wallMs / 1000, 2)} s`, fmt(jobs / (r.wallMs / 1000), 0), `${fmt(r.wallMs / dag.depth, 0)} ms`, r.maxLive, perRun(r)]),
      ...f.bare.map((b, k) => [`bare executor, run ${k + 1}`, `${fmt(b.wallMs / 1000, 2)} s`, fmt(jobs / (b.wallMs / 1000), 0), `${fmt(b.wallMs / dag.depth, 0)} ms`, b.maxLive, '']),
    ]),
    '',
    `Per job, over ${f.arbiter.length} run(s) (${n(pool('readyToGranted').length)} jobs; the server's times are whole ms, so a 0 is under 1 ms). *Ready*: the job's \`ready_at\` (its last parent SUCCEEDED); *QUEUED*: the \`at\` of its job_state event to QUEUED; *RUNNING*: its \`started_at\`, once its worker's process has started (granted and starting, the job is still QUEUED); *process started*: its worker's \`started_at\` (spawn() has returned the wrapper's pid); *exit seen*: its worker's \`ended_at\`.`,
    '',
    table(['interval', 'p50', 'p90', 'p99', 'max'], [
      ['ready → QUEUED', ...quantiles(pool('readyToQueued'), 0)],
      ['QUEUED → RUNNING (granted, its process started)', ...quantiles(pool('queuedToGranted'), 0)],
      ['ready → RUNNING (`ready_at` → `started_at`)', ...quantiles(pool('readyToGranted'), 0)],
      ['RUNNING → its worker\'s process start (the same moment, two clocks)', ...quantiles(pool('grantedToProcess'), 0)],
      ['**ready → process started**', ...quantiles(pool('readyToProcess'), 0)],
      [`of which the roots (${dag.roots} a run, made ready together by the submit)`, ...quantiles(pool('readyToProcessRoots'), 0)],
      ['of which the other jobs', ...quantiles(pool('readyToProcessOthers'), 0)],
      ['process started → exit seen (the run of `true`, and waiting for the server to see it)', ...quantiles(pool('processToExit'), 0)],
      ['exit seen → SUCCEEDED', ...quantiles(pool('exitToSucceeded'), 0)],
      ['last parent SUCCEEDED → READY', ...quantiles(pool('succeededToChildReady'), 0)],
      ['ready → SUCCEEDED (a job\'s whole turn)', ...quantiles(pool('readyToSucceeded'), 0)],
      ['bare executor: ready → process started', ...quantiles(f.bare.flatMap((b) => b.readyToStart), 1)],
      ['bare executor: ready → exit', ...quantiles(f.bare.flatMap((b) => b.readyToExit), 1)],
    ]),
    '',
    '### Baseline: one process start from Node',
    '',
    `From the bench process (before the server started), one at a time, ${f.spawns.bare.length} each in alternating rounds, timed from calling spawn(). spawn() returns once the child has exec'd: the calling thread (the server's event loop, for a worker) waits that long.`,
    '',
    table(['', 'spawn() returns, p50 / p99', '→ \'spawn\' event, p50 / p99', '→ exit, p50 / p99'], [
      ['`/bin/sh -c true`, stdio ignored', ...spawnCells(f.spawns.bare)],
      ['as the local backend starts a worker (wrapper → `/bin/sh -c true`, detached, output to a file)', ...spawnCells(f.spawns.worker)],
    ]),
    '',
  ].join('\n');
}

function spawnCells(v: SpawnTimes[]): string[] {
  return (['returned', 'spawned', 'exited'] as const).map((k) => {
    const s = v.map((t) => t[k]).sort((x, y) => x - y);
    return `${fmt(percentile(s, 50), 2)} / ${fmt(percentile(s, 99), 2)} ms`;
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await run({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${r.markdown}\n`);
}
