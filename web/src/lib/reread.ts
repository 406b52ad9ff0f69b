/**
 * A read asked for again after events (what the push does not carry: the tasks' expected waits, why a worker
 * waits): at once, or when `minIntervalMs` has passed since the last read; one read at a time, and asks made while
 * one is out make one more read after it. A failed read is not retried (the next ask reads again). Time injected.
 */
import type { Timers } from './timers.ts';

export interface RereadSpec<T> {
  /** at most one read per this interval */
  minIntervalMs: number;
  /** whether reading is wanted now (started, ready, watched) */
  may(): boolean;
  read(): Promise<T>;
  answer(value: T): void;
  failed(err: unknown): void;
}

export class Reread<T> {
  private inFlight = false;
  private dirty = false;
  private timer: unknown = null;
  private last = -Infinity;
  /** answers of reads begun before the last `supersede` or `cancel` are dropped */
  private token = 0;

  constructor(
    private readonly timers: Timers,
    private readonly spec: RereadSpec<T>,
  ) {}

  /** Read again: now, or when the interval since the last read has passed. */
  ask(): void {
    if (!this.spec.may()) return;
    this.dirty = true;
    if (this.inFlight || this.timer !== null) return;
    const wait = this.last + this.spec.minIntervalMs - this.timers.now();
    if (wait <= 0) {
      this.run();
      return;
    }
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.run();
    }, wait);
  }

  /** Another read (a backfill) read the same just now: drop what is pending or under way, and count it as a read. */
  supersede(): void {
    this.cancel();
    this.last = this.timers.now();
  }

  /** Drop what is pending or under way (its answer is ignored). */
  cancel(): void {
    this.pause();
    this.token++;
    this.inFlight = false;
    this.dirty = false;
  }

  /** No read later (nobody watches): a pending one is dropped; one under way still lands. */
  pause(): void {
    if (this.timer !== null) {
      this.timers.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private run(): void {
    if (!this.spec.may()) return;
    const token = this.token;
    this.dirty = false;
    this.inFlight = true;
    this.last = this.timers.now();
    this.spec.read().then(
      (value) => {
        if (token !== this.token) return;
        this.inFlight = false;
        this.spec.answer(value);
        if (this.dirty) this.ask();
      },
      (err: unknown) => {
        if (token !== this.token) return;
        this.inFlight = false;
        this.dirty = false;
        this.spec.failed(err);
      },
    );
  }
}
