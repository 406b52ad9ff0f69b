/** Sorting and filtering of the containers table: pure, so the component stays small and tests need no DOM. */
import type { Container, ContainerGpu, Health } from '../../../shared/resources.ts';

export type ContainerSortKey = 'name' | 'image' | 'state' | 'cpu' | 'memory' | 'network' | 'gpus' | 'health';
export type SortDirection = 'ascending' | 'descending';

export interface ContainerSort {
  key: ContainerSortKey;
  direction: SortDirection;
}

export const DEFAULT_CONTAINER_SORT: ContainerSort = { key: 'name', direction: 'ascending' };

/** Live running first, then what needs a look, then the stopped ones. */
const STATE_RANK: Record<Container['state'], number> = {
  running: 0, restarting: 1, paused: 2, created: 3, removing: 4, exited: 5, stopped: 6, dead: 7, unknown: 8,
};

/** worst last when ascending, so "descending" puts the containers that need attention on top */
const HEALTH_RANK: Record<Health, number> = { healthy: 0, warning: 1, critical: 2, error: 3 };

type SortValue = string | number | null;

const VALUE: Record<ContainerSortKey, (c: Container) => SortValue> = {
  name: (c) => c.name,
  image: (c) => c.image,
  state: (c) => STATE_RANK[c.state],
  cpu: (c) => c.cpuPercent,
  memory: (c) => c.memoryUsedMiB,
  network: (c) => (c.netRxBytesPerSec === null && c.netTxBytesPerSec === null ? null : (c.netRxBytesPerSec ?? 0) + (c.netTxBytesPerSec ?? 0)),
  gpus: (c) => (c.gpus.length === 0 ? null : c.gpus.length),
  health: (c) => HEALTH_RANK[c.health],
};

/** The direction a first click on a column sorts in: figures biggest first, words A→Z. */
export function firstDirection(key: ContainerSortKey): SortDirection {
  return key === 'name' || key === 'image' || key === 'state' ? 'ascending' : 'descending';
}

/** A click on a column header: the same column flips direction, another starts at its first direction. */
export function nextSort(current: ContainerSort, key: ContainerSortKey): ContainerSort {
  if (current.key !== key) return { key, direction: firstDirection(key) };
  return { key, direction: current.direction === 'ascending' ? 'descending' : 'ascending' };
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/**
 * A sorted copy. Stable (equal values keep the order they came in: the server's, by name), and figures that are
 * not reported (null) go last whichever the direction.
 */
export function sortContainers(list: readonly Container[], sort: ContainerSort): Container[] {
  const value = VALUE[sort.key];
  const sign = sort.direction === 'ascending' ? 1 : -1;
  const keyed = list.map((c) => ({ c, v: value(c) }));
  keyed.sort((a, b) => {
    if (a.v === null || b.v === null) return a.v === b.v ? 0 : a.v === null ? 1 : -1;
    const d = typeof a.v === 'string' ? collator.compare(a.v, String(b.v)) : a.v - (b.v as number);
    return d * sign;
  });
  return keyed.map((k) => k.c);
}

/** What the filter box searches in a container: name, image, state and each label as `key=value`. */
export function searchText(c: Container): string {
  return [c.name, c.image, c.state, ...Object.entries(c.labels).map(([k, v]) => `${k}=${v}`)].join('\n').toLowerCase();
}

/** Containers matching every word of `query` (case-insensitive, anywhere in the search text); all of them for a blank query. */
export function filterContainers(list: readonly Container[], query: string): readonly Container[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return list;
  return list.filter((c) => {
    const text = searchText(c);
    return words.every((w) => text.includes(w));
  });
}

const VIA: Record<ContainerGpu['via'], string> = {
  device_request: 'requested by the container (--gpus / device request)',
  env: 'named in NVIDIA_VISIBLE_DEVICES / CUDA_VISIBLE_DEVICES',
  process: 'a process in the container runs on it',
};

/** The chip text of a container's GPU: `GPU 0`, or a short uuid when the index is not known. */
export function gpuChipLabel(g: ContainerGpu): string {
  if (g.index !== null) return `GPU ${g.index}`;
  if (g.uuid) return g.uuid.length > 12 ? `${g.uuid.slice(0, 12)}…` : g.uuid;
  return 'GPU ?';
}

/** The chip tooltip: how we know the container holds that GPU. */
export function gpuChipTitle(g: ContainerGpu): string {
  return [`via ${g.via}: ${VIA[g.via]}`, g.uuid].filter(Boolean).join('\n');
}
