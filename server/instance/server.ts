/**
 * The instance's HTTP surface (node:http): `POST /task/submit` takes a task into the FIFO (2xx: accepted; a task it
 * already holds: 200 again, not run twice), `GET /health` says how it is. Errors are `{status:"error", message,
 * detail}`: 400 naming the bad field (or a task for another model), 413 for a body over 1 MiB, 503 while it holds
 * as many tasks and untaken completion notices as the notifier keeps (every task it accepts has its result kept
 * until the scheduler takes it; the scheduler sends the task elsewhere), 404/405.
 */
import type { RequestListener, ServerResponse } from 'node:http';
import { InstanceTaskSchema, type DispatchError, type InstanceHealth } from '../../shared/dispatch.ts';
import { ArbiterError, invalidInput } from '../errors.ts';
import type { CompletionNotifier } from './notifier.ts';
import type { TaskQueue } from './queue.ts';
import { WorkloadMetadataSchema } from './workload.ts';
import { answerJson, readJsonBody, routeTable, type RouteTable } from '../runtime/small-http.ts';

export const MAX_BODY_BYTES = 1024 * 1024;

export interface InstanceHandlerOptions {
  instanceId: string;
  model: string;
  /** tasks it runs at once */
  replicas: number;
  queue: TaskQueue;
  notifier: CompletionNotifier;
}

export function instanceHandler(opts: InstanceHandlerOptions): RequestListener {
  const routes: RouteTable<unknown> = {
    '/task/submit': { POST: async (req) => submit(opts, await readJsonBody(req, MAX_BODY_BYTES, 'invalid_request')) },
    '/health': { GET: () => health(opts) },
  };
  return routeTable(routes, (res, body) => answer(res, 200, body), answerError);
}

function submit(opts: InstanceHandlerOptions, body: unknown) {
  const task = InstanceTaskSchema.safeParse(body);
  if (!task.success) throw invalidInput('invalid body', task.error);
  const metadata = WorkloadMetadataSchema.safeParse(task.data.metadata);
  if (!metadata.success) throw invalidInput('invalid body', metadata.error, ['metadata']);
  const { task_id, model_name } = task.data;
  if (model_name !== opts.model) {
    throw new ArbiterError(400, 'invalid_request', `invalid body: model_name: this instance serves model ${JSON.stringify(opts.model)}, not ${JSON.stringify(model_name)}`);
  }
  const held = opts.queue.size + opts.notifier.pending;
  if (!opts.queue.knows(task_id) && held >= opts.notifier.maxPending) {
    throw new ArbiterError(503, 'busy', `holding ${opts.queue.size} task(s) and ${opts.notifier.pending} completion notice(s) the scheduler has not taken, the most it keeps (${opts.notifier.maxPending})`);
  }
  const accepted = opts.queue.submit(task.data) === 'accepted';
  return { status: 'success', message: accepted ? 'accepted' : 'already accepted', task_id, queue_size: opts.queue.size };
}

function health(opts: InstanceHandlerOptions): InstanceHealth {
  return { status: 'ok', instance_id: opts.instanceId, model_type: opts.model, replicas_running: opts.replicas, queue_size: opts.queue.size };
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  answerJson(res, status, JSON.stringify(body));
}

function answerError(res: ServerResponse, err: unknown): void {
  const known = err instanceof ArbiterError ? err : undefined;
  const message = known ? known.message : `internal error: ${err instanceof Error ? err.message : String(err)}`;
  const body: DispatchError = { status: 'error', message, detail: message };
  answer(res, known?.status ?? 500, body);
}
