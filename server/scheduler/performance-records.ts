/**
 * What the PerformanceRecorder (evaluation.ts) keeps: one row of running figures per strategy with its wait/JCT
 * samples (mean exact, nearest-rank percentiles over a bounded reservoir), and the waiting requests and held
 * allocations it follows.
 */
import type { Request, StrategyName } from '../../shared/scheduler.ts';

type Dist = { mean: number | null; p50: number | null; p95: number | null };

/** Mean (exact) and nearest-rank percentiles over at most `max` samples (exact until then, then a reservoir). */
export class Samples {
  count = 0;
  sum = 0;
  private values = new Float64Array(16);
  private kept = 0;
  private sorted = true;

  constructor(private readonly max: number, private readonly random: () => number) {}

  add(v: number): void {
    this.count++;
    this.sum += v;
    if (this.kept < this.max) {
      if (this.kept === this.values.length) {
        const grown = new Float64Array(Math.min(this.max, this.values.length * 2));
        grown.set(this.values);
        this.values = grown;
      }
      this.values[this.kept++] = v;
    } else {
      // Algorithm R: the i-th sample replaces a uniformly chosen slot with probability max / i
      const j = Math.floor(this.random() * this.count);
      if (j >= this.max) return;
      this.values[j] = v;
    }
    this.sorted = false;
  }

  /** Nearest rank: the smallest kept sample with at least q of them ≤ it; null without samples. */
  quantile(q: number): number | null {
    if (!this.kept) return null;
    const kept = this.values.subarray(0, this.kept);
    if (!this.sorted) {
      kept.sort();
      this.sorted = true;
    }
    return kept[Math.min(this.kept - 1, Math.max(0, Math.ceil(q * this.kept - 1e-9) - 1))]!;
  }

  dist(): Dist {
    return { mean: this.count ? this.sum / this.count : null, p50: this.quantile(0.5), p95: this.quantile(0.95) };
  }
}

/** One strategy's running figures. */
export class Row {
  activeMs = 0;
  requests = 0;
  granted = 0;
  cancelled = 0;
  failed = 0;
  preemptions = 0;
  suspensions = 0;
  starved = 0;
  /** starved under this strategy and still waiting */
  starvedWaiting = 0;
  allocGpuMs = 0;
  capacityGpuMs = 0;
  /** owners that asked or received → GPU-ms received while this strategy was active */
  readonly received = new Map<string, number>();
  /** owners → GPU-ms their waiting requests asked for (gpus × wait) while this strategy was active */
  readonly waited = new Map<string, number>();
  firstSubmit = Infinity;
  lastEnd = -Infinity;
  readonly wait: Samples;
  readonly jct: Samples;

  constructor(readonly name: StrategyName, maxSamples: number, random: () => number) {
    this.wait = new Samples(maxSamples, random);
    this.jct = new Samples(maxSamples, random);
  }

  asked(owner: string): void {
    if (!this.received.has(owner)) this.received.set(owner, 0);
  }
}

export interface Waiting {
  readonly id: string;
  readonly owner: string;
  readonly submittedAt: number;
  /** asks for GPUs (whole or fractional) */
  readonly gpu: boolean;
  /** GPU equivalents it asks for (whole GPUs, or its share of one) */
  readonly gpuAmount: number;
  /** granted or cancelled (it stays in the starvation FIFO until the cursor passes it) */
  done: boolean;
  starved: boolean;
  /** the row it counts as starved-and-waiting for */
  starvedUnder: Row | null;
}

export interface Held {
  readonly owner: string;
  readonly gpus: number;
  readonly submittedAt: number;
  suspended: boolean;
}

export const asksGpu = (r: Request): boolean => r.resources.gpus > 0 || (r.resources.gpuMemMiB ?? 0) > 0;

export function waitingOf(r: Request, gpuMemoryMiB: number): Waiting {
  const frac = r.resources.gpuMemMiB ?? 0;
  const gpuAmount = frac > 0 ? Math.min(1, frac / gpuMemoryMiB) : r.resources.gpus;
  return { id: r.id, owner: r.owner, submittedAt: r.submittedAt, gpu: asksGpu(r), gpuAmount, done: false, starved: false, starvedUnder: null };
}
