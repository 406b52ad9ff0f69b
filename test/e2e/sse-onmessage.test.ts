/**
 * A page of the resource-scheduler specification's kind in Chromium: `new EventSource(url).onmessage` on
 * /api/resource-scheduler/push/sse (the token by ?access_token=) receives resource_status, hint and conflict
 * messages, each with `type` and `data` in the envelope {id, type, data, ts} and the frame's id as lastEventId.
 */
import { describe, expect, it } from 'vitest';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { LIVE_WAIT_MS, useE2e } from '../helpers/browser.ts';

const e2e = useE2e();

/** The page: what a user of the specification writes, nothing of Arbiter's own client. */
const page = (token: string) => `<!doctype html><html><body><ul id="log"></ul><script>
  window.messages = [];
  const eventSource = new EventSource('/api/resource-scheduler/push/sse?access_token=${encodeURIComponent(token)}');
  eventSource.onmessage = (event) => {
    const message = JSON.parse(event.data);
    window.messages.push({ id: message.id, type: message.type, data: message.data, ts: message.ts, lastEventId: event.lastEventId });
    const li = document.createElement('li');
    li.textContent = message.type;
    document.getElementById('log').appendChild(li);
  };
</script></body></html>`;

type Seen = { id: number; type: string; data: Record<string, unknown>; ts: number; lastEventId: string };

describe('EventSource.onmessage on push/sse (Chromium)', () => {
  it('receives resource_status, hint and conflict messages with type and data', async () => {
    const s = await e2e.serve({ hostSource: new FakeHostSource(), hostIntervalMs: 500, configure: (c) => void (c.hints.longWaitMs = 1000) });
    const { page: p, errors } = await e2e.openPage();
    // the page is served from the server's origin (EventSource is same-origin here), by the test
    await p.route(`${s.url}/compat/page.html`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: page(s.token) }));
    await p.goto(`${s.url}/compat/page.html`);
    const seen = () => p.evaluate(() => (window as unknown as { messages: Seen[] }).messages);
    await expect.poll(async () => (await seen()).map((m) => m.type), { timeout: LIVE_WAIT_MS, interval: 100 }).toContain('resource_status');

    // a request that waits: a conflict now, a long-wait hint a second later
    const allocate = (task_id: string) => fetch(`${s.url}/api/resource-scheduler/allocate`, {
      method: 'POST', headers: { Authorization: `Bearer ${s.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ task_id, resource_type: 'cpu', requested_amount: 100 }),
    });
    expect((await allocate('first')).status).toBe(201);
    expect((await allocate('second')).status).toBe(202);
    await expect.poll(async () => new Set((await seen()).map((m) => m.type)), { timeout: LIVE_WAIT_MS, interval: 100 })
      .toEqual(new Set(['resource_status', 'scheduling_update', 'conflict', 'hint']));

    const messages = await seen();
    for (const m of messages) {
      expect(m.lastEventId).toBe(String(m.id));
      expect(typeof m.ts).toBe('number');
      expect(m.data).toBeTypeOf('object');
    }
    const conflict = messages.find((m) => m.type === 'conflict')!;
    expect(conflict.data).toMatchObject({ kind: 'conflict_opened', conflict: { type: expect.any(String) } });
    expect(messages.find((m) => m.type === 'hint')!.data).toMatchObject({ kind: expect.any(String) });
    expect(messages.find((m) => m.type === 'resource_status')!.data).toMatchObject({ host: { cpu: { cores: 2 } } });
    // the page's own list took every message (read in one turn of the page, as more keep coming)
    expect(await p.evaluate(() => document.querySelectorAll('#log li').length === (window as unknown as { messages: Seen[] }).messages.length)).toBe(true);
    expect(errors).toEqual([]);
  }, 60_000);
});
