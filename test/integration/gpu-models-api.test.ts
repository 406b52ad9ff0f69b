/**
 * gpuModels over HTTP on a real server (port 0, SQLite) whose declared GPUs are a T4 (0) and an A100 (1): 400 without
 * a GPU ask, 201 on the A100 with the field echoed in the answer, the read API and the pushed event, 202 while only
 * the T4 is free, 422 for a model the node does not have; after a restart the waiting request keeps its models and
 * gets the A100 when it frees.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorBodySchema } from '../../shared/api.ts';
import { AllocationSchema, ConflictSchema, RequestSchema, type Request } from '../../shared/scheduler.ts';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { openSse } from '../helpers/sse.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-gpu-models-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const start = () => startTestServer({
  dataDir, hostSource: new FakeHostSource(), hostIntervalMs: 3_600_000,
  configure: (c) => {
    c.resources = { cpu: 8000, memoryMiB: 16384, gpus: [{ index: 0, memoryMiB: 16384, name: 'Tesla T4' }, { index: 1, memoryMiB: 81920, name: 'NVIDIA A100-SXM4-80GB' }] };
  },
});
const call = (s: TestServer, method: string, path: string, body?: unknown) => fetch(`${s.url}${path}`, {
  method,
  headers: { Authorization: `Bearer ${s.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
  body: body === undefined ? undefined : JSON.stringify(body),
});
const readRequest = async (s: TestServer, id: string): Promise<Request> => RequestSchema.parse(await (await call(s, 'GET', `/api/requests/${id}`)).json());

describe('gpuModels over HTTP', () => {
  it('400 without a GPU ask, 201 on the A100, 202 while only the T4 is free, 422 for a model not there; kept across a restart', async () => {
    const a = await start();
    let holder: string;
    let waiting: string;
    try {
      const bad = await call(a, 'POST', '/api/requests', { owner: 'ana', resources: { cpu: 1000 }, gpuModels: ['A100'] });
      expect(bad.status).toBe(400);
      expect(ErrorBodySchema.parse(await bad.json()).error.details).toContainEqual(expect.objectContaining({ field: 'gpuModels' }));

      const events = await openSse(`${a.url}/api/events?types=scheduling_update&access_token=${a.token}`);
      const ok = await call(a, 'POST', '/api/requests', { owner: 'ana', resources: { gpus: 1 }, gpuModels: ['A100'] });
      expect(ok.status).toBe(201);
      const granted = (await ok.json()) as { request: unknown; allocation: unknown };
      const request = RequestSchema.parse(granted.request);
      expect(request.gpuModels).toEqual(['A100']);
      expect(AllocationSchema.parse(granted.allocation).gpuIndices).toEqual([1]);
      holder = AllocationSchema.parse(granted.allocation).id;
      expect((await readRequest(a, request.id)).gpuModels).toEqual(['A100']);
      const pushed = await events.until((f) => f.some((x) => x.data?.includes('"request_granted"')));
      const event = JSON.parse(pushed.find((x) => x.data?.includes('"request_granted"'))!.data!) as { data: { request: Request } };
      expect(event.data.request.gpuModels).toEqual(['A100']);
      events.close();

      const queued = await call(a, 'POST', '/api/requests', { owner: 'bo', resources: { gpuMemMiB: 8192 }, gpuModels: ['a100'] });
      expect(queued.status).toBe(202);
      const body = (await queued.json()) as { request: unknown; conflict: unknown };
      waiting = RequestSchema.parse(body.request).id;
      expect(ConflictSchema.parse(body.conflict).message).toMatch(/^needs 8192 MiB of one GPU of model a100: /);

      const never = await call(a, 'POST', '/api/requests', { owner: 'cy', resources: { gpus: 1 }, gpuModels: ['H100', 'A10'] });
      expect(never.status).toBe(422);
      expect(ErrorBodySchema.parse(await never.json()).error).toMatchObject({ code: 'never_fits', details: { gpuModels: ['H100', 'A10'] } });
    } finally {
      await a.close();
    }

    const b = await start();
    try {
      expect(await readRequest(b, waiting)).toMatchObject({ status: 'queued', gpuModels: ['a100'] });
      expect((await call(b, 'DELETE', `/api/allocations/${holder}`)).status).toBe(200);
      const after = await readRequest(b, waiting);
      expect(after).toMatchObject({ status: 'granted', gpuModels: ['a100'] });
      const allocations = (await (await call(b, 'GET', '/api/allocations')).json()) as { allocations: unknown[] };
      expect(allocations.allocations.map((x) => AllocationSchema.parse(x)).find((x) => x.requestId === waiting)!.gpuIndices).toEqual([1]);
    } finally {
      await b.close();
    }
  });
});
