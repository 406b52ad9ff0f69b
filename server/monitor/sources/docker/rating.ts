/**
 * Our health rating of a container (not its own HEALTHCHECK, which is one input):
 * critical when it restarts in a loop (state `restarting`, or its restart count rose by ≥ N within a window) or
 * its healthcheck says unhealthy; warning/critical near its memory limit; otherwise healthy. A container without
 * stats (not running) is rated on the rest alone.
 */
import type { Container, Health } from '../../../../shared/resources.ts';
import { rate, worst, type Thresholds } from '../../health.ts';

export interface ContainerThresholds {
  /** memory in use, percent of the container's limit */
  memory: Thresholds;
  /** a restart loop: the restart count rose by at least `count` within `windowMs` */
  restartLoop: { count: number; windowMs: number };
}

export const DEFAULT_CONTAINER_THRESHOLDS: ContainerThresholds = {
  memory: { warning: 90, critical: 98 },
  restartLoop: { count: 3, windowMs: 5 * 60_000 },
};

export function validateThresholds(t: ContainerThresholds): void {
  if (!(t.memory.warning < t.memory.critical)) {
    throw new Error(`container memory warning threshold (${t.memory.warning}) must be below the critical one (${t.memory.critical})`);
  }
  if (!(t.restartLoop.count >= 1) || !(t.restartLoop.windowMs > 0)) {
    throw new Error(`restart loop needs count ≥ 1 and windowMs > 0 (got ${t.restartLoop.count}, ${t.restartLoop.windowMs})`);
  }
}

/** Restart counts seen over time, per container: how much a count rose within a window. */
export class RestartTracker {
  private seen = new Map<string, { last: number; rises: { at: number; by: number }[] }>();

  constructor(private readonly windowMs: number) {}

  /** Record the restart count read at `now`; the first reading of a container is its baseline. */
  observe(id: string, restartCount: number, now: number): void {
    const s = this.seen.get(id);
    if (!s) {
      this.seen.set(id, { last: restartCount, rises: [] });
      return;
    }
    if (restartCount > s.last) s.rises.push({ at: now, by: restartCount - s.last });
    s.last = restartCount;
    s.rises = s.rises.filter((r) => now - r.at <= this.windowMs);
  }

  /** How much the count rose within the window ending at `now`. */
  risen(id: string, now: number): number {
    let n = 0;
    for (const r of this.seen.get(id)?.rises ?? []) if (now - r.at <= this.windowMs) n += r.by;
    return n;
  }

  forget(id: string): void {
    this.seen.delete(id);
  }

  retain(ids: Set<string>): void {
    for (const id of this.seen.keys()) if (!ids.has(id)) this.seen.delete(id);
  }
}

export function rateContainer(
  c: Pick<Container, 'state' | 'healthcheck' | 'memoryPercent'>,
  restartsInWindow: number,
  t: ContainerThresholds,
): Health {
  const ratings: Health[] = [];
  if (c.state === 'restarting' || restartsInWindow >= t.restartLoop.count) ratings.push('critical');
  if (c.healthcheck === 'unhealthy') ratings.push('critical');
  if (c.memoryPercent !== null) ratings.push(rate(c.memoryPercent, t.memory));
  return worst(ratings);
}
