/** What an event, hint or conflict is about, and where the dashboard shows it. */
import type { Conflict } from '../../../shared/scheduler.ts';
import type { Hint } from '../../../shared/hints.ts';

export type Subject =
  | { kind: 'gpu'; index: number }
  | { kind: 'request'; id: string }
  | { kind: 'allocation'; id: string }
  | { kind: 'container'; id: string }
  | { kind: 'strategy'; id: string };

/** Element ids the views give their rows and cards, so links can scroll to them. */
export const anchor = {
  /** a GPU of the home node; `node`: of another node (the GPU view shows every node's) */
  gpu: (index: number, node?: string) => (node === undefined ? `gpu-${index}` : `gpu-${node}-${index}`),
  request: (id: string) => `request-${id}`,
  allocation: (id: string) => `allocation-${id}`,
  container: (id: string) => `container-${id}`,
  conflict: (id: string) => `conflict-${id}`,
  strategy: (name: string) => `strategy-${name}`,
  worker: (id: string) => `worker-${id}`,
  workerGroup: (name: string) => `worker-group-${name}`,
} as const;

export function subjectPath(s: Subject): string {
  switch (s.kind) {
    case 'gpu':
      return `/gpus#${anchor.gpu(s.index)}`;
    case 'request':
      return `/scheduler#${anchor.request(s.id)}`;
    case 'allocation':
      return `/scheduler#${anchor.allocation(s.id)}`;
    case 'container':
      return `/containers#${anchor.container(s.id)}`;
    case 'strategy':
      return `/strategy#${anchor.strategy(s.id)}`;
  }
}

export function subjectLabel(s: Subject): string {
  switch (s.kind) {
    case 'gpu':
      return `GPU ${s.index}`;
    case 'request':
      return `request ${short(s.id)}`;
    case 'allocation':
      return `allocation ${short(s.id)}`;
    case 'container':
      return `container ${short(s.id)}`;
    case 'strategy':
      return `strategy ${s.id.replace(/_/g, ' ')}`;
  }
}

export function short(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

export function hintSubject(h: Hint): Subject | null {
  // read as strings: a newer server may name kinds this page does not know (then there is no link)
  const { kind, id } = h.subject as { kind: string; id: string };
  switch (kind) {
    case 'gpu': {
      const index = Number(id);
      return Number.isInteger(index) ? { kind: 'gpu', index } : null;
    }
    case 'request':
    case 'allocation':
    case 'container':
    case 'strategy':
      return { kind, id };
    default:
      return null;
  }
}

/** A waiting request's conflict points at the request; unmanaged use at its GPU; a lease or time slice overrun at the allocation. */
export function conflictSubject(c: Conflict): Subject | null {
  const gpu = /^unmanaged:gpu:(\d+)$/.exec(c.key);
  if (gpu) return { kind: 'gpu', index: Number(gpu[1]) };
  // an ended lease still in use, or a suspended (time-sliced) allocation whose processes keep running
  const lease = /^(?:lease|overrun):(.+)$/.exec(c.key);
  if (lease) return { kind: 'allocation', id: lease[1]! };
  return c.requestId ? { kind: 'request', id: c.requestId } : null;
}
