/**
 * What a scheduler change means for a worker: a grant starts it, a cancelled request ends it while queued, a
 * preemption notice stops it within its grace, an ended allocation stops it, a suspension pauses it and a resumption
 * resumes it, and a queued worker says behind whom it waits. The worker service does each (service.ts).
 */
import type { Change } from '../../../shared/scheduler.ts';
import type { WorkerRecord } from '../../../shared/workers.ts';
import type { Clock } from '../../clock.ts';
import { LIVE, type WorkerBook } from '../../workloads/workers/book.ts';
import { whyQueued } from '../../workloads/workers/requests.ts';

export interface FollowParts {
  book: WorkerBook;
  clock: Clock;
  graceMs: number;
  workerOfRequest(requestId: string): WorkerRecord | undefined;
  launch(id: string): Promise<void>;
  stopWorker(id: string, as: 'stopped' | 'preempted', why: string, graceMs: number): Promise<void>;
  pause(r: WorkerRecord, pause: boolean): Promise<void>;
}

export function followChange(c: Change, p: FollowParts): void {
  const { book, clock, graceMs: grace } = p;
  switch (c.kind) {
    case 'allocation_granted': {
      const r = p.workerOfRequest(c.allocation.requestId);
      if (!r || r.worker.state !== 'queued') return;
      if (r.worker.request_id === null) book.requested(r.worker.id, c.allocation.requestId);
      book.granted(r.worker.id, c.allocation);
      void p.launch(r.worker.id);
      return;
    }
    case 'request_cancelled': {
      const r = p.workerOfRequest(c.request.id);
      if (r && r.worker.state === 'queued') book.ended(r.worker.id, 'stopped', 'its request was cancelled');
      return;
    }
    case 'allocation_preempting': {
      const r = book.byAllocation(c.allocation.id);
      if (!r || !LIVE.has(r.worker.state)) return;
      const left = Math.max(0, (c.allocation.preemptAt ?? clock.now()) - clock.now());
      void p.stopWorker(r.worker.id, 'preempted', `preempted for request ${c.allocation.preemptedFor ?? '?'}: stopping within its grace period`, Math.min(grace, Math.max(0, left - 500)));
      return;
    }
    case 'allocation_preempted':
    case 'allocation_expired':
    case 'allocation_released': {
      const r = book.byAllocation(c.allocation.id);
      if (!r || !LIVE.has(r.worker.state)) return;
      const as = c.kind === 'allocation_preempted' ? 'preempted' : 'stopped';
      const why = c.kind === 'allocation_preempted' ? 'preempted: its allocation was taken' : c.kind === 'allocation_expired' ? 'its allocation’s lease expired' : 'its allocation was released';
      void p.stopWorker(r.worker.id, as, why, c.kind === 'allocation_released' ? grace : 0);
      return;
    }
    case 'conflict_opened':
    case 'conflict_updated': {
      // a queued worker says behind whom it waits, pushed as it changes
      const r = c.conflict.requestId ? p.workerOfRequest(c.conflict.requestId) : undefined;
      if (r && r.worker.state === 'queued') book.waiting(r.worker.id, whyQueued(c.conflict));
      return;
    }
    case 'allocation_suspended': {
      const r = book.byAllocation(c.allocation.id);
      if (r && (r.worker.state === 'running' || r.worker.state === 'starting')) void p.pause(r, true);
      return;
    }
    case 'allocation_resumed': {
      const r = book.byAllocation(c.allocation.id);
      if (r && r.worker.state === 'suspended') void p.pause(r, false);
      return;
    }
    default:
  }
}
