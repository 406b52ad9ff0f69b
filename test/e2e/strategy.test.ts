/**
 * The strategy panel in headless Chromium against a real server: a click switches the server's strategy
 * (GET /api/strategy says so), the generated config form changes its config, the live table and the compare
 * table come from the server. Screenshots go to test/artifacts/.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { StrategyState } from '../../shared/strategy.ts';
import type { TestServer } from '../helpers/server.ts';
import { ARTIFACTS, LIVE_WAIT_MS, useE2e } from '../helpers/browser.ts';

const e2e = useE2e();
let s: TestServer;

beforeAll(async () => {
  s = await e2e.serve({
    hostIntervalMs: 1000,
    configure: (c) => {
      c.resources = { cpu: 8000, memoryMiB: 16384, gpus: [{ index: 0, memoryMiB: 16384, name: 'A' }, { index: 1, memoryMiB: 16384, name: 'B' }] };
    },
  });
}, 60_000);

async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${s.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}
const strategy = async () => (await call<StrategyState>('GET', '/api/strategy')).body;

describe('strategy panel (e2e)', () => {
  it('switches the server’s strategy with one click, edits its config through the generated form, and compares', async () => {
    // something to replay and to measure
    expect((await call('POST', '/api/requests', { owner: 'ana', resources: { gpus: 2 } })).status).toBe(201);
    expect((await call('POST', '/api/requests', { owner: 'bo', resources: { gpus: 1 } })).status).toBe(202);

    const { page, errors } = await e2e.openDashboard(s, { path: '/strategy' });
    const card = (name: string) => page.locator(`[data-testid="strategy-card"][data-strategy="${name}"]`);
    await expect.poll(() => page.getByTestId('strategy-card').count(), { timeout: LIVE_WAIT_MS }).toBe(6);
    const before = await strategy();
    // the header fills from its own fetch, after the cards may have come
    await expect.poll(() => page.getByTestId('current-strategy').textContent(), { timeout: LIVE_WAIT_MS }).toBe(before.name);

    const target = before.name === 'fair_sharing' ? 'priority_based' : 'fair_sharing';
    await card(target).getByTestId('switch').click();
    await expect.poll(async () => (await strategy()).name, { timeout: LIVE_WAIT_MS }).toBe(target);
    // pushed back to the page: header and panel follow
    await expect.poll(() => page.getByTestId('current-strategy').textContent(), { timeout: LIVE_WAIT_MS }).toBe(target);
    expect(await card(target).getAttribute('class')).toContain('current');

    // its config, through the form generated from its JSON Schema
    await card(target).getByTestId('configure').click();
    const form = page.getByTestId('config-form');
    const halfLife = form.locator('input[data-path="halfLifeMs"]');
    const old = Number(await halfLife.inputValue());
    expect(old).toBeGreaterThan(0);
    await halfLife.fill(String(old * 2));
    await form.getByTestId('save-config').click();
    await expect.poll(async () => (await strategy()).config.halfLifeMs, { timeout: LIVE_WAIT_MS }).toBe(old * 2);
    await expect.poll(() => form.count(), { timeout: LIVE_WAIT_MS }).toBe(0);
    expect(await page.getByTestId('config-summary').textContent()).toContain(`halfLifeMs${old * 2}`);

    // a value the server refuses comes back at its field
    await card(target).getByTestId('configure').click();
    await halfLife.fill('-5');
    await form.getByTestId('save-config').click();
    await expect.poll(() => form.locator('[data-testid="config-field"][data-path="halfLifeMs"] [data-testid="field-error"]').count(), { timeout: LIVE_WAIT_MS }).toBe(1);
    expect((await strategy()).config.halfLifeMs).toBe(old * 2);
    await form.getByRole('button', { name: 'Close' }).click();

    // live figures per strategy, and the replay of the same requests through each
    await expect.poll(() => page.getByTestId('performance-table').getByTestId('perf-row').count(), { timeout: LIVE_WAIT_MS }).toBeGreaterThan(0);
    await page.getByTestId('compare-run').click();
    await expect.poll(() => page.getByTestId('compare-table').getByTestId('perf-row').count(), { timeout: 60_000 }).toBeGreaterThan(1);
    expect(await page.getByTestId('compare-summary').textContent()).toMatch(/\d+ requests from/);
    await page.screenshot({ path: `${ARTIFACTS}dashboard-strategy.png`, fullPage: true });
    expect(errors).toEqual([]);
  }, 120_000);

  it('with a separate admin token, shows the plain token’s session the strategies without switches', async () => {
    const admin = 'admin-0123456789abcdef';
    const own = await e2e.serve({ hostIntervalMs: 1000, configure: (c) => void (c.adminToken = admin) });
    const { page, errors } = await e2e.openDashboard(own, { path: '/strategy' });
    await page.getByTestId('read-only').waitFor({ timeout: LIVE_WAIT_MS });
    await expect.poll(() => page.getByTestId('switch').count(), { timeout: LIVE_WAIT_MS }).toBe(5);
    expect(await page.getByTestId('switch').evaluateAll((bs) => bs.every((b) => (b as HTMLButtonElement).disabled))).toBe(true);
    // the admin token's session may
    const adminPage = await e2e.openDashboard({ url: own.url, token: admin }, { path: '/strategy' });
    await expect.poll(() => adminPage.page.getByTestId('switch').count(), { timeout: LIVE_WAIT_MS }).toBe(5);
    expect(await adminPage.page.getByTestId('read-only').count()).toBe(0);
    expect(await adminPage.page.getByTestId('switch').first().isEnabled()).toBe(true);
    expect(errors).toEqual([]);
    expect(adminPage.errors).toEqual([]);
  }, 60_000);
});
