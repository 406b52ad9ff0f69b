/**
 * After a restart of Arbiter (also after kill -9): the workers its store says were alive are taken back from their
 * backends — those still running are watched again, those gone are reported as exits — and the records are squared
 * with the scheduler's, which were committed apart: a queued worker whose request was never stored asks again, one
 * whose request was granted meanwhile is granted, one whose request ended ends. Workers on agents' nodes are not
 * looked for here: each agent's inventory says what runs on its node when it connects (remote-sync.ts).
 */
import type { WorkerBackend, WorkerRecord } from '../../../shared/workers.ts';
import type { Logger } from '../../log.ts';
import type { SchedulerEngine } from '../../scheduler/engine.ts';
import { LIVE, type WorkerBook } from '../../workloads/workers/book.ts';
import { requestOf } from '../../workloads/workers/requests.ts';
import type { Backend, Running } from './backend.ts';

export interface RestartParts {
  book: WorkerBook;
  engine: SchedulerEngine;
  backends: Partial<Record<WorkerBackend, Backend>>;
  log: Logger;
  /** this server's own node (null: none): workers on other nodes are their agents' */
  node: string | null;
  /** the node a request asked again is pinned to (requestOf) */
  pinOf: (r: WorkerRecord) => string | undefined;
}

/** Adopt and reconcile; returns the workers that are granted but not started: the caller starts them. */
export async function adoptWorkers({ book, engine, backends, log, node, pinOf }: RestartParts): Promise<string[]> {
  const byBackend = new Map<WorkerBackend, Running[]>();
  for (const r of book.all()) {
    if (!LIVE.has(r.worker.state) || !r.ref) continue;
    if (r.worker.node !== null && r.worker.node !== node) continue;
    const list = byBackend.get(r.worker.backend) ?? [];
    list.push({ id: r.worker.id, host: r.worker.host, port: r.worker.port ?? 0, startedAt: r.worker.started_at ?? 0, ref: r.ref });
    byBackend.set(r.worker.backend, list);
  }
  for (const [kind, known] of byBackend) {
    const backend = backends[kind];
    if (!backend) {
      for (const k of known) book.exited(k.id, { code: null, signal: null }, [`the ${kind} backend is not available after the restart`]);
      continue;
    }
    const { strangers } = await backend.adopt(known);
    if (strangers.length) log.warn({ strangers: strangers.map((s) => s.id) }, `${strangers.length} ${kind} worker(s) labelled as Arbiter's are not in its records: left alone`);
  }
  const toStart: string[] = [];
  for (const r of book.all()) {
    const id = r.worker.id;
    const request = r.worker.request_id ? engine.request(r.worker.request_id) : undefined;
    if (r.worker.state === 'queued') {
      // its request was never stored (a crash between the two commits): ask again
      if (!request) book.requested(id, engine.submit(requestOf(r, pinOf(r))).request.id);
      else if (request.status === 'granted' && request.allocationId) {
        const a = engine.allocation(request.allocationId);
        if (a) {
          book.granted(id, a);
          toStart.push(id);
        }
      } else if (request.status !== 'queued') book.ended(id, 'stopped', `its request is ${request.status}`);
    } else if (r.worker.state === 'starting' && !r.ref) {
      // granted, not started before the restart
      toStart.push(id);
    }
  }
  return toStart;
}
