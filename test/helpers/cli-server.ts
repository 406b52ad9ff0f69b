/**
 * `arbiter serve` as a process of its own, for the tests that kill it (-9) and start it again on the same data dir
 * and port; and the small waits those tests share.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { STAND_IN, fixture } from '../stand-ins/gpu-fixtures.ts';
import { createServer } from 'node:net';

const BIN = new URL('../../bin/arbiter.js', import.meta.url).pathname;

export interface CliServerOptions {
  port: number;
  dataDir: string;
  token: string;
  /** more options of `serve` */
  args?: string[];
  /** the Docker engine to use (the docker source and the docker worker backend); none: --no-docker */
  dockerHost?: string;
  /** the nvidia-smi to use (the gpu source); none: --no-gpu */
  nvidiaSmi?: string;
  /** called with a function that kills the process if it still runs: the test's cleanup */
  onCleanup: (fn: () => void) => void;
}

function serveArgs(o: CliServerOptions): string[] {
  return [BIN, 'serve', '--port', String(o.port), '--data-dir', o.dataDir, '--token', o.token,
    ...(o.nvidiaSmi ? ['--nvidia-smi', o.nvidiaSmi] : ['--no-gpu']), ...(o.dockerHost ? ['--docker-host', o.dockerHost] : ['--no-docker']),
    '--no-web-build', '--log-level', 'warn', ...(o.args ?? [])];
}

/** Start `arbiter serve` (no GPU, no web build, Docker only when named); resolves once it says where the dashboard is. */
export async function startCliServer(o: CliServerOptions): Promise<ChildProcess> {
  const child = spawn(process.execPath, serveArgs(o), { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ARBITER_NO_WEB_BUILD: '1' } });
  o.onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Dashboard:')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`arbiter exited (${code})`)));
  });
  return child;
}

export interface LoggedServer {
  child: ChildProcess;
  /** everything it wrote so far: its log (JSON lines on stdout) and stderr, where serve's last resort writes */
  out(): string;
  err(): string;
}

/**
 * `arbiter serve` as startCliServer starts it, with modules preloaded (`node --import`) and more environment, what it
 * writes kept for the test to read; resolves once it says where the dashboard is.
 */
export async function startLoggedServer(o: CliServerOptions & { preload?: string[]; env?: NodeJS.ProcessEnv }): Promise<LoggedServer> {
  const imports = (o.preload ?? []).flatMap((p) => ['--import', p]);
  const child = spawn(process.execPath, [...imports, ...serveArgs(o)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ARBITER_NO_WEB_BUILD: '1', ...o.env } });
  o.onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  await until(() => out.includes('Dashboard:') || child.exitCode !== null, 'the server up', 60_000);
  if (child.exitCode !== null) throw new Error(`arbiter exited (${child.exitCode}): ${err}`);
  return { child, out: () => out, err: () => err };
}

/** Resolves once the process has exited (killed by a signal, exitCode stays null: signalCode says it has). */
export function exited(child: ChildProcess): Promise<void> {
  return new Promise<void>((r) => (child.signalCode !== null || child.exitCode !== null ? r() : child.once('exit', () => r())));
}

/** A TCP port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Poll `fn` until it gives a value (undefined, false or a throw: not yet); fails naming `what` after `timeoutMs`,
 * with the last error it saw.
 */
export async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Run a program to its end: its exit code and everything it printed. */
export function runToEnd(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

/** A process's state letter (R, S, T, …) from /proc/<pid>/stat; null when it is gone. */
export function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

export interface AgentProcessOptions {
  hub: string;
  node: string;
  /** the agent token */
  token: string;
  /** an nvidia-smi capture of test/fixtures/nvidia-smi/, replayed by the stand-in */
  capture: string;
  /** more options of `arbiter agent` */
  args?: string[];
  /** its working directory @default this process's */
  cwd?: string;
  /** called with a function that kills the process if it still runs: the test's cleanup */
  onCleanup: (fn: () => void) => void;
}

/**
 * `arbiter agent` as a process of its own (no Docker, GPUs from the nvidia-smi stand-in replaying a capture), with
 * none of this process's ARBITER_* / NVIDIA_SMI_* settings.
 */
export function spawnAgent(o: AgentProcessOptions): ChildProcess {
  const env: Record<string, string> = { NVIDIA_SMI_FIXTURE: fixture(o.capture), ARBITER_AGENT_TOKEN: o.token };
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ARBITER_') && !k.startsWith('NVIDIA_SMI_') && v !== undefined) env[k] ??= v;
  const child = spawn(process.execPath, [BIN, 'agent', '--hub', o.hub, '--node-name', o.node, '--no-docker', '--nvidia-smi', STAND_IN, '--log-level', 'warn', ...(o.args ?? [])], { env, stdio: 'ignore', cwd: o.cwd });
  o.onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}
