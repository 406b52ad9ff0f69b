import { afterEach, describe, expect, it } from 'vitest';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { hintPayload, statusPayload } from '../helpers/payloads.ts';
import { openSse, type SseConnection } from '../helpers/sse.ts';
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/server.ts';

let server: TestServer | undefined;
const conns: SseConnection[] = [];
afterEach(async () => {
  for (const c of conns.splice(0)) c.close();
  await server?.close();
  server = undefined;
});

/** A server whose host samples happen only when the test says (loop interval of an hour). */
async function manualServer(configure?: TestServerOptions['configure']) {
  const host = new FakeHostSource();
  server = await startTestServer({ hostSource: host, hostIntervalMs: 3_600_000, configure });
  await waitFor(() => server!.app.hub.lastId >= 1); // the loop's first sample at start
  const sample = async (n = 1) => {
    for (let i = 0; i < n; i++) await server!.app.loop.runOnce('host');
  };
  return { server, host, sample };
}

async function waitFor(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function sse(path: string, headers: Record<string, string> = {}) {
  const c = await openSse(`${server!.url}${path}`, { Authorization: `Bearer ${server!.token}`, ...headers });
  conns.push(c);
  return c;
}

const ids = (c: SseConnection) => c.frames.filter((f) => f.id !== undefined).map((f) => Number(f.id));

describe('SSE /api/events', () => {
  it('streams resource_status with increasing ids from real host sampling, with the protocol headers', async () => {
    server = await startTestServer({ hostIntervalMs: 100 });
    const c = await sse('/api/events?types=resource_status');
    expect(c.status).toBe(200);
    expect(c.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(c.headers['cache-control']).toBe('no-cache, no-transform');
    expect(c.headers['x-accel-buffering']).toBe('no');
    // an endless body delimited by the connection's close: no chunked framing around every event
    expect(c.headers['transfer-encoding']).toBeUndefined();
    expect(c.headers.connection).toBe('close');
    await c.until((f) => f.filter((x) => x.event === 'resource_status').length >= 3);
    expect(c.frames[0]!.retry).toBe(2000);
    const events = c.frames.filter((f) => f.event === 'resource_status');
    const got = events.map((f) => JSON.parse(f.data!) as { id: number; type: string; ts: number; data: { host: { cpu: { cores: number } } } });
    for (let i = 0; i < got.length; i++) {
      expect(got[i]!.id).toBe(Number(events[i]!.id));
      expect(got[i]!.type).toBe('resource_status');
      if (i > 0) expect(got[i]!.id).toBeGreaterThan(got[i - 1]!.id);
    }
    expect(got.at(-1)!.data.host.cpu.cores).toBeGreaterThan(0);
  });

  it('sends the latest status at once to a new client, then live events', async () => {
    const { sample } = await manualServer();
    await sample(2);
    const c = await sse('/api/events');
    await c.until((f) => ids(c).length >= 1);
    expect(ids(c)).toEqual([3]);
    await sample();
    await c.until(() => ids(c).length >= 2);
    expect(ids(c)).toEqual([3, 4]);
  });

  it('resumes with Last-Event-ID: exactly the missed events, no duplicate', async () => {
    const { sample } = await manualServer();
    const a = await sse('/api/events?types=resource_status');
    await sample(2);
    await a.until(() => ids(a).length >= 3);
    const last = ids(a).at(-1)!;
    a.close();
    await sample(5);
    const b = await sse('/api/events?types=resource_status', { 'Last-Event-ID': String(last) });
    await b.until(() => ids(b).length >= 5);
    expect(ids(b)).toEqual([last + 1, last + 2, last + 3, last + 4, last + 5]);
    await sample();
    await b.until(() => ids(b).length >= 6);
    expect(ids(b)).toEqual([last + 1, last + 2, last + 3, last + 4, last + 5, last + 6]);
    expect(b.frames.some((f) => f.event === 'replay_gap')).toBe(false);
  });

  it('resumes from ?lastEventId= too, and the header wins over it', async () => {
    const { sample } = await manualServer();
    await sample(4); // ids 1..5
    const q = await sse('/api/events?lastEventId=3');
    await q.until(() => ids(q).length >= 2);
    expect(ids(q)).toEqual([4, 5]);
    const h = await sse('/api/events?lastEventId=1', { 'Last-Event-ID': '4' });
    await h.until(() => ids(h).length >= 1);
    expect(ids(h)).toEqual([5]);
  });

  it('tells a client whose resume id fell out of the window, then streams on', async () => {
    const { sample } = await manualServer((c) => {
      c.push.replayCount = 3;
    });
    await sample(6); // ids 1..7, window 5..7
    const c = await sse('/api/events', { 'Last-Event-ID': '2' });
    await c.until(() => ids(c).length >= 3);
    const gap = c.frames.find((f) => f.event === 'replay_gap')!;
    expect(gap.id).toBeUndefined();
    expect(JSON.parse(gap.data!)).toEqual({ lastEventId: 2, oldestId: 5, reason: 'out_of_window' });
    expect(c.frames.indexOf(gap)).toBeLessThan(c.frames.findIndex((f) => f.id === '5'));
    expect(ids(c)).toEqual([5, 6, 7]);
    await sample();
    await c.until(() => ids(c).length >= 4);
    expect(ids(c)).toEqual([5, 6, 7, 8]);
  });

  it('filters by type', async () => {
    const { server: s, sample } = await manualServer();
    const hints = await sse('/api/events?types=hint');
    s.app.hub.publish('hint', hintPayload('a'));
    await sample();
    s.app.hub.publish('hint', hintPayload('b'));
    await hints.until(() => ids(hints).length >= 2);
    expect(hints.frames.filter((f) => f.id).map((f) => f.event)).toEqual(['hint', 'hint']);
  });

  it('rejects an unknown type or a bad resume id with 400 naming the field', async () => {
    await manualServer();
    const bad = await fetch(`${server!.url}/api/events?types=resource_status,bogus`, { headers: { Authorization: `Bearer ${server!.token}` } });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: { code: string; message: string; details: { field: string }[] } };
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.details[0]!.field).toBe('types.1');
    expect(body.error.message).toMatch(/types\.1/);
    const badId = await fetch(`${server!.url}/api/events?lastEventId=-4`, { headers: { Authorization: `Bearer ${server!.token}` } });
    expect(badId.status).toBe(400);
    expect(((await badId.json()) as { error: { message: string } }).error.message).toMatch(/lastEventId/);
  });

  it('sends a comment heartbeat', async () => {
    await manualServer((c) => {
      c.push.heartbeatMs = 1000;
    });
    const c = await sse('/api/events?types=hint');
    await waitFor(() => c.comments.includes('ping'), 5000);
    expect(c.comments[0]).toBe('arbiter');
  });

  it('gives a slow client the latest status instead of a backlog, and drops a stalled one past its bound', async () => {
    const { server: s } = await manualServer((c) => {
      c.push.maxBufferedEvents = 20;
    });
    const slow = await sse('/api/events?types=resource_status');
    await slow.until(() => ids(slow).length >= 1);
    slow.pause();
    const big = 'x'.repeat(200_000);
    for (let i = 0; i < 60; i++) s.app.hub.publish('resource_status', statusPayload({ node: big, sampledAt: i }));
    const lastId = s.app.hub.lastId;
    slow.resume();
    await slow.until(() => ids(slow).at(-1) === lastId, 15_000);
    expect(ids(slow).length).toBeLessThan(40);

    const stalled = await sse('/api/events?types=hint');
    stalled.pause();
    for (let i = 0; i < 60; i++) s.app.hub.publish('hint', hintPayload(big, `h${i}`));
    stalled.resume(); // reading again within the grace: it is told why it was cut off
    await stalled.ended;
    expect(ids(stalled).length).toBeLessThan(60);
    const last = stalled.frames.at(-1)!;
    expect(last.event).toBe('dropped');
    expect(last.id).toBeUndefined();
    expect(JSON.parse(last.data!)).toMatchObject({ reason: 'too_slow', limit: 20 });
  });
});
