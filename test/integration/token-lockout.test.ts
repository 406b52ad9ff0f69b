/**
 * Guessing the token: 20 wrong tokens from one address within a minute lock it out for a minute — every request of
 * its, the right token too, on the API, the SSE stream, socket.io and the plain WebSocket, is refused (429 with
 * Retry-After on HTTP); a request without a token is no guess; once the minute is over the right token works again.
 */
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { openWs, wsUrl } from '../helpers/ws.ts';

describe('wrong tokens from one address', () => {
  let s: TestServer | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('lock it out for a minute after 20 within a minute, whatever it sends then; no token is no guess', async () => {
    const clock = new ManualClock(Date.now());
    s = await startTestServer({ clock });
    const get = (path: string, token?: string) => fetch(`${s!.url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    for (let i = 0; i < 30; i++) expect((await get('/api/queue')).status).toBe(401); // no token: not counted
    for (let i = 0; i < 19; i++) expect((await get('/api/queue', `wrong-token-${i}`)).status).toBe(401);
    expect((await get('/api/queue', s.token)).status).toBe(200);
    expect((await get('/api/queue', 'wrong-token-19')).status).toBe(401); // the 20th
    const locked = await get('/api/queue', s.token);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBe(60);
    expect(((await locked.json()) as { error: { code: string } }).error.code).toBe('locked_out');
    expect((await get(`/api/events?access_token=${s.token}`)).status).toBe(429);
    // push transports refuse it too
    const socket = io(s.url, { transports: ['websocket'], auth: { token: s.token }, reconnection: false });
    const refused = await new Promise<string>((resolve) => {
      socket.once('connect', () => resolve('connected'));
      socket.once('connect_error', (e) => resolve(e.message));
    });
    socket.disconnect();
    expect(refused).toMatch(/unauthorized/);
    await expect(openWs(wsUrl(s.url, `/api/ws?access_token=${s.token}`))).rejects.toThrow(/401/);
    // the dashboard's sign-in link sets no cookie meanwhile
    expect((await fetch(`${s.url}/?token=${s.token}`, { redirect: 'manual' })).headers.get('set-cookie')).toBeNull();

    await clock.advance(60_001);
    expect((await get('/api/queue', s.token)).status).toBe(200);
  });
});
