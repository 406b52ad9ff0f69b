/**
 * Hint rules: pure functions of the scheduler's state at a moment. Each candidate has a `key` naming its cause;
 * the HintBook raises a hint when a key appears and clears it when the key goes.
 */
import type { Allocation, Conflict, Request } from '../../shared/scheduler.ts';
import type { Hint } from '../../shared/hints.ts';
import { matchesGpuModel, type FreeView } from '../scheduler/ledger.ts';

export type HintCandidate = Omit<Hint, 'id' | 'createdAt' | 'status' | 'clearedAt'> & { key: string };

export interface HintInput {
  now: number;
  /** waiting requests in FIFO order, with their open conflicts */
  queue: { request: Request; conflict: Conflict | null }[];
  allocations: Allocation[];
  openConflicts: Conflict[];
  free: FreeView;
}

export interface HintRuleOptions {
  /** a lease ending within this is about to expire @default 120000 */
  leaseWarningMs: number;
  /** a request waiting longer than this gets a hint @default 600000 */
  longWaitMs: number;
}

export const HINT_DEFAULTS: HintRuleOptions = { leaseWarningMs: 120_000, longWaitMs: 600_000 };

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;

/**
 * A fractional GPU request waits although the free GPU memory, summed over GPUs (those of its GPU models, when it
 * names some), would hold it.
 */
export function fragmentation(input: HintInput): HintCandidate[] {
  const out: HintCandidate[] = [];
  const gpus = input.free.gpus.filter((g) => g.available);
  const freeOf = (list: typeof gpus) => ({ total: list.reduce((a, g) => a + g.freeMiB, 0), largest: list.reduce((a, g) => Math.max(a, g.freeMiB), 0) });
  const any = freeOf(gpus);
  for (const { request } of input.queue) {
    const need = request.resources.gpuMemMiB ?? 0;
    if (need <= 0 || request.resources.gpus > 1) continue;
    const models = request.gpuModels;
    const { total, largest } = models ? freeOf(gpus.filter((g) => matchesGpuModel(models, g.name))) : any;
    if (need <= total && need > largest) {
      out.push({
        key: `fragmentation:${request.id}`, kind: 'fragmentation', severity: 3,
        title: 'GPU memory is fragmented',
        message: `${request.owner}'s request for ${need} MiB of GPU memory waits although ${total} MiB are free in all; the largest free share on one GPU is ${largest} MiB`,
        subject: { kind: 'request', id: request.id },
      });
    }
  }
  return out;
}

/**
 * A GPU is used by a process or container that holds no allocation. On the home node the subject is the GPU's index;
 * on another node (key `unmanaged:gpu:<i>@<node>`) it is `<i>@<node>` and the text names the node.
 */
export function unmanagedGpuUse(input: HintInput): HintCandidate[] {
  return input.openConflicts
    .filter((c) => c.type === 'schedule_conflict' && c.key.startsWith('unmanaged:'))
    .map((c) => {
      const who = c.holders.filter((h) => h.kind === 'process').map((h) => `${h.name}${h.pid !== null ? ` (pid ${h.pid})` : ''}`);
      const index = c.resource.replace(/^gpu:/, '');
      const node = c.key.includes('@') ? c.node ?? c.key.slice(c.key.indexOf('@') + 1) : null;
      const gpu = node === null ? `GPU ${index}` : `GPU ${index} of node ${node}`;
      return {
        key: c.key, kind: 'unmanaged_gpu_use' as const, severity: 4,
        title: `${gpu} is used without an allocation`,
        message: `${who.join(', ') || 'a process'} uses ${gpu} without an allocation; the scheduler counts that memory as taken`,
        subject: { kind: 'gpu' as const, id: node === null ? index : `${index}@${node}` },
      };
    });
}

/** An active allocation's lease ends soon. */
export function leaseExpiring(input: HintInput, opts: HintRuleOptions): HintCandidate[] {
  return input.allocations
    .filter((a) => a.state === 'active' && a.leaseExpiresAt - input.now <= opts.leaseWarningMs)
    .map((a) => ({
      key: `lease:${a.id}:${a.leaseExpiresAt}`, kind: 'lease_expiring' as const, severity: 2,
      title: 'A lease is about to expire',
      message: `allocation ${a.id} (request ${a.requestId}) expires in ${Math.max(0, Math.round((a.leaseExpiresAt - input.now) / 1000))} s unless renewed (POST /api/allocations/${a.id}/renew)`,
      subject: { kind: 'allocation' as const, id: a.id },
    }));
}

/** A request has waited longer than `longWaitMs`: where it stands and what it waits for. */
export function longWait(input: HintInput, opts: HintRuleOptions): HintCandidate[] {
  const out: HintCandidate[] = [];
  input.queue.forEach(({ request, conflict }, i) => {
    const waited = input.now - request.submittedAt;
    if (waited < opts.longWaitMs) return;
    out.push({
      key: `wait:${request.id}`, kind: 'long_wait', severity: waited >= 6 * opts.longWaitMs ? 4 : 3,
      title: 'A request has waited long',
      message: `${request.owner}'s request has waited ${minutes(waited)}; position ${i + 1} of ${input.queue.length} in arrival order; ${conflict?.message ?? 'waiting for capacity'}`,
      subject: { kind: 'request', id: request.id },
    });
  });
  return out;
}

export function evaluateHints(input: HintInput, opts: HintRuleOptions = HINT_DEFAULTS): HintCandidate[] {
  return [...fragmentation(input), ...unmanagedGpuUse(input), ...leaseExpiring(input, opts), ...longWait(input, opts)];
}
