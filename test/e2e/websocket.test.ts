/**
 * The specification's browser client, unchanged: a page opens `new WebSocket('ws://…/api/resource-scheduler/push/ws')`
 * and its `onmessage` reads `message.type` and `message.data`; it receives `resource_status`, `hint` and `conflict`
 * from a real server (a granted request raises a lease hint, a second one waits and opens a conflict).
 */
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let browser: Browser;
let s: TestServer;
beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  s = await startTestServer({
    hostIntervalMs: 200,
    configure: (c) => {
      c.resources = { cpu: 8000, memoryMiB: 16384, gpus: [{ index: 0, memoryMiB: 16384, name: 'A' }] };
      c.hints.leaseWarningMs = 86_400_000; // every lease is about to expire: a hint at the next evaluation
    },
  });
});
afterAll(async () => {
  await browser?.close();
  await s?.close();
});

const submit = (owner: string) => fetch(`${s.url}/api/requests`, {
  method: 'POST',
  headers: { Authorization: `Bearer ${s.token}`, 'Content-Type': 'application/json' },
  body: JSON.stringify({ owner, resources: { gpus: 1 } }),
});

describe('plain WebSocket in Chromium (e2e)', () => {
  it('delivers resource_status, hint and conflict to ws.onmessage with message.type and message.data', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      const url = `${s.url.replace(/^http/, 'ws')}/api/resource-scheduler/push/ws?access_token=${s.token}`;
      await page.evaluate((u) => new Promise<void>((resolve, reject) => {
        const w = window as unknown as { got: { type: string; data: unknown }[] };
        w.got = [];
        const ws = new WebSocket(u);
        ws.onmessage = (event) => {
          const message = JSON.parse(event.data as string) as { type: string; data: unknown };
          w.got.push({ type: message.type, data: message.data });
        };
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error('WebSocket error'));
      }), url);
      expect((await submit('ana')).status).toBe(201);
      expect((await submit('bo')).status).toBe(202);
      await page.waitForFunction(() => {
        const types = new Set((window as unknown as { got: { type: string }[] }).got.map((m) => m.type));
        return types.has('resource_status') && types.has('hint') && types.has('conflict');
      }, undefined, { timeout: 15_000 });
      const got = await page.evaluate(() => (window as unknown as { got: { type: string; data: Record<string, unknown> }[] }).got);
      expect(got.find((m) => m.type === 'resource_status')!.data).toMatchObject({ node: expect.any(String), host: expect.any(Object) });
      expect(got.find((m) => m.type === 'hint')!.data).toMatchObject({ kind: 'hint_raised', hint: { title: expect.any(String) } });
      expect(got.find((m) => m.type === 'conflict')!.data).toMatchObject({ kind: 'conflict_opened', conflict: { resource: 'gpu' } });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 30_000);
});
