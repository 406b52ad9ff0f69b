import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResourceStatusSchema } from '../../shared/resources.ts';
import { HealthResponseSchema, HistoryResponseSchema, ErrorBodySchema } from '../../shared/api.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { openSse } from '../helpers/sse.ts';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ hostIntervalMs: 200 });
  // wait for two host samples so rates and history exist
  for (let i = 0; i < 100 && s.app.hub.lastId < 2; i++) await new Promise((r) => setTimeout(r, 50));
});
afterAll(() => s.close());

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${s.url}${path}`, { headers, redirect: 'manual' });
const auth = () => ({ Authorization: `Bearer ${s.token}` });

describe('auth', () => {
  it('keeps the generated token in the data dir, mode 0600', () => {
    const p = join(s.dataDir, 'token');
    expect(readFileSync(p, 'utf8').trim()).toBe(s.token);
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(s.token.length).toBeGreaterThanOrEqual(16);
  });

  it('answers 401 JSON without or with a wrong token', async () => {
    for (const headers of [{}, { Authorization: 'Bearer nope' }, { Cookie: 'arbiter_token=nope' }] as Record<string, string>[]) {
      const r = await get('/api/status', headers);
      expect(r.status).toBe(401);
      expect(ErrorBodySchema.parse(await r.json()).error.code).toBe('unauthorized');
    }
    expect((await get('/metrics')).status).toBe(401);
    expect((await get('/api/events')).status).toBe(401);
  });

  it('accepts the bearer header, the cookie set by /?token=…, and ?access_token=', async () => {
    expect((await get('/api/status', auth())).status).toBe(200);
    expect((await get(`/api/status?access_token=${s.token}`)).status).toBe(200);

    const login = await get(`/?token=${s.token}`);
    expect(login.status).toBe(302);
    expect(login.headers.get('location')).toBe('/');
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^arbiter_token=[^;]+; HttpOnly; SameSite=Strict; Path=\//);
    expect((await get('/api/status', { Cookie: cookie.split(';')[0]! })).status).toBe(200);

    const wrong = await get('/?token=wrong');
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const stream = await openSse(`${s.url}/api/events?types=hint&access_token=${s.token}`);
    expect(stream.status).toBe(200);
    stream.close();
  });

  it('serves /api/health without a token: the status only; with one, the version, uptime, node and sources', async () => {
    const anon = await get('/api/health');
    expect(anon.status).toBe(200);
    expect(await anon.json()).toEqual({ status: 'ok' });
    const wrong = await get('/api/health', { authorization: 'Bearer not-the-token-0123456789' });
    expect(await wrong.json()).toEqual({ status: 'ok' });
    const r = await get('/api/health', { authorization: `Bearer ${s.token}` });
    expect(r.status).toBe(200);
    const body = HealthResponseSchema.parse(await r.json());
    expect(body.status).toBe('ok');
    expect(body).toMatchObject({ version: expect.any(String), node: expect.any(String), uptimeMs: expect.any(Number) });
    expect(body.sources!.host!.status).toBe('ok');
    expect(body.uptimeMs).toBeGreaterThanOrEqual(0);
  });
});

describe('REST', () => {
  it('GET /api/status is the latest snapshot, valid against the shared schema', async () => {
    const body = ResourceStatusSchema.parse(await (await get('/api/status', auth())).json());
    expect(body.host!.cpu.perCore.length).toBe(body.host!.cpu.cores);
    expect(body.sources.host!.status).toBe('ok');
  });

  it('GET /api/status/cpu and /memory', async () => {
    const cpu = (await (await get('/api/status/cpu', auth())).json()) as { sampledAt: number; cpu: { loadPercent: number } };
    expect(cpu.cpu.loadPercent).toBeGreaterThanOrEqual(0);
    expect(cpu.sampledAt).toBeGreaterThan(0);
    const mem = (await (await get('/api/status/memory', auth())).json()) as { memory: { totalMiB: number } };
    expect(mem.memory.totalMiB).toBeGreaterThan(0);
  });

  it('GET /api/history returns columnar points of the last hour', async () => {
    const since = Date.now() - 60_000;
    const r = await get(`/api/history?series=cpu.total,mem.used&sinceMs=${since}`, auth());
    expect(r.status).toBe(200);
    const body = HistoryResponseSchema.parse(await r.json());
    expect(body.series.map((x) => x.name)).toEqual(['cpu.total', 'mem.used']);
    expect(body.series[0]!.t.length).toBeGreaterThan(0);
    expect(body.series[0]!.t.length).toBe(body.series[0]!.v.length);
    expect(body.series[0]!.t[0]!).toBeGreaterThanOrEqual(since - 1000);
    const names = (await (await get('/api/history/series', auth())).json()) as { series: string[] };
    expect(names.series).toEqual(expect.arrayContaining(['cpu.total', 'cpu.core.0', 'mem.used']));
  });

  it('answers a bad query with 400 naming the field, an unknown series with 404', async () => {
    const missing = await get('/api/history', auth());
    expect(missing.status).toBe(400);
    const m = ErrorBodySchema.parse(await missing.json());
    expect(m.error.details).toEqual([{ field: 'series', message: expect.any(String) }]);
    const badSince = ErrorBodySchema.parse(await (await get('/api/history?series=cpu.total&sinceMs=yesterday', auth())).json());
    expect(badSince.error.message).toBe('invalid query: sinceMs: expected a non-negative integer');
    const unknown = await get('/api/history?series=gpu.9.util', auth());
    expect(unknown.status).toBe(404);
    expect(ErrorBodySchema.parse(await unknown.json()).error.message).toMatch(/gpu\.9\.util/);
  });

  it('answers an unknown API route with 404 JSON', async () => {
    const r = await get('/api/nope', auth());
    expect(r.status).toBe(404);
    expect(ErrorBodySchema.parse(await r.json()).error).toEqual({ code: 'not_found', message: 'no route for GET /api/nope' });
  });

  it('serves the OpenAPI document generated from the schemas', async () => {
    const doc = (await (await get('/api/openapi.json', auth())).json()) as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/health', '/api/status', '/api/history', '/api/events', '/metrics', '/api/requests', '/api/queue', '/api/conflicts/{id}/resolve', '/api/hints']));
    expect(doc.components.schemas.ResourceStatus).toBeDefined();
  });

  it('serves Prometheus metrics: host gauges and process metrics', async () => {
    const text = await (await get('/metrics', auth())).text();
    expect(text).toMatch(/^arbiter_cpu_load_percent\{cpu="total"\} [\d.]+$/m);
    expect(text).toMatch(/^arbiter_memory_mib\{kind="total"\} \d+$/m);
    expect(text).toMatch(/^arbiter_source_up\{source="host",status="ok"\} 1$/m);
    expect(text).toMatch(/^arbiter_events_published_total\{type="resource_status"\} \d+$/m);
    expect(text).toMatch(/^arbiter_push_clients\{transport="sse"\} \d+$/m);
    expect(text).toMatch(/^arbiter_process_cpu_user_seconds_total /m);
    // the event loop's lag, not the sampling timer's interval (which read ~1 s on an idle server)
    for (const f of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99']) {
      const m = new RegExp(`^arbiter_nodejs_eventloop_lag_${f}_seconds ([\\d.e+-]+)$`, 'm').exec(text);
      expect(m, f).not.toBeNull();
      expect(Number(m![1]), f).toBeLessThan(0.5);
    }
  });
});

describe('--no-auth', () => {
  it('lets every request through', async () => {
    const open = await startTestServer({ configure: (c) => void (c.auth = false) });
    try {
      expect((await fetch(`${open.url}/api/status`)).status).toBe(200);
    } finally {
      await open.close();
    }
  });
});
