/**
 * fanout (diagnostic, no target): where the latency of `latency` goes. The server runs in this process (startApp,
 * sampling every 250 ms) so the hub can be watched from inside; the clients are the same separate process
 * (bench/clients.ts, half SSE, half socket.io). Per published event:
 *   - socket.io part: publish → the socket.io broadcast returned (a hub listener subscribed right after startApp,
 *     i.e. after the SocketServer's and before any SSE client's),
 *   - all listeners: publish → every listener returned (a listener subscribed after the clients connected),
 *   - loop free: publish → the next macrotask (setImmediate), i.e. after the nextTick work the writes queued
 *     (http/1.1 chunked responses are corked and written out in a nextTick, write callbacks, engine.io drains).
 * "loop free" is when the last byte of the event has been handed to the kernel. Compared with the receipts in
 * the client process, it shows what the server's serial fan-out costs and what the client side adds.
 */
import { loadConfig } from '../server/config.ts';
import { startApp } from '../server/app.ts';
import {
  TOKEN, clockTicks, fmt, machineBusyPercent, procTimes, machineTicks, percentile, removeDir, sleep, spawnClients, table, tempDir, waitQuiet,
  type BenchOptions, type BenchResult,
} from './lib.ts';

interface Row {
  clients: number;
  events: number;
  envelopeBytes: number;
  ioPart: number[];
  allListeners: number[];
  loopFree: number[];
  perClientUs: number;
  serverCpuPercent: number;
  clientCpuPercent: number;
  otherLoadPercent: number;
  receipt: Record<string, { p50: number; p99: number; max: number }>;
  lastReceipt: { p50: number; p99: number; max: number };
}

const sorted = (a: number[]) => Float64Array.from(a).sort();
const stat = (a: number[]) => {
  const s = sorted(a);
  return `${fmt(percentile(s, 50), 0)} / ${fmt(percentile(s, 99), 0)} / ${fmt(s[s.length - 1] ?? NaN, 0)}`;
};

async function level(perTransport: number, durationMs: number): Promise<Row> {
  await waitQuiet();
  const dataDir = tempDir('arbiter-bench-fanout-');
  const config = loadConfig({}, {});
  Object.assign(config, { port: 0, host: '127.0.0.1', dataDir, token: TOKEN, logLevel: 'silent' });
  config.monitor.hostIntervalMs = 250;
  const app = await startApp(config);
  try {
    const ioDone = new Map<number, number>();
    app.hub.subscribe((ev) => ioDone.set(ev.id, Date.now() - ev.env.ts));
    const clients = await spawnClients({
      url: app.url, token: app.token, sse: perTransport, io: perTransport, types: ['resource_status'], maxMs: durationMs + 180_000,
    });
    try {
      const marks = new Map<number, { ts: number; all: number; free?: number; bytes: number }>();
      app.hub.subscribe((ev) => {
        const m = { ts: ev.env.ts, all: Date.now() - ev.env.ts, bytes: Buffer.byteLength(ev.sse), free: undefined as number | undefined };
        marks.set(ev.id, m);
        setImmediate(() => (m.free = Date.now() - m.ts));
      });
      await sleep(1500);
      const cpu0 = process.cpuUsage();
      const c0 = procTimes(clients.pid);
      const m0 = machineTicks();
      const w0 = performance.now();
      const marked = await clients.command<{ t: number }>('mark', 'marked');
      await sleep(durationMs);
      const result = await clients.command<{
        transports: Record<string, { latencyMs: { p50: number; p99: number; max: number } }>;
        perEvent: { lastReceiptMs: { p50: number; p99: number; max: number } };
      }>('stop', 'result');
      const wall = performance.now() - w0;
      const cpu = process.cpuUsage(cpu0);
      const busy = machineBusyPercent(m0, machineTicks());
      const clientCpu = ((procTimes(clients.pid).self - c0.self) / clockTicks() / (wall / 1000)) * 100;
      const serverCpu = ((cpu.user + cpu.system) / 1000 / wall) * 100;
      const win = [...marks.entries()].filter(([, m]) => m.ts >= marked.t && m.ts <= marked.t + durationMs - 1000 && m.free !== undefined);
      const loopFree = win.map(([, m]) => m.free!);
      const n = perTransport * 2;
      return {
        clients: n,
        events: win.length,
        envelopeBytes: win.length ? win.reduce((a, [, m]) => a + m.bytes, 0) / win.length : NaN,
        ioPart: win.map(([id]) => ioDone.get(id) ?? NaN),
        allListeners: win.map(([, m]) => m.all),
        loopFree,
        perClientUs: (percentile(sorted(loopFree), 50) / n) * 1000,
        serverCpuPercent: serverCpu,
        clientCpuPercent: clientCpu,
        otherLoadPercent: Math.max(0, busy - serverCpu - clientCpu),
        receipt: Object.fromEntries(Object.entries(result.transports).map(([t, x]) => [t, x.latencyMs])),
        lastReceipt: result.perEvent.lastReceiptMs,
      };
    } finally {
      await clients.stop();
    }
  } finally {
    await app.close();
    await sleep(300); // let a sample that was in flight at close land before the dir goes
    removeDir(dataDir);
  }
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const d = opts.quick ? 6000 : 12_000;
  const rows: Row[] = [];
  for (const per of [50, 500]) rows.push(await level(per, d));
  const r = (x: { p50: number; p99: number; max: number } | undefined) => (x ? `${fmt(x.p50, 0)} / ${fmt(x.p99, 0)} / ${fmt(x.max, 0)}` : '–');
  const markdown = [
    '## fanout (diagnostic)',
    '',
    'Server in-process (startApp, sampling every 250 ms), clients in bench/clients.ts (half SSE, half socket.io). Per event, ms after publish (p50 / p99 / max): the socket.io broadcast returned; every hub listener returned; the event loop free again (all bytes handed to the kernel, incl. the corked SSE writes flushed in a nextTick); and the receipt in the client process. "server CPU" = this process (server + bench harness), "client CPU" = the client process, "other load" = everything else on the machine, each in % of one core.',
    '',
    table(['clients', 'events', 'frame bytes', 'socket.io part', 'all listeners', 'loop free', 'µs per client (p50 loop free / clients)', 'receipt SSE', 'receipt socket.io', 'last receipt', 'server CPU %', 'client CPU %', 'other load %'],
      rows.map((x) => [
        String(x.clients), String(x.events), fmt(x.envelopeBytes, 0), stat(x.ioPart), stat(x.allListeners), stat(x.loopFree), fmt(x.perClientUs, 0),
        r(x.receipt.sse), r(x.receipt.io), r(x.lastReceipt), fmt(x.serverCpuPercent, 1), fmt(x.clientCpuPercent, 1), fmt(x.otherLoadPercent, 0),
      ])),
    '',
  ].join('\n');
  return { name: 'fanout', markdown, data: rows };
}
