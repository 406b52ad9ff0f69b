/**
 * The `local` backend: each worker a child process of Arbiter that leads a process group (and session) of its own,
 * run under the exit-status wrapper (wrapper.ts). Its stdout and stderr go to `<logDir>/<id>.log`, a file Arbiter
 * opens and hands over as descriptors — no pipe, so a worker outlives Arbiter without a SIGPIPE or EPIPE — and its
 * status to `<logDir>/<id>.exit`. The exits of Arbiter's own children come from their 'exit' event; workers taken
 * back after a restart (`adopt`) are polled in /proc, known by pid and start time, with their status read from
 * `.exit`. Once a worker's wrapper has ended, whatever is left of its group is killed, as a container's would be.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { systemClock, type Clock, type Timer } from '../../clock.ts';
import type { Logger } from '../../log.ts';
import type { Backend, Exit, ExitListener, Launch, Running } from './backend.ts';
import { tailLines } from './log-tail.ts';
import { readStat } from './proc.ts';
import { exitOfStatus, readExitFile, wrapperArgs } from './wrapper.ts';

/** Arbiter's own secrets: never passed on to a worker. */
export const SECRET_ENV = ['ARBITER_TOKEN', 'ARBITER_ADMIN_TOKEN', 'ARBITER_AGENT_TOKEN'] as const;

export interface LocalBackendOptions {
  /** where each worker's output (`<id>.log`) and exit status (`<id>.exit`) are written; created when missing */
  logDir: string;
  /** the workers' working directory @default process.cwd() */
  cwd?: string;
  /** the environment every worker starts from (PWD set to its cwd, Launch.env on top); SECRET_ENV is always taken out @default process.env */
  env?: NodeJS.ProcessEnv;
  /** the host a worker's port is reached at @default '127.0.0.1' */
  host?: string;
  /** timers: polling adopted workers, the grace of stop() @default systemClock */
  clock?: Clock;
  /** how often adopted workers (not Arbiter's children) are looked for in /proc @default 1000 */
  pollMs?: number;
  /** @default '/proc' */
  procRoot?: string;
  /** logs() returns at most this many lines @default 10000 */
  logLines?: number;
  /** logs() reads (and holds) at most this many bytes from the end of a log @default 4 MiB */
  logBytes?: number;
  /** told when an exit listener throws */
  log?: Logger;
}

/** One worker this backend started or adopted, running or ended (until forgotten). */
interface Tracked {
  running: Running;
  /** the wrapper's pid: also its process group's id */
  pid: number;
  startTime: number;
  logFile: string;
  exitFile: string;
  /** the child process when Arbiter (this process) started it; null when adopted */
  child: ChildProcess | null;
  onChildExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | null;
  exit: Exit | null;
  /** resolves once it has ended (or the backend is closed) */
  done: Promise<void>;
  settle: () => void;
  killTimer: Timer | null;
}

export class LocalBackend implements Backend {
  readonly kind = 'local' as const;
  private readonly workers = new Map<string, Tracked>();
  private readonly listeners = new Set<ExitListener>();
  private readonly clock: Clock;
  private readonly procRoot: string;
  private readonly baseEnv: Record<string, string>;
  private pollTimer: Timer | null = null;
  private closed = false;

  constructor(private readonly opts: LocalBackendOptions) {
    this.clock = opts.clock ?? systemClock;
    this.procRoot = opts.procRoot ?? '/proc';
    this.baseEnv = withoutSecrets(opts.env ?? process.env);
  }

  async start(launch: Launch): Promise<Running> {
    if (this.closed) throw new Error('the local worker backend is closed');
    const prev = this.workers.get(launch.id);
    if (prev && !prev.exit) throw new Error(`worker ${launch.id} is running already (pid ${prev.pid})`);
    const base = join(this.opts.logDir, fileName(launch.id));
    const logFile = `${base}.log`;
    const exitFile = `${base}.exit`;
    mkdirSync(this.opts.logDir, { recursive: true });
    rmSync(exitFile, { force: true });
    // one descriptor for both streams, appending: stdout and stderr stay in the order they were written
    const fd = openSync(logFile, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_APPEND, 0o600);
    const cwd = resolve(this.opts.cwd ?? process.cwd());
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', wrapperArgs(exitFile, launch.spec.cmd), {
        cwd,
        env: { ...this.baseEnv, PWD: cwd, ...launch.env },
        detached: true,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    if (pid === undefined) {
      const [err] = (await once(child, 'error')) as [Error];
      throw new Error(`worker ${launch.id} did not start: ${err.message}`);
    }
    child.on('error', () => {}); // only spawn errors come here, and those were handled above
    // nothing has run since spawn, so the child has not been reaped: its stat is there, if only as a zombie
    const stat = readStat(pid, this.procRoot);
    if (!stat) {
      signalGroup(pid, 'SIGKILL');
      throw new Error(`worker ${launch.id} started as pid ${pid}, which ${this.procRoot} does not show`);
    }
    child.unref();
    const running: Running = {
      id: launch.id, host: this.opts.host ?? '127.0.0.1', port: launch.port, startedAt: this.clock.now(),
      ref: { kind: 'local', pid, startTime: stat.startTime, logFile },
    };
    const w = this.track(running, pid, stat.startTime, logFile, exitFile, child);
    w.onChildExit = (code, signal) => {
      const status = readExitFile(exitFile);
      const exit: Exit = status !== null ? exitOfStatus(status) : signal ? { code: null, signal } : code !== null ? exitOfStatus(code) : { code: null, signal: null };
      this.ended(w, exit, true);
    };
    child.once('exit', w.onChildExit);
    return running;
  }

  async stop(id: string, graceMs: number): Promise<void> {
    const w = this.workers.get(id);
    if (!w || !this.alive(w)) return;
    // TERM first, then CONT: a paused worker wakes up to the TERM waiting for it
    signalGroup(w.pid, 'SIGTERM');
    signalGroup(w.pid, 'SIGCONT');
    w.killTimer ??= this.clock.setTimeout(() => {
      w.killTimer = null;
      if (this.alive(w)) signalGroup(w.pid, 'SIGKILL');
    }, graceMs);
    await w.done;
  }

  /** SIGSTOP to the worker's group; nothing when it is unknown or has ended. */
  async pause(id: string): Promise<void> {
    const w = this.workers.get(id);
    if (w && this.alive(w)) signalGroup(w.pid, 'SIGSTOP');
  }

  /** SIGCONT to the worker's group; nothing when it is unknown or has ended. */
  async resume(id: string): Promise<void> {
    const w = this.workers.get(id);
    if (w && this.alive(w)) signalGroup(w.pid, 'SIGCONT');
  }

  async adopt(known: readonly Running[]): Promise<{ alive: Running[]; strangers: Running[] }> {
    if (this.closed) throw new Error('the local worker backend is closed');
    const alive: Running[] = [];
    for (const r of known) {
      if (r.ref.kind !== 'local') continue;
      const { pid, startTime, logFile } = r.ref;
      const cur = this.workers.get(r.id);
      if (cur && cur.pid === pid && cur.startTime === startTime) {
        // known here already: alive, or ended and reported once
        if (this.alive(cur)) alive.push(cur.running);
        continue;
      }
      if (cur && !cur.exit) continue; // another worker of that id runs here now: the record is stale
      const w = this.track(r, pid, startTime, logFile, exitFileOf(logFile), null);
      const s = readStat(pid, this.procRoot);
      if (s && s.startTime === startTime && s.state !== 'Z') alive.push(r);
      // ended while nobody watched; its pid may be another process's now, so its group is left alone unless it is
      // still this worker's (a zombie wrapper)
      else this.ended(w, this.statusOf(w), s !== null && s.startTime === startTime);
    }
    this.schedulePoll();
    return { alive, strangers: [] };
  }

  onExit(listener: ExitListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** The last lines of its log, at most `logLines`; [] for a worker unknown here (or forgotten). */
  async logs(id: string, tail: number): Promise<string[]> {
    const w = this.workers.get(id);
    if (!w) return [];
    return tailLines(w.logFile, Math.min(tail, this.opts.logLines ?? 10_000), this.opts.logBytes ?? 4 * 1024 * 1024);
  }

  /** Forget an ended worker: its record, its log and its status file. Throws while it runs. */
  forget(id: string): void {
    const w = this.workers.get(id);
    if (!w) return;
    if (!w.exit) throw new Error(`worker ${id} is running (pid ${w.pid}): stop it before forgetting it`);
    this.workers.delete(id);
    rmSync(w.logFile, { force: true });
    rmSync(w.exitFile, { force: true });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pollTimer?.cancel();
    this.pollTimer = null;
    for (const w of this.workers.values()) {
      w.killTimer?.cancel();
      w.killTimer = null;
      if (w.child && w.onChildExit) w.child.off('exit', w.onChildExit);
      w.settle(); // a stop under way returns: the worker is no longer watched
    }
    this.listeners.clear();
  }

  private track(running: Running, pid: number, startTime: number, logFile: string, exitFile: string, child: ChildProcess | null): Tracked {
    let settle = (): void => {};
    const done = new Promise<void>((r) => (settle = r));
    const w: Tracked = { running, pid, startTime, logFile, exitFile, child, onChildExit: null, exit: null, done, settle, killTimer: null };
    this.workers.set(running.id, w);
    return w;
  }

  /**
   * Whether it still runs. A child of this process is known to until its 'exit' event; an adopted worker is looked
   * up in /proc, and when it is gone its end is recorded and reported here.
   */
  private alive(w: Tracked): boolean {
    if (w.exit || this.closed) return false;
    if (w.child) return true;
    const s = readStat(w.pid, this.procRoot);
    if (s && s.startTime === w.startTime && s.state !== 'Z') return true;
    // its wrapper is gone (or a zombie): its group is still its own unless another process has taken the pid
    this.ended(w, this.statusOf(w), !s || s.startTime === w.startTime);
    return false;
  }

  /** Its status from the `.exit` file; unknown (null, null) when it left none. */
  private statusOf(w: Tracked): Exit {
    const status = readExitFile(w.exitFile);
    return status !== null ? exitOfStatus(status) : { code: null, signal: null };
  }

  private ended(w: Tracked, exit: Exit, killLeftovers: boolean): void {
    if (w.exit) return;
    w.exit = exit;
    w.killTimer?.cancel();
    w.killTimer = null;
    if (killLeftovers) signalGroup(w.pid, 'SIGKILL');
    w.settle();
    for (const l of [...this.listeners]) {
      try {
        l(w.running.id, exit);
      } catch (err) {
        this.opts.log?.error({ err, worker: w.running.id }, 'a worker exit listener failed');
      }
    }
  }

  private schedulePoll(): void {
    if (this.closed || this.pollTimer) return;
    if (![...this.workers.values()].some((w) => !w.child && !w.exit)) return;
    this.pollTimer = this.clock.setTimeout(() => {
      this.pollTimer = null;
      for (const w of [...this.workers.values()]) if (!w.child) this.alive(w);
      this.schedulePoll();
    }, this.opts.pollMs ?? 1000);
  }
}

/** `env` without Arbiter's secrets (and without unset entries). */
export function withoutSecrets(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !(SECRET_ENV as readonly string[]).includes(k)) out[k] = v;
  return out;
}

/** A worker id as one file name in the log directory: `/` (allowed in group names) and `%` are escaped. */
function fileName(id: string): string {
  if (id === '' || id === '.' || id === '..' || id.includes('\0')) throw new Error(`worker id ${JSON.stringify(id)} cannot name a log file`);
  return encodeURIComponent(id);
}

function exitFileOf(logFile: string): string {
  return `${logFile.endsWith('.log') ? logFile.slice(0, -4) : logFile}.exit`;
}

/** A signal to every process of a group; a group that no longer exists is no error. */
function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
