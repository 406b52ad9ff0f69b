/**
 * The dashboard in headless Chromium against a real server (port 0, real host sampling at a fast interval).
 * Screenshots go to test/artifacts/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers/server.ts';
import { ARTIFACTS, launchBrowser } from '../helpers/browser.ts';

const LIVE_WAIT_MS = 15_000;
const PERCENT = /^\d{1,3}\.\d %$/;

let server: Awaited<ReturnType<typeof startTestServer>> | undefined;
let browser: Browser | undefined;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  server = await startTestServer({ hostIntervalMs: 250 });
  browser = await launchBrowser();
}, 120_000);

afterEach(async () => {
  for (const c of contexts.splice(0)) await c.close();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** A fresh browser profile (no cookie), with uncaught page errors collected. */
async function openPage(viewport = { width: 1280, height: 900 }): Promise<{ page: Page; errors: string[] }> {
  const context = await browser!.newContext({ viewport });
  contexts.push(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  return { page, errors };
}

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

  it('reconnects by itself after a server restart and carries on past its last event id', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-e2e-'));
    let own = await startTestServer({ hostIntervalMs: 250, dataDir });
    const port = Number(new URL(own.url).port);
    try {
      const { page, errors } = await openPage();
      await page.goto(`${own.url}/?token=${encodeURIComponent(own.token)}`);
      const conn = page.getByTestId('connection');
      await expect.poll(() => conn.textContent(), { timeout: LIVE_WAIT_MS, interval: 100 }).toBe('WebSocket live');
      await expect.poll(async () => Number(await conn.getAttribute('data-last-event-id')), { timeout: LIVE_WAIT_MS }).toBeGreaterThan(0);

      await own.close();
      await expect.poll(() => conn.textContent(), { timeout: LIVE_WAIT_MS, interval: 50 }).toMatch(/^(reconnecting \(in \d+s\)|connecting)$/);
      const before = Number(await conn.getAttribute('data-last-event-id'));
      await page.screenshot({ path: `${ARTIFACTS}dashboard-reconnecting.png` });

      // same data dir (token, event ids) and port: the page finds it again by itself
      own = await startTestServer({ hostIntervalMs: 250, dataDir, configure: (c) => void (c.port = port) });
      await expect.poll(() => conn.textContent(), { timeout: 40_000, interval: 100 }).toMatch(/^(WebSocket live|SSE fallback)$/);
      await expect.poll(async () => Number(await conn.getAttribute('data-last-event-id')), { timeout: LIVE_WAIT_MS }).toBeGreaterThan(before);
      const first = (await textOf(page, 'cpu-total'))!.trim();
      await expect.poll(async () => (await textOf(page, 'cpu-total'))?.trim(), { timeout: LIVE_WAIT_MS, interval: 100 }).not.toBe(first);
      expect(errors).toEqual([]);
    } finally {
      await own.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

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
