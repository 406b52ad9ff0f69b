/**
 * store: throughput of the SQLite store (server/store/) on this machine.
 *   apply      SchedulerStore.apply() of single-request batches shaped like a submit: half granted
 *              (request_granted + allocation_granted), half queued (request_queued + conflict_opened); each batch is
 *              one transaction (2 upserts + 2 decision rows). synchronous NORMAL (the default) and FULL (fsync per
 *              commit). Context: the API target is ≥ 2,000 POST /api/requests per second end to end.
 *   submit     a real SchedulerEngine: submit() and release() of an earlier grant per op (2 batches), without a
 *              store (baseline), with the store as change listener, and with the hub archiving one event per
 *              change record as SchedulerService wires it (separate commits, and one transaction per batch)
 *   append     EventStore.append() one envelope per transaction, appendMany() 100 per transaction, after() pages
 * Each figure is the rate over the whole run (file growing from empty) and the latency percentiles of one call.
 * `node --import tsx --import ./bench/compiled.ts bench/store.ts [--quick]` or from bench/run.ts.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../server/clock.ts';
import { EventHub } from '../server/push/hub.ts';
import { SchedulerEngine } from '../server/scheduler/engine.ts';
import { declaredInventory } from '../server/scheduler/inventory.ts';
import { openDatabase, type Synchronous } from '../server/store/db.ts';
import { EventStore, DbIdStore } from '../server/store/event-store.ts';
import { SchedulerStore } from '../server/store/scheduler-store.ts';
import type { Envelope } from '../shared/events.ts';
import type { Allocation, Change, Conflict, Request } from '../shared/scheduler.ts';
import { fmt, machine, percentile, removeDir, table, tempDir, type BenchOptions, type BenchResult } from './lib.ts';

const TARGET = 2000;

interface Rate {
  ops: number;
  perSec: number;
  p50us: number;
  p99us: number;
}

/** Time `n` calls of `fn(i)`: rate over the run and per-call latency percentiles. */
function measure(n: number, fn: (i: number) => void): Rate {
  const lat = new Float64Array(n);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    fn(i);
    lat[i] = Number(process.hrtime.bigint() - s) / 1000;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort();
  return { ops: n, perSec: n / secs, p50us: percentile(lat, 50), p99us: percentile(lat, 99) };
}

/** A submit's batch, as the engine emits it (whole entities, realistic sizes). */
function submitBatch(i: number, now: number): Change[] {
  const request: Request = {
    id: randomUUID(), owner: `user${i % 50}`, group: `team${i % 5}`, priority: i % 7, preemptible: i % 3 === 0,
    resources: { cpu: 2000, memoryMiB: 8192, gpus: 1 }, labels: { job: `train-${i}`, queue: 'default' },
    submittedAt: now, updatedAt: now, status: 'queued', ...(i % 4 === 0 ? { idempotencyKey: `key-${i}-${randomUUID()}` } : {}),
  };
  if (i % 2 === 0) {
    const allocation: Allocation = {
      id: randomUUID(), requestId: request.id, node: 'bench', gpuIndices: [i % 8], resources: request.resources,
      grantedAt: now, leaseExpiresAt: now + 600_000, state: 'active',
    };
    return [
      { kind: 'request_granted', at: now, request: { ...request, status: 'granted', allocationId: allocation.id } },
      { kind: 'allocation_granted', at: now, allocation },
    ];
  }
  const conflict: Conflict = {
    id: randomUUID(), key: `request:${request.id}`, type: 'resource_competition', severity: 2, requestId: request.id,
    holders: [{ kind: 'allocation', allocationId: randomUUID(), requestId: randomUUID(), owner: 'user1', priority: 3, gpuIndices: [0] }],
    resource: 'gpu', message: 'needs 1 whole GPU(s); 0 free, held by 8 allocation(s)', openedAt: now, updatedAt: now, status: 'open',
  };
  return [{ kind: 'request_queued', at: now, request }, { kind: 'conflict_opened', at: now, conflict }];
}

function benchApply(sync: Synchronous, n: number): Rate {
  const dir = tempDir('arbiter-bench-store-');
  const db = openDatabase({ dataDir: dir, synchronous: sync });
  try {
    const store = new SchedulerStore(db);
    const now = Date.now();
    const batches = Array.from({ length: n }, (_, i) => submitBatch(i, now + i));
    for (let i = 0; i < Math.min(500, n); i++) store.apply(submitBatch(i, now)); // warm-up (JIT, file)
    return measure(n, (i) => store.apply(batches[i]!));
  } finally {
    db.close();
    removeDir(dir);
  }
}

type SubmitMode = 'engine only' | 'store' | 'store+events' | 'store+events, one transaction';

/**
 * A real engine.submit() per op, and a release() of an earlier grant (2 batches per op once 16 are held, so the
 * node never fills up). `engine only`: no store (the baseline); `store`: each batch applied; `store+events`: as SchedulerService does it, apply then one archived hub event per change record (one
 * commit each); `…one transaction`: the same wrapped in one transaction (one commit per submit).
 */
function benchSubmit(n: number, mode: SubmitMode): Rate {
  const dir = tempDir('arbiter-bench-store-');
  const db = openDatabase({ dataDir: dir });
  try {
    const store = new SchedulerStore(db);
    const archive = new EventStore(db, { clock: systemClock });
    const hub = new EventHub({ clock: systemClock, replayCount: 1000, replayMaxAgeMs: 60_000, ids: new DbIdStore(db), archive });
    const engine = new SchedulerEngine({ clock: systemClock });
    const persist = (batch: readonly Change[]) => {
      store.apply(batch);
      if (mode !== 'store') for (const c of batch) hub.publish(c.kind.startsWith('conflict_') ? 'conflict' : 'scheduling_update', c);
    };
    const together = db.transaction(persist);
    if (mode !== 'engine only') engine.onChange(mode === 'store+events, one transaction' ? (b) => together.immediate(b) : persist);
    engine.onSnapshot(declaredInventory('bench', { resources: { cpu: 64_000, memoryMiB: 512 * 1024, gpus: Array.from({ length: 8 }, (_, index) => ({ index, memoryMiB: 80 * 1024 })) } }));
    const held: string[] = [];
    const one = (i: number) => {
      const r = engine.submit({ owner: `user${i % 50}`, priority: i % 7, resources: { cpu: 2000, memoryMiB: 8192 }, labels: { job: `train-${i}` } });
      if (r.allocation) held.push(r.allocation.id);
      if (held.length > 16) engine.release(held.shift()!);
    };
    for (let i = 0; i < 500; i++) one(i);
    const rate = measure(n, one);
    hub.close();
    return rate;
  } finally {
    db.close();
    removeDir(dir);
  }
}

function benchEvents(n: number): { append: Rate; appendMany: Rate; after: Rate } {
  const dir = tempDir('arbiter-bench-store-');
  const db = openDatabase({ dataDir: dir });
  try {
    const events = new EventStore(db, { clock: systemClock });
    let id = 1;
    const envelope = (): Envelope => {
      const now = Date.now();
      const request = { id: randomUUID(), owner: 'user1', priority: 1, resources: { cpu: 2000, memoryMiB: 8192, gpus: 1 }, preemptible: false, submittedAt: now, updatedAt: now, status: 'granted' as const };
      return { id: id++, type: 'scheduling_update', ts: now, data: { kind: 'request_granted', at: now, request } };
    };
    for (let i = 0; i < 500; i++) events.append(envelope());
    const append = measure(n, () => events.append(envelope()));
    const batch = 100;
    const many = measure(Math.max(1, Math.floor(n / batch)), () => events.appendMany(Array.from({ length: batch }, envelope)));
    const appendMany: Rate = { ops: many.ops * batch, perSec: many.perSec * batch, p50us: many.p50us, p99us: many.p99us };
    const total = id - 1;
    const pages = Math.max(1, Math.floor(total / 1000));
    const after = measure(pages, (i) => void events.after(i * 1000, ['scheduling_update', 'conflict'], 1000));
    return { append, appendMany, after: { ops: after.ops * 1000, perSec: after.perSec * 1000, p50us: after.p50us, p99us: after.p99us } };
  } finally {
    db.close();
    removeDir(dir);
  }
}

export async function run(opts: BenchOptions = { quick: false }): Promise<BenchResult> {
  const n = opts.quick ? 5_000 : 50_000;
  const nFull = opts.quick ? 500 : 3_000;
  const normal = benchApply('normal', n);
  const full = benchApply('full', nFull);
  const nSubmit = opts.quick ? 5_000 : 30_000;
  const engineOnly = benchSubmit(nSubmit, 'engine only');
  const submit = benchSubmit(nSubmit, 'store');
  const submitEvents = benchSubmit(nSubmit, 'store+events');
  const submitOneTx = benchSubmit(nSubmit, 'store+events, one transaction');
  const ev = benchEvents(n);
  const m = machine();
  const row = (what: string, r: Rate, unit: string) => [what, r.ops.toLocaleString('en'), `${Math.round(r.perSec).toLocaleString('en')} ${unit}/s`, fmt(r.p50us), fmt(r.p99us)];
  const markdown = [
    '## store (SQLite, better-sqlite3, WAL)',
    '',
    `${m.cores} cores, ${m.cpu}, Node ${m.node}; database file on the temp dir's disk, growing from empty during each run.`,
    '',
    table(['what', 'ops', 'rate', 'p50 µs', 'p99 µs'], [
      row('apply() submit batch, synchronous NORMAL (default)', normal, 'batches'),
      row('apply() submit batch, synchronous FULL', full, 'batches'),
      row('engine submit + release, no store (baseline)', engineOnly, 'ops'),
      row('engine submit + release, each batch apply()\'d (2 commits per op)', submit, 'ops'),
      row('… + archived hub event per change record (as SchedulerService: a commit each)', submitEvents, 'ops'),
      row('… the same, one transaction per batch (2 commits per op)', submitOneTx, 'ops'),
      row('events append(), one per transaction', ev.append, 'events'),
      row('events appendMany(), 100 per transaction', ev.appendMany, 'events'),
      row('events after(), pages of 1,000', ev.after, 'events'),
    ]),
    '',
    `Target context: ≥ ${TARGET.toLocaleString('en')} POST /api/requests per second end to end. With NORMAL the store commits ` +
    `${fmt(normal.perSec / TARGET, 0)}× that rate (one batch per request); FULL (an fsync per commit) reaches ` +
    `${fmt(full.perSec / TARGET, 2)}× of it, which is why NORMAL is the default: it keeps every acknowledged commit ` +
    'across a process kill (kill -9), and loses only the last commits on an OS crash or power loss.',
  ].join('\n');
  return { name: 'store', markdown, data: { normal, full, engineOnly, submit, submitEvents, submitOneTx, events: ev } };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await run({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${r.markdown}\n`);
}
