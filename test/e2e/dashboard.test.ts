/**
 * The dashboard in headless Chromium against a real server (port 0, real host sampling at a fast interval).
 * Screenshots go to test/artifacts/.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.ts';
import { ARTIFACTS, LIVE_WAIT_MS, useE2e } from '../helpers/browser.ts';

const PERCENT = /^\d{1,3}\.\d %$/;

const e2e = useE2e();
const openPage = e2e.openPage;
let server: TestServer | undefined;

beforeAll(async () => {
  server = await e2e.serve({ hostIntervalMs: 250 });
}, 120_000);

const textOf = (page: Page, testId: string) => page.getByTestId(testId).first().textContent({ timeout: 2000 });

describe('dashboard (e2e)', () => {
  it('goes live over the WebSocket and updates the CPU figures between samples', async () => {
    const { url, token } = server!;
    const { page, errors } = await openPage();

    await page.goto(`${url}/?token=${encodeURIComponent(token)}`);
    // the server set the cookie and redirected to a URL without the token
    expect(new URL(page.url()).searchParams.has('token')).toBe(false);

    await expect.poll(() => textOf(page, 'connection'), { timeout: LIVE_WAIT_MS, interval: 100 }).toContain('WebSocket live');

    await expect.poll(async () => (await textOf(page, 'cpu-total'))?.trim(), { timeout: LIVE_WAIT_MS, interval: 100 }).toMatch(PERCENT);
    const first = (await textOf(page, 'cpu-total'))!.trim();
    // a later sample shows a different figure (polled, not slept)
    await expect
      .poll(async () => (await textOf(page, 'cpu-total'))?.trim(), { timeout: LIVE_WAIT_MS, interval: 100 })
      .not.toBe(first);
    expect((await textOf(page, 'cpu-total'))!.trim()).toMatch(PERCENT);

    // live figures do not move the layout: no layout shift while samples arrive
    await page.evaluate(() => {
      const w = window as unknown as { shift: number };
      w.shift = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries() as unknown as { value: number; hadRecentInput: boolean }[]) if (!e.hadRecentInput) w.shift += e.value;
      }).observe({ type: 'layout-shift' });
    });
    const conn = page.getByTestId('connection');
    const seen = Number(await conn.getAttribute('data-last-event-id'));
    await expect.poll(async () => Number(await conn.getAttribute('data-last-event-id')), { timeout: LIVE_WAIT_MS }).toBeGreaterThan(seen + 8);
    expect(await page.evaluate(() => (window as unknown as { shift: number }).shift)).toBeLessThan(0.001);

    const cores = page.getByTestId('cpu-core');
    expect(await cores.count()).toBeGreaterThan(0);
    expect(await cores.first().getAttribute('aria-valuenow')).toMatch(/^\d+$/);
    expect(await textOf(page, 'memory')).toMatch(/\d+\.\d %/);
    await page.getByTestId('network-chart').locator('canvas').first().waitFor({ timeout: LIVE_WAIT_MS });
    expect(await textOf(page, 'connection')).toContain('WebSocket live');

    await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });
    // dark theme follows prefers-color-scheme, chart included
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(300); // let the chart redraw with the dark palette before the picture
    await page.screenshot({ path: `${ARTIFACTS}dashboard-dark.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    // a phone-sized view, for the record
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-phone.png`, fullPage: true });
    expect(errors).toEqual([]);
  }, 60_000);

  it('falls back to SSE when the WebSocket cannot connect', async () => {
    const { url, token } = server!;
    const { page, errors } = await openPage();
    // every WebSocket to /socket.io is refused; SSE (plain HTTP) still works
    await page.routeWebSocket(/\/socket\.io\//, (ws) => ws.close({ code: 1011, reason: 'blocked by test' }));

    await page.goto(`${url}/?token=${encodeURIComponent(token)}`);
    await expect.poll(() => textOf(page, 'connection'), { timeout: LIVE_WAIT_MS, interval: 100 }).toContain('SSE fallback');

    await expect.poll(async () => (await textOf(page, 'cpu-total'))?.trim(), { timeout: LIVE_WAIT_MS, interval: 100 }).toMatch(PERCENT);
    const first = (await textOf(page, 'cpu-total'))!.trim();
    await expect
      .poll(async () => (await textOf(page, 'cpu-total'))?.trim(), { timeout: LIVE_WAIT_MS, interval: 100 })
      .not.toBe(first);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-sse.png` });
    expect(errors).toEqual([]);
  }, 60_000);

  it('without the token cookie, says how to authenticate', async () => {
    const { url } = server!;
    const { page, errors } = await openPage();
    const res = await page.goto(`${url}/`);
    expect(res?.status()).toBe(200); // the page itself is public; the data is not

    await expect
      .poll(async () => (await page.textContent('body')) ?? '', { timeout: LIVE_WAIT_MS, interval: 100 })
      .toContain('open the URL printed at start-up (with ?token=…)');
    expect(await textOf(page, 'connection')).toContain('not authenticated');
    expect(await page.getByTestId('cpu-total').count()).toBe(0);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-unauthenticated.png` });
    expect(errors).toEqual([]);
  }, 60_000);
});
