/**
 * The load-generating client of bench/api-requests.ts, in its own process: `connections` keep-alive HTTP/1.1
 * connections to 127.0.0.1, each with one request outstanding at a time (closed loop), for `warmupMs` then
 * `windowMs`. A minimal client on raw sockets (prebuilt request bytes; the response is framed by Content-Length),
 * so that it takes as little as possible of the machine's 2 cores from the server.
 *
 * argv[2]: JSON LoadConfig. stdout: `{"event":"window-start"}`, `{"event":"window-end"}`, then `{"event":"result",…}`.
 * Requests with `kind: 'requests'` alternate between one that fits (cpu 10 millicores, 1 MiB) and one that waits
 * (a whole GPU: the bench holds every declared GPU before the load starts); with `kind: 'granted'` every one fits.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface LoadConfig {
  url: string;
  token: string;
  /**
   * health: GET /api/health; requests: POST, alternately one that fits and one that waits; granted: POST, every one
   * fits; reads: GET the active allocations, a page of the queue, a page of the open conflicts, in turn
   */
  kind: 'health' | 'requests' | 'granted' | 'reads';
  connections: number;
  warmupMs: number;
  windowMs: number;
}

export interface LoadResult {
  kind: LoadConfig['kind'];
  connections: number;
  windowMs: number;
  completed: number;
  perSec: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  statuses: Record<string, number>;
  /** completions per second of the window */
  perSecond: number[];
  /** all requests sent over the run (warm-up included) */
  sentTotal: number;
  errors: string[];
  clientCpuPercent: number;
}

const cfg = JSON.parse(process.argv[2]!) as LoadConfig;
const { hostname, port } = new URL(cfg.url);

let seq = 0;
const READS = ['/api/allocations?state=active', '/api/queue?limit=50', '/api/conflicts?limit=50'];
function requestBytes(): Buffer {
  if (cfg.kind === 'health') {
    return Buffer.from(`GET /api/health HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: keep-alive\r\n\r\n`, 'latin1');
  }
  const i = seq++;
  if (cfg.kind === 'reads') {
    const path = READS[i % READS.length]!;
    return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${cfg.token}\r\nConnection: keep-alive\r\n\r\n`, 'latin1');
  }
  const body = JSON.stringify(i % 2 === 0 || cfg.kind === 'granted'
    ? { owner: `user${i % 50}`, priority: i % 5, resources: { cpu: 10, memoryMiB: 1 }, labels: { job: `bench-${i}` } }
    : { owner: `user${i % 50}`, priority: i % 5, resources: { gpus: 1 }, labels: { job: `bench-${i}` } });
  return Buffer.from(
    `POST /api/requests HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${cfg.token}\r\n`
    + `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n${body}`,
    'utf8',
  );
}

const HEADER_END = Buffer.from('\r\n\r\n');
let phase: 'warmup' | 'window' | 'drain' = 'warmup';
let windowStart = 0;
let windowEnd = 0;
const latencies: number[] = [];
const statuses: Record<string, number> = {};
const perSecond: number[] = [];
const errors: string[] = [];
let sentTotal = 0;

function runConnection(): Promise<void> {
  return new Promise((resolve) => {
    const sock: Socket = connect({ host: hostname, port: Number(port), noDelay: true });
    let buf: Buffer = Buffer.alloc(0);
    let sentAt = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve();
    };
    const send = () => {
      if (phase === 'drain') return finish();
      sentAt = performance.now();
      sentTotal++;
      sock.write(requestBytes());
    };
    sock.once('connect', () => {
      send();
    });
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        const h = buf.indexOf(HEADER_END);
        if (h < 0) return;
        const head = buf.subarray(0, h).toString('latin1');
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (!m) {
          errors.push(`response without Content-Length: ${head.slice(0, 200)}`);
          return finish();
        }
        const end = h + 4 + Number(m[1]);
        if (buf.length < end) return;
        const status = head.slice(9, 12);
        buf = buf.subarray(end);
        const now = performance.now();
        if (phase === 'window' && sentAt >= windowStart && now <= windowEnd) {
          latencies.push(now - sentAt);
          statuses[status] = (statuses[status] ?? 0) + 1;
          const sec = Math.floor((now - windowStart) / 1000);
          perSecond[sec] = (perSecond[sec] ?? 0) + 1;
        }
        send();
      }
    });
    sock.on('error', (e) => {
      if (errors.length < 10) errors.push(e.message);
      finish();
    });
    sock.on('close', finish);
  });
}

const emit = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const hardStop = setTimeout(() => process.exit(3), cfg.warmupMs + cfg.windowMs + 30_000);
const conns = Array.from({ length: cfg.connections }, () => runConnection());
await new Promise((r) => setTimeout(r, cfg.warmupMs));
const c0 = process.cpuUsage();
windowStart = performance.now();
windowEnd = windowStart + cfg.windowMs;
phase = 'window';
emit({ event: 'window-start' });
await new Promise((r) => setTimeout(r, cfg.windowMs));
phase = 'drain';
const c1 = process.cpuUsage(c0);
const wall = performance.now() - windowStart;
emit({ event: 'window-end' });
await Promise.race([Promise.all(conns), new Promise((r) => setTimeout(r, 10_000))]);
clearTimeout(hardStop);

latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]! : NaN;
const result: LoadResult = {
  kind: cfg.kind,
  connections: cfg.connections,
  windowMs: wall,
  completed: latencies.length,
  perSec: latencies.length / (cfg.windowMs / 1000),
  latencyMs: { p50: pct(50), p90: pct(90), p99: pct(99), max: latencies.at(-1) ?? NaN },
  statuses,
  perSecond: Array.from(perSecond, (v) => v ?? 0),
  sentTotal,
  errors,
  clientCpuPercent: ((c1.user + c1.system) / 1000 / wall) * 100,
};
emit({ event: 'result', ...result });
process.exit(0);
