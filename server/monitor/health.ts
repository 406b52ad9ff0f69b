import type { Health } from '../../shared/resources.ts';

export interface Thresholds {
  warning: number;
  critical: number;
}

/** Rate a value against thresholds: ≥ critical → critical, ≥ warning → warning. A missing value is an error. */
export function rate(value: number | null | undefined, t: Thresholds): Health {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'error';
  if (value >= t.critical) return 'critical';
  if (value >= t.warning) return 'warning';
  return 'healthy';
}

const ORDER: Health[] = ['healthy', 'warning', 'critical', 'error'];

/** The worst of several ratings (error > critical > warning > healthy). */
export function worst(ratings: Iterable<Health>): Health {
  let w = 0;
  for (const h of ratings) w = Math.max(w, ORDER.indexOf(h));
  return ORDER[w]!;
}
