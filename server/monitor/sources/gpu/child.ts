/**
 * One long-lived nvidia-smi loop (`-lms` / `-l`), read line by line and kept alive: when it exits, or prints
 * nothing for too long (a hang: killed), it is restarted after an exponential backoff that resets once the
 * new process delivers. `problem` says what is wrong until then; `exit` keeps what the dead process printed
 * (nvidia-smi prints its errors on stdout).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Clock, Timer } from '../../../clock.ts';

export interface LineChildOptions {
  /** how messages name this child, e.g. "nvidia-smi --query-gpu" */
  label: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  clock: Clock;
  /** called for each line; returns true when the line was good data (the child is healthy again) */
  onLine: (line: string) => boolean;
  /** after the first line, no line for this long is a hang; undefined: silence is normal (compute-apps) */
  hangAfterMs?: number;
  /** no line at all this long after spawn is a hang; undefined: no limit */
  startTimeoutMs?: number;
  /** a child that stays up this long counts as healthy even without output (silent loops) */
  healthyAfterMs?: number;
  backoff: { initialMs: number; maxMs: number };
  /** told of exits, hangs and restarts (logging) */
  onEvent?: (event: ChildEvent) => void;
}

export interface ChildEvent {
  kind: 'exit' | 'hang' | 'restart' | 'not-found';
  label: string;
  message: string;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the non-data lines the process printed (its own error message), else the end of its stderr */
  output: string;
  at: number;
}

const KEEP_LINES = 8;

export class LineChild {
  private child: ChildProcess | null = null;
  private restartTimer: Timer | null = null;
  private watchTimer: Timer | null = null;
  private healthyTimer: Timer | null = null;
  private stopped = false;
  private failures = 0;
  private spawnedAt = 0;
  private lastLineAt: number | null = null;
  private recent: string[] = [];
  private stderrTail = '';
  private killedForHang: string | null = null;

  /** what is wrong right now (exited, hung, restarting), null when the child is delivering */
  problem: string | null = null;
  lastExit: ChildExit | null = null;
  notFound = false;
  spawns = 0;
  restarts = 0;

  constructor(private readonly opts: LineChildOptions) {}

  get running(): boolean {
    return this.child !== null;
  }

  /** how long the current process has been up (0 when there is none) */
  upForMs(): number {
    return this.child ? this.opts.clock.now() - this.spawnedAt : 0;
  }

  start(): void {
    this.stopped = false;
    this.spawn();
  }

  private spawn(): void {
    this.restartTimer = null;
    if (this.stopped) return;
    const o = this.opts;
    let child: ChildProcess;
    try {
      child = spawn(o.command, o.args, { env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      this.onExit(null, null, e instanceof Error ? e.message : String(e));
      return;
    }
    this.child = child;
    this.spawns++;
    this.spawnedAt = o.clock.now();
    this.lastLineAt = null;
    this.recent = [];
    this.stderrTail = '';
    this.killedForHang = null;
    // the error listener first: a spawn that fails emits 'error', which must never be unhandled
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (this.child !== child) return;
      if (e.code === 'ENOENT') {
        this.notFound = true;
        this.child = null;
        this.clearTimers();
        this.problem = `${o.command} not found`;
        o.onEvent?.({ kind: 'not-found', label: o.label, message: this.problem });
        return;
      }
      this.stderrTail += `${e.message}\n`;
      // a spawn that got no process (EMFILE, EAGAIN: no pipes, no pid) ends here; others (EACCES…) end in 'close'
      if (child.pid === undefined) this.onExit(null, null, e.message);
    });
    // no pipes when the spawn failed (out of file descriptors): only 'error' comes
    if (!child.stdout || !child.stderr) return;
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        this.line(child, line);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-2000);
    });
    child.on('close', (code, signal) => {
      if (this.child !== child) return;
      this.onExit(code, signal, null);
    });
    this.armWatch();
    if (o.healthyAfterMs !== undefined) {
      this.healthyTimer = o.clock.setTimeout(() => {
        this.healthyTimer = null;
        if (this.child === child) this.healthy();
      }, o.healthyAfterMs);
    }
  }

  private line(child: ChildProcess, line: string): void {
    if (this.child !== child || line.trim() === '') return;
    this.lastLineAt = this.opts.clock.now();
    if (this.opts.onLine(line)) {
      this.healthy();
    } else {
      this.recent.push(line.trim());
      if (this.recent.length > KEEP_LINES) this.recent.shift();
    }
  }

  private healthy(): void {
    this.failures = 0;
    this.problem = null;
  }

  /** Re-check for a hang at a quarter of the limit, so a hang is seen at most 25 % late. */
  private armWatch(): void {
    const { hangAfterMs, startTimeoutMs } = this.opts;
    const limit = Math.min(hangAfterMs ?? Infinity, startTimeoutMs ?? Infinity);
    if (!Number.isFinite(limit)) return;
    this.watchTimer = this.opts.clock.setTimeout(() => {
      this.watchTimer = null;
      this.checkHang();
    }, Math.max(10, limit / 4));
  }

  private checkHang(): void {
    const child = this.child;
    if (!child || this.stopped) return;
    const now = this.opts.clock.now();
    const { hangAfterMs, startTimeoutMs } = this.opts;
    let hung: string | null = null;
    if (this.lastLineAt === null) {
      if (startTimeoutMs !== undefined && now - this.spawnedAt >= startTimeoutMs) {
        hung = `${this.opts.label} printed nothing within ${startTimeoutMs} ms of starting`;
      }
    } else if (hangAfterMs !== undefined && now - this.lastLineAt >= hangAfterMs) {
      hung = `${this.opts.label} printed nothing for ${now - this.lastLineAt} ms (hung)`;
    }
    if (hung) {
      this.killedForHang = hung;
      this.problem = `${hung}; killed`;
      this.opts.onEvent?.({ kind: 'hang', label: this.opts.label, message: this.problem });
      child.kill('SIGKILL');
      return;
    }
    this.armWatch();
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, spawnError: string | null): void {
    const o = this.opts;
    this.child = null;
    this.clearTimers();
    const output = spawnError ?? (this.recent.length ? this.recent.join('\n') : this.stderrTail.trim());
    this.lastExit = { code, signal, output, at: o.clock.now() };
    if (this.stopped) return;
    this.failures++;
    const delay = Math.min(o.backoff.maxMs, o.backoff.initialMs * 2 ** Math.min(this.failures - 1, 20));
    const how = this.killedForHang ?? `${o.label} exited with ${code !== null ? `code ${code}` : `signal ${signal}`}${output ? `: ${output}` : ''}`;
    this.problem = `${how}; restarting in ${delay} ms (restart ${this.restarts + 1})`;
    o.onEvent?.({ kind: 'exit', label: o.label, message: this.problem });
    this.restartTimer = o.clock.setTimeout(() => {
      this.restarts++;
      o.onEvent?.({ kind: 'restart', label: o.label, message: `restarting ${o.label} (restart ${this.restarts})` });
      this.spawn();
    }, delay);
  }

  private clearTimers(): void {
    this.watchTimer?.cancel();
    this.watchTimer = null;
    this.healthyTimer?.cancel();
    this.healthyTimer = null;
  }

  /** Stop for good: no restart; resolves when the process has gone (SIGKILL after `graceMs`). */
  async stop(graceMs = 1000): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    this.restartTimer?.cancel();
    this.restartTimer = null;
    const child = this.child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('close', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
    this.child = null;
  }
}
