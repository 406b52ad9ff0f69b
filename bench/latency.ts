/**
 * latency: sample-to-client latency, i.e. from the envelope's `ts` (set by the hub when it publishes the sample)
 * to its receipt in a client, with 1, 100 and 1,000 concurrent clients, half SSE and half socket.io. The server
 * is the real CLI in a child process sampling every 250 ms; the clients live in a separate process
 * (bench/clients.ts). Both read the same machine clock (Date.now()). Also: events received vs expected per client,
 * and the age of the data (receipt − `data.sampledAt`, the start of the sample) for reference.
 */
import {
  clockTicks, fmt, machineCores, waitQuiet, machineBusyPercent, machineTicks, procTimes, sleep, spawnClients, spawnServer, table, ulimitN,
  type BenchOptions, type BenchResult,
} from './lib.ts';

export const TARGET_P99_MS = 50;
const INTERVAL_MS = 250;

interface Summary { n: number; mean: number; p50: number; p95: number; p99: number; max: number }
interface TransportResult {
  clients: number;
  latencyMs: Summary;
  sampleAgeMs: Summary;
  expectedPerClient: number;
  receivedMin: number;
  receivedMax: number;
  missingTotal: number;
  clientsWithLoss: number;
  duplicates: number;
  disconnects: number;
  worst: { id: number; ts: number; latency: number; client: number }[];
}
interface ClientsResult {
  windowMs: number;
  expectedEvents: number;
  idGaps: number;
  transports: Partial<Record<'sse' | 'io', TransportResult>>;
  perEvent: { firstReceiptMs: Summary; lastReceiptMs: Summary; spreadMs: Summary };
  clientEventLoopUtilization: number;
  sseFrameBytes: number;
  errors: string[];
}

interface Level { label: string; sse: number; io: number; durationMs: number }

interface LevelResult {
  level: Level;
  connectMs: number;
  connected: { sse: number; io: number; failed: number };
  markAt: number;
  result: ClientsResult;
  serverCpuPercent: number;
  clientCpuPercent: number;
  serverRssMiB: number;
  /** CPU of everything else on the machine over the window, % of one core */
  otherCpuPercent: number;
}

async function runLevel(level: Level): Promise<LevelResult> {
  await waitQuiet();
  const server = await spawnServer(['--host-interval-ms', String(INTERVAL_MS)]);
  try {
    const clients = await spawnClients({
      url: server.url, token: server.token, sse: level.sse, io: level.io, types: ['resource_status'],
      batch: 50, maxMs: level.durationMs + 180_000, graceMs: 1000,
    });
    try {
      await sleep(1500); // let the connection burst settle
      const tck = clockTicks();
      const s0 = procTimes(server.pid);
      const c0 = procTimes(clients.pid);
      const m0 = machineTicks();
      const w0 = performance.now();
      const marked = await clients.command<{ t: number }>('mark', 'marked');
      await sleep(level.durationMs);
      const result = await clients.command<ClientsResult>('stop', 'result', 60_000);
      const wall = (performance.now() - w0) / 1000;
      const s1 = procTimes(server.pid);
      const c1 = procTimes(clients.pid);
      const machineBusy = machineBusyPercent(m0, machineTicks());
      const serverCpuPercent = ((s1.self - s0.self) / tck / wall) * 100;
      const clientCpuPercent = ((c1.self - c0.self) / tck / wall) * 100;
      return {
        level,
        connectMs: clients.ready.connectMs,
        connected: { sse: clients.ready.sse, io: clients.ready.io, failed: clients.ready.failed },
        markAt: marked.t,
        result,
        serverCpuPercent,
        clientCpuPercent,
        otherCpuPercent: Math.max(0, machineBusy - serverCpuPercent - clientCpuPercent),
        serverRssMiB: (s1.rssPages * 4096) / 2 ** 20,
      };
    } finally {
      await clients.stop();
    }
  } finally {
    await server.stop();
  }
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const d1 = opts.quick ? 5000 : 10_000;
  const dn = opts.quick ? 8000 : 20_000;
  const levels: Level[] = [
    { label: '1 (SSE)', sse: 1, io: 0, durationMs: d1 },
    { label: '1 (socket.io)', sse: 0, io: 1, durationMs: d1 },
    { label: '100', sse: 50, io: 50, durationMs: dn },
    { label: '1,000', sse: 500, io: 500, durationMs: dn },
  ];
  const limit = Number(ulimitN());
  const needed = Math.max(...levels.map((l) => l.sse + l.io)) + 100;
  if (Number.isFinite(limit) && limit < needed) {
    throw new Error(`ulimit -n is ${limit}: the 1,000-client level needs about ${needed} descriptors per process (raise it, e.g. \`ulimit -n 4096\`)`);
  }
  const results: LevelResult[] = [];
  for (const level of levels) results.push(await runLevel(level));

  const rows: string[][] = [];
  for (const r of results) {
    for (const t of ['sse', 'io'] as const) {
      const x = r.result.transports[t];
      if (!x) continue;
      const l = x.latencyMs;
      const a = x.sampleAgeMs;
      rows.push([
        r.level.label, t === 'sse' ? 'SSE' : 'socket.io', String(x.clients), String(x.expectedPerClient),
        x.receivedMin === x.receivedMax ? String(x.receivedMin) : `${x.receivedMin}–${x.receivedMax}`,
        `${x.missingTotal} (${x.clientsWithLoss} clients)`, String(x.disconnects),
        fmt(l.p50, 0), fmt(l.p95, 0), `**${fmt(l.p99, 0)}**`, fmt(l.max, 0), `${fmt(a.p50, 0)} / ${fmt(a.p99, 0)} / ${fmt(a.max, 0)}`,
      ]);
    }
  }
  const diag = results.map((r) => {
    const p = r.result.perEvent;
    return [
      r.level.label, `${r.connected.sse + r.connected.io}${r.connected.failed ? ` (${r.connected.failed} failed)` : ''}`, fmt(r.connectMs / 1000, 1),
      fmt(r.result.windowMs / 1000, 1), `${fmt(p.firstReceiptMs.p50, 0)} / ${fmt(p.firstReceiptMs.p99, 0)}`,
      `${fmt(p.lastReceiptMs.p50, 0)} / ${fmt(p.lastReceiptMs.p99, 0)} / ${fmt(p.lastReceiptMs.max, 0)}`,
      fmt(r.serverCpuPercent, 1), fmt(r.clientCpuPercent, 1), fmt(r.result.clientEventLoopUtilization * 100, 0), fmt(r.otherCpuPercent, 0), fmt(r.serverRssMiB, 0),
    ];
  });
  const worst: string[] = [];
  for (const r of results) {
    for (const t of ['sse', 'io'] as const) {
      const x = r.result.transports[t];
      if (!x) continue;
      for (const w of x.worst.slice(0, 3)) {
        worst.push(`${r.level.label} ${t === 'sse' ? 'SSE' : 'socket.io'}: ${w.latency} ms, event ${w.id} published ${fmt((w.ts - r.markAt) / 1000, 2)} s into the window (client #${w.client})`);
      }
    }
  }

  const top = results.at(-1)!;
  const p99s = (['sse', 'io'] as const).map((t) => top.result.transports[t]?.latencyMs.p99 ?? NaN);
  const worstP99 = Math.max(...p99s);
  const lost = results.reduce((n, r) => n + (r.result.transports.sse?.missingTotal ?? 0) + (r.result.transports.io?.missingTotal ?? 0), 0);
  const markdown = [
    '## latency',
    '',
    `Publish-to-receipt latency (envelope \`ts\` → \`Date.now()\` at receipt in the client process, same clock), server sampling every ${INTERVAL_MS} ms, clients in a separate process (raw http SSE / socket.io-client over WebSocket). Window per level: ${fmt(levels[0]!.durationMs / 1000, 0)} s for 1 client, ${fmt(dn / 1000, 0)} s otherwise, minus 1 s grace for in-flight events; events count when their \`ts\` falls in the window. \`ulimit -n\` = ${ulimitN()} (1,000 clients need ~1,000 descriptors in each process).`,
    '',
    `Target p99 ≤ ${TARGET_P99_MS} ms at 1,000 clients: **${worstP99 <= TARGET_P99_MS ? 'meets' : 'misses'}** (p99 ${p99s.map((v, i) => `${i ? 'socket.io' : 'SSE'} ${fmt(v, 0)} ms`).join(', ')}). Events lost over all levels: **${lost}** (plus ${results.reduce((n, r) => n + r.result.idGaps, 0)} ids in the windows that no client got; ids of other event types would count here too). Average SSE frame (envelope) size: ${results.map((r) => `${r.level.label}: ${fmt(r.result.sseFrameBytes, 0)} B`).join(', ')}.`,
    '',
    table(['clients', 'transport', 'n', 'expected/client', 'received/client', 'missing', 'disconnects', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'data age p50/p99/max ms'], rows),
    '',
    `Diagnostics: first receipt = fastest client per event (server + wire), last receipt = slowest client per event (the fan-out to all clients, including client-side queueing); CPU over the window in % of one core; client ELU = event-loop utilization of the client process; other load = CPU used by everything else on the machine during the window (% of one core; the machine has ${machineCores()} cores).`,
    '',
    table(['clients', 'connected', 'connect s', 'window s', 'first receipt p50/p99 ms', 'last receipt p50/p99/max ms', 'server CPU %', 'client CPU %', 'client ELU %', 'other load %', 'server RSS MiB'], diag),
    '',
    'Largest single latencies:',
    '',
    ...worst.map((w) => `- ${w}`),
    '',
  ].join('\n');
  return { name: 'latency', markdown, data: results };
}
