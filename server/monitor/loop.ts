/**
 * The monitoring loop: runs each source on its own interval with a timeout per sample.
 * A source that throws or times out is marked `error` with its message and retried with exponential backoff;
 * a source that says it is unavailable (e.g. no GPU driver) is marked `unavailable` and re-checked slowly.
 * The loop itself never dies. Time comes from the injected clock, so tests drive it without sleeping.
 *
 * Every attempt is reported once, as one `Attempt`: the source's new state and, when it succeeded, its sample —
 * so a listener (the status board) receives a sample and the state it came with in the same call.
 */
import type { SourceStatus } from '../../shared/resources.ts';
import type { Clock, Timer } from '../clock.ts';

export interface Source<T, N extends string = string> {
  readonly name: N;
  start?(): Promise<void>;
  sample(): Promise<T>;
  stop?(): void | Promise<void>;
}

/** Thrown by a source whose subject is absent on this machine (not a failure). */
export class SourceUnavailableError extends Error {}

export interface LoopOptions {
  clock: Clock;
  timeoutMs: number;
  maxBackoffMs: number;
}

/** What each source samples, by source name (e.g. `{ host: HostSample; gpu: Gpu[] }`). */
export type SampleMap = Record<string, unknown>;

/** One finished attempt of source `K`: its new state, and its sample when the attempt succeeded (`status: ok`). */
export type Attempt<M extends SampleMap = SampleMap, K extends keyof M & string = keyof M & string> = {
  [P in K]: { source: P; status: SourceStatus; sample?: M[P] };
}[K];

export type AttemptListener<M extends SampleMap = SampleMap> = (attempt: Attempt<M>) => void;

interface Entry {
  source: Source<unknown>;
  intervalMs: number;
  status: SourceStatus;
  /** takes one sample; resolves to what reports the attempt with it once its state is known */
  take: () => Promise<(status: SourceStatus) => void>;
  /** reports a failed attempt (no sample) */
  fail: (status: SourceStatus) => void;
  timer: Timer | null;
  running: boolean;
}

export class MonitorLoop<M extends SampleMap = SampleMap> {
  private readonly entries = new Map<string, Entry>();
  private started = false;
  /** after stop(), results of samples still in flight are dropped */
  private stopped = false;
  private readonly listeners = new Set<AttemptListener<M>>();

  constructor(private readonly opts: LoopOptions) {}

  add<K extends keyof M & string>(source: Source<M[K], K>, intervalMs: number): void {
    if (this.entries.has(source.name)) throw new Error(`source "${source.name}" added twice`);
    const report = (attempt: Attempt<M, K>) => {
      for (const l of this.listeners) l(attempt);
    };
    this.entries.set(source.name, {
      source,
      intervalMs,
      status: { status: 'starting', lastSampleAt: null, lastErrorAt: null, consecutiveFailures: 0, nextRetryAt: null },
      take: async () => {
        const sample = await this.withTimeout(source.sample(), source.name, 'sample');
        return (status) => report({ source: source.name, status, sample });
      },
      fail: (status) => report({ source: source.name, status }),
      timer: null,
      running: false,
    });
  }

  /**
   * Sample `name` every `intervalMs` from now on (a config reload): the next sample comes the new interval from now.
   * A source in backoff keeps its retry time. Unknown names are ignored.
   */
  setIntervalMs(name: string, intervalMs: number): void {
    const e = this.entries.get(name);
    if (!e || e.intervalMs === intervalMs) return;
    e.intervalMs = intervalMs;
    if (this.started && e.timer && !e.running && e.status.status === 'ok') this.schedule(e, intervalMs);
  }

  /** Called once after every attempt of a source (success or failure), with the state and the sample together. */
  onAttempt(listener: AttemptListener<M>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  statuses(): Record<string, SourceStatus> {
    const out: Record<string, SourceStatus> = {};
    for (const [name, e] of this.entries) out[name] = { ...e.status };
    return out;
  }

  async start(): Promise<void> {
    this.started = true;
    await Promise.all(
      [...this.entries.values()].map(async (e) => {
        try {
          await this.withTimeout(e.source.start?.() ?? Promise.resolve(), e.source.name, 'start');
        } catch {
          // start failures surface on the first sample
        }
        if (this.started) this.schedule(e, 0);
      }),
    );
  }

  async stop(): Promise<void> {
    this.started = false;
    this.stopped = true;
    for (const e of this.entries.values()) {
      e.timer?.cancel();
      e.timer = null;
    }
    await Promise.all([...this.entries.values()].map((e) => e.source.stop?.()));
  }

  /** Run one sample of a source now (tests; the loop calls it on schedule). */
  async runOnce(name: string): Promise<void> {
    const e = this.entries.get(name);
    if (!e) throw new Error(`unknown source "${name}"`);
    await this.attempt(e);
  }

  private schedule(e: Entry, delayMs: number): void {
    e.timer?.cancel();
    e.timer = this.opts.clock.setTimeout(() => {
      e.timer = null;
      void this.tick(e);
    }, delayMs);
  }

  private async tick(e: Entry): Promise<void> {
    if (!this.started) return;
    const began = this.opts.clock.now();
    await this.attempt(e);
    if (!this.started) return;
    const s = e.status;
    if (s.status === 'ok') {
      // fixed rate: the time the sample took counts against the interval
      this.schedule(e, Math.max(0, e.intervalMs - (this.opts.clock.now() - began)));
    } else {
      this.schedule(e, Math.max(0, (s.nextRetryAt ?? 0) - this.opts.clock.now()));
    }
  }

  private async attempt(e: Entry): Promise<void> {
    if (e.running) return;
    e.running = true;
    const clock = this.opts.clock;
    let report = e.fail;
    try {
      report = await e.take();
      if (this.stopped) return;
      e.status = { status: 'ok', lastSampleAt: clock.now(), lastErrorAt: e.status.lastErrorAt, consecutiveFailures: 0, nextRetryAt: null };
    } catch (err) {
      const failures = e.status.consecutiveFailures + 1;
      const unavailable = err instanceof SourceUnavailableError;
      const backoff = unavailable
        ? this.opts.maxBackoffMs
        : Math.min(this.opts.maxBackoffMs, e.intervalMs * 2 ** Math.min(failures - 1, 20));
      e.status = {
        status: unavailable ? 'unavailable' : 'error',
        message: err instanceof Error ? err.message : String(err),
        lastSampleAt: e.status.lastSampleAt,
        lastErrorAt: clock.now(),
        consecutiveFailures: failures,
        nextRetryAt: clock.now() + backoff,
      };
    } finally {
      e.running = false;
    }
    if (this.stopped) return;
    report({ ...e.status });
  }

  private withTimeout<T>(p: Promise<T>, name: string, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.opts.clock.setTimeout(
        () => reject(new Error(`${name} ${what} timed out after ${this.opts.timeoutMs} ms`)),
        this.opts.timeoutMs,
      );
      p.then(
        (v) => { timer.cancel(); resolve(v); },
        (err: unknown) => { timer.cancel(); reject(err instanceof Error ? err : new Error(String(err))); },
      );
    });
  }
}
