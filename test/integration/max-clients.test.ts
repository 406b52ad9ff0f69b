/**
 * `--max-clients`: the push clients of every transport count together; one more is refused — SSE and the plain
 * WebSocket's upgrade with 503 and Retry-After, socket.io with a connect_error saying why — and a place freed is
 * taken by the next. socket.io sessions count from their handshake, before any auth.
 */
import { request } from 'node:http';
import { io as connect } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { openSse } from '../helpers/sse.ts';
import { openWs, wsUrl } from '../helpers/ws.ts';

let server: TestServer | undefined;
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await server?.close();
  server = undefined;
});

/** The answer to a WebSocket upgrade request: its status and Retry-After (101 when it was accepted). */
function upgradeStatus(url: string): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
    req.on('response', (res) => {
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined });
      res.resume();
    });
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, retryAfter: undefined });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('--max-clients', () => {
  it('counts SSE, socket.io and WebSocket clients together and refuses the one too many of each transport', async () => {
    server = await startTestServer({ hostSource: new FakeHostSource(), hostIntervalMs: 3_600_000, configure: (c) => void (c.push.maxClients = 2) });
    const { url, token } = server;
    const sse = await openSse(`${url}/api/events?access_token=${token}`);
    closers.push(() => sse.close());
    const ws = await openWs(wsUrl(url, `/api/ws?access_token=${token}`));
    closers.push(() => ws.close());
    expect(sse.status).toBe(200);

    const third = await fetch(`${url}/api/events?access_token=${token}`);
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('5');
    expect(((await third.json()) as { error: { code: string } }).error.code).toBe('too_many_clients');
    expect(await upgradeStatus(`${url}/api/ws?access_token=${token}`)).toEqual({ status: 503, retryAfter: '5' });
    const refused = await new Promise<string>((resolve) => {
      const s = connect(url, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
      s.on('connect', () => resolve('connected'));
      s.on('connect_error', (e) => resolve(e.message));
      closers.push(() => s.disconnect());
    });
    expect(refused).toMatch(/too many clients: this server takes 2 push clients at a time/);
    // the API itself is not a push client: it answers
    expect((await fetch(`${url}/api/health`)).status).toBe(200);

    // a place freed is taken by the next one
    sse.close();
    const deadline = Date.now() + 5000;
    let again = await fetch(`${url}/api/events?access_token=${token}`);
    while (again.status === 503 && Date.now() < deadline) {
      await again.body?.cancel();
      await new Promise((r) => setTimeout(r, 20));
      again = await fetch(`${url}/api/events?access_token=${token}`);
    }
    expect(again.status).toBe(200);
    await again.body?.cancel();
  });

  it('counts socket.io sessions before any auth: handshakes past the limit are refused, whoever asks', async () => {
    server = await startTestServer({ configure: (c) => void (c.push.maxClients = 2) });
    const handshake = () => fetch(`${server!.url}/socket.io/?EIO=4&transport=polling`);
    // two sessions opened without a token and never connected to a namespace
    for (let i = 0; i < 2; i++) {
      const r = await handshake();
      expect(r.status).toBe(200);
      expect(await r.text()).toMatch(/^0\{"sid":/);
    }
    const third = await handshake();
    expect(third.status).toBe(403);
    expect(await third.text()).toContain('too many sessions');
    expect((await fetch(`${server.url}/api/health`)).status).toBe(200);
  });
});
