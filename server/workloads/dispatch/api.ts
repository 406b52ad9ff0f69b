/**
 * The `Scheduler.md` surface over the dispatcher, field for field: Arbiter's records (camelCase, ms) as the
 * specification's answers (snake_case, seconds as floats). A thin adapter: every decision is the Dispatcher's.
 */
import type { DispatchTask, TaskQueryResponse } from '../../../shared/dispatch.ts';

const seconds = (ms: number | null): number | null => (ms === null ? null : ms / 1000);

/** `GET /task/query`: the task's state, its instance, submit time (unix s), result, and its time statistics. */
export function taskQueryOf(t: DispatchTask): TaskQueryResponse {
  const queueMs = t.scheduledAt === null ? null : t.scheduledAt - t.submittedAt;
  return {
    task_id: t.id,
    task_status: t.status,
    scheduled_ti: t.instance,
    submit_time: t.submittedAt / 1000,
    result: t.result ?? null,
    model_name: t.model,
    queue_time: seconds(queueMs),
    execution_time: seconds(t.executionMs),
    total_time: seconds(t.endedAt === null ? null : t.endedAt - t.submittedAt),
    attempts: t.attempts,
    rerouted: t.rerouted,
  };
}
