/**
 * The Tasks view in headless Chromium against a real server and two real reference instances (`startInstance`,
 * HTTP servers on loopback) of one model, one six times as fast as the other. Tasks submitted over the API appear
 * and complete in the page without a reload; each instance shows its expected wait (what queue/info says); a click
 * on the policy switch changes GET /api/dispatch/policy, and a switch made by another client moves the page's.
 * Screenshots go to test/artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DispatchPolicyResponse, DispatchInstancesResponse, QueueInfoResponse, QueueSubmitResponse } from '../../shared/dispatch.ts';
import { startInstance, type RunningInstance } from '../../server/instance/instance.ts';
import type { TestServer } from '../helpers/server.ts';
import { ARTIFACTS, LIVE_WAIT_MS, useE2e } from '../helpers/browser.ts';

const e2e = useE2e();
let s: TestServer;
const instances: RunningInstance[] = [];

async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${s.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}
const policy = async () => (await call<DispatchPolicyResponse>('GET', '/api/dispatch/policy')).body.policy;

beforeAll(async () => {
  s = await e2e.serve({ hostIntervalMs: 1000, configure: (c) => void (c.dispatch.probeMs = 100) });
  for (const execMsMean of [150, 900]) {
    const i = await startInstance({ port: 0, model: 'llm', scheduler: s.url, token: s.token, execMsMean, execMsSd: 0, backoff: { initialMs: 20, maxMs: 200 } });
    instances.push(i);
    expect((await call('POST', '/ti/register', { host: '127.0.0.1', port: i.port, model_name: 'llm' })).status).toBe(200);
  }
}, 60_000);
afterAll(async () => {
  for (const i of instances.splice(0)) await i.close({ deregister: false });
});

describe('tasks view (e2e)', () => {
  it('shows the model, both instances with their expected wait, tasks completing live, and switches the policy', async () => {
    const [fast, slow] = instances as [RunningInstance, RunningInstance];
    // the health probes have answered: the instances list says what each /health said
    await expect.poll(async () => (await call<DispatchInstancesResponse>('GET', '/api/dispatch/instances')).body.instances.every((i) => i.health !== null), { timeout: LIVE_WAIT_MS }).toBe(true);
    const { page, errors } = await e2e.openDashboard(s, { path: '/tasks' });
    const model = page.locator('[data-testid="model"][data-model="llm"]');
    const row = (i: RunningInstance) => model.locator('[data-testid="instance-row"]').filter({ hasText: `127.0.0.1:${i.port}` });
    await expect.poll(() => model.getByTestId('instance-row').count(), { timeout: LIVE_WAIT_MS }).toBe(2);
    for (const i of [fast, slow]) {
      expect(await row(i).getByTestId('instance-state').textContent()).toBe('up');
      expect(await row(i).getByTestId('instance-health').textContent()).toMatch(/^ok · 1 replica · queue 0$/);
      expect(await row(i).getByTestId('wait-text').textContent()).toBe('0.00 s ± 0.00 s');
    }
    // a mark the page keeps as long as it is not reloaded
    await page.evaluate(() => void ((window as unknown as { mark: number }).mark = 42));

    // tasks over the API: they appear, wait on their instance (the expected waits grow), and complete
    const ids: string[] = [];
    for (let k = 0; k < 8; k++) {
      const r = await call<QueueSubmitResponse>('POST', '/queue/submit', { model_name: 'llm', task_input: { k }, metadata: {} });
      expect(r.status).toBe(200);
      ids.push(r.body.task_id);
    }
    const statuses = () => model.getByTestId('task-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.status ?? ''));
    await expect.poll(async () => (await statuses()).length, { timeout: LIVE_WAIT_MS }).toBe(8);
    const seen = new Set<string>(await statuses());
    // the slow instance holds tasks for seconds: the page shows them unfinished and its expected wait above zero
    const slowExpect = () => row(slow).locator('.wait-bar').getAttribute('data-expect').then(Number);
    await expect.poll(slowExpect, { timeout: LIVE_WAIT_MS, interval: 50 }).toBeGreaterThan(0);
    expect(await row(slow).locator('.wait-bar').getAttribute('aria-label')).toMatch(/^expected wait [\d.]+ s ± [\d.]+ s$/);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-tasks-running.png`, fullPage: true, animations: 'disabled' });
    await expect.poll(async () => {
      for (const st of await statuses()) seen.add(st);
      return (await statuses()).every((st) => st === 'completed');
    }, { timeout: 30_000, interval: 50 }).toBe(true);
    expect([...seen].some((st) => st === 'queued' || st === 'scheduled')).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { mark?: number }).mark)).toBe(42);
    expect((await model.getByTestId('task-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.taskId))).sort()).toEqual([...ids].sort());

    // every completed row has its times; both instances took tasks
    const first = model.getByTestId('task-row').first();
    for (const t of ['task-queue', 'task-exec', 'task-total']) expect(await first.getByTestId(t).textContent()).toMatch(/^\d+\.\d+ s$/);
    const hosts = await model.getByTestId('task-row').locator('td:nth-child(3)').allTextContents();
    expect(new Set(hosts)).toEqual(new Set([`127.0.0.1:${fast.port}`, `127.0.0.1:${slow.port}`]));
    // tasks per second over the window: 8 completions within the last minute
    expect(Number(await model.getByTestId('tasks-per-sec').textContent())).toBeCloseTo(8 / 60, 2);

    // nothing left to wait for: the page's expected waits are queue/info's again
    const info = (await call<QueueInfoResponse>('GET', '/api/dispatch/queue/info?model_name=llm')).body.queues;
    expect(info.map((q) => q.waiting_time_expect)).toEqual([0, 0]);
    for (const i of [fast, slow]) await expect.poll(() => row(i).getByTestId('wait-text').textContent(), { timeout: LIVE_WAIT_MS }).toBe('0.00 s ± 0.00 s');
    // and what their health probes say now: empty queues (read again while a queue was said to hold tasks)
    for (const i of [fast, slow]) await expect.poll(() => row(i).getByTestId('instance-health').textContent(), { timeout: LIVE_WAIT_MS }).toBe('ok · 1 replica · queue 0');
    await page.screenshot({ path: `${ARTIFACTS}dashboard-tasks.png`, fullPage: true, animations: 'disabled' });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-tasks-dark.png`, fullPage: true, animations: 'disabled' });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-tasks-phone.png`, fullPage: true, animations: 'disabled' });
    await page.setViewportSize({ width: 1280, height: 900 });

    // the policy switch: a click changes the server's policy
    expect(await policy()).toBe('shortest_queue');
    const option = (p: string) => page.locator(`[data-testid="policy-option"][data-policy="${p}"]`);
    expect(await option('shortest_queue').getAttribute('aria-pressed')).toBe('true');
    await option('round_robin').click();
    await expect.poll(policy, { timeout: LIVE_WAIT_MS }).toBe('round_robin');
    await expect.poll(() => option('round_robin').getAttribute('aria-pressed'), { timeout: LIVE_WAIT_MS }).toBe('true');
    expect(await page.getByTestId('policy-current').textContent()).toBe('round robin');

    // custom without a policy module: the server says it has none, the switch does not offer it
    expect(await option('custom').isDisabled()).toBe(true);
    expect(await option('custom').getAttribute('title')).toContain('--dispatch-policy-module');

    // another client switches: the page follows the push
    expect((await call('PUT', '/api/dispatch/policy', { policy: 'weighted' })).status).toBe(200);
    await expect.poll(() => option('weighted').getAttribute('aria-pressed'), { timeout: LIVE_WAIT_MS }).toBe('true');
    expect(await page.getByTestId('policy-current').textContent()).toBe('weighted');
    expect(errors).toEqual([]);
  }, 90_000);
});
