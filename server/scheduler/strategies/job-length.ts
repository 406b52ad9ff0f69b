/**
 * The short-job factor of the multifactor priority (priority_based and hybrid, weight `shortJob`): what is known of
 * a job's length ranks shorter jobs first, which shortens the mean completion time when jobs wait (shortest job
 * first). A request's `expectedDurationMs` gives its length; without one, the estimate JobLengths learned from the
 * allocations of the same owner and shape (else shape, else any) that completed; without either the factor is neutral
 * (0.5). On a log scale,
 * so that minutes and hours are told apart as well as hours and days:
 *   shortness = 1 − clamp(ln(1 + d / 1 min) ÷ ln(1 + maxDurationMs / 1 min), 0, 1).
 * Starvation stays bounded by the age factor: a request of the same priority that waited `wait` gains
 * w_age·wait/maxAgeMs, so a longer job is passed over by shorter ones for at most (w_shortJob / w_age)·maxAgeMs.
 */
import type { Request, Resources } from '../../../shared/scheduler.ts';
import { clamp01 } from './common.ts';

const MINUTE = 60_000;

export function shortness(r: Request, maxDurationMs: number, lengths?: JobLengths): number {
  const d = r.expectedDurationMs ?? lengths?.estimate(r);
  if (d === undefined) return 0.5;
  return 1 - clamp01(Math.log1p(Math.max(0, d) / MINUTE) / Math.log1p(maxDurationMs / MINUTE));
}

const shapeOfResources = (r: Resources) => `${r.cpu}|${r.memoryMiB}|${r.gpus}|${r.gpuMemMiB ?? 0}`;

/**
 * Lengths of completed jobs, learned online (the dispatch predictor's idea): an exponentially weighted mean (weight
 * `alpha` for the newest) per owner and shape, per shape, and over all; the estimate of a request is the most
 * specific of those that has seen a job.
 */
export class JobLengths {
  private readonly means = new Map<string, number>();

  constructor(private readonly alpha = 0.2, private readonly maxKeys = 10_000) {}

  observe(owner: string, resources: Resources, durationMs: number): void {
    const shape = shapeOfResources(resources);
    for (const key of [`${owner}@${shape}`, shape, '*']) {
      const m = this.means.get(key);
      if (m === undefined && this.means.size >= this.maxKeys) this.means.delete(this.means.keys().next().value!);
      this.means.set(key, m === undefined ? durationMs : m + this.alpha * (durationMs - m));
    }
  }

  estimate(r: Pick<Request, 'owner' | 'resources'>): number | undefined {
    const shape = shapeOfResources(r.resources);
    return this.means.get(`${r.owner}@${shape}`) ?? this.means.get(shape) ?? this.means.get('*');
  }
}
