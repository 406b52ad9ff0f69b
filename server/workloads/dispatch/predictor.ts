/**
 * The wait-time predictor: a lookup table per model and metadata bucket (the prior, from the config file) learned
 * online from the execution times instances report (Welford). The prior counts as `priorWeight` observations, so
 * the first completions move the prediction gradually: with n observations of mean x̄ and sum of squared deviations
 * M2, mean = (n₀·m₀ + n·x̄) ÷ (n₀ + n) and variance = (n₀·s₀² + M2 + n₀·n ÷ (n₀ + n)·(x̄ − m₀)²) ÷ (n₀ + n) — the
 * pooled mean and variance of the prior's pseudo-observations and the real ones. Pure; times in ms.
 */
import type { ExecPrior, PredictorTable } from '../../../shared/dispatch.ts';

export interface Prediction {
  /** ms */
  mean: number;
  /** ms */
  sd: number;
}

export interface PredictorOptions {
  table?: PredictorTable;
  /** a model or bucket nobody described @default {mean: 1 s, sd: 1 s} */
  fallback?: ExecPrior;
  /** observations the prior counts as @default 5 */
  priorWeight?: number;
}

interface Stats {
  n: number;
  mean: number;
  m2: number;
}

export class Predictor {
  private readonly table: PredictorTable;
  private readonly fallback: ExecPrior;
  private readonly n0: number;
  private readonly stats = new Map<string, Stats>();

  constructor(opts: PredictorOptions = {}) {
    this.table = opts.table ?? {};
    this.fallback = opts.fallback ?? { mean: 1, sd: 1 };
    this.n0 = opts.priorWeight ?? 5;
    if (!(this.n0 > 0)) throw new Error(`priorWeight must be > 0, not ${this.n0}`);
  }

  /** The bucket of a task: `<model>` plus the value of the model's key field in its metadata. */
  bucketOf(model: string, metadata: Readonly<Record<string, unknown>>): string {
    const key = this.table[model]?.key;
    return key === undefined ? model : `${model}\u0000${stringOf(metadata[key])}`;
  }

  predict(model: string, metadata: Readonly<Record<string, unknown>>): Prediction {
    const prior = this.priorOf(model, metadata);
    const m0 = prior.mean * 1000;
    const v0 = (prior.sd * 1000) ** 2;
    const s = this.stats.get(this.bucketOf(model, metadata));
    if (!s || s.n === 0) return { mean: m0, sd: Math.sqrt(v0) };
    const n = s.n;
    const total = this.n0 + n;
    const mean = (this.n0 * m0 + n * s.mean) / total;
    const variance = (this.n0 * v0 + s.m2 + ((this.n0 * n) / total) * (s.mean - m0) ** 2) / total;
    return { mean, sd: Math.sqrt(variance) };
  }

  /** A completion: the task ran `executionMs`. */
  learn(model: string, metadata: Readonly<Record<string, unknown>>, executionMs: number): void {
    if (!(executionMs >= 0 && Number.isFinite(executionMs))) return;
    const key = this.bucketOf(model, metadata);
    let s = this.stats.get(key);
    if (!s) this.stats.set(key, (s = { n: 0, mean: 0, m2: 0 }));
    s.n++;
    const d = executionMs - s.mean;
    s.mean += d / s.n;
    s.m2 += d * (executionMs - s.mean);
  }

  /** Completions learned for the bucket of these metadata. */
  observations(model: string, metadata: Readonly<Record<string, unknown>>): number {
    return this.stats.get(this.bucketOf(model, metadata))?.n ?? 0;
  }

  private priorOf(model: string, metadata: Readonly<Record<string, unknown>>): ExecPrior {
    const m = this.table[model];
    if (!m) return this.fallback;
    if (m.key !== undefined) {
      const b = m.buckets[stringOf(metadata[m.key])];
      if (b) return b;
    }
    return m.default ?? this.fallback;
  }
}

function stringOf(v: unknown): string {
  return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
}
