// @vitest-environment jsdom
/**
 * The Tasks view: per model its instances (state, health, expected wait as a bar with an error whisker), tasks per
 * second over the window, recent tasks with status and times, all updated by pushed events without a reload; the
 * policy switch calls the API, shows the server's refusal inline, says a 403 needs the admin token, and follows
 * a switch pushed from elsewhere. Time is a fake clock; the API and the live source are fakes.
 */
import { act } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Envelope, EventType } from '../../shared/events.ts';
import { App } from '../../web/src/App.tsx';
import { ApiError } from '../../web/src/lib/api.ts';
import { dispatchApi } from '../../web/src/tasks/api.ts';
import { TasksStore } from '../../web/src/tasks/store.ts';
import { FakeClock, StaticSource } from './fakes.ts';
import { click, mount, settle, type Mounted } from './dom.ts';
import { FakeSchedulerApi, T0, liveSnapshot } from './scheduler-fakes.ts';
import { FakeDispatchApi, dispatchTask, instanceEnv, taskEnv, taskInstance } from './tasks-fakes.ts';

let view: Mounted;
let api: FakeDispatchApi;
let source: StaticSource;
let clock: FakeClock;

async function open(): Promise<void> {
  const tasks = new TasksStore(source, { api, now: () => clock.now, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout }, { windowMs: 60_000, waitsMinIntervalMs: 500 });
  view = await mount(<App source={source} schedulerApi={new FakeSchedulerApi()} dispatchApi={api} tasks={tasks} />);
}

beforeEach(async () => {
  history.replaceState(null, '', '/tasks');
  clock = new FakeClock();
  clock.now = T0;
  source = new StaticSource(liveSnapshot());
  api = new FakeDispatchApi();
  api.instanceList = [
    taskInstance('fast-0001-aaaa', { port: 9001, health: { status: 'ok', replicas_running: 2, queue_size: 1 } }),
    taskInstance('slow-0002-bbbb', { port: 9002 }),
  ];
  api.wait('llm', 'fast-0001-aaaa', 0.5, 0.1);
  api.wait('llm', 'slow-0002-bbbb', 1.5, 0.5);
  api.taskList = [
    dispatchTask('done-0001', { status: 'completed', instance: 'fast-0001-aaaa', submittedAt: T0 - 3000, scheduledAt: T0 - 2750, endedAt: T0 - 2000, executionMs: 700 }),
    dispatchTask('failed-0002', { status: 'failed', instance: 'slow-0002-bbbb', submittedAt: T0 - 1500, endedAt: T0 - 1000, attempts: 3, error: 'every delivery failed' }),
  ];
  await open();
});

afterEach(() => {
  view.unmount();
  vi.unstubAllGlobals();
});

async function push<K extends EventType>(type: K, envs: Envelope<K>[]): Promise<void> {
  await act(async () => source.emit(type, envs));
  await settle();
}
async function advance(ms: number): Promise<void> {
  await act(async () => clock.advance(ms));
  await settle();
}

const panel = (model: string) => view.container.querySelector<HTMLElement>(`[data-testid="model"][data-model="${model}"]`)!;
const instanceRow = (id: string) => view.container.querySelector<HTMLElement>(`[data-testid="instance-row"][data-instance-id="${id}"]`)!;
const taskRow = (id: string) => view.container.querySelector<HTMLElement>(`[data-testid="task-row"][data-task-id="${id}"]`);
const cell = (row: HTMLElement | null, testId: string) => row?.querySelector(`[data-testid="${testId}"]`)?.textContent ?? null;
const option = (p: string) => view.container.querySelector<HTMLButtonElement>(`[data-testid="policy-option"][data-policy="${p}"]`)!;
const pressed = () => view.byTestId<HTMLButtonElement>('policy-option').filter((b) => b.getAttribute('aria-pressed') === 'true').map((b) => b.dataset.policy);

describe('Tasks view', () => {
  it('is a view of its own in the navigation', () => {
    const link = view.byTestId<HTMLAnchorElement>('nav-tasks')[0]!;
    expect(link.getAttribute('href')).toBe('/tasks');
    expect(link.getAttribute('aria-current')).toBe('page');
  });

  it('shows each instance with its state, health and expected wait as a bar with an error whisker', () => {
    expect(view.byTestId('model').map((m) => m.dataset.model)).toEqual(['llm']);
    const fast = instanceRow('fast-0001-aaaa');
    const slow = instanceRow('slow-0002-bbbb');
    expect(fast.querySelector('th')!.textContent).toContain('127.0.0.1:9001');
    expect(cell(fast, 'instance-state')).toBe('up');
    expect(cell(fast, 'instance-health')).toBe('ok · 2 replicas · queue 1');
    expect(cell(slow, 'instance-health')).toBe('—');
    expect(cell(fast, 'wait-text')).toBe('0.50 s ± 0.10 s');
    expect(cell(slow, 'wait-text')).toBe('1.50 s ± 0.50 s');
    // one scale per model: the largest expect + error (2 s) is the full bar
    const fill = (row: HTMLElement) => row.querySelector<HTMLElement>('[data-testid="wait-fill"]')!.style.width;
    const whisker = (row: HTMLElement) => {
      const w = row.querySelector<HTMLElement>('[data-testid="wait-whisker"]')!.style;
      return [w.left, w.width];
    };
    expect(fill(fast)).toBe('25%');
    expect(whisker(fast)).toEqual(['20%', '10%']);
    expect(fill(slow)).toBe('75%');
    expect(whisker(slow)).toEqual(['50%', '50%']);
    expect(slow.querySelector('[role="img"]')!.getAttribute('aria-label')).toBe('expected wait 1.50 s ± 0.50 s');
  });

  it('lists recent tasks with status and queue, execution and total times', () => {
    expect(view.byTestId('task-row').map((r) => r.dataset.taskId)).toEqual(['failed-0002', 'done-0001']);
    const done = taskRow('done-0001');
    expect(cell(done, 'task-status')).toBe('completed');
    expect(cell(done, 'task-queue')).toBe('0.25 s');
    expect(cell(done, 'task-exec')).toBe('0.70 s');
    expect(cell(done, 'task-total')).toBe('1.00 s');
    expect(done!.textContent).toContain('127.0.0.1:9001');
    const failed = taskRow('failed-0002');
    expect(cell(failed, 'task-status')).toBe('failed');
    expect(cell(failed, 'task-error')).toBe('every delivery failed');
    expect(failed!.textContent).toContain('3 attempts');
  });

  it('updates live from pushed events: a task appears, is scheduled, completes; waits are read again; tasks per second count', async () => {
    expect(view.text('tasks-per-sec')).toBe('0.00');
    expect(view.text('counting-since')).toContain('counting since');
    const asked = api.count('queueInfo');

    const queued = dispatchTask('new-0003', { instance: 'fast-0001-aaaa', submittedAt: T0 + 1000 });
    api.wait('llm', 'fast-0001-aaaa', 0.7, 0.15);
    await advance(1000);
    await push('task_update', [taskEnv('task_queued', queued, T0 + 1000)]);
    expect(view.byTestId('task-row').map((r) => r.dataset.taskId)).toEqual(['new-0003', 'failed-0002', 'done-0001']);
    expect(cell(taskRow('new-0003'), 'task-status')).toBe('queued');
    expect(cell(taskRow('new-0003'), 'task-queue')).toBe('waiting');
    // the expected waits were read again after the event
    expect(api.count('queueInfo')).toBe(asked + 1);
    expect(cell(instanceRow('fast-0001-aaaa'), 'wait-text')).toBe('0.70 s ± 0.15 s');

    const scheduled = { ...queued, status: 'scheduled' as const, scheduledAt: T0 + 1200, attempts: 1 };
    await push('task_update', [taskEnv('task_scheduled', scheduled, T0 + 1200)]);
    expect(cell(taskRow('new-0003'), 'task-status')).toBe('scheduled');
    expect(cell(taskRow('new-0003'), 'task-queue')).toBe('0.20 s');
    expect(cell(taskRow('new-0003'), 'task-exec')).toBe('accepted');

    api.wait('llm', 'fast-0001-aaaa', 0, 0);
    await advance(2000);
    const completed = { ...scheduled, status: 'completed' as const, endedAt: T0 + 1500, executionMs: 300 };
    await push('task_update', [taskEnv('task_completed', completed, T0 + 1500)]);
    expect(cell(taskRow('new-0003'), 'task-status')).toBe('completed');
    expect(cell(taskRow('new-0003'), 'task-exec')).toBe('0.30 s');
    expect(cell(taskRow('new-0003'), 'task-total')).toBe('0.50 s');
    expect(cell(instanceRow('fast-0001-aaaa'), 'wait-text')).toBe('0.00 s ± 0.00 s');
    expect(instanceRow('fast-0001-aaaa').querySelector('[data-testid="wait-whisker"]')).toBeNull();
    // 1 completion in the 60 s window
    expect(view.text('tasks-per-sec')).toBe('0.02');
    expect(view.text('model-rate')).toContain('1 completed in the last 60 s');

    // the window slides: a minute later it is gone (no reload, no sleeping: the store's timer on the fake clock)
    await advance(60_000);
    expect(view.text('tasks-per-sec')).toBe('0.00');
    expect(view.byTestId('counting-since')).toHaveLength(0);
  });

  it('shows instances going down, new models, and removals as they are pushed', async () => {
    await push('instance_update', [
      instanceEnv({ kind: 'instance_down', at: T0 + 10, instance: taskInstance('slow-0002-bbbb', { port: 9002, state: 'down', failures: 3 }) }),
      instanceEnv({ kind: 'instance_registered', at: T0 + 11, instance: taskInstance('asr-0003', { port: 9100, model: 'asr' }) }),
    ]);
    expect(cell(instanceRow('slow-0002-bbbb'), 'instance-state')).toBe('down');
    expect(instanceRow('slow-0002-bbbb').dataset.state).toBe('down');
    expect(view.byTestId('model').map((m) => m.dataset.model)).toEqual(['asr', 'llm']);
    expect(panel('asr').querySelector('[data-testid="no-tasks"]')).not.toBeNull();

    await push('instance_update', [instanceEnv({ kind: 'instance_removed', at: T0 + 12, instance: taskInstance('asr-0003', { port: 9100, model: 'asr' }) })]);
    expect(view.byTestId('model').map((m) => m.dataset.model)).toEqual(['llm']);
  });

  it('switches the policy through the API and follows a switch pushed from elsewhere', async () => {
    expect(view.text('policy-current')).toBe('shortest queue');
    expect(pressed()).toEqual(['shortest_queue']);
    expect(view.byTestId('policy-option').map((b) => b.dataset.policy)).toEqual(['shortest_queue', 'round_robin', 'weighted', 'probabilistic', 'custom']);

    await click(option('round_robin'));
    expect(api.puts).toEqual(['round_robin']);
    expect(pressed()).toEqual(['round_robin']);
    expect(view.text('policy-current')).toBe('round robin');

    await push('instance_update', [instanceEnv({ kind: 'policy_changed', at: T0 + 5000, policy: 'weighted', previous: 'round_robin' })]);
    expect(pressed()).toEqual(['weighted']);
    expect(view.text('policy-current')).toBe('weighted');
    expect(api.puts).toEqual(['round_robin']);
  });

  it('offers custom only when the server has one; shows a refusal inline and offers it no more', async () => {
    expect(option('custom').disabled).toBe(true);
    expect(option('custom').title).toContain('no custom policy');
    view.unmount();
    api.available = ['shortest_queue', 'round_robin', 'weighted', 'probabilistic', 'custom'];
    await open();
    expect(option('custom').disabled).toBe(false);
    api.onPut = () => Promise.reject(new ApiError(422, 'no_custom_policy', 'no custom routing policy is configured (--dispatch-policy-module)'));
    await click(option('custom'));
    expect(view.text('policy-error')).toBe('no custom routing policy is configured (--dispatch-policy-module)');
    expect(view.byTestId('policy-error')[0]!.getAttribute('role')).toBe('alert');
    expect(pressed()).toEqual(['shortest_queue']);
    expect(option('custom').disabled).toBe(true);
    expect(option('custom').title).toContain('no custom policy');
    expect(option('weighted').disabled).toBe(false);
  });

  it('says a 403 needs the admin token and turns the switch off', async () => {
    api.onPut = () => Promise.reject(new ApiError(403, 'forbidden', 'this needs the admin token (--admin-token / ARBITER_ADMIN_TOKEN)'));
    await click(option('probabilistic'));
    expect(view.text('policy-error')).toContain('needs the admin token');
    expect(view.text('policy-read-only')).toContain('admin token');
    expect(view.byTestId<HTMLButtonElement>('policy-option').every((b) => b.disabled)).toBe(true);
    expect(pressed()).toEqual(['shortest_queue']);
  });

  it('offers no switch to a session without the admin right', async () => {
    view.unmount();
    api.admin = false;
    await open();
    expect(view.text('policy-read-only')).toContain('admin token');
    expect(view.byTestId<HTMLButtonElement>('policy-option').every((b) => b.disabled)).toBe(true);
  });

  it('offers custom when the server has one in force', async () => {
    view.unmount();
    api.current = 'custom';
    api.available = ['shortest_queue', 'round_robin', 'weighted', 'probabilistic', 'custom'];
    await open();
    expect(pressed()).toEqual(['custom']);
    expect(option('custom').disabled).toBe(false);
    expect(view.byTestId('policy-desc')[0]!.textContent).toContain('policy module');
  });

  it('says what to do when there is no instance and no task yet', async () => {
    view.unmount();
    api.instanceList = [];
    api.taskList = [];
    api.queues = [];
    await open();
    expect(view.text('tasks-empty')).toContain('POST /ti/register');
  });
});

describe('dispatch API client', () => {
  it('reads the dispatch routes’ error body ({status, message, detail, code}) into the ApiError', async () => {
    const body = { status: 'error', message: 'this needs the admin token (--admin-token / ARBITER_ADMIN_TOKEN)', detail: 'this needs the admin token (--admin-token / ARBITER_ADMIN_TOKEN)', code: 'forbidden' };
    const fetch = vi.fn(async () => new Response(JSON.stringify(body), { status: 403, headers: { 'Content-Type': 'application/json' } }));
    vi.stubGlobal('fetch', fetch);
    const err = await dispatchApi.setPolicy('weighted').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 403, code: 'forbidden', message: body.message });
    expect(fetch).toHaveBeenCalledWith('/api/dispatch/policy', expect.objectContaining({ method: 'PUT', body: JSON.stringify({ policy: 'weighted' }) }));
  });
});
