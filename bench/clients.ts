/**
 * The client process of the benchmarks: opens `sse` SSE and `io` socket.io connections to an Arbiter server,
 * stamps every event on receipt, and reports on command. Kept lean so that the client side adds little:
 * SSE is a raw TCP connection with the request written by hand and a minimal frame scanner (the receipt time is taken when the chunk arrives, before
 * anything is parsed, and the envelope is never JSON-parsed: only `id`, `ts` and `sampledAt` are picked out);
 * socket.io is either `socket.io-client` over WebSocket only (`ioClient: 'library'`), stamped when engine.io hands
 * over the packet (before the socket.io decoder parses it), or (`ioClient: 'wire'`, the default) the `ws` client
 * speaking socket.io's protocol itself — engine.io v4 over WebSocket: `40{auth}` to connect, `3` for each ping, each
 * `42[type,envelope]` stamped on arrival and scanned like an SSE frame: the same bytes from the same server, without a
 * client library's decoding on the machine's cores beside the server's; the plain WebSocket (`/api/ws`) is the `ws` package's client, stamped when a
 * message arrives, its text scanned like an SSE frame's.
 *
 *   node --import tsx bench/clients.ts '<ClientsConfig JSON>'
 *
 * stdout, one JSON object a line: {"event":"ready",…} once every connection is open (or failed);
 * stdin commands: `mark` (the measurement window starts now) → {"event":"marked"}; `stop` → {"event":"result",…}.
 * Closing stdin closes every connection and ends the process; so does `maxMs`.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import type { ClientToServerEvents, Envelope, ServerToClientEvents } from '../shared/events.ts';
import type { ClientsConfig } from './lib.ts';

const cfg = JSON.parse(process.argv[2] ?? '{}') as ClientsConfig;
const batch = cfg.batch ?? 50;
const graceMs = cfg.graceMs ?? 1000;

type Transport = 'sse' | 'io' | 'ws';
const TRANSPORTS: readonly Transport[] = ['sse', 'io', 'ws'];
const countOf = (t: Transport) => (t === 'sse' ? cfg.sse : t === 'io' ? cfg.io : cfg.ws ?? 0);

/** Every event received, as parallel arrays (cheap to append). */
class Log {
  client: number[] = [];
  id: number[] = [];
  ts: number[] = [];
  recv: number[] = [];
  sampledAt: number[] = [];
  add(client: number, id: number, ts: number, recv: number, sampledAt: number): void {
    this.client.push(client);
    this.id.push(id);
    this.ts.push(ts);
    this.recv.push(recv);
    this.sampledAt.push(sampledAt);
  }
}
const logs: Record<Transport, Log> = { sse: new Log(), io: new Log(), ws: new Log() };

let closing = false;
let sseFrameBytes = 0;
let sseFrames = 0;
let disconnects: Record<Transport, number> = { sse: 0, io: 0, ws: 0 };
const errors: string[] = [];
const noteError = (msg: string) => {
  if (errors.length < 10) errors.push(msg);
};
const closers: (() => void)[] = [];

function numberAfter(text: string, key: string, from = 0): number {
  const i = text.indexOf(key, from);
  if (i < 0) return NaN;
  let j = i + key.length;
  let k = j;
  while (k < text.length && ((text.charCodeAt(k) >= 48 && text.charCodeAt(k) <= 57) || text[k] === '.' || text[k] === '-')) k++;
  return j === k ? NaN : Number(text.slice(j, k));
}

function openSse(index: number): Promise<boolean> {
  // a raw TCP connection and the request written by hand: no HTTP client's parser between the socket and the stamp
  const url = new URL(cfg.url);
  const target = `/api/events?types=${encodeURIComponent(cfg.types.join(','))}&access_token=${encodeURIComponent(cfg.token)}`;
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(`GET ${target} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`);
    });
    socket.setNoDelay(true);
    let head = true;
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      const recv = Date.now();
      pending += chunk.toString('latin1');
      if (head) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = Number(pending.slice(9, 12));
        if (status !== 200) {
          noteError(`sse: HTTP ${status}`);
          socket.destroy();
          resolve(false);
          return;
        }
        head = false;
        pending = pending.slice(end + 4);
        closers.push(() => socket.destroy());
        resolve(true);
      }
      let sep: number;
      while ((sep = pending.indexOf('\n\n')) >= 0) {
        const frame = pending.slice(0, sep);
        pending = pending.slice(sep + 2);
        if (!frame.startsWith('id: ')) continue; // comments, retry:, replay_gap
        sseFrameBytes += frame.length + 2;
        sseFrames++;
        const id = numberAfter(frame, 'id: ');
        const data = frame.indexOf('\ndata: ');
        logs.sse.add(index, id, numberAfter(frame, '"ts":', data), recv, numberAfter(frame, '"sampledAt":', data));
      }
    });
    socket.on('close', () => {
      if (head) resolve(false);
      else if (!closing) disconnects.sse++;
    });
    socket.on('error', (e) => {
      if (head) noteError(`sse: ${e.message}`);
    });
  });
}

function openIo(index: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(cfg.url, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: 30_000,
      auth: { token: cfg.token, types: cfg.types },
    });
    // engine.io emits `packet` synchronously before socket.io decodes it: the earliest hook of the client library
    let stamp = 0;
    socket.io.engine.on('packet', () => {
      stamp = Date.now();
    });
    const record = (env: Envelope) => {
      const data = env.data as { sampledAt?: number } | null;
      logs.io.add(index, env.id, env.ts, stamp || Date.now(), data?.sampledAt ?? NaN);
    };
    for (const t of cfg.types) socket.on(t as 'resource_status', record);
    socket.once('connect', () => {
      closers.push(() => socket.disconnect());
      resolve(true);
    });
    socket.once('connect_error', (e) => {
      noteError(`io: ${e.message}`);
      resolve(false);
    });
    socket.on('disconnect', () => {
      if (!closing) disconnects.io++;
    });
  });
}

/** socket.io's wire protocol (engine.io v4, socket.io v5) over the `ws` client: what `socket.io-client` exchanges. */
function openIoWire(index: number): Promise<boolean> {
  const url = `${cfg.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let connected = false;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const recv = Date.now();
      if (isBinary) return;
      const text = data.toString('latin1');
      if (text.startsWith('42[')) {
        const env = text.indexOf(',{');
        logs.io.add(index, numberAfter(text, '"id":', env), numberAfter(text, '"ts":', env), recv, numberAfter(text, '"sampledAt":', env));
      } else if (text === '2') ws.send('3'); // engine.io ping → pong
      else if (text.startsWith('40')) {
        connected = true;
        closers.push(() => ws.terminate());
        resolve(true);
      } else if (text.startsWith('44')) {
        noteError(`io: connect_error ${text.slice(2, 200)}`);
        ws.terminate();
        resolve(false);
      }
    });
    ws.once('open', () => ws.send(`40${JSON.stringify({ token: cfg.token, types: cfg.types })}`));
    ws.once('error', (e) => {
      noteError(`io: ${e.message}`);
      resolve(false);
    });
    ws.on('close', () => {
      if (!connected) resolve(false);
      else if (!closing) disconnects.io++;
    });
  });
}

function openWs(index: number): Promise<boolean> {
  const url = `${cfg.url.replace(/^http/, 'ws')}/api/ws?types=${encodeURIComponent(cfg.types.join(','))}&access_token=${encodeURIComponent(cfg.token)}`;
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const recv = Date.now();
      if (isBinary) return;
      const text = data.toString('latin1');
      if (!text.startsWith('{"id":')) return; // control messages
      logs.ws.add(index, numberAfter(text, '"id":'), numberAfter(text, '"ts":'), recv, numberAfter(text, '"sampledAt":'));
    });
    ws.once('open', () => {
      closers.push(() => ws.terminate());
      resolve(true);
    });
    ws.once('error', (e) => {
      noteError(`ws: ${e.message}`);
      resolve(false);
    });
    ws.on('close', () => {
      if (!closing) disconnects.ws++;
    });
  });
}

// ---------------------------------------------------------------- statistics

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function summary(values: number[]) {
  const s = Float64Array.from(values.filter((v) => Number.isFinite(v))).sort();
  const sum = s.reduce((a, b) => a + b, 0);
  return { n: s.length, mean: s.length ? sum / s.length : NaN, p50: pct(s, 50), p95: pct(s, 95), p99: pct(s, 99), max: s.length ? s[s.length - 1]! : NaN };
}

function result(markAt: number, stopAt: number, elu: number) {
  const end = stopAt - graceMs;
  const inWindow = (ts: number) => ts >= markAt && ts <= end;
  // expected: every event id published in the window that any client received
  const expected = new Map<number, number>();
  for (const t of TRANSPORTS) {
    const l = logs[t];
    for (let i = 0; i < l.id.length; i++) if (inWindow(l.ts[i]!)) expected.set(l.id[i]!, l.ts[i]!);
  }
  const ids = [...expected.keys()].sort((a, b) => a - b);
  const idGaps = ids.length ? ids[ids.length - 1]! - ids[0]! + 1 - ids.length : 0;

  const perEvent = new Map<number, { min: number; max: number }>();
  const byTransport: Record<string, unknown> = {};
  for (const t of TRANSPORTS) {
    const l = logs[t];
    const clients = countOf(t);
    if (clients === 0) continue;
    const latency: number[] = [];
    const age: number[] = [];
    const seen: Set<number>[] = Array.from({ length: clients }, () => new Set());
    let duplicates = 0;
    const worst: { id: number; ts: number; latency: number; client: number }[] = [];
    for (let i = 0; i < l.id.length; i++) {
      const id = l.id[i]!;
      if (!expected.has(id)) continue;
      const c = l.client[i]!;
      if (seen[c]!.has(id)) {
        duplicates++;
        continue;
      }
      seen[c]!.add(id);
      const lat = l.recv[i]! - l.ts[i]!;
      latency.push(lat);
      age.push(l.recv[i]! - l.sampledAt[i]!);
      const e = perEvent.get(id);
      if (!e) perEvent.set(id, { min: lat, max: lat });
      else {
        e.min = Math.min(e.min, lat);
        e.max = Math.max(e.max, lat);
      }
      // the 5 slowest distinct events, each with its slowest client
      const w = worst.find((x) => x.id === id);
      if (w) {
        if (lat > w.latency) Object.assign(w, { latency: lat, client: c });
      } else if (worst.length < 5 || lat > worst[worst.length - 1]!.latency) {
        worst.push({ id, ts: l.ts[i]!, latency: lat, client: c });
      }
      worst.sort((a, b) => b.latency - a.latency);
      if (worst.length > 5) worst.pop();
    }
    const received = seen.map((s) => s.size);
    const missing = received.map((r) => expected.size - r);
    // whole milliseconds → count: the parent merges the processes' histograms into the percentiles of every client
    const latencyHistogram: Record<number, number> = {};
    for (const v of latency) if (Number.isFinite(v)) latencyHistogram[Math.round(v)] = (latencyHistogram[Math.round(v)] ?? 0) + 1;
    byTransport[t] = {
      clients,
      latencyMs: summary(latency),
      latencyHistogram,
      sampleAgeMs: summary(age),
      expectedPerClient: expected.size,
      receivedMin: Math.min(...received),
      receivedMax: Math.max(...received),
      missingTotal: missing.reduce((a, b) => a + b, 0),
      clientsWithLoss: missing.filter((m) => m > 0).length,
      duplicates,
      disconnects: disconnects[t],
      worst,
    };
  }
  const firsts = [...perEvent.values()].map((e) => e.min);
  const lasts = [...perEvent.values()].map((e) => e.max);
  const spreads = [...perEvent.values()].map((e) => e.max - e.min);
  return {
    event: 'result',
    windowMs: end - markAt,
    expectedEvents: expected.size,
    idGaps,
    transports: byTransport,
    perEvent: { firstReceiptMs: summary(firsts), lastReceiptMs: summary(lasts), spreadMs: summary(spreads) },
    clientEventLoopUtilization: elu,
    sseFrameBytes: sseFrames ? sseFrameBytes / sseFrames : NaN,
    errors,
  };
}

// ---------------------------------------------------------------- main

const out = (msg: unknown) => process.stdout.write(`${JSON.stringify(msg)}\n`);

function shutdown(code: number): void {
  closing = true;
  for (const c of closers) c();
  setTimeout(() => process.exit(code), 200).unref();
}

setTimeout(() => {
  process.stderr.write(`clients: maxMs ${cfg.maxMs} reached, exiting\n`);
  shutdown(3);
}, cfg.maxMs).unref();

const started = Date.now();
const jobs: [Transport, () => Promise<boolean>][] = [];
for (let i = 0; i < Math.max(cfg.sse, cfg.io, cfg.ws ?? 0); i++) {
  if (i < cfg.sse) jobs.push(['sse', () => openSse(i)]);
  if (i < cfg.io) jobs.push(['io', () => (cfg.ioClient === 'library' ? openIo(i) : openIoWire(i))]);
  if (i < (cfg.ws ?? 0)) jobs.push(['ws', () => openWs(i)]);
}
const ok: Record<Transport, number> = { sse: 0, io: 0, ws: 0 };
let failed = 0;
for (let i = 0; i < jobs.length; i += batch) {
  const chunk = jobs.slice(i, i + batch);
  const res = await Promise.all(chunk.map(([, open]) => open()));
  res.forEach((good, k) => (good ? ok[chunk[k]![0]]++ : failed++));
}
out({ event: 'ready', sse: ok.sse, io: ok.io, ws: ok.ws, failed, errors, connectMs: Date.now() - started });

let markAt = Date.now();
let eluAtMark = performance.eventLoopUtilization();
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'mark') {
    markAt = Date.now();
    eluAtMark = performance.eventLoopUtilization();
    disconnects = { sse: 0, io: 0, ws: 0 };
    out({ event: 'marked', t: markAt });
  } else if (cmd === 'stop') {
    const elu = performance.eventLoopUtilization(eluAtMark).utilization;
    out(result(markAt, Date.now(), elu));
  }
});
rl.on('close', () => shutdown(0));
