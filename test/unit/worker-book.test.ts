/**
 * The worker book's states: what each event moves a worker to, what it refuses, and the records it emits.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { WorkerBook } from '../../server/workloads/workers/book.ts';
import type { WorkerChange } from '../../shared/workers.ts';

function setup() {
  const book = new WorkerBook(new ManualClock(1000));
  const changes: WorkerChange[] = [];
  book.onChange((b) => changes.push(...b));
  const [r] = book.create({ name: 'g', replicas: 1, specs: [{ cpu: 1, gpu: 1, mem: 1, cmd: 'x' }] }, { backend: 'local', owner: 'ana' });
  const id = r!.worker.id;
  book.granted(id, { id: 'a1', gpuIndices: [2] });
  book.started(id, { host: '127.0.0.1', port: 9000, startedAt: 5, ref: { kind: 'local', pid: 1, startTime: 1, logFile: 'f' } });
  return { book, id, changes, state: () => book.must(id).worker.state };
}

describe('WorkerBook', () => {
  it('a worker suspended before its port ever answered resumes to starting, then runs once it answers', () => {
    const t = setup();
    t.book.suspended(t.id);
    t.book.resumed(t.id);
    expect(t.state()).toBe('starting');
    t.book.healthy(t.id);
    expect(t.state()).toBe('running');
    t.book.suspended(t.id);
    t.book.resumed(t.id);
    expect(t.state()).toBe('running');
    expect(t.changes.filter((c) => c.kind === 'worker_state' && c.previous !== c.worker.state).map((c) => `${c.previous}→${c.worker.state}`)).toEqual([
      'queued→starting', 'starting→suspended', 'suspended→starting', 'starting→running', 'running→suspended', 'suspended→running',
    ]);
  });

  it('an exit Arbiter asked for ends in the state it asked (with its reason); one it did not is exited or failed', () => {
    const t = setup();
    t.book.healthy(t.id);
    t.book.stopping(t.id, 'preempted', 'preempted for request r9');
    t.book.exited(t.id, { code: null, signal: 'SIGTERM' }, ['bye']);
    expect(t.book.must(t.id).worker).toMatchObject({ state: 'preempted', why: 'preempted for request r9', log_tail: ['bye'] });
    // ended: nothing moves it any more
    t.book.exited(t.id, { code: 0, signal: null }, []);
    expect(t.state()).toBe('preempted');
    expect(() => t.book.resumed(t.id)).toThrow(/is preempted; it cannot become running/);

    const u = setup();
    u.book.healthy(u.id);
    u.book.exited(u.id, { code: 0, signal: null }, []);
    expect(u.book.must(u.id).worker).toMatchObject({ state: 'exited', exit_code: 0, why: null, ended_at: 1000 });
  });

  it('a name is taken while a worker of the group lives; the ended group is replaced by a new one', () => {
    const t = setup();
    expect(() => t.book.create({ name: 'g', replicas: 1, specs: [{ cpu: 1, gpu: 0, mem: 1, cmd: 'x' }] }, { backend: 'local', owner: 'bo' })).toThrow(/still running/);
    t.book.exited(t.id, { code: 2, signal: null }, ['oops']);
    expect(t.book.must(t.id).worker.why).toBe('exited with code 2; last lines: oops');
    const [again] = t.book.create({ name: 'g', replicas: 1, specs: [{ cpu: 1, gpu: 0, mem: 1, cmd: 'x' }] }, { backend: 'local', owner: 'bo' });
    expect(again!.worker).toMatchObject({ id: 'g-0', owner: 'bo', state: 'queued' });
    expect(t.changes.filter((c) => c.kind === 'worker_removed').map((c) => c.worker.owner)).toEqual(['ana']);
  });

  it('forgets the workers that ended before a time, and says so; live ones stay', () => {
    const clock = new ManualClock(1000);
    const book = new WorkerBook(clock);
    const removed: string[] = [];
    book.onChange((b) => removed.push(...b.filter((c) => c.kind === 'worker_removed').map((c) => c.worker.id)));
    book.create({ name: 'old', replicas: 1, specs: [{ cpu: 1, gpu: 0, mem: 1, cmd: 'x' }] }, { backend: 'local', owner: 'ana' });
    book.ended('old-0', 'stopped', 'deleted');
    clock.set(5000);
    book.create({ name: 'live', replicas: 1, specs: [{ cpu: 1, gpu: 0, mem: 1, cmd: 'x' }] }, { backend: 'local', owner: 'ana' });
    book.create({ name: 'recent', replicas: 1, specs: [{ cpu: 1, gpu: 0, mem: 1, cmd: 'x' }] }, { backend: 'local', owner: 'ana' });
    book.ended('recent-0', 'stopped', 'deleted');
    expect(book.forgetEnded(3000)).toEqual(['old-0']);
    expect(removed).toEqual(['old-0']);
    expect(book.all().map((r) => r.worker.id)).toEqual(['live-0', 'recent-0']);
  });
});
