/**
 * `GET /api/workers?name=&timeoutMs=`: a group is ready when every replica runs and answers; until the timeout the
 * answer waits for the book's changes, and at the timeout — or at once when a replica has ended and never will — it
 * is a 408 naming why each replica is not running.
 */
import type { NotReadyDetail, Worker } from '../../../shared/workers.ts';
import { ArbiterError } from '../../errors.ts';
import type { Clock } from '../../clock.ts';
import { ENDED, WorkerError, type WorkerBook } from '../../workloads/workers/book.ts';

/** A 408 of GET /api/workers?timeoutMs= */
export class NotReadyError extends ArbiterError {
  constructor(details: NotReadyDetail[]) {
    super(408, 'not_ready', `${details.length} worker(s) not running yet: ${details.map((d) => `${d.id} ${d.state} (${d.why})`).join('; ')}`, details);
  }
}

/** Every replica of the group running and answering, or the NotReadyError at the timeout (now when 0). */
export async function groupReady(book: WorkerBook, clock: Clock, name: string, timeoutMs: number): Promise<Worker[]> {
  if (!book.group(name).length) throw new WorkerError('not_found', `no worker group ${JSON.stringify(name)}`);
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    const group = book.group(name);
    const notReady = group.filter((r) => r.worker.state !== 'running');
    if (!notReady.length) return group.map((r) => r.worker);
    const left = deadline - clock.now();
    // a replica that has ended will never run: the group cannot become ready
    const hopeless = notReady.some((r) => ENDED.has(r.worker.state));
    if (left <= 0 || hopeless) {
      throw new NotReadyError(notReady.map((r) => {
        const w = r.worker;
        return { id: w.id, state: w.state, why: w.why ?? w.state };
      }));
    }
    await book.nextChange(left);
  }
}
