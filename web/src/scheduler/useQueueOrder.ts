/**
 * The waiting requests in the order the API gives (FIFO, or priority: severity, effective priority, age — the
 * strategy computes it, so the page asks rather than guesses). Asked again when the queue or its conflicts
 * change; one call at a time, the latest wish wins. Requests that arrived since the last answer go last.
 */
import { useEffect, useRef, useState } from 'react';
import type { QueueOrder, Request } from '../../../shared/scheduler.ts';
import { errorMessage } from '../lib/api.ts';
import type { SchedulerApi } from './api.ts';
import type { SchedulerSnapshot } from './store.ts';

export interface OrderedQueue {
  rows: readonly Request[];
  /** the shown order is not yet the API's answer for `order` */
  pending: boolean;
  error: string | null;
}

interface Answer {
  order: QueueOrder;
  key: string;
  ids: readonly string[];
}

export function queueKey(snap: SchedulerSnapshot): string {
  const conflicts = [...snap.conflictByRequest.values()].map((c) => `${c.id}:${c.severity}:${c.updatedAt}`).join(',');
  return `${snap.queue.map((r) => `${r.id}:${r.priority}`).join(',')}|${conflicts}|${snap.strategy?.name ?? ''}`;
}

export function useQueueOrder(order: QueueOrder, snap: SchedulerSnapshot, api: SchedulerApi): OrderedQueue {
  const key = queueKey(snap);
  const [answer, setAnswer] = useState<Answer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const wanted = useRef({ order, key });
  const busy = useRef(false);
  const alive = useRef(true);
  wanted.current = { order, key };

  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
    };
  }, []);

  useEffect(() => {
    if (!snap.ready) return;
    const run = () => {
      if (busy.current) return; // the call under way looks again when it ends
      busy.current = true;
      const ask = wanted.current;
      api.queue(ask.order).then(
        (page) => {
          if (!alive.current) return;
          setAnswer({ order: ask.order, key: ask.key, ids: page.items.map((i) => i.request.id) });
          setError(null);
        },
        (err: unknown) => {
          if (alive.current) setError(errorMessage(err));
        },
      ).finally(() => {
        busy.current = false;
        const now = wanted.current;
        if (alive.current && (now.order !== ask.order || now.key !== ask.key)) run();
      });
    };
    run();
  }, [order, key, snap.ready, api]);

  if (!answer || answer.order !== order) return { rows: snap.queue, pending: snap.ready, error };
  const byId = new Map(snap.queue.map((r) => [r.id, r]));
  const listed = new Set(answer.ids);
  const rows: Request[] = [];
  for (const id of answer.ids) {
    const r = byId.get(id);
    if (r) rows.push(r);
  }
  for (const r of snap.queue) if (!listed.has(r.id)) rows.push(r);
  return { rows, pending: answer.key !== key, error };
}
