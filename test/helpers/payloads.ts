/** One valid payload per event type of the push contract, for tests that publish events by hand. */
import type { InstanceChange, TaskChange } from '../../shared/dispatch.ts';
import type { EventType, Payload } from '../../shared/events.ts';
import type { HintEvent } from '../../shared/hints.ts';
import type { ResourceStatus } from '../../shared/resources.ts';
import type { ConflictChange, Request, SchedulingChange } from '../../shared/scheduler.ts';
import type { WorkerChange } from '../../shared/workers.ts';
import type { WorkflowChange } from '../../shared/workflows.ts';
import { fakeHostSample } from './fake-host.ts';

const AT = 1_700_000_000_000;

export function statusPayload(over: Partial<ResourceStatus> = {}): ResourceStatus {
  return {
    node: 'test-node',
    sampledAt: AT,
    sources: { host: { status: 'ok', lastSampleAt: AT, lastErrorAt: null, consecutiveFailures: 0, nextRetryAt: null } },
    host: fakeHostSample(1, AT),
    gpus: [],
    containers: [],
    health: 'healthy',
    ...over,
  };
}

/** A raised hint whose message is `message`. */
export function hintPayload(message = 'a hint', id = 'h1'): HintEvent {
  return {
    kind: 'hint_raised',
    hint: {
      id, kind: 'long_wait', severity: 3, title: 'A request has waited long', message,
      subject: { kind: 'request', id: 'r1' }, createdAt: AT, status: 'active',
    },
  };
}

function request(id: string): Request {
  return { id, owner: 'ana', priority: 0, resources: { cpu: 1000, memoryMiB: 0, gpus: 1 }, preemptible: false, submittedAt: AT, updatedAt: AT, status: 'queued' };
}

export function conflictPayload(id = 'c1'): ConflictChange {
  return {
    kind: 'conflict_opened',
    at: AT,
    conflict: {
      id, key: 'request:r1', type: 'resource_competition', severity: 2, requestId: 'r1',
      holders: [{ kind: 'allocation', allocationId: 'a1', requestId: 'r0', owner: 'bo', priority: 0, gpuIndices: [0] }],
      resource: 'gpu', message: 'waits for gpu', openedAt: AT, updatedAt: AT, status: 'open',
    },
  };
}

export function schedulingPayload(id = 'r1'): SchedulingChange {
  return { kind: 'request_queued', at: AT, request: request(id) };
}

export function instancePayload(id = 'ti1'): InstanceChange {
  return { kind: 'instance_registered', at: AT, instance: { id, host: '127.0.0.1', port: 8100, model: 'llm', weight: 1, state: 'up', registeredAt: AT, failures: 0, health: null } };
}

export function taskPayload(id = 't1'): TaskChange {
  return {
    kind: 'task_queued', at: AT,
    task: {
      id, model: 'llm', input: { prompt: 'hi' }, metadata: {}, status: 'queued', instance: 'ti1', submittedAt: AT, scheduledAt: null, endedAt: null,
      attempts: 0, rerouted: false, predictedMs: { mean: 1000, sd: 500 }, executionMs: null, result: null, error: null,
    },
  };
}

export function workerPayload(id = 'train-0'): WorkerChange {
  return {
    kind: 'worker_created', at: AT,
    worker: {
      id, name: 'train', replica: 0, state: 'queued', backend: 'local', owner: 'ana', node: null, host: '127.0.0.1', port: null, gpus: [], allocation_id: null,
      request_id: null, exit_code: null, started_at: null, ended_at: null, log_tail: [], engine: null, why: 'waiting for its grant',
    },
  };
}

export function workflowPayload(id = 'wf1'): WorkflowChange {
  return {
    kind: 'workflow_created', at: AT,
    workflow: {
      id, user_id: 'u1', username: 'ana', name: 'tiles', status: 'PENDING', created_at: new Date(AT).toISOString(), started_at: null, ended_at: null,
      job_count: 3, counts: { PENDING: 3 },
    },
  };
}

const SAMPLES: { [K in EventType]: () => Payload<K> } = {
  resource_status: () => statusPayload(),
  hint: () => hintPayload(),
  conflict: () => conflictPayload(),
  scheduling_update: () => schedulingPayload(),
  task_update: () => taskPayload(),
  instance_update: () => instancePayload(),
  worker_update: () => workerPayload(),
  workflow_update: () => workflowPayload(),
};

/** A valid payload of any event type. */
export function payload<T extends EventType>(type: T): Payload<T> {
  const make: () => Payload<T> = SAMPLES[type];
  return make();
}
