/**
 * --max-waiting-per-owner: an owner with that many requests waiting gets a 429 naming the limit for the next one,
 * whoever else submits meanwhile; one of theirs cancelled or granted, the next is taken again. Unset, no limit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.ts';

describe('--max-waiting-per-owner', () => {
  let s: TestServer | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });
  const post = async (body: unknown) => {
    const r = await fetch(`${s!.url}/api/requests`, { method: 'POST', headers: { authorization: `Bearer ${s!.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as { request?: { id: string; status: string }; allocation?: { id: string }; error?: { code: string; message: string; details?: unknown } } };
  };

  it('refuses the request beyond the limit with a 429, only for that owner, until one of theirs stops waiting', async () => {
    s = await startTestServer({ configure: (c) => {
      c.scheduler.maxWaitingPerOwner = 2;
      c.resources = { cpu: 1000, memoryMiB: 4096, gpus: [] };
    } });
    const held = await post({ owner: 'ana', resources: { cpu: 1000 } });
    expect(held.status).toBe(201);
    const w1 = await post({ owner: 'ana', resources: { cpu: 500 } });
    const w2 = await post({ owner: 'ana', resources: { cpu: 500 } });
    expect([w1.status, w2.status]).toEqual([202, 202]);
    const third = await post({ owner: 'ana', resources: { cpu: 500 } });
    expect(third.status).toBe(429);
    expect(third.body.error).toMatchObject({ code: 'too_many_waiting', details: { owner: 'ana', waiting: 2, limit: 2 } });
    expect(third.body.error!.message).toMatch(/--max-waiting-per-owner/);
    // another owner is not held back by ana's
    expect((await post({ owner: 'bob', resources: { cpu: 500 } })).status).toBe(202);
    // one of ana's cancelled: the next one is taken
    const cancel = await fetch(`${s.url}/api/requests/${w1.body.request!.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${s.token}` } });
    expect(cancel.status).toBe(200);
    expect((await post({ owner: 'ana', resources: { cpu: 500 } })).status).toBe(202);
    expect((await post({ owner: 'ana', resources: { cpu: 500 } })).status).toBe(429);
    // her allocation released: one of hers is granted (no longer waiting), so one more may wait
    const rel = await fetch(`${s.url}/api/allocations/${held.body.allocation!.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${s.token}` } });
    expect(rel.status).toBe(200);
    expect((await post({ owner: 'ana', resources: { cpu: 500 } })).status).toBe(202);
  });

  it('has no limit by default', async () => {
    s = await startTestServer({ configure: (c) => void (c.resources = { cpu: 100, memoryMiB: 1024, gpus: [] }) });
    expect((await post({ owner: 'ana', resources: { cpu: 100 } })).status).toBe(201);
    for (let i = 0; i < 30; i++) expect((await post({ owner: 'ana', resources: { cpu: 100 } })).status).toBe(202);
  });
});
