/**
 * A server killed and started again under an open dashboard: the page says "reconnecting" with its countdown,
 * finds the server by itself (no reload), resumes from the last event id it saw, and its event feed has every
 * scheduling, conflict and hint event the server published — also those from while the page was away.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSse } from '../helpers/sse.ts';
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/server.ts';
import { ARTIFACTS, LIVE_WAIT_MS, useE2e } from '../helpers/browser.ts';

const e2e = useE2e();

const inventory: TestServerOptions['configure'] = (c) => {
  c.resources = { cpu: 8000, memoryMiB: 16384, gpus: [{ index: 0, memoryMiB: 16384, name: 'A' }] };
};

async function submit(s: TestServer, owner: string, gpus: number): Promise<number> {
  const res = await fetch(`${s.url}/api/requests`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${s.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ owner, resources: { gpus } }),
  });
  return res.status;
}

/** Every id the server has for these types after `after` (its archive, over SSE), up to and including `until`. */
async function serverIds(s: TestServer, after: number, until: number): Promise<number[]> {
  const sse = await openSse(`${s.url}/api/events?types=scheduling_update,conflict,hint&lastEventId=${after}&access_token=${s.token}`);
  try {
    const frames = await sse.until((f) => f.some((x) => Number(x.id) >= until), 10_000);
    return frames.filter((f) => f.id && f.event !== 'replay_gap').map((f) => Number(f.id)).filter((id) => id <= until);
  } finally {
    sse.close();
  }
}

describe('server restart (e2e)', () => {
  it('shows reconnecting, goes live again without a reload, and the event feed has no gap', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-e2e-'));
    let own = await startTestServer({ hostIntervalMs: 250, dataDir, configure: inventory });
    const port = Number(new URL(own.url).port);
    try {
      const { page, errors } = await e2e.openDashboard(own, { path: '/events' });
      const conn = page.getByTestId('connection');
      await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42)); // gone if the page reloads

      expect(await submit(own, 'ana', 1)).toBe(201);
      expect(await submit(own, 'bo', 1)).toBe(202);
      const feedIds = () => page.getByTestId('feed-entry').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-event-id'))).filter((n) => n > 0));
      await expect.poll(async () => (await feedIds()).length, { timeout: LIVE_WAIT_MS }).toBeGreaterThanOrEqual(4);

      await own.close();
      await expect.poll(() => conn.textContent(), { timeout: LIVE_WAIT_MS, interval: 50 }).toMatch(/^(reconnecting \(in \d+s\)|connecting)$/);
      await expect.poll(() => conn.getAttribute('data-state'), { timeout: LIVE_WAIT_MS, interval: 50 }).toBe('reconnecting');
      expect(await conn.textContent()).toMatch(/^reconnecting \(in \d+s\)$/);
      const before = Number(await conn.getAttribute('data-last-event-id'));
      await page.screenshot({ path: `${ARTIFACTS}dashboard-reconnecting.png` });

      // same data dir (token, event ids, database) and port; events published before the page is back
      own = await startTestServer({ hostIntervalMs: 250, dataDir, configure: (c) => { inventory(c); c.port = port; } });
      expect(await submit(own, 'cy', 1)).toBe(202);
      // live again on either transport: after two failed WebSocket attempts the page tries SSE, and goes back to the
      // WebSocket only at its next probe (15 s), so which one it is depends on how long the restart took
      await expect.poll(() => conn.textContent(), { timeout: 40_000, interval: 100 }).toMatch(/^(WebSocket|SSE) live$/);
      await expect.poll(async () => Number(await conn.getAttribute('data-last-event-id')), { timeout: LIVE_WAIT_MS }).toBeGreaterThan(before);
      expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);

      // every event the server has since the page's first one is in the feed, and nothing else; no gap entry
      await expect.poll(async () => (await page.locator('[data-testid="feed-entry"][data-kind="request_queued"]').count()), { timeout: LIVE_WAIT_MS }).toBe(2);
      const shown = (await feedIds()).sort((a, b) => a - b);
      const expected = await serverIds(own, shown[0]! - 1, shown.at(-1)!);
      expect(shown).toEqual(expected);
      expect(await page.locator('[data-testid="feed-entry"][data-kind="replay_gap"]').count()).toBe(0);
      expect(await page.getByTestId('feed-count').textContent()).not.toContain('gap');
      expect(errors).toEqual([]);
    } finally {
      await own.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
