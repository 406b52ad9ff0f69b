/** The plain WebSocket transport (`/api/ws`, `/api/resource-scheduler/push/ws`) on a real server, with the `ws` client. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as connect } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { EnvelopeSchema, ReplayGapSchema } from '../../shared/events.ts';
import type { Config } from '../../server/config.ts';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { hintPayload, statusPayload } from '../helpers/payloads.ts';
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/server.ts';
import { openWs, wsUrl, type WsRecorder } from '../helpers/ws.ts';
import { until } from '../helpers/cli-server.ts';

let server: TestServer | undefined;
const clients: WsRecorder[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await server?.close();
  server = undefined;
});

async function manualServer(configure?: TestServerOptions['configure'], extra: Partial<TestServerOptions> = {}) {
  server = await startTestServer({ hostSource: new FakeHostSource(), hostIntervalMs: 3_600_000, configure, ...extra });
  await until(() => server!.app.hub.lastId >= 1, 'the condition');
  return async (n = 1) => {
    for (let i = 0; i < n; i++) await server!.app.loop.runOnce('host');
  };
}

/** Connect with the token in the query unless `query` says otherwise. */
async function client(query = '', opts: WebSocket.ClientOptions = {}, path = '/api/ws'): Promise<WsRecorder> {
  const sep = query ? '&' : '';
  const c = await openWs(wsUrl(server!.url, `${path}?access_token=${server!.token}${sep}${query}`), opts);
  clients.push(c);
  return c;
}

describe('plain WebSocket push', () => {
  it.each(['/api/ws', '/api/resource-scheduler/push/ws'])('sends each event as one JSON envelope on %s, the latest status first', async (path) => {
    const sample = await manualServer();
    const r = await client('', {}, path);
    await r.until((x) => x.events().length >= 1);
    expect(r.ids()).toEqual([server!.app.hub.lastId]); // the latest status of the node, at once
    // one new status and a hint: a status is never replaced here (a client the server finds busy keeps only a node's
    // newest status: two samples in a row may arrive as one on a loaded machine)
    await sample();
    server!.app.hub.publish('hint', hintPayload('after the sample'));
    await r.until((x) => x.events().length >= 3);
    for (const env of r.events()) expect(EnvelopeSchema.parse(env)).toEqual(env);
    const ids = r.ids();
    expect(ids).toEqual([ids[0]!, ids[0]! + 1, ids[0]! + 2]);
    expect(r.events().map((e) => e.type)).toEqual(['resource_status', 'resource_status', 'hint']);
    expect(r.events()[0]).toMatchObject({ type: 'resource_status', data: { host: { cpu: { cores: expect.any(Number) } } } });
  });

  it('filters by the types of ?types= and of a subscribe message; unknown types are named and the connection kept', async () => {
    const sample = await manualServer();
    const r = await client('types=hint');
    server!.app.hub.publish('hint', hintPayload('1'));
    await sample();
    await r.until((x) => x.events().length >= 1);
    r.send({ subscribe: ['resource_status'] });
    await r.until((x) => x.controls('subscribed').length === 1);
    expect(r.controls('subscribed')[0]!.data).toEqual({ types: ['resource_status'] });
    server!.app.hub.publish('hint', hintPayload('2'));
    await sample();
    await r.until((x) => x.events().length >= 2);

    r.send({ subscribe: ['hint', 'nope', 'bogus'] });
    await r.until((x) => x.controls('error').length === 1);
    expect(r.controls('error')[0]!.data).toEqual({ message: expect.stringMatching(/unknown event types: nope, bogus/), unknownTypes: ['nope', 'bogus'] });
    r.send({ resume: -1 });
    r.ws.send('not json');
    await r.until((x) => x.controls('error').length === 3);
    // still connected, still on resource_status only
    server!.app.hub.publish('hint', hintPayload('3'));
    await sample();
    await r.until((x) => x.events().length >= 3);
    expect(r.events().map((e) => e.type)).toEqual(['hint', 'resource_status', 'resource_status']);
    // an empty list: every type again
    r.send({ subscribe: [] });
    await r.until((x) => x.controls('subscribed').length === 2);
    server!.app.hub.publish('hint', hintPayload('4'));
    await r.until((x) => x.events().at(-1)?.type === 'hint');
  });

  it('resumes from {"resume": id} and from ?lastEventId=: exactly the events after it, no duplicate', async () => {
    const sample = await manualServer();
    const a = await client('types=hint');
    for (let i = 0; i < 3; i++) server!.app.hub.publish('hint', hintPayload(`a${i}`, `a${i}`));
    await a.until((x) => x.events().length >= 3);
    const last = a.ids().at(-1)!;
    a.close();
    await sample(2); // statuses the hint-only client does not take
    const missed = [1, 2, 3, 4].map(() => server!.app.hub.publish('hint', hintPayload('b', 'b'))!.id);

    const b = await client('types=hint');
    b.send({ resume: last });
    await b.until((x) => x.events().length >= 4);
    server!.app.hub.publish('hint', hintPayload('live'));
    await b.until((x) => x.events().length >= 5);
    expect(b.ids()).toEqual([...missed, server!.app.hub.lastId]);
    // a second resume from the same point sends nothing again
    b.send({ resume: last });
    server!.app.hub.publish('hint', hintPayload('live2'));
    await b.until((x) => x.events().length >= 6);
    expect(b.ids()).toEqual([...missed, server!.app.hub.lastId - 1, server!.app.hub.lastId]);
    expect(b.controls('replay_gap')).toEqual([]);

    const c = await client(`types=hint&lastEventId=${last}`);
    await c.until((x) => x.events().length >= 6);
    expect(c.ids()).toEqual(b.ids());
    // every type: the statuses between, and not the latest status it got at connect twice
    const d = await client();
    await d.until((x) => x.events().length >= 1);
    d.send({ resume: last });
    await d.until((x) => x.ids().includes(server!.app.hub.lastId - 1));
    expect(new Set(d.ids()).size).toBe(d.ids().length);
  });

  it('reports a resume point out of the window as replay_gap, then streams from the oldest kept event', async () => {
    const sample = await manualServer((c) => {
      c.push.replayCount = 3;
    });
    await sample(6); // ids 1..7, window 5..7
    const r = await client('lastEventId=1');
    await r.until((x) => x.events().length >= 3);
    expect(r.messages[0]).toEqual({ type: 'replay_gap', data: { lastEventId: 1, oldestId: 5, reason: 'out_of_window' } });
    expect(ReplayGapSchema.parse(r.controls('replay_gap')[0]!.data)).toBeTruthy();
    expect(r.ids()).toEqual([5, 6, 7]);
    const s = await client();
    s.send({ resume: 1 });
    await s.until((x) => x.controls('replay_gap').length === 1);
    expect(s.controls('replay_gap')[0]!.data).toMatchObject({ lastEventId: 1, reason: 'out_of_window' });
  });

  it('resumes across a restart: archived events come back by id', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-ws-restart-'));
    try {
      const configure = (c: Config) => {
        c.resources = { cpu: 4000, memoryMiB: 8192, gpus: [{ index: 0, memoryMiB: 16384 }] };
      };
      await manualServer(configure, { dataDir });
      const post = (body: unknown) => fetch(`${server!.url}/api/requests`, { method: 'POST', headers: { Authorization: `Bearer ${server!.token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      const a = await client('types=scheduling_update,conflict');
      expect((await post({ owner: 'ana', resources: { gpus: 1 } })).status).toBe(201);
      const granted = server!.app.hub.lastId;
      await a.until((x) => x.ids().includes(granted));
      const seen = a.ids().at(-1)!;
      a.close();
      expect((await post({ owner: 'bo', resources: { gpus: 1 } })).status).toBe(202);
      const lastBefore = server!.app.hub.lastId;
      await server!.close();
      server = undefined;

      await manualServer(configure, { dataDir });
      const b = await client('types=scheduling_update,conflict');
      b.send({ resume: seen });
      await b.until((x) => x.ids().includes(lastBefore));
      const kinds = b.events().map((e) => (e.data as { kind: string }).kind);
      expect(kinds).toEqual(expect.arrayContaining(['request_queued', 'conflict_opened']));
      expect(b.controls('replay_gap')).toEqual([]);
      expect(new Set(b.ids()).size).toBe(b.ids().length);
      expect(Math.min(...b.ids())).toBeGreaterThan(seen);
    } finally {
      await server?.close();
      server = undefined;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('takes the token from the header, the query or the cookie; refuses a wrong, missing or malformed one with 401', async () => {
    await manualServer();
    const url = wsUrl(server!.url, '/api/resource-scheduler/push/ws');
    const ok = async (u: string, headers: Record<string, string> = {}) => {
      const c = await openWs(u, { headers });
      clients.push(c);
      await c.until((x) => x.events().length >= 1);
    };
    await ok(url, { Authorization: `Bearer ${server!.token}` });
    await ok(`${url}?access_token=${server!.token}`);
    await ok(url, { Cookie: `theme=dark; arbiter_token=${encodeURIComponent(server!.token)}` });
    await expect(openWs(url)).rejects.toThrow('unexpected-response 401');
    await expect(openWs(`${url}?access_token=wrong-token-wrong-token`)).rejects.toThrow('unexpected-response 401');
    await expect(openWs(url, { headers: { Authorization: 'Bearer nope' } })).rejects.toThrow('unexpected-response 401');
    await expect(openWs(url, { headers: { Cookie: 'arbiter_token=%E0%A4%A' } })).rejects.toThrow('unexpected-response 401');
    await expect(openWs(`${url}?access_token=${server!.token}&types=bogus`)).rejects.toThrow('unexpected-response 400');
    const health = await fetch(`${server!.url}/api/health`);
    expect(health.status).toBe(200);
    // the HTTP API takes the malformed cookie as no token too
    expect((await fetch(`${server!.url}/api/queue`, { headers: { Cookie: 'arbiter_token=%E0%A4%A' } })).status).toBe(401);
  });

  it('leaves other upgrade paths alone: socket.io still connects, an unknown path is closed, ours stay open', async () => {
    await manualServer();
    const r = await client();
    const io = connect(server!.url, { transports: ['websocket'], reconnection: false, auth: { token: server!.token } });
    try {
      await new Promise<void>((resolve, reject) => {
        io.on('connect', resolve);
        io.on('connect_error', reject);
      });
    } finally {
      io.disconnect();
    }
    await expect(openWs(wsUrl(server!.url, '/api/nope'))).rejects.toThrow();
    // engine.io ends unanswered upgrades after 1 s: ours was answered
    await new Promise((res) => setTimeout(res, 1300));
    expect(r.ws.readyState).toBe(WebSocket.OPEN);
    server!.app.hub.publish('hint', hintPayload('still here'));
    await r.until((x) => x.events().some((e) => e.type === 'hint'));
    const metrics = await (await fetch(`${server!.url}/metrics`, { headers: { Authorization: `Bearer ${server!.token}` } })).text();
    expect(metrics).toMatch(/arbiter_push_clients\{transport="websocket"\} 1/);
  });

  it('drops a client that does not answer pings; one that does stays', async () => {
    await manualServer((c) => {
      c.push.wsPingMs = 50;
    });
    const silent = await client('', { autoPong: false });
    const answering = await client();
    const closed = await silent.closed;
    expect(closed.code).toBe(1006); // cut without a closing handshake
    await new Promise((res) => setTimeout(res, 150));
    expect(answering.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('with the pings spread over the interval (4 slices of 250 ms), still drops the silent client and keeps the others', async () => {
    await manualServer((c) => {
      c.push.wsPingMs = 1000;
    });
    const answering = await Promise.all([client(), client(), client()]);
    const silent = await client('', { autoPong: false });
    const closed = await silent.closed; // by its slice's second turn: ≤ 2 s after it connected
    expect(closed.code).toBe(1006);
    await new Promise((res) => setTimeout(res, 1100)); // a whole round more: every answering client pinged again
    for (const a of answering) expect(a.ws.readyState).toBe(WebSocket.OPEN);
    const metrics = await (await fetch(`${server!.url}/metrics`, { headers: { Authorization: `Bearer ${server!.token}` } })).text();
    expect(metrics).toMatch(/arbiter_push_clients\{transport="websocket"\} 3\n/);
  });

  it('gives a stalled client the latest status instead of a backlog', async () => {
    await manualServer();
    const r = await client('types=resource_status');
    await r.until((x) => x.events().length >= 1);
    const raw = (r.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    raw.pause();
    const big = 'x'.repeat(200_000);
    for (let i = 0; i < 60; i++) server!.app.hub.publish('resource_status', statusPayload({ node: big, sampledAt: i }));
    const lastId = server!.app.hub.lastId;
    raw.resume();
    await r.until((x) => x.ids().at(-1) === lastId, 15_000);
    expect(r.events().length).toBeLessThan(40);
    const ids = r.ids();
    for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!);
  });

  it('closes a stalled client whose queue of non-coalesced events passes its bound, saying why', async () => {
    await manualServer((c) => {
      c.push.maxBufferedEvents = 10;
    });
    const r = await client('types=hint');
    const raw = (r.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    raw.pause();
    const big = 'x'.repeat(200_000);
    for (let i = 0; i < 60; i++) server!.app.hub.publish('hint', hintPayload(big, `h${i}`));
    raw.resume();
    expect(await r.closed).toEqual({ code: 1008, reason: 'too slow: more than 10 events waiting' });
    expect(r.events().length).toBeLessThan(60);
    expect(server!.app.hub.lastId).toBeGreaterThan(60);
  });
});
