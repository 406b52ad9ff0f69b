/**
 * The Workflows view in headless Chromium against a real server running each job as a local worker process. A
 * four-job diamond whose one side fails (its join SKIPPED) while the other waits for a file: opened at /workflows
 * (the path is also the API's: the browser gets the page), the DAG drawn by depth, states changing live without a
 * reload, a failed job's output in its panel; then the waiting side finishes and the workflow is FAILED. A second
 * workflow is cancelled from the page: its running job's process ends. Screenshots go to test/artifacts/.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { User, Workflow, WorkflowCreated } from '../../shared/workflows.ts';
import type { TestServer } from '../helpers/server.ts';
import { ARTIFACTS, LIVE_WAIT_MS, useE2e } from '../helpers/browser.ts';

const e2e = useE2e();
let s: TestServer | undefined;
const dir = mkdtempSync(join(tmpdir(), 'arbiter-e2e-wf-'));

afterEach(async () => {
  writeFileSync(join(dir, 'go'), '');
  if (!s) return;
  for (const name of s.app.workers.liveGroups()) await s.app.workers.delete(name).catch(() => undefined);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${s!.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${s!.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}
const job = (name: string, parents: number[], branch: string, cmd: string) => ({ name, job_type: 'step', branch_id: branch, parent_indices: parents, resources: { cpu: 100 }, run: { cmd } });

describe('workflows view (e2e)', () => {
  it('draws a workflow as its DAG, follows its jobs live, shows a failed job’s output, and cancels another from the page', async () => {
    s = await e2e.serve({
      hostIntervalMs: 1000,
      configure: (c) => {
        c.resources = { cpu: 8000, memoryMiB: 16_384, gpus: [] };
        c.workers.graceMs = 2000;
      },
    });
    const user = (await call<User>('POST', '/users/', { username: 'ana' })).body;
    const made = await call<WorkflowCreated>('POST', '/workflows/', {
      user_id: user.id, name: 'tiles',
      jobs: [
        job('prep', [], 'main', 'echo prepared'),
        job('train-a', [0], 'a', `while [ ! -e ${dir}/go ]; do sleep 0.05; done; echo trained`),
        job('train-b', [0], 'b', 'echo "out of memory on shard 3" >&2; exit 3'),
        job('eval', [1, 2], 'main', 'echo evaluated'),
      ],
    });
    expect(made.status).toBe(201);
    const id = made.body.workflow_id;

    const { page, errors } = await e2e.openDashboard(s, { path: '/workflows' });
    const row = page.locator(`[data-testid="workflow-row"][data-workflow-id="${id}"]`);
    await expect.poll(() => row.count(), { timeout: LIVE_WAIT_MS }).toBe(1);
    await row.getByTestId('workflow-link').click();
    const node = (i: number) => page.locator(`[data-testid="dag-node"][data-index="${i}"]`);
    await expect.poll(() => page.getByTestId('dag-column').count(), { timeout: LIVE_WAIT_MS }).toBe(3);
    expect(await page.getByTestId('dag-column').evaluateAll((cols) => cols.map((c) => c.getAttribute('data-depth')))).toEqual(['0', '1', '2']);
    expect(await page.locator('[data-testid="dag-edge"][data-kind="parent"]').count()).toBe(4);
    // a mark the page keeps as long as it is not reloaded
    await page.evaluate(() => void ((window as unknown as { mark: number }).mark = 42));

    await expect.poll(() => node(1).getAttribute('data-status'), { timeout: LIVE_WAIT_MS }).toBe('RUNNING');
    await expect.poll(() => node(2).getAttribute('data-status'), { timeout: LIVE_WAIT_MS }).toBe('FAILED');
    expect(await node(0).getAttribute('data-status')).toBe('SUCCEEDED');
    await expect.poll(() => node(3).getAttribute('data-status'), { timeout: LIVE_WAIT_MS }).toBe('SKIPPED');

    // the failed job's output, and why
    await node(2).click();
    const panel = page.getByTestId('job-panel');
    await expect.poll(() => panel.getAttribute('data-index'), { timeout: LIVE_WAIT_MS }).toBe('2');
    await expect.poll(() => panel.textContent(), { timeout: LIVE_WAIT_MS }).toMatch(/out of memory on shard 3/);
    expect(await panel.getByTestId('job-why').textContent()).toMatch(/exited with code 3/);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-workflows.png`, fullPage: true, animations: 'disabled' });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-workflows-dark.png`, fullPage: true, animations: 'disabled' });
    await page.emulateMedia({ colorScheme: 'light' });

    // the waiting side finishes: the workflow ends FAILED, live
    writeFileSync(join(dir, 'go'), '');
    await expect.poll(() => node(1).getAttribute('data-status'), { timeout: LIVE_WAIT_MS }).toBe('SUCCEEDED');
    await expect.poll(() => page.getByTestId('workflow').getAttribute('data-status'), { timeout: LIVE_WAIT_MS }).toBe('FAILED');
    expect(await page.evaluate(() => (window as unknown as { mark?: number }).mark)).toBe(42);

    // a second workflow, cancelled from the page: its running job's process ends
    const long = await call<WorkflowCreated>('POST', '/api/workflows', { user_id: user.id, name: 'long', jobs: [job('sleepy', [], 'main', 'sleep 60'), job('after', [0], 'main', 'true')] });
    const longId = long.body.workflow_id;
    await expect.poll(async () => (await call<Workflow>('GET', `/api/workflows/${longId}`)).body.jobs[0]!.status, { timeout: LIVE_WAIT_MS }).toBe('RUNNING');
    const workerId = (await call<Workflow>('GET', `/api/workflows/${longId}`)).body.jobs[0]!.worker_id!;
    const ref = s.app.workers.book.get(workerId)?.ref;
    const pid = ref?.kind === 'local' ? ref.pid : null;
    expect(pid).not.toBeNull();
    await page.getByTestId('workflows-back').click();
    await page.locator(`[data-testid="workflow-row"][data-workflow-id="${longId}"]`).getByTestId('workflow-link').click();
    await expect.poll(() => node(0).getAttribute('data-status'), { timeout: LIVE_WAIT_MS }).toBe('RUNNING');
    await page.getByTestId('workflow-cancel').click();
    await page.getByTestId('cancel-confirm').click();
    await expect.poll(() => page.getByTestId('workflow').getAttribute('data-status'), { timeout: LIVE_WAIT_MS }).toBe('CANCELLED');
    expect(await node(1).getAttribute('data-status')).toBe('CANCELLED');
    expect(() => process.kill(pid!, 0)).toThrow();
    expect(s.app.engine.listAllocations('active')).toEqual([]);
    expect(existsSync(join(dir, 'go'))).toBe(true);
    expect(errors).toEqual([]);
  }, 120_000);
});
