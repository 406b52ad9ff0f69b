/**
 * Shared helpers of the benchmarks: spawning the real server (`bin/arbiter.js serve`) and the client process,
 * reading CPU times from /proc, percentiles and markdown tables. Every child process and temp dir created
 * here is registered and removed again, also when the bench is interrupted.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../shared/events.ts';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const BENCH = fileURLToPath(new URL('.', import.meta.url));
export const TOKEN = 'bench-token-0123456789abcdef';
/**
 * `serve`'s flags for a bench that sends one server more than --rate-limit's default (2,000 requests a second per
 * token and per address, bursts of 4,000) from one address with one token: it measures the server, not the limit.
 */
export const NO_RATE_LIMIT = ['--rate-limit', '0'];

/**
 * What is measured: the compiled server (dist/node), as `npm start` runs it; with ARBITER_BENCH_SOURCES=1 the
 * TypeScript sources through tsx instead, to compare (bench/compiled.ts).
 */
export const FROM_SOURCES = process.env.ARBITER_BENCH_SOURCES === '1';
/** Node's flags for a bench process: its own .ts through tsx, the server's modules as FROM_SOURCES says. */
export const NODE_TS = ['--import', 'tsx', '--import', pathToFileURL(join(BENCH, 'compiled.ts')).href];

export interface BenchOptions {
  quick: boolean;
}

export interface BenchResult {
  name: string;
  markdown: string;
  data: unknown;
}

// ---------------------------------------------------------------- cleanup registry

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Remove a temp dir now; it stays registered and is removed again at exit (an in-process server that closed
 * with a sample in flight may still write its event-id file into it afterwards: see RESULTS.md, server issues). */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Kill what is still running and remove temp dirs (synchronous: also usable in an 'exit' handler). */
export function cleanupSync(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null && c.pid) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
}

let handlersInstalled = false;
export function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      // SIGTERM first, so that children clean up after themselves (the heap child removes its clients and temp dir)
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      const end = Date.now() + 4000;
      const check = () => {
        if (children.size && Date.now() < end) return void setTimeout(check, 50);
        cleanupSync();
        process.exit(130);
      };
      check();
    });
  }
}

// ---------------------------------------------------------------- small utilities

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Wait for a child to exit; SIGTERM first, SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 7000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

let clkTck: number | undefined;
export function clockTicks(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

export function ulimitN(): string {
  try {
    return execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export function machine(): { cores: number; cpu: string; node: string; memGiB: number; kernel: string } {
  return {
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
  };
}

/** Nearest-rank percentile of a sorted array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function fmt(v: number, digits = 1): string {
  if (!Number.isFinite(v)) return '–';
  return v.toFixed(digits);
}

export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------- /proc

export interface ProcTimes {
  /** user + system ticks of the process (all its threads) */
  self: number;
  /** user + system ticks of its reaped children (cutime + cstime) */
  children: number;
  threads: number;
  rssPages: number;
}

/** Fields after the `(comm)` of a /proc stat line; index 0 is field 3 (state). */
function statFields(text: string): { comm: string; rest: string[] } {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  return { comm: text.slice(open + 1, close), rest: text.slice(close + 2).trim().split(' ') };
}

export function procTimes(pid: number): ProcTimes {
  const { rest } = statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  // field numbers from proc(5): 14 utime, 15 stime, 16 cutime, 17 cstime, 20 num_threads, 24 rss
  const f = (n: number) => Number(rest[n - 3]);
  return { self: f(14) + f(15), children: f(16) + f(17), threads: f(20), rssPages: f(24) };
}

/** user + system ticks of each thread, keyed `tid:name`. */
export function threadTimes(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const { comm, rest } = statFields(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      out.set(`${tid}:${comm}`, Number(rest[14 - 3]) + Number(rest[15 - 3]));
    } catch {
      // thread ended
    }
  }
  return out;
}

/** Live processes whose parent is `pid`, with their own CPU ticks. */
export function childProcesses(pid: number): Map<number, { comm: string; ticks: number }> {
  const out = new Map<number, { comm: string; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const { comm, rest } = statFields(readFileSync(`/proc/${name}/stat`, 'utf8'));
      if (Number(rest[4 - 3]) === pid) out.set(Number(name), { comm, ticks: Number(rest[14 - 3]) + Number(rest[15 - 3]) });
    } catch {
      // process ended
    }
  }
  return out;
}

// ---------------------------------------------------------------- the real server as a child process

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  token: string;
  dataDir: string;
  stderr(): string;
  stop(): Promise<void>;
}

/** Environment without ARBITER_* / PORT, so only the flags given here configure the server. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ARBITER_') && k !== 'PORT') env[k] = v;
  return env;
}

/**
 * `node bin/arbiter.js serve --port 0 …` with its own data dir (FROM_SOURCES: `node --import tsx server/main.ts serve
 * …`); resolves once it printed its Dashboard line. The CLI may compile the server and try (and fail) to build the
 * dashboard first; that happens before the line, so before any measurement.
 */
export interface SpawnServerOptions {
  /** extra environment of the server (e.g. the nvidia-smi stand-in's NVIDIA_SMI_* variables) */
  env?: Record<string, string>;
  /** use this (already registered) temp dir as data dir instead of a new one, e.g. to put a config file in it first */
  dataDir?: string;
}

export async function spawnServer(extraArgs: string[] = [], startTimeoutMs = 120_000, nodeArgs: string[] = [], opts: SpawnServerOptions = {}): Promise<ServerProcess> {
  const dataDir = opts.dataDir ?? tempDir('arbiter-bench-');
  const cli = FROM_SOURCES ? ['--import', 'tsx', join(REPO, 'server/main.ts')] : [join(REPO, 'bin/arbiter.js')];
  const args = [...nodeArgs, ...cli, 'serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir,
    '--log-level', 'warn', '--token', TOKEN, ...extraArgs];
  const child = track(spawn(process.execPath, args, { cwd: REPO, env: { ...cleanEnv(), ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    err = (err + s).slice(-8000);
  });
  const url = await withTimeout(
    new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.on('line', (line) => {
        const m = /Dashboard:\s+(http:\/\/[^/\s]+)\//.exec(line);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code, sig) => reject(new Error(`server exited before listening (code ${code}, signal ${sig}): ${err}`)));
    }),
    startTimeoutMs,
    'server start',
  ).catch(async (e: unknown) => {
    child.kill('SIGKILL');
    // a data dir the caller gave holds what it wants kept (a restart's state): only ours is removed
    if (opts.dataDir === undefined) removeDir(dataDir);
    throw e;
  });
  // keep draining stdout so the pipe never blocks the server
  child.stdout!.resume();
  return {
    child,
    pid: child.pid!,
    url,
    token: TOKEN,
    dataDir,
    stderr: () => err,
    async stop() {
      await stopChild(child);
      removeDir(dataDir);
    },
  };
}

// ---------------------------------------------------------------- the client process (bench/clients.ts)

export interface ClientsConfig {
  url: string;
  token: string;
  sse: number;
  io: number;
  /** socket.io clients: `socket.io-client`, or the `ws` client speaking socket.io's protocol @default 'wire' */
  ioClient?: 'library' | 'wire';
  /** plain WebSocket clients (/api/ws) @default 0 */
  ws?: number;
  /** event types to subscribe to */
  types: string[];
  /** connections opened concurrently per batch */
  batch?: number;
  /** the process ends itself after this long, whatever happens */
  maxMs: number;
  /** ms after the stop command during which events still count (in-flight events at the window's end) */
  graceMs?: number;
}

export interface ClientsProcess {
  child: ChildProcess;
  pid: number;
  ready: { sse: number; io: number; ws: number; failed: number; errors: string[]; connectMs: number };
  /** send a command line; resolves with the next JSON message of the given kind */
  command<T>(cmd: string, reply: string, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

export async function spawnClients(cfg: ClientsConfig, readyTimeoutMs = 120_000): Promise<ClientsProcess> {
  const child = track(
    spawn(process.execPath, [...NODE_TS, join(BENCH, 'clients.ts'), JSON.stringify(cfg)], {
      cwd: REPO,
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    err = (err + s).slice(-8000);
  });
  const waiters = new Map<string, (msg: Record<string, unknown>) => void>();
  const rl = createInterface({ input: child.stdout! });
  rl.on('line', (line) => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const w = waiters.get(String(msg.event));
    if (w) {
      waiters.delete(String(msg.event));
      w(msg);
    }
  });
  const next = (kind: string, timeoutMs: number) =>
    withTimeout(
      new Promise<Record<string, unknown>>((resolve, reject) => {
        waiters.set(kind, resolve);
        child.once('exit', (code) => reject(new Error(`client process exited (code ${code}) while waiting for "${kind}": ${err}`)));
      }),
      timeoutMs,
      `client process "${kind}"`,
    );
  const ready = await next('ready', readyTimeoutMs).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  return {
    child,
    pid: child.pid!,
    ready: ready as unknown as ClientsProcess['ready'],
    async command<T>(cmd: string, reply: string, timeoutMs = 60_000): Promise<T> {
      const p = next(reply, timeoutMs);
      child.stdin!.write(`${cmd}\n`);
      return (await p) as unknown as T;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.stdin!.end();
      await withTimeout(new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r()))), 10_000, 'client exit').catch(
        () => stopChild(child, 2000),
      );
    },
  };
}

/** Aggregate CPU ticks of the whole machine (all cores), from /proc/stat. */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const total = user + nice + system + idle + iowait + irq + softirq + steal;
  return { busy: total - idle - iowait, total };
}

/** Busy share of the whole machine between two readings, in % of one core (so 200 = both cores of 2 busy). */
export function machineBusyPercent(a: { busy: number; total: number }, b: { busy: number; total: number }): number {
  const cores = os.cpus().length;
  return b.total > a.total ? ((b.busy - a.busy) / (b.total - a.total)) * 100 * cores : 0;
}

export function machineCores(): number {
  return os.cpus().length;
}

// ---------------------------------------------------------------- a shared machine: wait for other load to calm down

let quietBudgetMs = 0;
/** Total time the benchmarks of this run may spend waiting for a quiet machine. */
export function setQuietBudget(ms: number): void {
  quietBudgetMs = ms;
}

/**
 * Wait (within the run's budget) until everything else on the machine uses at most `thresholdPercent` of one
 * core, measured over 1 s. Call it when no process of the benchmark is running. Returns what it saw.
 */
export async function waitQuiet(thresholdPercent = 30): Promise<{ waitedMs: number; busyPercent: number }> {
  const start = Date.now();
  for (;;) {
    const a = machineTicks();
    await sleep(1000);
    const busy = machineBusyPercent(a, machineTicks());
    const waited = Date.now() - start;
    if (busy <= thresholdPercent || waited >= quietBudgetMs) {
      quietBudgetMs = Math.max(0, quietBudgetMs - Math.max(0, waited - 1000));
      return { waitedMs: waited, busyPercent: busy };
    }
  }
}

/** A socket.io client of `resource_status` on a spawned server, counting the events it gets; stops the server if it cannot connect. */
export async function connectStatusClient(server: ServerProcess): Promise<{ client: Socket<ServerToClientEvents, ClientToServerEvents>; events: () => number }> {
  const client: Socket<ServerToClientEvents, ClientToServerEvents> = io(server.url, {
    transports: ['websocket'], forceNew: true, reconnection: false, auth: { token: server.token, types: ['resource_status'] },
  });
  let events = 0;
  client.on('resource_status', () => events++);
  try {
    await withTimeout(new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('connect_error', reject);
    }), 15_000, 'socket.io connect');
  } catch (e) {
    client.disconnect();
    await server.stop();
    throw e;
  }
  return { client, events: () => events };
}
