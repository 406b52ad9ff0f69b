/**
 * A heartbeat spread over its interval: the members are dealt round-robin into slices, and each turn of the timer
 * (the interval ÷ the number of slices) pings one slice, so every member is still pinged once per interval — and
 * dropped when it has not answered by its next ping — but never all at once. With 10,000 WebSocket clients pinged
 * together, the round of pings and the 10,000 pongs read back held the event loop for longer than an event's whole
 * fan-out, and an event published then waited for it (bench/RESULTS.md, issue 16).
 */

/** Slices for an interval: one turn every ~250 ms, at most 60, at least 1 (a short interval pings everyone each turn). */
export function sliceCount(intervalMs: number): number {
  return Math.max(1, Math.min(60, Math.floor(intervalMs / 250)));
}

export class PingRounds<T> {
  private readonly slices: Set<T>[];
  private readonly sliceOf = new Map<T, Set<T>>();
  private dealt = 0;
  private turn = 0;

  constructor(readonly count: number) {
    this.slices = Array.from({ length: Math.max(1, count) }, () => new Set<T>());
  }

  add(member: T): void {
    if (this.sliceOf.has(member)) return;
    const slice = this.slices[this.dealt++ % this.slices.length]!;
    slice.add(member);
    this.sliceOf.set(member, slice);
  }

  delete(member: T): void {
    this.sliceOf.get(member)?.delete(member);
    this.sliceOf.delete(member);
  }

  get size(): number {
    return this.sliceOf.size;
  }

  /** The members whose turn it is (the next slice, in order round the slices). */
  next(): ReadonlySet<T> {
    const slice = this.slices[this.turn]!;
    this.turn = (this.turn + 1) % this.slices.length;
    return slice;
  }
}
