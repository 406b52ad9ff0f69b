/**
 * A reference task instance, started programmatically (tests, the benchmark) or by `arbiter instance`: the HTTP
 * server, its FIFO with the synthetic workload, the completion notices, and the optional registration.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { systemClock, type Clock } from '../clock.ts';
import type { BackoffOptions } from './backoff.ts';
import { postJson, type PostJson } from '../runtime/json-http.ts';
import { CompletionNotifier } from './notifier.ts';
import { advertisedHost, resolveInstanceOptions, type InstanceOptions } from './options.ts';
import { TaskQueue } from './queue.ts';
import { Registration } from './registration.ts';
import { instanceHandler } from './server.ts';
import { execMsOf } from './workload.ts';
import { listen } from '../runtime/small-http.ts';

export interface InstanceDeps {
  /** time and the workload's sleep @default the system clock */
  clock?: Clock;
  /** the calls to the scheduler @default fetch */
  post?: PostJson;
  /** what goes wrong (a notice refused, the scheduler unreachable) @default nothing */
  log?: (line: string) => void;
  /** retries of notices and registration @default 100 ms (200 ms for registration) doubling to 5 s */
  backoff?: BackoffOptions;
}

export interface RunningInstance {
  url: string;
  port: number;
  instanceId: string;
  model: string;
  queue: TaskQueue;
  notifier: CompletionNotifier;
  /** null without `register` */
  registration: Registration | null;
  /** Stop: with `deregister` (the default) it first takes itself off the scheduler (≤ 1 s); pending notices are given up. */
  close(opts?: { deregister?: boolean }): Promise<void>;
}

export async function startInstance(input: InstanceOptions & InstanceDeps): Promise<RunningInstance> {
  const o = resolveInstanceOptions(input);
  const clock = input.clock ?? systemClock;
  const post = input.post ?? postJson;
  const log = input.log ?? (() => {});
  const instanceId = o.instanceId ?? randomUUID();
  const token = o.token ? { token: o.token } : {};
  const backoff = input.backoff ? { backoff: input.backoff } : {};

  const notifier = new CompletionNotifier({ clock, scheduler: o.scheduler, post, log, maxPending: o.maxPendingNotices, ...token, ...backoff });
  const queue = new TaskQueue({
    clock,
    concurrency: o.concurrency,
    execMs: (task) => execMsOf(task.task_id, task.metadata, { meanMs: o.execMsMean, sdMs: o.execMsSd }),
    onDone: ({ task, execMs, startedAt, endedAt }) => notifier.send({
      task_id: task.task_id,
      result: { instance_id: instanceId, model: o.model, output: task.task_input, exec_ms: execMs },
      execution_time: (endedAt - startedAt) / 1000,
      instance_id: instanceId,
    }),
  });
  const server = createServer({ keepAliveTimeout: 65_000 }, instanceHandler({ instanceId, model: o.model, replicas: o.concurrency, queue, notifier }));
  const port = await listen(server, o.port, o.host);
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;

  let registration: Registration | null = null;
  if (o.register) {
    registration = new Registration({ clock, scheduler: o.scheduler, post, log, body: { host: advertisedHost(o), port, model_name: o.model }, ...token, ...backoff });
    registration.start();
  }

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    instanceId,
    model: o.model,
    queue,
    notifier,
    registration,
    close({ deregister = true } = {}) {
      closing ??= (async () => {
        if (registration && deregister) await registration.remove(1000);
        registration?.stop();
        queue.close();
        notifier.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}
