/**
 * The Workers view in headless Chromium against a real server with one declared GPU and the local backend running
 * the real node worker runtime (`arbiter worker`). Two groups of one replica each want the GPU: the first runs, the
 * second waits — the page shows both, and why the second waits (behind whom); the first one's output shows its
 * "listening on" line; deleting the first from the page ends it (stopped) and the second starts and runs, all without
 * a reload; then the second is deleted from the page too. Nothing outlives the test: every live group is deleted
 * after it, pass or fail. Screenshots go to test/artifacts/.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkerGroupResponse, WorkersResponse } from '../../shared/workers.ts';
import type { TestServer } from '../helpers/server.ts';
import { ARTIFACTS, LIVE_WAIT_MS, useE2e } from '../helpers/browser.ts';

const REPO = new URL('../..', import.meta.url).pathname;
const NODE_WORKER = [process.execPath, join(REPO, 'bin/arbiter.js'), 'worker'];
/** a worker starts a node process (and may compile the server first): give it time */
const START_WAIT_MS = 60_000;

const e2e = useE2e();
let s: TestServer | undefined;

afterEach(async () => {
  if (!s) return;
  for (const name of s.app.workers.liveGroups()) await s.app.workers.delete(name).catch(() => undefined);
});

async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${s!.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${s!.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}
const group = (name: string, owner: string) => ({ name, owner, replicas: 1, backend: 'local', specs: [{ cpu: 500, gpu: 1, mem: 256, cmd: NODE_WORKER }] });

describe('workers view (e2e)', () => {
  it('shows a running and a queued group with why it waits, the output, and deletes both from the page, live', async () => {
    s = await e2e.serve({
      hostIntervalMs: 1000,
      configure: (c) => {
        c.resources = { cpu: 16_000, memoryMiB: 32_768, gpus: [{ index: 0, memoryMiB: 16_384 }] };
        c.workers.graceMs = 3000;
      },
    });
    const first = 'e2e/first';
    const second = 'e2e/second';
    expect((await call<WorkerGroupResponse>('POST', '/api/workers', group(first, 'ana'))).status).toBe(202);
    // running and answering before the second asks for the only GPU
    const ready = await call<WorkersResponse>('GET', `/api/workers?name=${encodeURIComponent(first)}&timeoutMs=${START_WAIT_MS}`);
    expect(ready.body.workers.map((w) => w.state)).toEqual(['running']);
    const made = await call<WorkerGroupResponse>('POST', '/api/workers', group(second, 'bo'));
    expect(made.status).toBe(202);
    expect(made.body.workers.map((w) => w.state)).toEqual(['queued']);

    const { page, errors } = await e2e.openDashboard(s, { path: '/workers' });
    const groupEl = (name: string) => page.locator(`[data-testid="worker-group"][data-group="${name}"]`);
    const replica = (name: string) => groupEl(name).getByTestId('worker');
    const state = (name: string) => replica(name).getByTestId('worker-state').textContent();
    await expect.poll(() => state(first), { timeout: LIVE_WAIT_MS }).toBe('running');
    expect(await state(second)).toBe('queued');
    expect(await groupEl(first).getByTestId('group-facts').textContent()).toBe('ana · local · 1 replica');
    expect(await replica(first).getByTestId('worker-gpus').textContent()).toBe('GPU 0');
    expect(await replica(first).getByTestId('worker-address').textContent()).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await replica(first).getByTestId('worker-allocation').getAttribute('href')).toMatch(/^\/scheduler#allocation-/);
    // why the second waits: behind the first one's owner
    await expect.poll(() => replica(second).getByTestId('worker-why').textContent(), { timeout: LIVE_WAIT_MS }).toMatch(/queued behind ana \(request /);
    expect(await replica(second).getByTestId('worker-request').getAttribute('href')).toMatch(/^\/scheduler#request-/);
    // a mark the page keeps as long as it is not reloaded
    await page.evaluate(() => void ((window as unknown as { mark: number }).mark = 42));

    // the first one's output
    await replica(first).getByTestId('worker-logs-button').click();
    const logs = page.getByTestId('worker-logs');
    await expect.poll(() => logs.getByTestId('log-lines').textContent(), { timeout: LIVE_WAIT_MS }).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(await logs.getAttribute('data-worker-id')).toBe(`${first}-0`);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-workers.png`, fullPage: true, animations: 'disabled' });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-workers-dark.png`, fullPage: true, animations: 'disabled' });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-workers-phone.png`, fullPage: true, animations: 'disabled' });
    await page.setViewportSize({ width: 1280, height: 900 });

    // delete the first from the page: it ends stopped, the second gets the GPU and runs
    await groupEl(first).getByTestId('delete-group').click();
    await groupEl(first).getByTestId('delete-confirm').click();
    await expect.poll(() => state(first), { timeout: LIVE_WAIT_MS }).toBe('stopped');
    expect(await groupEl(first).getAttribute('data-live')).toBe('false');
    await expect.poll(() => state(second), { timeout: START_WAIT_MS, interval: 100 }).toBe('running');
    expect(await replica(second).getByTestId('worker-gpus').textContent()).toBe('GPU 0');
    expect(await replica(second).getByTestId('worker-why').count()).toBe(0);
    expect((await call<WorkersResponse>('GET', `/api/workers?name=${encodeURIComponent(first)}`)).body.workers.map((w) => w.state)).toEqual(['stopped']);
    expect(await page.evaluate(() => (window as unknown as { mark?: number }).mark)).toBe(42);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-workers-after-delete.png`, fullPage: true, animations: 'disabled' });

    // and the second
    await groupEl(second).getByTestId('delete-group').click();
    await groupEl(second).getByTestId('delete-confirm').click();
    await expect.poll(() => state(second), { timeout: LIVE_WAIT_MS }).toBe('stopped');
    expect(s.app.workers.liveGroups()).toEqual([]);
    expect(await page.locator('[data-testid="worker-group"][data-live="true"]').count()).toBe(0);
    expect(await page.getByTestId('ended-groups').locator('[data-testid="worker-group"]').count()).toBe(2);
    await page.getByTestId('ended-groups').locator('summary').click();
    await page.screenshot({ path: `${ARTIFACTS}dashboard-workers-ended.png`, fullPage: true, animations: 'disabled' });
    expect(await page.evaluate(() => (window as unknown as { mark?: number }).mark)).toBe(42);
    expect(errors).toEqual([]);
  }, 180_000);
});
