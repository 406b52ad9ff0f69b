/**
 * In-memory history: one point per second per series for the last `seconds` seconds, in typed-array rings.
 * A slot is addressed by the sample's whole second, so a late or repeated sample overwrites its own second.
 */
export class SeriesRing {
  readonly capacity: number;
  private readonly values: Float32Array;
  /** epoch second stored in each slot, 0 = empty */
  private readonly seconds: Uint32Array;
  private newest = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.values = new Float32Array(capacity);
    this.seconds = new Uint32Array(capacity);
  }

  push(tMs: number, value: number): void {
    const sec = Math.floor(tMs / 1000);
    if (sec + this.capacity <= this.newest) return; // older than the window
    const slot = sec % this.capacity;
    this.seconds[slot] = sec;
    this.values[slot] = value;
    if (sec > this.newest) this.newest = sec;
  }

  /** Points with sinceMs ≤ t ≤ untilMs, oldest first. */
  range(sinceMs: number, untilMs: number): { t: number[]; v: number[] } {
    const t: number[] = [];
    const v: number[] = [];
    if (this.newest === 0) return { t, v };
    const from = Math.max(Math.ceil(sinceMs / 1000), this.newest - this.capacity + 1);
    const to = Math.min(Math.floor(untilMs / 1000), this.newest);
    for (let sec = from; sec <= to; sec++) {
      const slot = sec % this.capacity;
      if (this.seconds[slot] === sec) {
        t.push(sec * 1000);
        v.push(this.values[slot]!);
      }
    }
    return { t, v };
  }

  get newestMs(): number {
    return this.newest * 1000;
  }

  /** Time of the oldest point kept, or null when there is none. */
  get oldestMs(): number | null {
    if (this.newest === 0) return null;
    for (let sec = Math.max(1, this.newest - this.capacity + 1); sec <= this.newest; sec++) {
      if (this.seconds[sec % this.capacity] === sec) return sec * 1000;
    }
    return null;
  }
}

export class History {
  private readonly series = new Map<string, SeriesRing>();

  /** @param seconds the window kept per series, at one point per second */
  constructor(readonly seconds: number) {}

  record(name: string, tMs: number, value: number | null | undefined): void {
    if (value === null || value === undefined || !Number.isFinite(value)) return;
    let ring = this.series.get(name);
    if (!ring) this.series.set(name, (ring = new SeriesRing(this.seconds)));
    ring.push(tMs, value);
  }

  /** Forget series with no point inside the window (containers, interfaces and mounts come and go). */
  prune(nowMs: number): number {
    let n = 0;
    for (const [name, ring] of this.series) {
      if (ring.newestMs <= nowMs - this.seconds * 1000) {
        this.series.delete(name);
        n++;
      }
    }
    return n;
  }

  names(): string[] {
    return [...this.series.keys()].sort();
  }

  has(name: string): boolean {
    return this.series.has(name);
  }

  /** Time of the oldest point of a series in memory, or null when it has none. */
  oldestMs(name: string): number | null {
    return this.series.get(name)?.oldestMs ?? null;
  }

  /** Points of one series; with `stepMs`, the mean of each step-aligned bucket. */
  query(name: string, sinceMs: number, untilMs: number, stepMs?: number): { t: number[]; v: number[] } {
    const ring = this.series.get(name);
    if (!ring) return { t: [], v: [] };
    const raw = ring.range(sinceMs, untilMs);
    if (!stepMs || stepMs <= 1000) return raw;
    return downsample(raw, stepMs);
  }
}

export function downsample(raw: { t: number[]; v: number[] }, stepMs: number): { t: number[]; v: number[] } {
  const t: number[] = [];
  const v: number[] = [];
  let bucket = NaN;
  let sum = 0;
  let n = 0;
  const flush = () => {
    if (n > 0) {
      t.push(bucket);
      v.push(sum / n);
    }
  };
  for (let i = 0; i < raw.t.length; i++) {
    const b = Math.floor(raw.t[i]! / stepMs) * stepMs;
    if (b !== bucket) {
      flush();
      bucket = b;
      sum = 0;
      n = 0;
    }
    sum += raw.v[i]!;
    n++;
  }
  flush();
  return { t, v };
}
