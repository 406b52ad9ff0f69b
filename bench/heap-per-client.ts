/**
 * heap-per-client: V8 heap held by the server per idle connected client. The server runs in-process (startApp)
 * in a child started with --expose-gc, sampling effectively off; the client process (bench/clients.ts) opens
 * idle clients subscribed only to `hint`, so no traffic flows. heapUsed after full GCs, before and after the
 * clients connected, divided by their number. Rounds: 500 SSE, 500 socket.io, 500 plain WebSocket, then 1,000 mixed.
 *
 * Imported by bench/run.ts (run() spawns this file with --expose-gc); `--child` is that measuring process.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadConfig } from '../server/config.ts';
import { startApp, type App } from '../server/app.ts';
import {
  NODE_TS, REPO, TOKEN, fmt, installCleanupHandlers, removeDir, sleep, spawnClients, table, tempDir, track, withTimeout,
  type BenchOptions, type BenchResult,
} from './lib.ts';

export const TARGET_BYTES = 12 * 1024;

interface Round {
  label: string;
  sse: number;
  io: number;
  ws: number;
  connected: number;
  heapBytes: number;
  externalBytes: number;
  rssBytes: number;
}

const KiB = 1024;

// ---------------------------------------------------------------- the measuring process

const gc = (globalThis as { gc?: () => void }).gc;

async function settle(): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 6; i++) {
    gc!();
    await new Promise((r) => setImmediate(r));
    await sleep(50);
  }
  return process.memoryUsage();
}

function connections(app: App): Promise<number> {
  return new Promise((resolve, reject) => app.http.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

async function waitFor(pred: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`${what}: not reached in ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function round(app: App, label: string, sse: number, io: number, ws = 0): Promise<Round> {
  await waitFor(async () => (await connections(app)) === 0, 20_000, 'no connections left');
  const before = await settle();
  const clients = await spawnClients({ url: app.url, token: app.token, sse, io, ws, types: ['hint'], batch: 50, maxMs: 180_000 });
  try {
    if (clients.ready.failed) throw new Error(`${clients.ready.failed} clients failed to connect: ${clients.ready.errors.join('; ')}`);
    await waitFor(async () => (await connections(app)) >= sse + io + ws, 30_000, 'server sees every connection');
    await sleep(1000); // handshakes and socket.io connection handlers done
    const after = await settle();
    const connected = await connections(app);
    const n = sse + io + ws;
    return {
      label, sse, io, ws, connected,
      heapBytes: (after.heapUsed - before.heapUsed) / n,
      externalBytes: (after.external + after.arrayBuffers - before.external - before.arrayBuffers) / n,
      rssBytes: (after.rss - before.rss) / n,
    };
  } finally {
    await clients.stop();
  }
}

async function child(): Promise<void> {
  if (!gc) throw new Error('run with --expose-gc');
  installCleanupHandlers();
  const dataDir = tempDir('arbiter-bench-heap-');
  const config = loadConfig({}, {});
  config.port = 0;
  config.host = '127.0.0.1';
  config.dataDir = dataDir;
  config.token = TOKEN;
  config.logLevel = 'silent';
  config.monitor.hostIntervalMs = 3_600_000;
  const app = await startApp(config);
  try {
    // warm-up: the first connections of each kind compile code and fill lazy caches
    await round(app, 'warm-up', 20, 20, 20);
    const rounds: Round[] = [];
    rounds.push(await round(app, '500 SSE', 500, 0));
    rounds.push(await round(app, '500 socket.io', 0, 500));
    rounds.push(await round(app, '500 WebSocket', 0, 0, 500));
    rounds.push(await round(app, '1,000 mixed (500 SSE + 500 socket.io)', 500, 500));
    rounds.push(await round(app, '1,000 mixed (334 SSE + 333 socket.io + 333 WebSocket)', 334, 333, 333));
    process.stdout.write(`RESULT ${JSON.stringify(rounds)}\n`);
  } finally {
    await app.close();
    await sleep(300); // let a sample that was in flight at close land before the dir goes
    removeDir(dataDir);
  }
}

// ---------------------------------------------------------------- the benchmark as seen by run.ts

export async function run(_opts: BenchOptions): Promise<BenchResult> {
  const self = fileURLToPath(import.meta.url);
  const proc = track(spawn(process.execPath, ['--expose-gc', ...NODE_TS, self, '--child'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-8000)));
  const code = await withTimeout(new Promise<number | null>((r) => proc.once('exit', (c) => r(c))), 240_000, 'heap-per-client').catch((e: unknown) => {
    proc.kill('SIGKILL');
    throw e;
  });
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (code !== 0 || !line) throw new Error(`heap-per-client child failed (exit ${code}): ${err}`);
  const rounds = JSON.parse(line.slice(7)) as Round[];

  const mixed = rounds.find((r) => r.sse && r.io && r.ws)!;
  const rows = rounds.map((r) => [
    r.label, String(r.connected), `**${fmt(r.heapBytes / KiB, 2)}**`, fmt(r.externalBytes / KiB, 2), fmt(r.rssBytes / KiB, 1),
  ]);
  const markdown = [
    '## heap-per-client',
    '',
    `Server in-process (startApp, sampling off) under --expose-gc; idle clients in a separate process, subscribed only to \`hint\` (no traffic). (heapUsed after − before, each after 6 full GCs) / clients. Target ≤ ${TARGET_BYTES / KiB} KB per client: **${mixed.heapBytes <= TARGET_BYTES ? 'meets' : 'misses'}** (${fmt(mixed.heapBytes / KiB, 2)} KB at 1,000 mixed over the three transports).`,
    '',
    table(['round', 'server connections', 'heap KB/client', 'external+arrayBuffers KB/client', 'RSS KB/client'], rows),
    '',
  ].join('\n');
  return { name: 'heap-per-client', markdown, data: rounds };
}

if (process.argv.includes('--child') && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  child().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}
