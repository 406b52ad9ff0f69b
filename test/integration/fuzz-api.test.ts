/**
 * Every operation of the OpenAPI document, sent generated input (fast-check, seeded): path parameters, query values
 * and JSON bodies — well-formed and not — with the token. Whatever comes in, the answer is never a 5xx, never a hang,
 * and a 4xx is JSON; the server answers /api/health after every run. ARBITER_FUZZ_RUNS sets the runs per operation
 * (`npm run fuzz` runs many more than `npm test`).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const RUNS = Number(process.env.ARBITER_FUZZ_RUNS ?? 15);
const SEED = Number(process.env.ARBITER_FUZZ_SEED ?? 20261204);

interface Operation { method: string; path: string; params: { name: string; in: string }[]; hasBody: boolean }

/** Streams that never end by themselves: asked for once, answered 200 with their stream, then closed. */
const STREAMS = new Set(['/api/events', '/api/resource-scheduler/push/sse']);

/** A value as people and programs send them, and as they should not. */
const anyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', '0', '-1', '1e3', '0x10', 'NaN', 'null', 'true', '%', '%E0%A4%A', '../..', 'a'.repeat(300), '\u0000', '\ud800', '[]', '{}'),
  fc.integer().map(String),
);
const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record({ owner: anyText, resources: fc.dictionary(fc.constantFrom('cpu', 'gpus', 'memoryMiB', 'gpuMemMiB', 'x'), fc.oneof(fc.integer(), fc.double(), anyText)) }),
  fc.record({ name: anyText, replicas: fc.integer(), specs: fc.array(fc.dictionary(anyText, fc.jsonValue({ maxDepth: 2 })), { maxLength: 3 }) }),
  fc.record({ strategy: anyText, config: fc.dictionary(anyText, fc.jsonValue({ maxDepth: 2 })) }),
);

/** Percent-encoded; a lone surrogate (not encodable) as the bytes of one, which are not UTF-8 either. */
function encode(v: string): string {
  try {
    return encodeURIComponent(v);
  } catch {
    return '%ED%A0%80';
  }
}

describe('the API under generated input', () => {
  let s: TestServer;
  let ops: Operation[] = [];
  beforeAll(async () => {
    // every input reaches its handler, at whatever pace (`npm run fuzz` sends thousands a second)
    s = await startTestServer({ configure: (c) => void (c.rateLimit = 0) });
    const doc = (await (await fetch(`${s.url}/api/openapi.json`, { headers: { authorization: `Bearer ${s.token}` } })).json()) as { paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: unknown }>> };
    ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(), path, params: op.parameters ?? [], hasBody: op.requestBody !== undefined,
    })));
  });
  afterAll(async () => {
    await s.close();
  });

  it('answers every operation without a 5xx or a hang, JSON on every 4xx, and stays healthy', async () => {
    expect(ops.length).toBeGreaterThan(40);
    const seen: string[] = [];
    for (const op of ops) {
      await fc.assert(fc.asyncProperty(
        fc.dictionary(fc.constantFrom(...(op.params.length ? op.params.map((p) => p.name) : ['x'])), anyText),
        fc.dictionary(anyText, anyText, { maxKeys: 3 }),
        anyJson,
        fc.boolean(),
        async (values, extraQuery, body, rawBody) => {
          let path = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => encode(values[name] ?? 'x') || 'x');
          const query = new URLSearchParams();
          for (const p of op.params) if (p.in === 'query' && values[p.name] !== undefined) query.set(p.name, values[p.name]!);
          for (const [k, v] of Object.entries(extraQuery)) query.set(k, v);
          if (STREAMS.has(op.path)) query.set('types', 'hint');
          const qs = query.toString();
          path += qs ? `?${qs}` : '';
          const headers: Record<string, string> = { authorization: `Bearer ${s.token}` };
          for (const p of op.params) if (p.in === 'header' && values[p.name] !== undefined) headers[p.name] = values[p.name]!.replace(/[^\x20-\x7e]/g, '');
          const init: RequestInit = { method: op.method, headers, signal: AbortSignal.timeout(10_000) };
          if (op.hasBody || op.method !== 'GET') {
            headers['content-type'] = 'application/json';
            // cut short, it is not JSON any more
            init.body = rawBody ? JSON.stringify(body).slice(0, Math.max(1, JSON.stringify(body).length - 1)) : JSON.stringify(body);
          }
          const r = await fetch(`${s.url}${path}`, init);
          const type = r.headers.get('content-type') ?? '';
          if (type.startsWith('text/event-stream')) {
            await r.body?.cancel();
            return r.status === 200;
          }
          const text = await r.text();
          if (r.status >= 500) throw new Error(`${op.method} ${path} → ${r.status}: ${text.slice(0, 300)}`);
          if (r.status >= 400 && !type.includes('json')) throw new Error(`${op.method} ${path} → ${r.status} (${type}), not JSON: ${text.slice(0, 200)}`);
          return true;
        },
      ), { numRuns: STREAMS.has(op.path) ? 2 : RUNS, seed: SEED, endOnFailure: true });
      const health = await fetch(`${s.url}/api/health`);
      expect(health.status, `after ${op.method} ${op.path}`).toBe(200);
      seen.push(`${op.method} ${op.path}`);
    }
    expect(seen).toHaveLength(ops.length);
  }, 600_000);
});
