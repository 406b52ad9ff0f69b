/** Small facts about a GPU that several components (and the history series) agree on. */
import type { Gpu } from '../../../shared/resources.ts';

/** Memory used in percent of total, as the server records `gpu.<index>.mem`; null when not reported. */
export function gpuMemoryPercent(g: Pick<Gpu, 'memoryUsedMiB' | 'memoryTotalMiB'>): number | null {
  return g.memoryTotalMiB && g.memoryUsedMiB !== null ? (g.memoryUsedMiB / g.memoryTotalMiB) * 100 : null;
}

/** The first 12 hex digits of a container id, as `docker ps` shows it. */
export function shortContainerId(id: string): string {
  return id.length > 12 ? id.slice(0, 12) : id;
}
