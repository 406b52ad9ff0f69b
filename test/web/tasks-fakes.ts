/** Task dispatch records, pushed envelopes of them, and a dispatch API double for the Tasks view's tests. */
import type { Session } from '../../shared/api.ts';
import type {
  DispatchInstancesResponse, DispatchPolicy, DispatchTask, DispatchTasksResponse, InstanceChange, QueueInfoItem, QueueInfoResponse, TaskChange, TaskInstance,
} from '../../shared/dispatch.ts';
import type { Envelope } from '../../shared/events.ts';
import type { DispatchApi, PolicyAnswer } from '../../web/src/tasks/api.ts';
import { T0 } from './scheduler-fakes.ts';

export function taskInstance(id: string, over: Partial<TaskInstance> = {}): TaskInstance {
  return { id, host: '127.0.0.1', port: 9001, model: 'llm', weight: 1, state: 'up', registeredAt: T0, failures: 0, health: null, ...over };
}

export function dispatchTask(id: string, over: Partial<DispatchTask> = {}): DispatchTask {
  return {
    id, model: 'llm', input: {}, metadata: {}, status: 'queued', instance: null, submittedAt: T0, scheduledAt: null, endedAt: null,
    attempts: 0, rerouted: false, predictedMs: { mean: 200, sd: 50 }, executionMs: null, result: null, error: null, ...over,
  };
}

let nextId = 100;
export function taskEnv(kind: TaskChange['kind'], task: DispatchTask, at: number): Envelope<'task_update'> {
  return { id: ++nextId, type: 'task_update', ts: at, data: { kind, at, task } };
}
export function instanceEnv(data: InstanceChange): Envelope<'instance_update'> {
  return { id: ++nextId, type: 'instance_update', ts: data.at, data };
}

/** Answers from its fields; records every call. A method may be replaced to fail or to hold its answer. */
export class FakeDispatchApi implements DispatchApi {
  calls: string[] = [];
  admin = true;
  instanceList: TaskInstance[] = [];
  taskList: DispatchTask[] = [];
  queues: QueueInfoItem[] = [];
  current: DispatchPolicy = 'shortest_queue';
  available: DispatchPolicy[] = ['shortest_queue', 'round_robin', 'weighted', 'probabilistic'];
  puts: DispatchPolicy[] = [];
  onPut: (p: DispatchPolicy) => Promise<PolicyAnswer> = (p) => {
    this.current = p;
    return Promise.resolve(this.policyAnswer());
  };
  /** replace to hold or fail the reads of queue/info */
  onQueueInfo: () => Promise<QueueInfoResponse> = () => Promise.resolve({ status: 'success', queues: this.queues.map((q) => ({ ...q })) });

  private policyAnswer(): PolicyAnswer {
    return { policy: this.current, available: [...this.available] };
  }
  /** what queue/info says of one instance */
  wait(model: string, id: string, expect: number, error: number): void {
    this.queues = this.queues.filter((q) => q.ti_uuid !== id);
    this.queues.push({ model_name: model, ti_uuid: id, waiting_time_expect: expect, waiting_time_error: error });
  }
  count(call: string): number {
    return this.calls.filter((c) => c === call).length;
  }

  session(): Promise<Session> {
    this.calls.push('session');
    return Promise.resolve({ auth: true, admin: this.admin, role: this.admin ? 'admin' as const : 'operator' as const });
  }
  instances(): Promise<DispatchInstancesResponse> {
    this.calls.push('instances');
    return Promise.resolve({ instances: [...this.instanceList] });
  }
  tasks(limit: number): Promise<DispatchTasksResponse> {
    this.calls.push(`tasks:${limit}`);
    return Promise.resolve({ tasks: [...this.taskList].sort((a, b) => b.submittedAt - a.submittedAt).slice(0, limit) });
  }
  queueInfo(model?: string): Promise<QueueInfoResponse> {
    this.calls.push(model === undefined ? 'queueInfo' : `queueInfo:${model}`);
    return this.onQueueInfo();
  }
  policy(): Promise<PolicyAnswer> {
    this.calls.push('policy');
    return Promise.resolve(this.policyAnswer());
  }
  setPolicy(policy: DispatchPolicy): Promise<PolicyAnswer> {
    this.calls.push(`setPolicy:${policy}`);
    this.puts.push(policy);
    return this.onPut(policy);
  }
}
