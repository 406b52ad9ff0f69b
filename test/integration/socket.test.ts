import { io as connect, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientToServerEvents, Envelope, ReplayGap, ServerToClientEvents } from '../../shared/events.ts';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { hintPayload, statusPayload } from '../helpers/payloads.ts';
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/server.ts';
import { until } from '../helpers/cli-server.ts';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
let server: TestServer | undefined;
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await server?.close();
  server = undefined;
});

async function manualServer(configure?: TestServerOptions['configure']) {
  server = await startTestServer({ hostSource: new FakeHostSource(), hostIntervalMs: 3_600_000, configure });
  await until(() => server!.app.hub.lastId >= 1, 'the condition');
  return async (n = 1) => {
    for (let i = 0; i < n; i++) await server!.app.loop.runOnce('host');
  };
}

interface Recorder {
  socket: Client;
  got: Envelope[];
  gaps: ReplayGap[];
}

function client(auth: Record<string, unknown>, opts: { withToken?: boolean; transports?: ('polling' | 'websocket')[] } = {}): Promise<Recorder> {
  const socket: Client = connect(server!.url, {
    transports: opts.transports ?? ['websocket'],
    reconnection: false,
    auth: { ...(opts.withToken === false ? {} : { token: server!.token }), ...auth },
  });
  clients.push(socket);
  const rec: Recorder = { socket, got: [], gaps: [] };
  for (const t of ['resource_status', 'hint', 'conflict', 'scheduling_update'] as const) socket.on(t, (env: Envelope) => rec.got.push(env));
  socket.on('replay_gap', (g) => rec.gaps.push(g));
  return new Promise((resolve, reject) => {
    socket.on('connect', () => resolve(rec));
    socket.on('connect_error', reject);
  });
}

const idsOf = (r: Recorder) => r.got.map((e) => e.id);

describe('socket.io push', () => {
  it('delivers each envelope as the event named by its type, with increasing ids from real sampling', async () => {
    server = await startTestServer({ hostIntervalMs: 100 });
    const r = await client({ types: ['resource_status'] });
    await until(() => r.got.length >= 3, 'the condition');
    for (let i = 1; i < r.got.length; i++) expect(r.got[i]!.id).toBeGreaterThan(r.got[i - 1]!.id);
    expect(r.got[0]).toMatchObject({ type: 'resource_status', data: { host: { cpu: { cores: expect.any(Number) } } } });
    expect(typeof r.got[0]!.ts).toBe('number');
  });

  it('every transport gets the broadcast, in order, once: WebSocket (written directly), long-polling (through engine.io), polling upgraded', async () => {
    await manualServer();
    const ws = await client({ types: ['hint'] });
    const polling = await client({ types: ['hint'] }, { transports: ['polling'] });
    const upgraded = await client({ types: ['hint'] }, { transports: ['polling', 'websocket'] });
    await until(() => upgraded.socket.io.engine.transport.name === 'websocket', 'the upgrade');
    const ids: number[] = [];
    // hints are not coalesced: a client engine.io holds packets for (polling) gets every one from its outbox
    for (let i = 0; i < 5; i++) ids.push(server!.app.hub.publish('hint', hintPayload(`hint ${i}`, `h${i}`))!.id);
    for (const r of [ws, polling, upgraded]) await until(() => r.got.length >= 5, 'five hints');
    expect([idsOf(ws), idsOf(polling), idsOf(upgraded)]).toEqual([ids, ids, ids]);
    expect(polling.socket.io.engine.transport.name).toBe('polling');
  });

  it('resumes from lastEventId: exactly the missed events, no duplicate', async () => {
    const sample = await manualServer();
    const a = await client({ types: ['resource_status'] });
    // one sample at a time: a client found busy keeps only a node's newest status, so two in a row may come as one
    for (const n of [2, 3]) {
      await sample();
      await until(() => a.got.length >= n, 'the status');
    }
    const last = idsOf(a).at(-1)!;
    a.socket.disconnect();
    await sample(5);
    const b = await client({ types: ['resource_status'], lastEventId: last });
    await until(() => b.got.length >= 5, 'the condition');
    await sample();
    await until(() => b.got.length >= 6, 'the condition');
    expect(idsOf(b)).toEqual([1, 2, 3, 4, 5, 6].map((i) => last + i));
    expect(b.gaps).toEqual([]);
  });

  it('resumes across reconnects of one client via an auth function', async () => {
    const sample = await manualServer();
    let lastEventId: number | undefined;
    const got: number[] = [];
    const socket: Client = connect(server!.url, {
      transports: ['websocket'],
      reconnectionDelay: 50,
      reconnectionDelayMax: 50,
      auth: (cb) => cb({ token: server!.token, types: ['resource_status'], ...(lastEventId ? { lastEventId } : {}) }),
    });
    clients.push(socket);
    socket.on('resource_status', (env) => {
      got.push(env.id);
      lastEventId = env.id;
    });
    await until(() => got.length >= 1, 'the condition');
    for (const n of [2, 3]) {
      await sample();
      await until(() => got.length >= n, 'the status');
    }
    socket.io.engine.close(); // the transport drops; the manager reconnects by itself
    await until(() => !socket.connected, 'the condition');
    await sample(5);
    await until(() => got.length >= 8, 'the condition');
    const first = got[0]!;
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => first + i));
  });

  it('reports a resume point out of the window, then streams from the oldest kept event', async () => {
    const sample = await manualServer((c) => {
      c.push.replayCount = 3;
    });
    await sample(6); // ids 1..7, window 5..7
    const r = await client({ lastEventId: 1 });

    await until(() => r.got.length >= 3, 'the condition');
    expect(r.gaps).toEqual([{ lastEventId: 1, oldestId: 5, reason: 'out_of_window' }]);
    expect(idsOf(r)).toEqual([5, 6, 7]);
  });

  it('changes its types with subscribe', async () => {
    const sample = await manualServer();
    const r = await client({ types: ['hint'] });
    server!.app.hub.publish('hint', hintPayload('1'));
    await sample();
    await until(() => r.got.length >= 1, 'the condition');
    const ack = await r.socket.emitWithAck('subscribe', { types: ['resource_status'] });
    expect(ack).toEqual({ ok: true, types: ['resource_status'] });
    server!.app.hub.publish('hint', hintPayload('2'));
    await sample();
    await until(() => r.got.length >= 2, 'the condition');
    expect(r.got.map((e) => e.type)).toEqual(['hint', 'resource_status']);
    const bad = await r.socket.emitWithAck('subscribe', { types: ['nope'] } as never);
    expect(bad.ok).toBe(false);
  });

  it('accepts the token from the cookie the dashboard login sets', async () => {
    await manualServer();
    const socket: Client = connect(server!.url, { transports: ['websocket'], reconnection: false, extraHeaders: { Cookie: `arbiter_token=${server!.token}` } });
    clients.push(socket);
    const env = await new Promise<Envelope>((resolve, reject) => {
      socket.on('resource_status', resolve);
      socket.on('connect_error', reject);
    });
    expect(env.type).toBe('resource_status');
  });

  it('refuses a connection without the right token or with bad auth fields', async () => {
    await manualServer();
    await expect(client({}, { withToken: false })).rejects.toThrow(/unauthorized/);
    await expect(client({ token: 'wrong-token-wrong-token' }, { withToken: false })).rejects.toThrow(/unauthorized/);
    await expect(client({ types: ['bogus'] })).rejects.toThrow(/invalid auth: types\.0/);
    await expect(client({ lastEventId: -1 })).rejects.toThrow(/invalid auth: lastEventId/);
  });

  it('gives a stalled client the latest status instead of a backlog', async () => {
    const sample = await manualServer();
    const r = await client({ types: ['resource_status'] });
    await until(() => r.got.length >= 1, 'the condition');
    // stop reading on the client: the server's socket buffers fill up
    const raw = (r.socket.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } }).ws._socket;
    raw.pause();
    const big = 'x'.repeat(200_000);
    for (let i = 0; i < 60; i++) server!.app.hub.publish('resource_status', statusPayload({ node: big, sampledAt: i }));
    const lastId = server!.app.hub.lastId;
    raw.resume();
    await until(() => r.got.at(-1)?.id === lastId, 'the condition');
    expect(r.got.length).toBeLessThan(40);
    const received = idsOf(r);
    for (let i = 1; i < received.length; i++) expect(received[i]!).toBeGreaterThan(received[i - 1]!);
    void sample;
  });

  it('disconnects a stalled client whose queue of non-coalesced events passes its bound', async () => {
    await manualServer((c) => {
      c.push.maxBufferedEvents = 10;
    });
    const r = await client({ types: ['hint'] });
    const disconnected = new Promise<string>((res) => r.socket.on('disconnect', (reason) => res(reason)));
    const told = new Promise<unknown>((res) => r.socket.on('dropped', (notice) => res(notice)));
    const raw = (r.socket.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } }).ws._socket;
    raw.pause();
    const big = 'x'.repeat(200_000);
    for (let i = 0; i < 60; i++) server!.app.hub.publish('hint', hintPayload(big, `h${i}`));
    raw.resume();
    expect(await disconnected).toBe('io server disconnect');
    expect(await told).toMatchObject({ reason: 'too_slow', limit: 10 });
    expect(r.got.length).toBeLessThan(60);
  });
});
