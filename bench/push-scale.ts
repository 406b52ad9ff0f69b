/**
 * push-scale: sample → client latency with 1,000 and 10,000 clients of one transport at a time (SSE, socket.io,
 * plain WebSocket) and 10,000 mixed — the 10,000 levels three times each, alternating —, socket.io at 10,000 once more
 * with socket.io-client in the client processes, each transport and mixed at 10,000 with 2 push workers, then 1,000 mixed clients beside three that stop reading for 60 s
 * (one per transport). The server
 * is the compiled CLI in a child process sampling every second (its default) with --max-clients 20,000; the clients
 * live in separate processes (bench/clients.ts), at most 2,500 per process. Latency = receipt (Date.now() in the
 * client process) − the envelope's `ts` (the hub's publish), the same machine clock. Each client process reports its
 * latencies as a histogram: p50 and p99 are over every delivery to every client (the histograms merged), and the
 * worst process's own p99 is given beside.
 * `npm run bench -- --only push-scale [--quick]`.
 */
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import { NO_RATE_LIMIT, childProcesses, clockTicks, fmt, procTimes, sleep, spawnClients, spawnServer, table, ulimitN, waitQuiet, type BenchOptions, type BenchResult, type ClientsProcess, type ServerProcess } from './lib.ts';

type Transport = 'sse' | 'io' | 'ws';
/** socket.io clients: the `ws` client speaking socket.io's protocol, or socket.io-client (bench/clients.ts) */
type IoClient = 'wire' | 'library';
const NAMES: Record<Transport | 'mixed', string> = { sse: 'SSE', io: 'socket.io', ws: 'WebSocket', mixed: 'mixed (⅓ each)' };
/** 10,000-client runs per transport, alternating between the transports (this VM's speed swings from run to run) */
const ROUNDS_10K = 3;
const PER_PROCESS = 2500;
export const TARGET_P99_1K_MS = 50;
export const TARGET_P99_10K_MS = 250;

interface Summary { n: number; mean: number; p50: number; p95: number; p99: number; max: number }
interface TransportResult { clients: number; latencyMs: Summary; latencyHistogram: Record<string, number>; expectedPerClient: number; missingTotal: number; clientsWithLoss: number; duplicates: number; disconnects: number }
interface ClientsResult { windowMs: number; expectedEvents: number; transports: Partial<Record<Transport, TransportResult>>; clientEventLoopUtilization: number; errors: string[] }

interface Row {
  label: string;
  transport: Transport | 'mixed';
  clients: number;
  connected: number;
  connectS: number;
  p50: number;
  p99: number;
  /** the worst client process's own p99 */
  worstP99: number;
  max: number;
  expected: number;
  missing: number;
  disconnects: number;
  serverCpu: number;
  serverRssMiB: number;
  /** the busiest client process's event-loop utilisation over the window */
  clientElu: number;
  /** CPU of every client process together over the window, % of one core */
  clientCpu: number;
}

/** Percentiles of the latencies of every client of every process (their histograms merged). */
function pooled(xs: readonly TransportResult[]): { p50: number; p99: number } {
  const counts = new Map<number, number>();
  for (const x of xs) for (const [ms, n] of Object.entries(x.latencyHistogram)) counts.set(Number(ms), (counts.get(Number(ms)) ?? 0) + n);
  const sorted = [...counts].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((n, [, c]) => n + c, 0);
  const at = (p: number) => {
    const rank = Math.max(1, Math.ceil((p / 100) * total));
    let seen = 0;
    for (const [ms, c] of sorted) if ((seen += c) >= rank) return ms;
    return NaN;
  };
  return { p50: at(50), p99: at(99) };
}

const rssMiB = (pid: number) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

/** `n` clients of each transport in `counts`, split over processes of at most PER_PROCESS. */
async function openClients(server: ServerProcess, counts: Partial<Record<Transport, number>>, maxMs: number, ioClient: IoClient = 'wire'): Promise<ClientsProcess[]> {
  const procs: ClientsProcess[] = [];
  for (const t of ['sse', 'io', 'ws'] as const) {
    let left = counts[t] ?? 0;
    while (left > 0) {
      const n = Math.min(PER_PROCESS, left);
      left -= n;
      procs.push(await spawnClients({
        url: server.url, token: server.token, sse: t === 'sse' ? n : 0, io: t === 'io' ? n : 0, ioClient, ws: t === 'ws' ? n : 0,
        types: ['resource_status'], batch: 100, maxMs, graceMs: 1500,
      }, 300_000));
    }
  }
  return procs;
}

/** Mark every client process, wait `ms`, collect every result. */
async function window(procs: ClientsProcess[], ms: number): Promise<ClientsResult[]> {
  await Promise.all(procs.map((p) => p.command('mark', 'marked')));
  await sleep(ms);
  return Promise.all(procs.map((p) => p.command<ClientsResult>('stop', 'result', 120_000)));
}

function row(label: string, transport: Row['transport'], clients: number, procs: ClientsProcess[], results: ClientsResult[], cpu: number, rss: number): Row {
  const xs = results.flatMap((r) => Object.values(r.transports).filter((x): x is TransportResult => !!x && x.clients > 0 && x.latencyMs.n > 0));
  const all = pooled(xs);
  return {
    label, transport, clients,
    connected: procs.reduce((n, p) => n + p.ready.sse + p.ready.io + p.ready.ws, 0),
    connectS: Math.max(...procs.map((p) => p.ready.connectMs)) / 1000,
    p50: all.p50,
    p99: all.p99,
    worstP99: Math.max(...xs.map((x) => x.latencyMs.p99)),
    max: Math.max(...xs.map((x) => x.latencyMs.max)),
    expected: Math.max(...xs.map((x) => x.expectedPerClient)),
    missing: xs.reduce((n, x) => n + x.missingTotal, 0),
    disconnects: xs.reduce((n, x) => n + x.disconnects, 0),
    serverCpu: cpu,
    serverRssMiB: rss,
    clientElu: Math.max(...results.map((r) => r.clientEventLoopUtilization)),
    clientCpu: NaN,
  };
}

/** CPU ticks of the server and of its push workers (its child processes). */
const serverTicks = (pid: number) => procTimes(pid).self + [...childProcesses(pid).values()].reduce((t, c) => t + c.ticks, 0);
/** RSS of the server and of its push workers. */
const serverRss = (pid: number) => rssMiB(pid) + [...childProcesses(pid).keys()].reduce((m, c) => m + rssMiB(c), 0);

/**
 * One transport at `n` clients for `ms`; `workers` push workers (--push-workers, 0: the server writes every stream);
 * `ioClient`: which socket.io client the client processes run; `serverArgs`: more options for the server.
 */
export async function level(transport: Transport | 'mixed', n: number, ms: number, workers = 0, ioClient: IoClient = 'wire', serverArgs: string[] = []): Promise<Row> {
  await waitQuiet();
  const server = await spawnServer(['--max-clients', '20000', '--push-workers', String(workers), ...NO_RATE_LIMIT, '--no-gpu', '--no-docker', '--no-web-build', ...serverArgs]);
  let procs: ClientsProcess[] = [];
  try {
    const third = Math.floor(n / 3);
    const counts = transport === 'mixed' ? { sse: n - 2 * third, io: third, ws: third } : { [transport]: n };
    procs = await openClients(server, counts, ms + 600_000, ioClient);
    await sleep(3000); // the connection burst settles
    const tck = clockTicks();
    const clientTicks = () => procs.reduce((t, p) => t + procTimes(p.child.pid!).self, 0);
    const s0 = serverTicks(server.pid);
    const c0 = clientTicks();
    const t0 = performance.now();
    const results = await window(procs, ms);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = ((serverTicks(server.pid) - s0) / tck / seconds) * 100;
    const clientCpu = ((clientTicks() - c0) / tck / seconds) * 100;
    const label = `${n.toLocaleString('en')} ${NAMES[transport]}${transport === 'io' && ioClient === 'library' ? ' (socket.io-client)' : ''}${workers ? `, ${workers} push workers` : ''}`;
    return { ...row(label, transport, n, procs, results, cpu, serverRss(server.pid)), clientCpu };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await server.stop();
  }
}

/** Three clients that connect, then never read: raw SSE, raw plain WebSocket, socket.io over a raw WebSocket. */
async function nonReaders(server: ServerProcess): Promise<{ close(): void }> {
  const { port } = new URL(server.url);
  const held: (Socket | WebSocket)[] = [];
  const sse = connect(Number(port), '127.0.0.1', () => sse.write(`GET /api/events?types=resource_status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\n\r\n`));
  sse.pause();
  sse.on('error', () => {});
  held.push(sse);
  const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/api/ws?types=resource_status&access_token=${server.token}`);
  await new Promise((r) => ws.once('open', r));
  (ws as unknown as { _socket: Socket })._socket.pause();
  held.push(ws);
  const io = new WebSocket(`${server.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
  await new Promise((r) => io.once('open', r));
  io.send(`40${JSON.stringify({ token: server.token, types: ['resource_status'] })}`);
  await new Promise((r) => io.once('message', r)); // engine.io's open packet
  (io as unknown as { _socket: Socket })._socket.pause();
  held.push(io);
  return { close: () => held.forEach((h) => (h instanceof WebSocket ? h.terminate() : h.destroy())) };
}

async function withNonReaders(ms: number): Promise<{ row: Row; rssSeries: number[]; baseline: Row }> {
  await waitQuiet();
  const server = await spawnServer(['--max-clients', '20000', ...NO_RATE_LIMIT, '--no-gpu', '--no-docker', '--no-web-build']);
  let procs: ClientsProcess[] = [];
  try {
    procs = await openClients(server, { sse: 334, io: 333, ws: 333 }, 2 * ms + 600_000);
    await sleep(3000);
    const tck = clockTicks();
    // baseline: the same clients, nobody stuck
    let s0 = procTimes(server.pid);
    let t0 = performance.now();
    const base = await window(procs, Math.min(ms, 20_000));
    const baseline = row('1,000 mixed, baseline', 'mixed', 1000, procs, base, ((procTimes(server.pid).self - s0.self) / tck / ((performance.now() - t0) / 1000)) * 100, rssMiB(server.pid));
    const stuck = await nonReaders(server);
    try {
      const rssSeries: number[] = [];
      const sampler = setInterval(() => rssSeries.push(rssMiB(server.pid)), 5000);
      s0 = procTimes(server.pid);
      t0 = performance.now();
      rssSeries.push(rssMiB(server.pid));
      const results = await window(procs, ms);
      clearInterval(sampler);
      rssSeries.push(rssMiB(server.pid));
      const cpu = ((procTimes(server.pid).self - s0.self) / tck / ((performance.now() - t0) / 1000)) * 100;
      return { row: row(`1,000 mixed + 3 not reading for ${fmt(ms / 1000, 0)} s`, 'mixed', 1000, procs, results, cpu, rssMiB(server.pid)), rssSeries, baseline };
    } finally {
      stuck.close();
    }
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await server.stop();
  }
}

export async function run(opts: BenchOptions = { quick: false }): Promise<BenchResult> {
  const ms = opts.quick ? 6000 : 20_000;
  const stuckMs = opts.quick ? 15_000 : 60_000;
  const limit = Number(ulimitN());
  if (Number.isFinite(limit) && limit < 12_000) throw new Error(`ulimit -n is ${limit}: 10,000 clients need about 10,100 descriptors in the server (raise it)`);
  const rows: Row[] = [];
  for (const t of ['sse', 'io', 'ws'] as const) rows.push(await level(t, 1000, ms));
  const rounds = opts.quick ? 1 : ROUNDS_10K;
  const at10k: Record<Transport | 'mixed', Row[]> = { sse: [], io: [], ws: [], mixed: [] };
  for (let r = 1; r <= rounds; r++) {
    for (const t of ['sse', 'io', 'ws', 'mixed'] as const) {
      const x = await level(t, 10_000, ms);
      at10k[t].push(x);
      rows.push({ ...x, label: `${x.label}${rounds > 1 ? `, run ${r}` : ''}` });
    }
  }
  // socket.io once more at 10,000 with the client library in the client processes (its decoding beside the server's writes)
  rows.push(await level('io', 10_000, ms, 0, 'library'));
  // with 2 push workers (--push-workers 2: every transport's streams written by two child processes)
  for (const t of ['sse', 'io', 'ws', 'mixed'] as const) rows.push(await level(t, 10_000, ms, 2));
  const stuck = await withNonReaders(stuckMs);
  const verdict = (r: Row) => {
    const target = r.clients >= 10_000 ? TARGET_P99_10K_MS : TARGET_P99_1K_MS;
    return `${r.p99 <= target ? 'meets' : 'misses'} (≤ ${target})`;
  };
  const line = (r: Row, v = true) => [
    r.label, `${r.connected.toLocaleString('en')} / ${r.clients.toLocaleString('en')}`, fmt(r.connectS, 1), String(r.expected), `${r.missing}`, String(r.disconnects),
    fmt(r.p50, 1), `**${fmt(r.p99, 1)}**`, fmt(r.worstP99, 1), fmt(r.max, 0), v ? verdict(r) : '–', fmt(r.serverCpu, 0), fmt(r.serverRssMiB, 0), fmt(r.clientElu * 100, 0), fmt(r.clientCpu, 0),
  ];
  const markdown = [
    '## push-scale',
    '',
    `Sample → client latency (the envelope's \`ts\` → receipt in a client process, the same clock), one transport at a time (and 10,000 mixed: ⅓ of each), the server sampling every second (its default), clients in separate processes (at most ${PER_PROCESS.toLocaleString('en')} each: SSE over raw TCP; socket.io as the \`ws\` client speaking socket.io's protocol over WebSocket — and, in the row so marked, socket.io-client; the \`ws\` client on /api/ws), ${fmt(ms / 1000, 0)} s windows after the connections settled. p50 and p99 are over every delivery to every client (the client processes' latency histograms merged); beside them the worst client process's own p99, the busiest client process's event-loop utilisation, and the CPU of all client processes (% of one core; the server's CPU and RSS include its push workers').`,
    '',
    table(['clients', 'connected', 'connect s', 'events/client', 'missing', 'disconnects', 'p50 ms', 'p99 ms', 'worst process p99 ms', 'max ms', 'target', 'server CPU %', 'server RSS MiB', 'client ELU %', 'clients CPU %'], [...rows.map((r) => line(r)), line(stuck.baseline, false), line(stuck.row, false)]),
    '',
    `At 10,000 clients, ${rounds} run(s) per transport, alternating — the p99 over every client:`,
    '',
    table(['10,000 clients', 'p99 ms, median', 'runs', 'within ≤ ' + TARGET_P99_10K_MS + ' ms', 'server CPU % (median)'], (['sse', 'io', 'ws', 'mixed'] as const).map((t) => {
      const xs = at10k[t];
      const mid = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)]!;
      return [NAMES[t], `**${fmt(mid(xs.map((x) => x.p99)), 0)}**`, xs.map((x) => fmt(x.p99, 0)).join(', '), `${xs.filter((x) => x.p99 <= TARGET_P99_10K_MS).length} of ${xs.length}`, fmt(mid(xs.map((x) => x.serverCpu)), 0)];
    })),
    '',
    `Three clients that stop reading (a raw SSE request, a raw WebSocket on /api/ws, socket.io over a raw WebSocket, each paused after its handshake) beside 1,000 mixed clients for ${fmt(stuckMs / 1000, 0)} s: the others' p99 ${fmt(stuck.row.p99, 1)} ms against ${fmt(stuck.baseline.p99, 1)} ms just before without them; server RSS every 5 s: ${stuck.rssSeries.map((v) => fmt(v, 0)).join(', ')} MiB.`,
    '',
  ].join('\n');
  return { name: 'push-scale', markdown, data: { rows, at10k, stuck } };
}
