import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { TaskQueue, type FinishedTask } from '../../server/instance/queue.ts';
import type { InstanceTask } from '../../shared/dispatch.ts';

const task = (id: string, execMs: number): InstanceTask => ({ task_id: id, model_name: 'm', task_input: { id }, metadata: { exec_ms: execMs } });

function setup(concurrency = 1, rememberDone?: number) {
  const clock = new ManualClock(0);
  const done: FinishedTask[] = [];
  const runs: string[] = [];
  const queue = new TaskQueue({
    clock, concurrency, ...(rememberDone !== undefined ? { rememberDone } : {}),
    execMs: (t) => {
      runs.push(t.task_id);
      return t.metadata.exec_ms as number;
    },
    onDone: (d) => done.push(d),
  });
  return { clock, queue, done, runs };
}

describe('reference instance task queue', () => {
  it('runs tasks one at a time in the order accepted, each for its execution time', async () => {
    const { clock, queue, done } = setup();
    for (const [id, ms] of [['a', 30], ['b', 10], ['c', 20]] as const) expect(queue.submit(task(id, ms))).toBe('accepted');
    expect(queue.size).toBe(3);
    expect(queue.runningCount).toBe(1);
    await clock.advance(29);
    expect(done).toEqual([]);
    await clock.advance(100);
    expect(done.map((d) => [d.task.task_id, d.startedAt, d.endedAt, d.execMs])).toEqual([['a', 0, 30, 30], ['b', 30, 40, 10], ['c', 40, 60, 20]]);
    expect(queue.size).toBe(0);
  });

  it('runs `concurrency` tasks at once, the next starting when one ends', async () => {
    const { clock, queue, done } = setup(2);
    for (const [id, ms] of [['a', 30], ['b', 10], ['c', 5], ['d', 50]] as const) queue.submit(task(id, ms));
    expect(queue.runningCount).toBe(2);
    await clock.advance(100);
    expect(done.map((d) => [d.task.task_id, d.startedAt, d.endedAt])).toEqual([['b', 0, 10], ['c', 10, 15], ['a', 0, 30], ['d', 15, 65]]);
  });

  it('takes a task it holds or has just finished only once (a retried delivery)', async () => {
    const { clock, queue, done, runs } = setup();
    queue.submit(task('a', 10));
    queue.submit(task('b', 10));
    expect(queue.submit(task('a', 10))).toBe('duplicate'); // running
    expect(queue.submit(task('b', 10))).toBe('duplicate'); // waiting
    expect(queue.size).toBe(2);
    await clock.advance(20);
    expect(queue.knows('a')).toBe(true);
    expect(queue.submit(task('a', 10))).toBe('duplicate'); // finished
    await clock.advance(100);
    expect(runs).toEqual(['a', 'b']);
    expect(done.map((d) => d.task.task_id)).toEqual(['a', 'b']);
  });

  it('remembers a bounded number of finished tasks', async () => {
    const { clock, queue } = setup(1, 2);
    for (const id of ['a', 'b', 'c']) queue.submit(task(id, 0));
    await clock.advance(0);
    expect(['a', 'b', 'c'].map((id) => queue.knows(id))).toEqual([false, true, true]);
    expect(queue.submit(task('a', 0))).toBe('accepted');
  });

  it('goes on with the next task when the completion callback throws', async () => {
    const clock = new ManualClock(0);
    const seen: string[] = [];
    const queue = new TaskQueue({ clock, execMs: () => 5, onDone: (d) => {
      seen.push(d.task.task_id);
      if (d.task.task_id === 'a') throw new Error('boom');
    } });
    queue.submit(task('a', 5));
    queue.submit(task('b', 5));
    await expect(clock.advance(5)).rejects.toThrow('boom');
    await clock.advance(10);
    expect(seen).toEqual(['a', 'b']);
  });

  it('stops on close: nothing more runs or finishes', async () => {
    const { clock, queue, done } = setup();
    queue.submit(task('a', 10));
    queue.submit(task('b', 10));
    queue.close();
    await clock.advance(100);
    expect(done).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
    expect(() => queue.submit(task('c', 1))).toThrow(/closed/);
  });

  it('refuses a concurrency below 1', () => {
    expect(() => new TaskQueue({ clock: new ManualClock(), concurrency: 0, execMs: () => 0, onDone: () => {} })).toThrow(/concurrency/);
  });
});
