/**
 * The instance's own FIFO: tasks run in the order they were accepted, `concurrency` at a time, each for its
 * execution time on the injected clock. A task id it holds (waiting, running, or among the last ones finished) is
 * not accepted twice: a retried delivery must not run a task again.
 */
import type { Clock, Timer } from '../clock.ts';
import type { InstanceTask } from '../../shared/dispatch.ts';

export interface FinishedTask {
  task: InstanceTask;
  /** the execution time it was given, ms */
  execMs: number;
  startedAt: number;
  endedAt: number;
}

export interface TaskQueueOptions {
  clock: Clock;
  /** tasks run at once @default 1 */
  concurrency?: number;
  /** how long a task runs, ms */
  execMs: (task: InstanceTask) => number;
  /** a task is done */
  onDone: (done: FinishedTask) => void;
  /** finished task ids remembered, so that a late re-delivery is still recognised @default 10000 */
  rememberDone?: number;
}

export class TaskQueue {
  private readonly waiting: InstanceTask[] = [];
  private readonly running = new Map<string, Timer>();
  private readonly held = new Set<string>();
  private readonly done = new Set<string>();
  private readonly concurrency: number;
  private readonly rememberDone: number;
  private closed = false;

  constructor(private readonly opts: TaskQueueOptions) {
    this.concurrency = opts.concurrency ?? 1;
    this.rememberDone = opts.rememberDone ?? 10_000;
    if (!(Number.isInteger(this.concurrency) && this.concurrency >= 1)) throw new Error(`concurrency must be an integer ≥ 1, not ${this.concurrency}`);
    if (!(Number.isInteger(this.rememberDone) && this.rememberDone >= 0)) throw new Error(`rememberDone must be an integer ≥ 0, not ${this.rememberDone}`);
  }

  /** Take a task: `duplicate` when this id is held or was finished lately (nothing runs again). */
  submit(task: InstanceTask): 'accepted' | 'duplicate' {
    if (this.closed) throw new Error('the task queue is closed');
    if (this.knows(task.task_id)) return 'duplicate';
    this.held.add(task.task_id);
    this.waiting.push(task);
    this.startNext();
    return 'accepted';
  }

  /** Tasks accepted and not done (waiting or running). */
  get size(): number {
    return this.held.size;
  }

  /** Tasks running now. */
  get runningCount(): number {
    return this.running.size;
  }

  /** Whether the task is held (waiting or running) or was finished lately: a delivery of it would be a duplicate. */
  knows(taskId: string): boolean {
    return this.held.has(taskId) || this.done.has(taskId);
  }

  /** Stop: running tasks are abandoned, waiting ones dropped. */
  close(): void {
    this.closed = true;
    for (const timer of this.running.values()) timer.cancel();
    this.running.clear();
    this.waiting.length = 0;
    this.held.clear();
  }

  private startNext(): void {
    while (!this.closed && this.running.size < this.concurrency && this.waiting.length) {
      const task = this.waiting.shift()!;
      const execMs = this.opts.execMs(task);
      const startedAt = this.opts.clock.now();
      this.running.set(task.task_id, this.opts.clock.setTimeout(() => this.finish(task, execMs, startedAt), execMs));
    }
  }

  private finish(task: InstanceTask, execMs: number, startedAt: number): void {
    if (!this.running.delete(task.task_id)) return;
    this.held.delete(task.task_id);
    this.remember(task.task_id);
    try {
      this.opts.onDone({ task, execMs, startedAt, endedAt: this.opts.clock.now() });
    } finally {
      this.startNext();
    }
  }

  private remember(id: string): void {
    if (this.rememberDone === 0) return;
    this.done.add(id);
    if (this.done.size > this.rememberDone) this.done.delete(this.done.values().next().value!);
  }
}
