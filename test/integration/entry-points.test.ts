/**
 * No exception thrown while handling a request, a socket.io packet, an SSE or WebSocket connection, or a sampler child
 * ends `serve`. For each entry point of the real CLI: inputs that fail there, and a throw injected there (by
 * test/helpers/throw-once.mjs, preloaded), are answered or logged — by the HTTP error boundary, the transport, or
 * serve's last resort — and the server goes on: /api/health answers 200 and the process has not exited.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HealthResponse } from '../../shared/api.ts';
import { exited, freePort, startLoggedServer, until, type LoggedServer } from '../helpers/cli-server.ts';
import { openSse } from '../helpers/sse.ts';
import { openWs, wsUrl } from '../helpers/ws.ts';
import { CAPTURES, STAND_IN, fixture } from '../stand-ins/gpu-fixtures.ts';

const TOKEN = 'entry-points-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const PRELOAD = new URL('../helpers/throw-once.mjs', import.meta.url).pathname;
const LAST_RESORT = 'an exception nothing caught (the server goes on)';

const cleanups: (() => void)[] = [];
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'arbiter-entry-points-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function start(o: { args?: string[]; nvidiaSmi?: string; env?: NodeJS.ProcessEnv } = {}): Promise<LoggedServer & { base: string }> {
  const port = await freePort();
  const s = await startLoggedServer({ port, dataDir: dir(), token: TOKEN, preload: [PRELOAD], ...o, onCleanup: (fn) => cleanups.push(fn) });
  return { ...s, base: `http://127.0.0.1:${port}` };
}

async function stop(s: LoggedServer): Promise<void> {
  s.child.kill('SIGTERM');
  await exited(s.child);
}

/** The server answers its health check and has not exited. */
async function servesOn(s: LoggedServer & { base: string }): Promise<void> {
  expect((await fetch(`${s.base}/api/health`)).status).toBe(200);
  expect(s.child.exitCode).toBeNull();
  expect(s.child.signalCode).toBeNull();
}

/** The lines of its JSON log (stdout) that parse. */
function logLines(s: LoggedServer): { msg?: string; err?: { message?: string } }[] {
  return s.out().split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as { msg?: string; err?: { message?: string } }];
    } catch {
      return [];
    }
  });
}

const lastResorts = (s: LoggedServer) => s.err().split(LAST_RESORT).length - 1;

describe('every entry point of one server', () => {
  let s: LoggedServer & { base: string };
  beforeAll(async () => {
    // short heartbeats and bounds: a slow SSE client is cut off soon, and a heartbeat falls in its grace
    s = await start({ args: ['--heartbeat-ms', '1000', '--max-buffered-events', '10'] });
  }, 90_000);
  afterAll(async () => {
    await stop(s);
    for (const c of cleanups.splice(0).reverse()) c();
  });

  it('a request handler that throws, sync or async: 500 internal, the cause in the log, the server goes on', async () => {
    const sync = await fetch(`${s.base}/api/queue`, { headers: { ...AUTH, 'x-throw-once': 'end' } });
    expect(sync.status).toBe(500);
    expect(await sync.json()).toEqual({ error: { code: 'internal', message: 'internal server error' } });
    // the handler's answer fails after it awaited the commit
    const async = await fetch(`${s.base}/api/requests`, {
      method: 'POST', headers: { ...AUTH, 'content-type': 'application/json', 'x-throw-once': 'end' }, body: JSON.stringify({ owner: 'alice', resources: { cpu: 10 } }),
    });
    expect(async.status).toBe(500);
    expect(await async.json()).toEqual({ error: { code: 'internal', message: 'internal server error' } });
    await until(() => logLines(s).filter((l) => l.msg === 'unhandled error' && l.err?.message === 'injected: end').length === 2, 'both causes logged');
    expect((await fetch(`${s.base}/api/queue`, { headers: AUTH })).status).toBe(200);
    await servesOn(s);
  });

  it('a socket.io packet whose handler throws: logged, no answer to it; the same socket is answered next', async () => {
    const socket = io(s.base, { transports: ['websocket'], auth: { token: TOKEN }, query: { 'throw-once': 'subscribe' }, reconnection: false });
    cleanups.push(() => socket.disconnect());
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const before = lastResorts(s);
    let first: unknown;
    socket.emit('subscribe', { types: ['hint'] }, (r: unknown) => (first = r));
    await until(() => s.err().includes('injected: subscribe'), 'the exception logged');
    expect(lastResorts(s)).toBe(before + 1);
    // acks come in order: the second answered, the first never will be
    expect(await socket.timeout(10_000).emitWithAck('subscribe', { types: ['conflict'] })).toEqual({ ok: true, types: ['conflict'] });
    expect(first).toBeUndefined();
    expect(socket.connected).toBe(true);
    await servesOn(s);
  });

  it('socket.io packets that cannot be read: the connection is answered or closed, the server goes on', async () => {
    const before = lastResorts(s);
    const bad: (string | Buffer)[] = ['42[', '42["subscribe"', '42{"a":1}', '4299999999999999999999["subscribe"]', '45-["subscribe",{"_placeholder":true,"num":0}]', '4x', '9', Buffer.from([0xff, 0x00, 0x01])];
    for (const packet of bad) {
      const raw = await rawSocketIo(s.base);
      raw.ws.send(packet);
      // then a subscribe with an ack id: answered when the connection survived the packet
      raw.ws.send('421["subscribe",{"types":["hint"]}]');
      const outcome = await until(() => (raw.messages.some((m) => m.startsWith('431[')) ? 'answered' : raw.closed ? 'closed' : undefined), `the outcome of ${String(packet)}`);
      expect(['answered', 'closed']).toContain(outcome);
      raw.ws.terminate();
    }
    expect(lastResorts(s)).toBe(before);
    const socket = io(s.base, { transports: ['websocket'], auth: { token: TOKEN }, reconnection: false });
    cleanups.push(() => socket.disconnect());
    expect(await socket.timeout(10_000).emitWithAck('subscribe', { types: ['hint'] })).toEqual({ ok: true, types: ['hint'] });
    await servesOn(s);
  });

  it('an SSE stream whose handler throws is ended; one whose heartbeat throws goes on; both logged', async () => {
    const ended = await openSse(`${s.base}/api/events?types=hint`, { ...AUTH, 'x-throw-once': 'sse-open' });
    await ended.ended;
    expect(ended.frames).toEqual([]);
    await until(() => logLines(s).some((l) => l.msg === 'unhandled error' && l.err?.message === 'injected: sse-open'), 'the cause logged');

    const before = lastResorts(s);
    const live = await openSse(`${s.base}/api/events?types=hint`, { ...AUTH, 'x-throw-once': 'sse-heartbeat' });
    cleanups.push(() => live.close());
    await until(() => s.err().includes('injected: sse-heartbeat'), 'the exception logged');
    expect(lastResorts(s)).toBe(before + 1);
    // the next heartbeat is written on the same stream
    await live.until(() => live.comments.includes('ping'), 10_000);
    live.close();
    await servesOn(s);
  });

  it('a malformed Last-Event-ID is a 400 naming the header', async () => {
    for (const id of ['abc', '-1', '1.5', '1e3', '0x10', '9'.repeat(400), '\u00e9\u00e9']) {
      const answer = await rawRequest(s.base, `GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nLast-Event-ID: ${id}\r\nConnection: close\r\n\r\n`);
      expect(answer, id).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer, id).toContain('invalid header: Last-Event-ID: expected a non-negative integer');
    }
    await servesOn(s);
  });

  it('an SSE client cut off for being too slow: closed after its grace, and nothing written to it after its end', async () => {
    const before = lastResorts(s);
    const open = await sseClients(s);
    const slow = await openSse(`${s.base}/api/events?types=scheduling_update`, AUTH);
    cleanups.push(() => slow.close());
    await slow.until(() => slow.comments.includes('arbiter'));
    slow.pause();
    // big events (64 labels of 2 × 256 characters a request) until its socket is full, its outbox past 10 and it is cut
    // off, then its 2 s of grace (in which 1 s heartbeats fall) are over
    const labels = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`${String(i).padStart(3, '0')}${'k'.repeat(253)}`, 'v'.repeat(256)]));
    const statuses = new Set<number>();
    let sent = 0;
    await until(async () => {
      for (let i = 0; i < 10; i++) {
        const r = await fetch(`${s.base}/api/requests`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ owner: `slow-${sent++}`, resources: { cpu: 1 }, labels }) });
        statuses.add(r.status);
      }
      return (await sseClients(s)) === open;
    }, 'the slow client dropped and closed', 60_000);
    expect([...statuses].every((c) => c === 201 || c === 202), [...statuses].join()).toBe(true);
    expect(s.err()).not.toContain('write after end');
    expect(lastResorts(s)).toBe(before);
    await servesOn(s);
  });

  it('SSE clients that go away in the middle of their backfill: nothing thrown, none left behind', async () => {
    const before = lastResorts(s);
    const open = await sseClients(s);
    const ask = `GET /api/events?types=scheduling_update HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nLast-Event-ID: 0\r\n\r\n`;
    await Promise.all(Array.from({ length: 30 }, (_, i) => new Promise<void>((resolve) => {
      const so = connect(Number(new URL(s.base).port), '127.0.0.1', () => {
        so.write(ask);
        if (i % 2 === 0) so.destroy(); // before the answer
      });
      so.once('data', () => so.destroy()); // after its first bytes
      so.on('error', () => {});
      so.on('close', () => resolve());
    })));
    await until(async () => (await sseClients(s)) === open, 'every stream closed');
    expect(lastResorts(s)).toBe(before);
    await servesOn(s);
  });

  it('WebSocket messages that are not the protocol: answered with an error, the connection goes on', async () => {
    const ws = await openWs(wsUrl(s.base, `/api/ws?access_token=${TOKEN}`));
    cleanups.push(() => ws.close());
    ws.ws.send('not json');
    ws.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    ws.ws.send('{"subscribe": 5}');
    ws.ws.send('{"resume": -1}');
    await ws.until((r) => r.controls('error').length === 4);
    ws.send({ subscribe: ['hint'] });
    await ws.until((r) => r.controls('subscribed').length === 1);
    ws.close();
    await servesOn(s);
  });

  it('WebSocket frames that break the protocol: that connection is closed with the code saying why, the server goes on', async () => {
    const before = lastResorts(s);
    const cases: [string, (ws: WebSocket) => void, number][] = [
      ['a message over 16 KiB', (ws) => ws.send('x'.repeat(20_000)), 1009],
      ['a text frame that is not UTF-8', (ws) => ws.send(Buffer.from([0xc3, 0x28, 0xff]), { binary: false }), 1007],
      ['a frame of a reserved opcode', (ws) => (ws as unknown as { _socket: Socket })._socket.write(Buffer.from([0x83, 0x80, 1, 2, 3, 4])), 1002],
    ];
    for (const [what, send, code] of cases) {
      const ws = await openWs(wsUrl(s.base, `/api/ws?access_token=${TOKEN}`));
      send(ws.ws);
      expect((await ws.closed).code, what).toBe(code);
    }
    expect(lastResorts(s)).toBe(before);
    await servesOn(s);
  });

  it('a WebSocket message whose handler throws: logged, that connection closed with 1011, others served', async () => {
    const ws = await openWs(wsUrl(s.base, `/api/ws?access_token=${TOKEN}&throw-once=ws-message`));
    ws.send({ subscribe: ['hint'] });
    expect((await ws.closed).code).toBe(1011);
    await until(() => logLines(s).some((l) => l.err?.message === 'injected: ws-message'), 'the cause logged');
    const next = await openWs(wsUrl(s.base, `/api/ws?access_token=${TOKEN}`));
    cleanups.push(() => next.close());
    next.send({ subscribe: ['hint'] });
    await next.until((r) => r.controls('subscribed').length === 1);
    await servesOn(s);
  });
});

describe('a sampler child that fails', () => {
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  /** The gpu source goes `error` with `message`, tries again, and the loop samples the host meanwhile. */
  async function gpuErrorWhileServing(s: LoggedServer & { base: string }, message: RegExp): Promise<void> {
    const health = async () => (await (await fetch(`${s.base}/api/health`, { headers: AUTH })).json()) as Required<HealthResponse>;
    // failing again: a second error at another time (a crashing loop delivers once after each restart, so its
    // failures are not consecutive samples; one that never delivers fails tick after tick)
    const errorsAt = new Set<number>();
    const failing = await until(async () => {
      const h = await health();
      const gpu = h.sources.gpu;
      if (gpu?.lastErrorAt) errorsAt.add(gpu.lastErrorAt);
      return gpu?.status === 'error' && errorsAt.size >= 2 ? h : undefined;
    }, 'the gpu source failing, and failing again', 60_000);
    expect(failing.status).toBe('degraded');
    expect(failing.sources.gpu!.message).toMatch(message);
    const hostAt = failing.sources.host!.lastSampleAt!;
    await until(async () => (await health()).sources.host!.lastSampleAt! > hostAt, 'the host sampled since', 10_000);
    expect(logLines(s).some((l) => l.msg === 'source gpu is error')).toBe(true);
    expect(lastResorts(s)).toBe(0);
    await servesOn(s);
    await stop(s);
  }

  it('nvidia-smi crashing: the gpu source is `error`, its loop restarted, the rest goes on', async () => {
    const s = await start({ nvidiaSmi: STAND_IN, env: { NVIDIA_SMI_FIXTURE: fixture(CAPTURES.h100), NVIDIA_SMI_DIE_AFTER: '1' } });
    await gpuErrorWhileServing(s, /exited with code 1/);
  });

  it('nvidia-smi printing only garbage: the gpu source is `error`, the rest goes on', async () => {
    const s = await start({ nvidiaSmi: STAND_IN, env: { NVIDIA_SMI_FIXTURE: fixture(CAPTURES.h100), NVIDIA_SMI_GARBAGE: 'only' } });
    await gpuErrorWhileServing(s, /no output from nvidia-smi --query-gpu|no valid output/);
  });

  it('nvidia-smi that cannot be spawned: the gpu source is `error`, the rest goes on', async () => {
    const notExecutable = join(dir(), 'nvidia-smi');
    writeFileSync(notExecutable, '#!/bin/sh\n');
    chmodSync(notExecutable, 0o644);
    const s = await start({ nvidiaSmi: notExecutable });
    await gpuErrorWhileServing(s, /EACCES/);
  });
});

/** The SSE clients the server counts now (its metrics). */
async function sseClients(s: { base: string }): Promise<number> {
  const text = await (await fetch(`${s.base}/metrics`, { headers: AUTH })).text();
  return Number(/^arbiter_push_clients\{transport="sse"\} (\d+)$/m.exec(text)?.[1] ?? 'NaN');
}

/** Send `raw` bytes as a request on a connection of its own; everything the server answered until it closed. */
function rawRequest(base: string, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const so = connect(Number(new URL(base).port), '127.0.0.1', () => so.write(Buffer.from(raw, 'latin1')));
    so.on('data', (b) => (text += b.toString('latin1')));
    so.on('close', () => resolve(text));
    so.on('error', reject);
  });
}

/** A socket.io client on a bare WebSocket (engine.io v4 text packets), connected to the main namespace. */
async function rawSocketIo(base: string): Promise<{ ws: WebSocket; messages: string[]; readonly closed: boolean }> {
  const ws = new WebSocket(wsUrl(base, '/socket.io/?EIO=4&transport=websocket'));
  const messages: string[] = [];
  let closed = false;
  ws.on('message', (d) => messages.push(d.toString()));
  ws.on('close', () => (closed = true));
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  await until(() => messages.some((m) => m.startsWith('0{')), 'the engine.io handshake');
  ws.send(`40${JSON.stringify({ token: TOKEN })}`);
  await until(() => messages.some((m) => m.startsWith('40{')), 'the namespace joined');
  return { ws, messages, get closed() { return closed; } };
}
