/**
 * The gpu source: NVIDIA GPUs through nvidia-smi, without a process per sample.
 *
 * At start it reads the fields this driver knows (`--help-query-gpu`), then keeps two long-lived loops:
 *   `--query-gpu=<fields> --format=csv,noheader,nounits -lms <intervalMs>`   figures, one line per GPU
 *   `--query-compute-apps=gpu_uuid,pid,used_gpu_memory,process_name … -l <s>` compute processes
 * and runs `nvidia-smi -q -x` now and then (start, every `inventoryIntervalMs`, every `migInventoryIntervalMs`
 * while a GPU is in MIG mode) for MIG instances, graphics processes and process → MIG instance.
 * `sample()` only assembles what the children last printed.
 *
 * States, as the monitor loop shows them:
 *   no binary (ENOENT)                      → throws SourceUnavailableError → `unavailable`; re-checked on the next sample
 *   a loop exited (driver failure: exit 9,  → throws until the restarted loop delivers again → `error`; the message is
 *   NVML errors) or hung (killed)             nvidia-smi's own (printed on stdout) or says how it exited / hung
 *   no valid line for `staleAfterMs`        → throws (e.g. only garbage arrives)
 *   one GPU "Unable to determine the device → that GPU `status: 'error'` with the line as message, last good figures
 *   handle", or no row for it                 kept (or null); the other GPUs keep reporting
 * Loops are restarted with exponential backoff (`restartBackoffMs`), reset once a new loop delivers.
 * A failed `-q -x` does not fail samples: the last inventory is kept and the error is in `stats()`.
 */
import type { Gpu } from '../../../../shared/resources.ts';
import { systemClock, type Clock, type Timer } from '../../../clock.ts';
import { SourceUnavailableError, type Source } from '../../loop.ts';
import { assemble, processPids, type Seen } from './assemble.ts';
import { LineChild, type ChildEvent } from './child.ts';
import { APPS_FIELDS, isDriverMessage, parseAppRow, parseGpuRow, parseHandleError, type AppRow, type GpuRow } from './csv.ts';
import { parseHelpQueryGpu, planFields, type FieldPlan } from './fields.ts';
import { GPU_HEALTH_DEFAULTS, type GpuThresholds } from './health.ts';
import { ProcInfo } from './procinfo.ts';
import { CommandNotFoundError, runCommand } from './run.ts';
import { parseNvidiaSmiXml, type XmlInventory } from './xml.ts';

export { GPU_HEALTH_DEFAULTS, type GpuThresholds } from './health.ts';

/** pino-compatible */
export interface GpuLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface GpuSourceOptions {
  /** nvidia-smi executable: a name looked up on PATH, or a path. @default 'nvidia-smi' */
  nvidiaSmi?: string;
  /** `--query-gpu` loop interval (`-lms`). @default 1000 */
  intervalMs?: number;
  /** `--query-compute-apps` loop interval in whole seconds (`-l`). @default max(1, round(intervalMs / 1000)) */
  appsIntervalSec?: number;
  /** `-q -x` inventory interval. @default 60_000 */
  inventoryIntervalMs?: number;
  /** `-q -x` interval while a GPU is in MIG mode (instance memory, process → instance). @default 10_000 */
  migInventoryIntervalMs?: number;
  /** no line from the `--query-gpu` loop for this long (after its first) is a hang: killed, restarted. @default max(5 × intervalMs, 5000) */
  hangAfterMs?: number;
  /** no first line this long after a loop starts is a hang (nvidia-smi can take 30 s to start without persistenced). @default 60_000 */
  startTimeoutMs?: number;
  /** figures older than this fail the sample (all GPUs) or mark the GPU `error` (one GPU). @default max(3 × intervalMs, 3000) */
  staleAfterMs?: number;
  /** how long the first `sample()` waits for the loops' first output before it throws. @default 4000 */
  firstOutputTimeoutMs?: number;
  /** restart delay of an exited or hung loop, doubling per consecutive failure. @default { initialMs: 1000, maxMs: 30_000 } */
  restartBackoffMs?: { initialMs: number; maxMs: number };
  /** timeout of `--help-query-gpu` and `-q -x`. @default 60_000 */
  commandTimeoutMs?: number;
  /** health thresholds. @default GPU_HEALTH_DEFAULTS */
  thresholds?: Partial<GpuThresholds>;
  /** root holding proc/<pid> and etc/passwd, for process owners and containers. @default '/' */
  hostRoot?: string;
  /** environment of the nvidia-smi processes. @default process.env */
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  log?: GpuLog;
}

export interface GpuSourceStats {
  /** processes spawned: help, loops (and their restarts), -q -x runs */
  spawns: number;
  /** loop restarts after an exit or a hang */
  restarts: number;
  /** lines of the loops that were neither data nor an nvidia-smi message */
  garbageLines: number;
  xmlRuns: number;
  /** why the last -q -x failed, null when it worked */
  xmlError: string | null;
  /** wanted --query-gpu fields this driver does not know (left out; other spellings may stand in) */
  droppedFields: string[];
  /** figures this driver has no field for (always null) */
  missingFigures: string[];
}

export class GpuSource implements Source<Gpu[]> {
  readonly name = 'gpu';
  private readonly bin: string;
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly appsIntervalSec: number;
  private readonly hangAfterMs: number;
  private readonly staleAfterMs: number;
  private readonly thresholds: GpuThresholds;
  private readonly procInfo: ProcInfo;

  private plan: FieldPlan | null = null;
  private initializing: Promise<void> | null = null;
  private gpuLoop: LineChild | null = null;
  private appsLoop: LineChild | null = null;
  private startedAt = 0;
  private stopped = false;

  private readonly rows = new Map<string, Seen<GpuRow>>();
  private readonly lost = new Map<string, Seen<string>>();
  private readonly apps = new Map<string, Seen<AppRow>>();
  private lastRowAt: number | null = null;
  private xml: Seen<XmlInventory> | null = null;
  private xmlDone = false;
  private xmlTimer: Timer | null = null;
  private xmlAbort: AbortController | null = null;
  private xmlError: string | null = null;
  private xmlRuns = 0;
  private otherSpawns = 0;
  private garbageLines = 0;
  private retiredSpawns = 0;
  private retiredRestarts = 0;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly opts: GpuSourceOptions = {}) {
    this.bin = opts.nvidiaSmi ?? 'nvidia-smi';
    this.clock = opts.clock ?? systemClock;
    this.intervalMs = opts.intervalMs ?? 1000;
    this.appsIntervalSec = opts.appsIntervalSec ?? Math.max(1, Math.round(this.intervalMs / 1000));
    this.hangAfterMs = opts.hangAfterMs ?? Math.max(5 * this.intervalMs, 5000);
    this.staleAfterMs = opts.staleAfterMs ?? Math.max(3 * this.intervalMs, 3000);
    this.thresholds = { ...GPU_HEALTH_DEFAULTS, ...opts.thresholds };
    this.procInfo = new ProcInfo({ root: opts.hostRoot, clock: this.clock });
    if (!Number.isInteger(this.intervalMs) || this.intervalMs < 1) throw new Error(`intervalMs must be a positive integer, got ${this.intervalMs}`);
    if (!Number.isInteger(this.appsIntervalSec) || this.appsIntervalSec < 1) {
      throw new Error(`appsIntervalSec must be a whole number of seconds ≥ 1 (nvidia-smi -l), got ${this.appsIntervalSec}`);
    }
    if (this.hangAfterMs <= this.intervalMs) {
      throw new Error(`hangAfterMs (${this.hangAfterMs}) must be longer than intervalMs (${this.intervalMs}): every loop would count as a hang`);
    }
    if (this.staleAfterMs <= this.intervalMs) {
      throw new Error(`staleAfterMs (${this.staleAfterMs}) must be longer than intervalMs (${this.intervalMs}): every sample would be stale`);
    }
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.ensureStarted();
  }

  async sample(): Promise<Gpu[]> {
    if (this.stopped) throw new Error('gpu source is stopped');
    await this.ensureStarted();
    const gpuLoop = this.gpuLoop!;
    const appsLoop = this.appsLoop!;
    if (gpuLoop.notFound || appsLoop.notFound) {
      await this.teardown();
      throw new SourceUnavailableError(`${this.bin} not found (the nvidia-smi binary is gone)`);
    }
    if (this.lastRowAt === null && this.lost.size === 0) {
      // first sample: give the loops (and the first -q -x) a moment
      const deadline = this.startedAt + (this.opts.firstOutputTimeoutMs ?? 4000);
      await this.waitFor(() => (this.rows.size > 0 || this.lost.size > 0) && this.xmlDone, deadline, () => gpuLoop.problem !== null);
      if (this.rows.size === 0 && this.lost.size === 0) {
        throw new Error(loopError(gpuLoop) ?? `no output from nvidia-smi --query-gpu within ${this.opts.firstOutputTimeoutMs ?? 4000} ms of starting`);
      }
    }
    const gpuProblem = loopError(gpuLoop);
    if (gpuProblem) throw new Error(gpuProblem);
    const appsProblem = loopError(appsLoop);
    if (appsProblem) throw new Error(appsProblem);
    const now = this.clock.now();
    const newest = Math.max(this.lastRowAt ?? -Infinity, ...[...this.lost.values()].map((l) => l.at));
    if (now - newest > this.staleAfterMs) {
      throw new Error(`no valid output from nvidia-smi --query-gpu for ${now - newest} ms${this.garbageLines ? ` (${this.garbageLines} unreadable lines so far)` : ''}`);
    }
    this.forget(now);
    const xml = this.xml?.value ?? null;
    const apps = [...this.apps.values()];
    const owners = await this.procInfo.owners(processPids(apps, xml));
    return assemble({
      now,
      rows: this.rows.values(),
      lost: this.lost,
      apps,
      appsLive: appsLoop.running && appsLoop.problem === null && appsLoop.upForMs() > this.appsIntervalSec * 1000,
      xml,
      owners,
      staleAfterMs: this.staleAfterMs,
      thresholds: this.thresholds,
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.teardown();
  }

  stats(): GpuSourceStats {
    const loops = [this.gpuLoop, this.appsLoop];
    return {
      spawns: this.otherSpawns + this.retiredSpawns + loops.reduce((n, l) => n + (l?.spawns ?? 0), 0),
      restarts: this.retiredRestarts + loops.reduce((n, l) => n + (l?.restarts ?? 0), 0),
      garbageLines: this.garbageLines,
      xmlRuns: this.xmlRuns,
      xmlError: this.xmlError,
      droppedFields: this.plan?.dropped ?? [],
      missingFigures: this.plan?.missing ?? [],
    };
  }

  // ---------------------------------------------------------------- start-up

  private ensureStarted(): Promise<void> {
    if (this.gpuLoop) return Promise.resolve();
    this.initializing ??= this.init().finally(() => {
      this.initializing = null;
    });
    return this.initializing;
  }

  private async init(): Promise<void> {
    const help = await this.run(['--help-query-gpu']);
    if (help.code !== 0 || help.timedOut) throw new Error(commandError('--help-query-gpu', help));
    const plan = planFields(parseHelpQueryGpu(help.stdout));
    this.plan = plan;
    if (plan.missing.length) this.opts.log?.info({ source: 'gpu', figures: plan.missing, fields: plan.dropped }, 'this nvidia-smi knows no field for these figures: they stay null');
    if (this.stopped) return;
    const backoff = this.opts.restartBackoffMs ?? { initialMs: 1000, maxMs: 30_000 };
    const onEvent = (e: ChildEvent) => {
      this.opts.log?.warn({ source: 'gpu', loop: e.label, event: e.kind }, e.message);
      this.wake();
    };
    this.startedAt = this.clock.now();
    this.gpuLoop = new LineChild({
      label: 'nvidia-smi --query-gpu',
      command: this.bin,
      args: [`--query-gpu=${plan.fields.join(',')}`, '--format=csv,noheader,nounits', '-lms', String(this.intervalMs)],
      env: this.opts.env,
      clock: this.clock,
      onLine: (line) => this.onGpuLine(line),
      hangAfterMs: this.hangAfterMs,
      startTimeoutMs: this.opts.startTimeoutMs ?? 60_000,
      backoff,
      onEvent,
    });
    this.appsLoop = new LineChild({
      label: 'nvidia-smi --query-compute-apps',
      command: this.bin,
      args: [`--query-compute-apps=${APPS_FIELDS.join(',')}`, '--format=csv,noheader,nounits', '-l', String(this.appsIntervalSec)],
      env: this.opts.env,
      clock: this.clock,
      onLine: (line) => this.onAppsLine(line),
      // no compute process → no output at all: silence is not a hang; up for one loop counts as healthy
      healthyAfterMs: this.appsIntervalSec * 1000 + 500,
      backoff,
      onEvent,
    });
    this.gpuLoop.start();
    this.appsLoop.start();
    this.xmlDone = false;
    void this.refreshXml();
  }

  private async run(args: string[]) {
    this.otherSpawns++;
    try {
      return await runCommand(this.bin, args, {
        env: this.opts.env,
        clock: this.clock,
        timeoutMs: this.opts.commandTimeoutMs ?? 60_000,
        signal: this.xmlAbort?.signal,
      });
    } catch (e) {
      if (e instanceof CommandNotFoundError) {
        throw new SourceUnavailableError(`nvidia-smi not found ("${this.bin}"${this.bin.includes('/') ? '' : ' on PATH'}): no NVIDIA driver on this machine?`);
      }
      throw e;
    }
  }

  private async teardown(): Promise<void> {
    this.xmlTimer?.cancel();
    this.xmlTimer = null;
    this.xmlAbort?.abort();
    this.xmlAbort = null;
    const loops = [this.gpuLoop, this.appsLoop].filter((l): l is LineChild => l !== null);
    for (const l of loops) {
      this.retiredSpawns += l.spawns;
      this.retiredRestarts += l.restarts;
    }
    this.gpuLoop = null;
    this.appsLoop = null;
    await Promise.all(loops.map((l) => l.stop()));
    this.rows.clear();
    this.lost.clear();
    this.apps.clear();
    this.lastRowAt = null;
    this.wake();
  }

  // ---------------------------------------------------------------- the loops' lines

  private onGpuLine(line: string): boolean {
    const now = this.clock.now();
    const row = this.plan ? parseGpuRow(line, this.plan) : null;
    if (row) {
      this.rows.set(row.uuid, { value: row, at: now });
      this.lastRowAt = now;
      this.wake();
      return true;
    }
    const lost = parseHandleError(line);
    if (lost) {
      this.lost.set(lost.busId, { value: lost.message, at: now });
      this.wake();
      return true;
    }
    if (!isDriverMessage(line)) this.garbageLines++;
    return false;
  }

  private onAppsLine(line: string): boolean {
    const row = parseAppRow(line);
    if (row) {
      this.apps.set(`${row.gpuUuid}|${row.pid}`, { value: row, at: this.clock.now() });
      return true;
    }
    if (parseHandleError(line) || /^No running (compute )?processes found/i.test(line.trim())) return true;
    if (!isDriverMessage(line)) this.garbageLines++;
    return false;
  }

  /** Drop what has not been reported for a while: ended processes, vanished GPUs, handle errors no longer printed. */
  private forget(now: number): void {
    // compute-apps prints nothing for a GPU without processes: a row not repeated for 2½ loops has ended
    const appsTtl = this.appsIntervalSec * 2500 + 500;
    for (const [k, a] of this.apps) if (now - a.at > appsTtl) this.apps.delete(k);
    for (const [k, l] of this.lost) if (now - l.at > this.staleAfterMs) this.lost.delete(k);
    for (const [k, r] of this.rows) if (now - r.at > 20 * this.staleAfterMs) this.rows.delete(k);
  }

  // ---------------------------------------------------------------- -q -x inventory

  private async refreshXml(): Promise<void> {
    this.xmlTimer = null;
    if (this.stopped || !this.gpuLoop) return;
    this.xmlRuns++;
    this.xmlAbort = new AbortController();
    try {
      const r = await this.run(['-q', '-x']);
      if (r.code !== 0 || r.timedOut) {
        this.xmlError = commandError('-q -x', r);
      } else {
        this.xml = { value: parseNvidiaSmiXml(r.stdout), at: this.clock.now() };
        this.xmlError = null;
      }
    } catch (e) {
      if (this.stopped || !this.gpuLoop) return;
      this.xmlError = e instanceof Error ? e.message : String(e);
    } finally {
      this.xmlAbort = null;
      this.xmlDone = true;
      this.wake();
    }
    if (this.xmlError) this.opts.log?.warn({ source: 'gpu' }, `nvidia-smi -q -x failed: ${this.xmlError}`);
    if (this.stopped || !this.gpuLoop) return;
    const mig = [...this.rows.values()].some((r) => r.value.migMode === true) || (this.xml?.value.gpus.some((g) => g.migMode === true) ?? false);
    const every = mig ? (this.opts.migInventoryIntervalMs ?? 10_000) : (this.opts.inventoryIntervalMs ?? 60_000);
    this.xmlTimer = this.clock.setTimeout(() => void this.refreshXml(), every);
  }

  // ---------------------------------------------------------------- waiting without polling

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolve when `done()` (or `abort()`) holds after an event, or at `deadline`. */
  private async waitFor(done: () => boolean, deadline: number, abort: () => boolean): Promise<void> {
    while (!done() && !abort() && !this.stopped) {
      const left = deadline - this.clock.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimeout(finish, left);
        const self = this;
        function finish() {
          timer?.cancel();
          self.waiters.delete(finish);
          resolve();
        }
        this.waiters.add(finish);
      });
    }
  }
}

/** Why a loop is not delivering: nvidia-smi's own message when it printed one (driver failure), else how it ended. */
function loopError(loop: LineChild): string | null {
  if (loop.problem === null) return null;
  const out = loop.lastExit?.output ?? '';
  if (out && out.split('\n').some(isDriverMessage) && !loop.problem.includes('printed nothing')) return out;
  return loop.problem;
}

function commandError(what: string, r: { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; timedOut: boolean }): string {
  if (r.timedOut) return `nvidia-smi ${what} timed out`;
  const said = (r.stdout.trim() || r.stderr.trim()).split('\n').slice(0, 4).join('\n');
  // nvidia-smi prints its errors (driver not loaded: exit 9) on stdout: give its own words
  if (said && said.split('\n').some(isDriverMessage)) return said;
  return `nvidia-smi ${what} exited with ${r.code !== null ? `code ${r.code}` : `signal ${r.signal}`}${said ? `: ${said}` : ''}`;
}
