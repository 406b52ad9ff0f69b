import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AllocationSchema, ConflictSchema, RequestSchema } from '../../shared/scheduler.ts';
import { AllocationsResponseSchema, ErrorBodySchema } from '../../shared/api.ts';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { openSse, type SseConnection } from '../helpers/sse.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let s: TestServer;
let events: SseConnection;
beforeAll(async () => {
  s = await startTestServer({
    hostSource: new FakeHostSource(),
    hostIntervalMs: 3_600_000,
    configure: (c) => {
      c.resources = { cpu: 8000, memoryMiB: 16384, gpus: [{ index: 0, memoryMiB: 16384, name: 'A' }, { index: 1, memoryMiB: 16384, name: 'B' }] };
    },
  });
  events = await openSse(`${s.url}/api/events?types=scheduling_update,conflict&access_token=${s.token}`);
});
afterAll(async () => {
  events.close();
  await s.close();
});

const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(`${s.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${s.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
const problem = async (r: Response) => ErrorBodySchema.parse(await r.json()).error;
const kinds = () => events.frames.filter((f) => f.data).map((f) => `${f.event}:${(JSON.parse(f.data!) as { data: { kind: string } }).data.kind}`);

describe('scheduler over REST and push', () => {
  let allocA: string;
  let queuedId: string;

  it('grants what fits with 201 and a lease, pushing scheduling_update', async () => {
    const r = await call('POST', '/api/requests', { owner: 'ana', resources: { gpus: 2, cpu: 1000 } });
    expect(r.status).toBe(201);
    const body = (await r.json()) as { request: unknown; allocation: unknown };
    const req = RequestSchema.parse(body.request);
    const alloc = AllocationSchema.parse(body.allocation);
    expect(req.status).toBe('granted');
    expect(alloc.gpuIndices).toEqual([0, 1]);
    expect(alloc.leaseExpiresAt).toBeGreaterThan(alloc.grantedAt);
    allocA = alloc.id;
    await events.until(() => kinds().includes('scheduling_update:allocation_granted'));
  });

  it('queues what does not fit with 202 and a conflict naming the holder, pushing it', async () => {
    const r = await call('POST', '/api/requests', { owner: 'bo', priority: 5, resources: { gpus: 1 } });
    expect(r.status).toBe(202);
    const body = (await r.json()) as { request: unknown; conflict: unknown };
    const conflict = ConflictSchema.parse(body.conflict);
    queuedId = RequestSchema.parse(body.request).id;
    expect(conflict.type).toBe('priority_conflict'); // only lower-priority holders are in its way
    expect(JSON.stringify(conflict.holders)).toContain(allocA);
    await events.until(() => kinds().includes('conflict:conflict_opened'));
    const queue = (await (await call('GET', '/api/queue?order=priority')).json()) as { total: number; items: { request: { id: string } }[] };
    expect(queue.total).toBe(1);
    expect(queue.items[0]!.request.id).toBe(queuedId);
    const open = (await (await call('GET', '/api/conflicts?status=open')).json()) as { items: { id: string }[] };
    expect(open.items).toHaveLength(1);
    expect((await call('POST', `/api/conflicts/${open.items[0]!.id}/resolve`)).status).toBe(409);
  });

  it('grants the queued request when the holder releases, and pushes it', async () => {
    expect((await call('DELETE', `/api/allocations/${allocA}`)).status).toBe(200);
    await events.until(() => kinds().includes('conflict:conflict_resolved'));
    const req = RequestSchema.parse(await (await call('GET', `/api/requests/${queuedId}`)).json());
    expect(req.status).toBe('granted');
    expect(kinds()).toEqual(expect.arrayContaining(['scheduling_update:allocation_released', 'scheduling_update:request_granted']));
    const ids = events.frames.filter((f) => f.id).map((f) => Number(f.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  });

  it('lists active allocations with their owners, and with state=all also those that ended since sinceMs', async () => {
    const active = AllocationsResponseSchema.parse(await (await call('GET', '/api/allocations')).json()).allocations;
    expect(active.every((a) => a.state === 'active')).toBe(true);
    expect(active.find((a) => a.requestId === queuedId)?.owner).toBe('bo');
    expect(active.some((a) => a.id === allocA)).toBe(false);
    const all = AllocationsResponseSchema.parse(await (await call('GET', '/api/allocations?state=all')).json()).allocations;
    expect(all.find((a) => a.id === allocA)).toMatchObject({ state: 'released', owner: 'ana' });
    const later = AllocationsResponseSchema.parse(await (await call('GET', `/api/allocations?state=all&sinceMs=${Date.now() + 60_000}`)).json()).allocations;
    expect(later.some((a) => a.id === allocA)).toBe(false);
    const bad = await call('GET', '/api/allocations?state=ended');
    expect(bad.status).toBe(400);
    expect(ErrorBodySchema.parse(await bad.json()).error.message).toContain('state');
  });

  it('renews a lease and returns the same result for a retried Idempotency-Key', async () => {
    const a = await call('POST', '/api/requests', { owner: 'cy', resources: { cpu: 500 } }, { 'Idempotency-Key': 'k-1' });
    const b = await call('POST', '/api/requests', { owner: 'cy', resources: { cpu: 500 } }, { 'Idempotency-Key': 'k-1' });
    const ra = (await a.json()) as { request: { id: string }; allocation: { id: string; leaseExpiresAt: number } };
    const rb = (await b.json()) as { request: { id: string }; replayed?: boolean };
    expect(rb.request.id).toBe(ra.request.id);
    expect(rb.replayed).toBe(true);
    const renewed = AllocationSchema.parse(await (await call('POST', `/api/allocations/${ra.allocation.id}/renew`, { leaseMs: 3_600_000 })).json());
    expect(renewed.leaseExpiresAt).toBeGreaterThan(ra.allocation.leaseExpiresAt);
  });

  it('answers 422 for a request that can never fit, 404 for unknown ids, 409 for a wrong state', async () => {
    const never = await call('POST', '/api/requests', { owner: 'dd', resources: { gpus: 3 } });
    expect(never.status).toBe(422);
    expect(ErrorBodySchema.parse(await never.json()).error.message).toMatch(/3 whole GPU/);
    expect((await call('GET', '/api/requests/nope')).status).toBe(404);
    expect((await call('DELETE', '/api/allocations/nope')).status).toBe(404);
    expect((await call('DELETE', `/api/requests/${queuedId}`)).status).toBe(409);
  });

  it('answers bad input with 4xx JSON naming the field, and keeps serving', async () => {
    const cases: [unknown, number, RegExp][] = [
      [{ owner: 'x', resources: { cpu: 'lots' } }, 400, /resources\.cpu/],
      [{ owner: 'x', resources: { cpu: -5 } }, 400, /resources\.cpu/],
      [{ owner: 'x', resources: { cpu: 1 }, colour: 'red' }, 400, /colour/],
      [{ owner: 'x', resources: { cpu: 1e30 } }, 400, /resources\.cpu/],
      [{ resources: { cpu: 1 } }, 400, /owner/],
      ['{"owner": ', 400, /JSON|json/],
      [`{"owner":"x","pad":"${'x'.repeat(10 * 1024 * 1024)}"}`, 413, /too large/i],
    ];
    for (const [body, status, message] of cases) {
      const r = await call('POST', '/api/requests', body);
      expect(r.status, JSON.stringify(body).slice(0, 60)).toBe(status);
      expect(ErrorBodySchema.parse(await r.json()).error.message).toMatch(message);
    }
    expect((await call('GET', '/api/queue?order=sideways')).status).toBe(400);
    const metrics = await (await call('GET', '/metrics')).text();
    expect(metrics).toMatch(/^arbiter_queue_length 0$/m);
    expect(metrics).toMatch(/^arbiter_allocations 2$/m);
    expect(metrics).toMatch(/^arbiter_conflicts_open\{type="priority_conflict"\} 0$/m);
    expect(metrics).toMatch(/^arbiter_grants_total 3$/m);
    expect((await call('GET', '/api/strategy')).status).toBe(200);
    const hints = (await (await call('GET', '/api/hints?status=all')).json()) as { status: string; hints: unknown[] };
    expect(hints.status).toBe('all');
    expect(Array.isArray(hints.hints)).toBe(true);
    expect((await call('GET', '/api/hints?status=maybe')).status).toBe(400);
    expect(((await (await call('GET', '/api/strategy')).json()) as { name: string }).name).toBe('priority_based');
  });

  it('rejects a bad body as invalid_request (400) naming the field, before the engine sees it', async () => {
    const submit = vi.spyOn(s.app.engine, 'submit');
    try {
      const bad = await call('POST', '/api/requests', { owner: 'a', resources: { gpus: 2, gpuMemMiB: 5 } });
      expect(bad.status).toBe(400);
      const e = await problem(bad);
      expect(e.code).toBe('invalid_request');
      expect(e.message).toMatch(/resources\.gpuMemMiB/);
      expect(e.details).toContainEqual(expect.objectContaining({ field: 'resources.gpuMemMiB' }));

      const unknown = await call('POST', '/api/requests', { owner: 'a', resources: { cpu: 1 }, extra: 1 });
      expect(unknown.status).toBe(400);
      const u = await problem(unknown);
      expect(u.code).toBe('invalid_request');
      expect(u.message).toMatch(/extra/);

      const key = await call('POST', '/api/requests', { owner: 'a', resources: { cpu: 1 } }, { 'Idempotency-Key': 'x'.repeat(129) });
      expect(key.status).toBe(400);
      expect((await problem(key)).details).toEqual([{ field: 'Idempotency-Key', message: '1–128 printable ASCII characters' }]);
      expect(submit).not.toHaveBeenCalled();
    } finally {
      submit.mockRestore();
    }
  });

  it('passes the engine the parsed body, with its defaults filled in', async () => {
    const submit = vi.spyOn(s.app.engine, 'submit');
    try {
      const r = await call('POST', '/api/requests', { owner: 'pa', resources: { cpu: 100 } }, { 'Idempotency-Key': 'k-parsed' });
      expect(r.status).toBe(201);
      expect(submit).toHaveBeenCalledWith({ owner: 'pa', priority: 0, preemptible: false, resources: { cpu: 100 } }, { idempotencyKey: 'k-parsed' });
    } finally {
      submit.mockRestore();
    }
  });

  it("rejects a renew's bad leaseMs naming the field, before the engine sees it", async () => {
    const renew = vi.spyOn(s.app.engine, 'renew');
    try {
      const alloc = s.app.engine.listAllocations('active')[0]!;
      for (const leaseMs of [0, 1.5, 'long']) {
        const r = await call('POST', `/api/allocations/${alloc.id}/renew`, { leaseMs });
        expect(r.status).toBe(400);
        expect((await problem(r)).details).toContainEqual(expect.objectContaining({ field: 'leaseMs' }));
      }
      expect(renew).not.toHaveBeenCalled();
    } finally {
      renew.mockRestore();
    }
  });

  it('answers a body it cannot read with 4xx invalid_request, not 500: corrupt gzip/deflate/br, unknown encoding', async () => {
    const send = (encoding: string, body: Uint8Array<ArrayBuffer>) =>
      fetch(`${s.url}/api/requests`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${s.token}`, 'Content-Type': 'application/json', 'Content-Encoding': encoding },
        body,
      });
    const json = new TextEncoder().encode('{"owner":"z","resources":{"cpu":1}}');
    for (const encoding of ['gzip', 'deflate', 'br']) {
      const r = await send(encoding, json); // not compressed at all
      expect(r.status, encoding).toBe(400);
      const e = await problem(r);
      expect(e.code).toBe('invalid_request');
      expect(e.message).toMatch(/^invalid body: cannot decompress it/);
    }
    const cut = new Uint8Array(gzipSync(json).subarray(0, 12)); // a gzip stream cut short
    expect((await send('gzip', cut)).status).toBe(400);
    const unknown = await send('compress', json);
    expect(unknown.status).toBe(415);
    expect((await problem(unknown)).code).toBe('invalid_request');
    // and a path parameter that is not valid percent-encoding
    const path = await call('GET', '/api/requests/%E0%A4%A');
    expect(path.status).toBe(400);
    expect((await problem(path)).code).toBe('invalid_request');
  });
});
