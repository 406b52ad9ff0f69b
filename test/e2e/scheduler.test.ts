/**
 * The scheduler views in headless Chromium against a real server: the real gpu source reading the nvidia-smi
 * stand-in (a two-GPU capture) and a declared inventory. Requests go through the page's form; what the server
 * pushes back shows up in the queue, the toasts, the GPU cards, the timeline and the tiles; the strategy view's
 * compare draws the inflation chart for those requests.
 * Screenshots go to test/artifacts/.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAND_IN, fixture } from '../stand-ins/gpu-fixtures.ts';
import { ARTIFACTS, LIVE_WAIT_MS, useE2e } from '../helpers/browser.ts';
import type { TestServer } from '../helpers/server.ts';

const e2e = useE2e();
let s: TestServer;
const FIXTURE_ENV = 'NVIDIA_SMI_FIXTURE';

beforeAll(async () => {
  process.env[FIXTURE_ENV] = fixture('pai-rtx-2080ti-x2-v10-410.73.xml');
  s = await e2e.serve({
    hostIntervalMs: 500,
    configure: (c) => {
      c.monitor.gpu = true;
      c.monitor.nvidiaSmi = STAND_IN;
      c.monitor.gpuIntervalMs = 500;
      c.resources = { cpu: 8000, memoryMiB: 16384, gpus: [{ index: 0, memoryMiB: 10989, name: 'GeForce RTX 2080 Ti' }, { index: 1, memoryMiB: 10989, name: 'GeForce RTX 2080 Ti' }] };
    },
  });
}, 60_000);
afterAll(() => {
  delete process.env[FIXTURE_ENV];
});

const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${s.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await res.json()) as T;
};

/** Fill the request form (empty strings clear a field) and submit it. */
async function submit(page: Page, fields: Partial<Record<'owner' | 'group' | 'priority' | 'gpus' | 'gpuMemMiB' | 'cpu' | 'memoryMiB', string>>) {
  const form = page.getByTestId('request-form');
  for (const [name, value] of Object.entries(fields)) await form.locator(`input[name="${name}"]`).fill(value);
  await form.getByTestId('submit-request').click();
}

describe('scheduler views (e2e)', () => {
  it('shows the GPUs of the capture, queues what does not fit with a row and a toast, and shows who holds what', async () => {
    const { page, errors } = await e2e.openDashboard(s, { path: '/gpus' });

    // GPU cards from the fixture
    const cards = page.getByTestId('gpu-card');
    await expect.poll(() => cards.count(), { timeout: LIVE_WAIT_MS, interval: 100 }).toBe(2);
    expect(await cards.locator('h3').allTextContents()).toEqual(['GeForce RTX 2080 Ti', 'GeForce RTX 2080 Ti']);
    expect(await cards.first().getByTestId('gpu-mem').textContent()).toMatch(/\/ 10\.7 GiB$/);
    await expect.poll(() => cards.first().getByTestId('gpu-holding').textContent(), { timeout: LIVE_WAIT_MS }).toContain('no allocation');

    // to the scheduler through the navigation, from the keyboard
    await page.getByTestId('nav-scheduler').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('request-form').waitFor();
    expect(new URL(page.url()).pathname).toBe('/scheduler');

    // what the API rejects is shown at the fields it names
    await submit(page, { owner: '', gpus: 'two' });
    await page.getByTestId('form-error').waitFor();
    const form = page.getByTestId('request-form');
    const gpusField = form.locator('.field', { has: page.locator('input[name="gpus"]') });
    const ownerField = form.locator('.field', { has: page.locator('input[name="owner"]') });
    expect(await gpusField.getByTestId('field-error').textContent()).toMatch(/number/i);
    expect(await ownerField.getByTestId('field-error').count()).toBe(1);
    expect(await form.locator('input[name="gpus"]').getAttribute('aria-invalid')).toBe('true');

    // ana takes both GPUs
    await submit(page, { owner: 'ana', gpus: '2' });
    await expect.poll(() => form.getByTestId('form-result').textContent(), { timeout: LIVE_WAIT_MS }).toContain('Granted');
    expect(await form.getByTestId('field-error').count()).toBe(0);

    // bo asks for one more: it waits; a row in the queue and a toast for the conflict
    await submit(page, { owner: 'bo', gpus: '1', priority: '5' });
    const row = page.locator('[data-testid="queue-row"][data-owner="bo"]');
    await row.waitFor({ timeout: LIVE_WAIT_MS });
    expect(await row.textContent()).toContain('1 GPU');
    expect(await row.getByTestId('severity').textContent()).toMatch(/^[1-5]$/);
    const toast = page.locator('[data-testid="toast"][data-kind="conflict_opened"]');
    await toast.waitFor({ timeout: LIVE_WAIT_MS });
    expect(await toast.textContent()).toMatch(/conflict opened/i);
    // its wait ticks
    const wait = row.getByTestId('queue-wait');
    const w0 = await wait.textContent();
    await expect.poll(() => wait.textContent(), { timeout: 5000, interval: 200 }).not.toBe(w0);

    // the timeline has ana on both GPUs; the allocation table names her
    await expect.poll(() => page.locator('[data-testid="timeline-bar"][data-owner="ana"]').count(), { timeout: LIVE_WAIT_MS }).toBe(2);
    expect(await page.locator('[data-testid="allocation-row"][data-owner="ana"]').count()).toBe(1);
    await page.mouse.move(0, 0);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-scheduler.png`, fullPage: true });
    // a phone: one card per row, nothing wider than the screen
    await page.setViewportSize({ width: 390, height: 844 });
    await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth), { timeout: 2000 }).toBeLessThanOrEqual(390);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-scheduler-phone.png`, fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });

    // every control of the view is reachable with Tab
    const reached = new Set<string>();
    await page.getByTestId('nav-scheduler').focus();
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press('Tab');
      reached.add(await page.evaluate(() => {
        const e = document.activeElement as HTMLElement | null;
        return e ? (e.dataset.testid ?? e.getAttribute('name') ?? e.getAttribute('aria-label') ?? e.textContent?.trim() ?? e.tagName) : '';
      }));
    }
    expect([...reached]).toEqual(expect.arrayContaining(['FIFO', 'Priority', 'Resolve with strategy', 'resolve', 'cancel', 'owner', 'gpus', 'preemptible', 'submit-request', 'timeline-bar', 'release']));

    // the toast links to the request it is about, and goes when dismissed
    await toast.getByRole('link').click();
    expect(new URL(page.url()).hash).toMatch(/^#request-/);
    expect(await toast.count()).toBe(0);

    // the GPU cards say who holds them
    await page.getByTestId('nav-gpus').click();
    await expect.poll(() => page.locator('[data-testid="gpu-holder"][data-owner="ana"]').count(), { timeout: LIVE_WAIT_MS }).toBe(2);
    expect(await cards.first().getByTestId('time-left').textContent()).toMatch(/^\d+m \d\ds$/);

    // the overview counts the queue and the open conflict
    await page.getByTestId('nav-overview').click();
    const tile = (id: string) => page.getByTestId(`tile-${id}`).getByTestId('tile-figure');
    await expect.poll(() => tile('queue').textContent(), { timeout: LIVE_WAIT_MS }).toBe('1');
    expect(await tile('conflicts').textContent()).toBe('1');
    expect(await page.locator('[data-testid="tile-gpu"]').count()).toBe(2);
    await page.getByTestId('latest-events').getByTestId('feed-entry').first().waitFor();
    await page.screenshot({ path: `${ARTIFACTS}dashboard-overview.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(300); // the chart redraws in the dark palette
    await page.screenshot({ path: `${ARTIFACTS}dashboard-overview-dark.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });

    // cancel bo's request from its row
    await page.getByTestId('nav-scheduler').click();
    await row.getByTestId('cancel').click();
    await expect.poll(() => row.count(), { timeout: LIVE_WAIT_MS }).toBe(0);
    expect(await page.getByTestId('queue-empty').textContent()).toContain('Nothing waits');

    // the events view lists it all, newest first
    await page.getByTestId('nav-events').click();
    const kinds = await page.getByTestId('feed-entry').evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
    expect(kinds).toEqual(expect.arrayContaining(['request_cancelled', 'conflict_opened', 'request_queued', 'allocation_granted']));
    expect(kinds.indexOf('request_cancelled')).toBeLessThan(kinds.indexOf('request_queued'));
    await page.screenshot({ path: `${ARTIFACTS}dashboard-events.png`, fullPage: true });

    await api('DELETE', `/api/allocations/${(await api<{ allocations: { id: string }[] }>('GET', '/api/allocations')).allocations[0]!.id}`);
    expect(errors).toEqual([]);
  }, 90_000);

  it('shows on a page opened afterwards who held each GPU within the hour, ended allocations too, with their owners', async () => {
    // ana's allocation was released at the end of the test above, before this page opened
    const { page, errors } = await e2e.openDashboard(s, { path: '/scheduler' });
    const ended = page.locator('[data-testid="timeline-bar"][data-owner="ana"]');
    await expect.poll(() => ended.count(), { timeout: LIVE_WAIT_MS }).toBe(2);
    expect(await ended.evaluateAll((els) => els.map((e) => e.classList.contains('ended')))).toEqual([true, true]);
    expect(await ended.first().getAttribute('title')).toMatch(/\(released\)$/);
    expect(await page.getByTestId('allocation-row').count()).toBe(0);
    // the owners came with GET /api/allocations?state=all: no request was asked for one by one
    const asked = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname + new URL(e.name).search));
    expect(asked.some((u) => u.startsWith('/api/allocations?state=all&sinceMs='))).toBe(true);
    expect(asked.filter((u) => u.startsWith('/api/requests/'))).toEqual([]);
    expect(errors).toEqual([]);
  }, 60_000);

  it('draws the inflation chart of a compare run for the requests made above', async () => {
    const { page, errors } = await e2e.openDashboard(s, { path: '/strategy' });
    await page.getByTestId('compare-run').click();
    const chart = page.getByTestId('inflation-chart');
    await chart.locator('svg').waitFor({ timeout: LIVE_WAIT_MS });
    expect(await chart.locator('polyline').count()).toBe(8);
    expect(await chart.locator('g[data-series] text').allTextContents()).toEqual(expect.arrayContaining(['fgd', 'best_fit', 'load_balancing']));
    expect(await page.getByTestId('inflation-summary').textContent()).toMatch(/1 node,\s+2 GPUs/);
    // the figure fits the panel
    const box = (await chart.locator('svg').boundingBox())!;
    expect(box.width).toBeGreaterThan(300);
    expect(box.width).toBeLessThanOrEqual((await page.getByTestId('compare').boundingBox())!.width);
    await chart.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${ARTIFACTS}dashboard-strategy-inflation.png`, fullPage: true });
    expect(errors).toEqual([]);
  }, 60_000);

  it('charts any series over the last hour and zooms', async () => {
    const { page, errors } = await e2e.openDashboard(s, { path: '/history?series=cpu.total,gpu.0.util,gpu.0.temp&range=1h' });
    const chart = page.getByTestId('history-chart');
    await chart.locator('canvas').first().waitFor({ timeout: LIVE_WAIT_MS });
    // the newest part is at 1 s; before it, a minute's roll-up already stored when the run crossed a minute boundary
    expect(await page.getByTestId('history-meta').textContent()).toMatch(/one point per 1 s|then per 1 s/);
    // drag across the middle of the plot: zoomed in, finer window
    const over = chart.locator('.u-over');
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await expect.poll(() => page.getByTestId('history-meta').textContent(), { timeout: LIVE_WAIT_MS }).toContain('zoomed');
    expect(await page.getByTestId('zoom-reset').isEnabled()).toBe(true);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-history.png`, fullPage: true });
    expect(errors).toEqual([]);
  }, 60_000);
});
