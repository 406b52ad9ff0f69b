/**
 * The reference instance's synthetic workload: how long a task runs. `metadata.exec_ms` (a number) is used as is;
 * otherwise a draw from a normal distribution (mean, sd in ms, truncated at 0) with a PRNG seeded by the task —
 * `metadata.seed` when present, else a hash of the task id — so the same task takes the same time on every run.
 */
import { z } from 'zod';
import { rng } from '../rng.ts';
import { stableHash } from '../sim/trace.ts';

/** What the workload reads of a task's metadata (everything else is the caller's); checked at `/task/submit`. */
export const WorkloadMetadataSchema = z.object({
  /** the execution time, ms, instead of a draw */
  exec_ms: z.number().nonnegative().max(1e9).optional(),
  /** the seed of the draw: an integer is used as is, anything else (a string, a fraction) is hashed */
  seed: z.union([z.number(), z.string()]).optional(),
}).loose();

export interface ExecDistribution {
  /** mean execution time, ms */
  meanMs: number;
  /** its standard deviation, ms */
  sdMs: number;
}

/** The seed of a task's draw. */
export function seedOf(taskId: string, metadata: Record<string, unknown>): number {
  const seed = metadata.seed;
  if (typeof seed === 'number' && Number.isSafeInteger(seed)) return seed >>> 0;
  if (typeof seed === 'number' || typeof seed === 'string') return stableHash(String(seed));
  return stableHash(taskId);
}

/** A standard normal draw (Box–Muller) from a uniform source in [0, 1). */
export function standardNormal(random: () => number): number {
  const u = 1 - random(); // (0, 1]: log(0) is -∞
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** The execution time of a task, ms. */
export function execMsOf(taskId: string, metadata: Record<string, unknown>, dist: ExecDistribution): number {
  const given = metadata.exec_ms;
  if (typeof given === 'number' && Number.isFinite(given) && given >= 0) return given;
  return Math.max(0, dist.meanMs + dist.sdMs * standardNormal(rng(seedOf(taskId, metadata))));
}
