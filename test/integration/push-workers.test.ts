/**
 * Push workers (`--push-workers`): a real server with two worker processes; real SSE, plain WebSocket and socket.io
 * (on WebSocket) clients connect to the server's port as always, are handed to a worker and get the same events — the
 * backfill, live events, resume by id from the worker's window and, after a restart, from the database's archive — and
 * are counted against --max-clients. What is not handed (socket.io's long-polling, a token SSE or the plain WebSocket
 * refuses, a client past the limit) is answered by the server.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { io as connect, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientToServerEvents, Envelope, ServerToClientEvents } from '../../shared/events.ts';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { hintPayload } from '../helpers/payloads.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { openSse, type SseConnection } from '../helpers/sse.ts';
import { openWs, wsUrl, type WsRecorder } from '../helpers/ws.ts';
import { until } from '../helpers/cli-server.ts';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
let server: TestServer | undefined;
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await server?.close();
  server = undefined;
});

async function start(opts: { dataDir?: string; maxClients?: number } = {}) {
  server = await startTestServer({
    hostSource: new FakeHostSource(), hostIntervalMs: 3_600_000, ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    configure: (c) => {
      c.push.workers = 2;
      if (opts.maxClients !== undefined) c.push.maxClients = opts.maxClients;
    },
  });
  await until(() => server!.app.hub.lastId >= 1, 'the first status');
  return server;
}

const counts = () => server!.app.pushWorkers!.clientCounts();

/** The pids of this process's children whose command line names `what`. */
function childPids(what: string): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return ppid === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(what);
    } catch {
      return false; // gone meanwhile
    }
  });
}

/** One WebSocket text frame as a client sends it (masked). */
function maskedText(text: string): Buffer {
  const payload = Buffer.from(text);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x81, 0x80 | len]) : Buffer.from([0x81, 0x80 | 126, len >> 8, len & 0xff]);
  const mask = randomBytes(4);
  return Buffer.concat([head, mask, payload.map((b, i) => b ^ mask[i % 4]!)]);
}
const hint = (text: string) => server!.app.hub.publish('hint', hintPayload(text, text))!.id;

async function sse(path: string, headers: Record<string, string> = {}): Promise<SseConnection> {
  const c = await openSse(`${server!.url}${path}`, { Authorization: `Bearer ${server!.token}`, ...headers });
  closers.push(() => c.close());
  return c;
}
const sseIds = (c: SseConnection) => c.frames.filter((f) => f.id !== undefined).map((f) => Number(f.id));

async function ws(query = ''): Promise<WsRecorder> {
  const c = await openWs(wsUrl(server!.url, `/api/ws?access_token=${server!.token}${query}`));
  closers.push(() => c.ws.terminate());
  return c;
}

function io(transports: ('polling' | 'websocket')[], auth: Record<string, unknown> = {}): Promise<{ socket: Client; got: Envelope[] }> {
  const socket: Client = connect(server!.url, { transports, reconnection: false, forceNew: true, auth: { token: server!.token, ...auth } });
  closers.push(() => socket.disconnect());
  const got: Envelope[] = [];
  for (const t of ['resource_status', 'hint'] as const) socket.on(t, (env: Envelope) => got.push(env));
  return new Promise((resolve, reject) => {
    socket.on('connect', () => resolve({ socket, got }));
    socket.on('connect_error', reject);
  });
}

describe('push workers', () => {
  it('hand SSE, plain WebSocket and socket.io clients to the workers, which send every event once, in order; socket.io’s long-polling stays with the server', async () => {
    await start();
    expect(counts()).toEqual({ sse: 0, ws: 0, io: 0 });
    const status = server!.app.hub.lastId;
    const named = await sse('/api/events');
    const unnamed = await sse('/api/resource-scheduler/push/sse');
    const plain = await ws();
    const onWs = await io(['websocket']);
    const polling = await io(['polling']);
    await until(() => counts().sse === 2 && counts().ws === 1 && counts().io === 1, 'four clients at the workers');
    expect(server!.app.pushWorkers!.clientCount).toBe(4);
    // long-polling socket.io stays with the server; every transport's clients, the workers' too, in the metrics
    const metrics = await (await fetch(`${server!.url}/metrics`, { headers: { Authorization: `Bearer ${server!.token}` } })).text();
    expect(metrics).toMatch(/arbiter_push_clients\{transport="socket\.io"\} 2\n/);
    expect(metrics).toMatch(/arbiter_push_clients\{transport="sse"\} 2\n/);
    expect(metrics).toMatch(/arbiter_push_clients\{transport="websocket"\} 1\n/);

    // the latest status at once, then the live events, over each transport
    const a = hint('a');
    const b = hint('b');
    await named.until((f) => sseIds({ frames: f } as SseConnection).includes(b));
    await unnamed.until((f) => sseIds({ frames: f } as SseConnection).includes(b));
    await plain.until((r) => r.ids().includes(b));
    await until(() => onWs.got.some((e) => e.id === b) && polling.got.some((e) => e.id === b), 'socket.io clients got b');
    expect(sseIds(named)).toEqual([status, a, b]);
    expect(named.frames.find((f) => f.id === String(a))).toMatchObject({ event: 'hint' });
    expect(sseIds(unnamed)).toEqual([status, a, b]);
    expect(JSON.parse(unnamed.frames.find((f) => f.id === String(a))!.data!)).toMatchObject({ id: a, type: 'hint', data: { hint: { id: 'a' } } });
    expect(plain.ids()).toEqual([status, a, b]);
    expect(onWs.got.map((e) => e.id)).toEqual([status, a, b]);
    // socket.io on long-polling, served by the server, gets the same events
    expect(polling.got.map((e) => e.id)).toEqual([status, a, b]);

    // a client gone is no longer counted
    named.close();
    plain.ws.terminate();
    onWs.socket.disconnect();
    await until(() => counts().sse === 1 && counts().ws === 0 && counts().io === 0, 'the closed clients uncounted');
  });

  it('resumes a client at a worker from the replay window (Last-Event-ID, ?lastEventId=, a resume message)', async () => {
    await start();
    const ids = [hint('r1'), hint('r2'), hint('r3')];
    const c = await sse('/api/events?types=hint', { 'Last-Event-ID': String(ids[0]) });
    await c.until((f) => f.filter((x) => x.id).length >= 2);
    expect(sseIds(c)).toEqual([ids[1], ids[2]]);
    const w = await ws(`&types=hint&lastEventId=${ids[1]}`);
    await w.until((r) => r.ids().length >= 1);
    // what this connection has not been sent yet
    w.send({ resume: ids[0] });
    await w.until((r) => r.ids().length >= 2);
    expect(w.ids()).toEqual([ids[2], ids[1]]);
    const s = await io(['websocket'], { types: ['hint'], lastEventId: ids[0] });
    await until(() => s.got.length >= 2, 'socket.io resumed');
    expect(s.got.map((e) => e.id)).toEqual([ids[1], ids[2]]);
    expect(counts()).toEqual({ sse: 1, ws: 1, io: 1 });
  });

  it('after a restart a client resumes at a worker with every event it missed, from the database, none twice', async () => {
    const first = await start();
    const dataDir = first.dataDir;
    const c = await sse('/api/events?types=hint');
    await until(() => counts().sse === 1, 'handed to a worker');
    const seen = [hint('s1'), hint('s2')];
    await c.until((f) => f.filter((x) => x.id).length >= 2);
    const missed = [hint('m1'), hint('m2')];
    c.close();
    // stop (the data dir kept) and start again on it
    await first.app.close();
    closers.push(() => rmSync(dataDir, { recursive: true, force: true }));
    server = await startTestServer({
      hostSource: new FakeHostSource(), hostIntervalMs: 3_600_000, dataDir, configure: (cfg) => void (cfg.push.workers = 2),
    });
    const after = hint('after');
    const again = await sse('/api/events?types=hint', { 'Last-Event-ID': String(seen[1]) });
    await until(() => counts().sse === 1, 'handed to a worker');
    await again.until((f) => f.filter((x) => x.id).length >= 3);
    expect(sseIds(again)).toEqual([...missed, after]);
    expect(again.frames.some((f) => f.event === 'replay_gap')).toBe(false);
  });

  it('answers what it refuses itself: a wrong token, and clients past --max-clients (workers’ clients counted)', async () => {
    await start({ maxClients: 2 });
    const bad = await openSse(`${server!.url}/api/events`, { Authorization: 'Bearer wrong-token-0123456789' });
    closers.push(() => bad.close());
    expect(bad.status).toBe(401);
    await sse('/api/events');
    await ws();
    await until(() => counts().sse + counts().ws === 2, 'two clients at the workers');
    const third = await openSse(`${server!.url}/api/events`, { Authorization: `Bearer ${server!.token}` });
    closers.push(() => third.close());
    expect(third.status).toBe(503);
    expect(third.headers['retry-after']).toBe('5');
    await expect(ws()).rejects.toThrow(/503/);
    // socket.io past the limit is not handed: the server refuses its CONNECT
    await expect(io(['websocket'])).rejects.toThrow(/too many/);
    expect(counts().io).toBe(0);
  });

  it('refuses a wrong socket.io token at the worker, and counts it at the server: 20 lock the address out everywhere', async () => {
    await start();
    await expect(io(['websocket'], { token: 'wrong-token-0123456789' })).rejects.toThrow(/unauthorized/);
    const good = await io(['websocket']);
    expect(good.socket.connected).toBe(true);
    good.socket.disconnect();
    await until(() => counts().io === 0, 'the good client gone');
    // 19 more wrong tokens, refused at the workers, reach the server's lockout (20 a minute locks an address)
    for (let i = 0; i < 19; i++) await expect(io(['websocket'], { token: `wrong-token-${i}-0123456789` })).rejects.toThrow(/unauthorized/);
    const sseStatus = async () => {
      const c = await openSse(`${server!.url}/api/events`, { Authorization: `Bearer ${server!.token}` });
      c.close();
      return c.status;
    };
    await until(async () => (await sseStatus()) === 429, 'the address locked out at the server');
    // locked: not handed to a worker, refused by the server whatever the token
    await expect(io(['websocket'])).rejects.toThrow(/unauthorized/);
    expect(counts().io).toBe(0);
  });

  // what the client sends at once, and what the worker answers to it
  const earlyMessages = [
    { kind: 'io' as const, path: () => '/socket.io/?EIO=4&transport=websocket', send: () => `40${JSON.stringify({ token: server!.token, types: ['hint'] })}`, answer: '40{"sid"' },
    { kind: 'ws' as const, path: () => `/api/ws?access_token=${server!.token}&types=hint`, send: () => JSON.stringify({ subscribe: ['hint', 'conflict'] }), answer: '"type":"subscribed"' },
  ];
  it.each(earlyMessages)('leaves to the worker what a client sends before the worker has taken its connection ($kind)', async ({ kind, path, send, answer }) => {
    await start();
    // both workers stopped (by pid: this test's own children): the connection's descriptor waits in their channel
    const workers = childPids('push-worker');
    expect(workers).toHaveLength(2);
    const resume = () => workers.forEach((pid) => process.kill(pid, 'SIGCONT'));
    for (const pid of workers) process.kill(pid, 'SIGSTOP');
    closers.push(resume);
    const { port } = new URL(server!.url);
    const sock = connectTcp(Number(port), '127.0.0.1');
    closers.push(() => sock.destroy());
    let got = '';
    sock.on('data', (d: Buffer) => void (got += d.toString('latin1')));
    sock.write(`GET ${path()} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n`
      + `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`);
    await until(() => counts()[kind] === 1, 'handed to a worker');
    // sent while no worker runs (socket.io's CONNECT, a subscribe): this process (the server) is the only one that could read it
    await new Promise<void>((r) => sock.write(maskedText(send()), () => r()));
    await new Promise((r) => setTimeout(r, 100)); // turns of this process's loop, where a reading copy would take it
    resume();
    await until(() => got.includes(answer), 'the worker answered what was sent', 10_000);
    expect(got).toMatch(/^HTTP\/1\.1 101 /);
  });
});
