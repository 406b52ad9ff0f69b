/**
 * The ways a client may send its token work on every route: `?access_token=` on the routes whose query is strict
 * (it is the auth's key, not theirs), the `Bearer` scheme in any case (RFC 9110); and a corrupt compressed body is
 * the client's error (400), not the server's.
 */
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('the token, however it is sent', () => {
  it('?access_token= on the routes with strict queries; Bearer in any case; a corrupt gzip body is a 400', async () => {
    server = await startTestServer({ hostSource: new FakeHostSource(), hostIntervalMs: 3_600_000 });
    const { url, token } = server;
    for (const path of ['/api/allocations', '/api/queue?order=priority', '/api/conflicts?status=all', '/api/hints', '/api/resource-scheduler/conflicts/queue?use_priority=true']) {
      const r = await fetch(`${url}${path}${path.includes('?') ? '&' : '?'}access_token=${token}`);
      expect(r.status, path).toBe(200);
    }
    // another unknown key is still named
    const bad = await fetch(`${url}/api/allocations?access_token=${token}&nope=1`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('nope');
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      expect((await fetch(`${url}/api/allocations`, { headers: { authorization: `${scheme} ${token}` } })).status, scheme).toBe(200);
    }
    expect((await fetch(`${url}/api/allocations`, { headers: { authorization: `Basic ${token}` } })).status).toBe(401);

    const corrupt = gzipSync(JSON.stringify({ owner: 'ana', resources: { cpu: 10 } })).subarray(0, 20);
    const r = await fetch(`${url}/api/requests`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: corrupt });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/invalid body/);
  });
});
