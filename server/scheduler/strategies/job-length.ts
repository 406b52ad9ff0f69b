/**
 * The short-job factor of the multifactor priority (priority_based and hybrid, weight `shortJob`): what is known of
 * a job's length ranks shorter jobs first, which shortens the mean completion time when jobs wait (shortest job
 * first). A request's `expectedDurationMs` gives its length; without one the factor is neutral (0.5). On a log scale,
 * so that minutes and hours are told apart as well as hours and days:
 *   shortness = 1 − clamp(ln(1 + d / 1 min) ÷ ln(1 + maxDurationMs / 1 min), 0, 1).
 * Starvation stays bounded by the age factor: a request of the same priority that waited `wait` gains
 * w_age·wait/maxAgeMs, so a longer job is passed over by shorter ones for at most (w_shortJob / w_age)·maxAgeMs.
 */
import type { Request } from '../../../shared/scheduler.ts';
import { clamp01 } from './common.ts';

const MINUTE = 60_000;

export function shortness(r: Request, maxDurationMs: number): number {
  const d = r.expectedDurationMs;
  if (d === undefined) return 0.5;
  return 1 - clamp01(Math.log1p(Math.max(0, d) / MINUTE) / Math.log1p(maxDurationMs / MINUTE));
}
