/**
 * --rate-limit / --rate-burst on a running server: past a token's or an address's burst every request is a 429 with
 * Retry-After and the API's error body — on the dispatch surface in its own shape —, whatever the token; another
 * token from another address goes on; the health checks are never counted; time refills the buckets.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { exited, freePort, startCliServer } from '../helpers/cli-server.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ADMIN = 'rate-limit-admin-token-0123456789';

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: { error?: { code: string; message: string }; status?: string; code?: string };
}

/** GET `path` from the local address `from` (any of 127.0.0.0/8), with `token` if any. */
function get(url: string, path: string, token: string | undefined, from = '127.0.0.1'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { connection: 'close', ...(token ? { authorization: `Bearer ${token}` } : {}) };
    const req = request(new URL(path, url), { localAddress: from, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body: text ? JSON.parse(text) : {} }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('--rate-limit', () => {
  let s: TestServer | undefined;
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) c();
    await s?.close();
    s = undefined;
  });

  it('refuses a token or an address past its burst with 429 and Retry-After; another token from another address goes on', async () => {
    const clock = new ManualClock(Date.now());
    s = await startTestServer({ clock, configure: (c) => Object.assign(c, { rateLimit: 0.5, rateBurst: 3, adminToken: ADMIN }) });
    const { url, token } = s;
    for (let i = 0; i < 3; i++) expect((await get(url, '/api/queue', token)).status).toBe(200);
    const refused = await get(url, '/api/queue', token);
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('2');
    expect(refused.body.error).toMatchObject({ code: 'too_many_requests', message: expect.stringMatching(/try again in 2 s/) });
    // the health checks are not counted
    for (let i = 0; i < 10; i++) expect((await get(url, '/api/health', token)).status).toBe(200);
    expect((await get(url, '/health', token)).status).toBe(200);
    // the address is empty: another token from it is refused, and a request without one (not even a 401)
    expect((await get(url, '/api/queue', ADMIN)).status).toBe(429);
    expect((await get(url, '/api/queue', undefined)).status).toBe(429);
    // the token is empty: from another address too
    expect((await get(url, '/api/queue', token, '127.0.0.2')).status).toBe(429);
    // another token from another address goes on
    expect((await get(url, '/api/queue', ADMIN, '127.0.0.3')).status).toBe(200);
    // the Scheduler.md surface answers in its own error shape
    const dispatch = await get(url, '/queue/info', token);
    expect(dispatch.status).toBe(429);
    expect(dispatch.body).toMatchObject({ status: 'error', code: 'too_many_requests' });

    await clock.advance(2000);
    expect((await get(url, '/api/queue', token)).status).toBe(200);
    expect((await get(url, '/api/queue', token)).status).toBe(429);
  });

  it('holds a flood without a token by its address, before the token is checked', async () => {
    s = await startTestServer({ clock: new ManualClock(Date.now()), configure: (c) => Object.assign(c, { rateLimit: 1, rateBurst: 5 }) });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await get(s.url, '/api/queue', undefined, '127.0.0.4')).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    expect((await get(s.url, '/api/queue', s.token)).status).toBe(200);
  });

  it('counts a request target no URL parser reads by its address, and answers it as before (not a 500)', async () => {
    s = await startTestServer();
    const port = Number(new URL(s.url).port);
    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      const so = connect(port, '127.0.0.1', () => so.write('GET //[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      so.on('data', (b) => (text += b.toString()));
      so.on('close', () => resolve(text));
      so.on('error', reject);
    });
    // the dashboard's page where it is built, else a 404
    expect(answer).toMatch(/^HTTP\/1\.1 (200|404) /);
  });

  it('is in the OpenAPI document: a 429 with Retry-After on every HTTP operation but the health checks', async () => {
    s = await startTestServer();
    const doc = (await (await fetch(`${s.url}/api/openapi.json`, { headers: { authorization: `Bearer ${s.token}` } })).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { description: string; headers?: Record<string, unknown> }> }>>;
    };
    const refusal = (path: string, method = 'get') => doc.paths[path]![method]!.responses['429'];
    expect(refusal('/api/queue')!.description).toMatch(/--rate-limit/);
    expect(refusal('/api/queue')!.headers).toHaveProperty('Retry-After');
    expect(refusal('/api/requests', 'post')!.description).toMatch(/--max-waiting-per-owner.*; or .*--rate-limit/);
    expect(refusal('/api/dispatch/policy')).toBeDefined();
    for (const exempt of ['/api/health', '/health', '/api/ws']) expect(refusal(exempt), exempt).toBeUndefined();
  });

  it('takes --rate-limit and --rate-burst from the command line', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-rate-limit-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const token = 'rate-limit-cli-token-0123456789';
    const child = await startCliServer({ port, dataDir, token, args: ['--rate-limit', '0.25', '--rate-burst', '2'], onCleanup: (fn) => cleanups.push(fn) });
    const url = `http://127.0.0.1:${port}`;
    expect((await get(url, '/api/queue', token)).status).toBe(200);
    expect((await get(url, '/api/queue', token)).status).toBe(200);
    const refused = await get(url, '/api/queue', token);
    expect(refused.status).toBe(429);
    // a request every 4 s: the next one fits in at most 4 s (less the time these requests took)
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(3);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(4);
    expect((await get(url, '/api/queue', 'another-token-from-elsewhere-0123', '127.0.0.5')).status).toBe(401);
    child.kill('SIGTERM');
    await exited(child);
  });
});
