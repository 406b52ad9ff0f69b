import { describe, expect, it, vi } from 'vitest';
import type { Envelope } from '../../shared/events.ts';
import { LiveConnection } from '../../web/src/live/connection.ts';
import { ApiError } from '../../web/src/lib/api.ts';
import { envelope, makeDeps, makeStatus } from './fakes.ts';

/** Let every promise already settled run its callbacks (no timers: the clock is a fake). */
async function settled(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

function setup(options: ConstructorParameters<typeof LiveConnection>[1] = {}) {
  const t = makeDeps();
  const conn = new LiveConnection(t.deps, options);
  return { ...t, conn };
}

describe('LiveConnection', () => {
  it('goes live over the WebSocket and asks for the latest first (no lastEventId)', () => {
    const { conn, ws, sse, frames } = setup();
    conn.start();
    expect(ws.attempts).toHaveLength(1);
    expect(sse.attempts).toHaveLength(0);
    expect(ws.last.opts.auth()).toEqual({ types: ['resource_status'] });
    frames.flush();
    expect(conn.getSnapshot().state).toEqual({ kind: 'connecting', transport: 'websocket' });
    ws.last.h.open();
    frames.flush();
    expect(conn.getSnapshot().state).toEqual({ kind: 'live', transport: 'websocket' });
  });

  it('batches envelopes to one notification per frame and keeps them all for envelope listeners', () => {
    const { conn, ws, frames } = setup();
    const notified = vi.fn();
    const received: number[][] = [];
    conn.subscribe(notified);
    conn.onEnvelopes('resource_status', (envs) => received.push(envs.map((e) => e.id)));
    conn.start();
    ws.last.h.open();
    frames.flush();
    notified.mockClear();
    for (const id of [1, 2, 3]) ws.last.h.envelope(envelope(id, makeStatus({ load: id })));
    expect(frames.pending).toBe(1);
    expect(notified).not.toHaveBeenCalled();
    frames.flush();
    expect(notified).toHaveBeenCalledTimes(1);
    expect(received).toEqual([[1, 2, 3]]);
    const snap = conn.getSnapshot();
    expect(snap.lastEventId).toBe(3);
    expect(snap.latest.resource_status?.data.host?.cpu.loadPercent).toBe(3);
    // the snapshot object is stable between frames (useSyncExternalStore needs that)
    expect(conn.getSnapshot()).toBe(snap);
  });

  it('drops duplicates and old ids, and ignores malformed envelopes', () => {
    const { conn, ws, frames } = setup();
    const received: number[] = [];
    conn.onEnvelopes('resource_status', (envs) => received.push(...envs.map((e) => e.id)));
    conn.start();
    ws.last.h.open();
    for (const id of [5, 5, 4, 6]) ws.last.h.envelope(envelope(id));
    ws.last.h.envelope({ nonsense: true });
    ws.last.h.envelope({ id: -1, type: 'resource_status', ts: 0, data: {} });
    frames.flush();
    expect(received).toEqual([5, 6]);
    expect(conn.getSnapshot().lastEventId).toBe(6);
  });

  it('reconnects after a drop with a countdown and resumes from the last id', () => {
    const { conn, ws, clock, frames } = setup();
    conn.start();
    ws.last.h.open();
    ws.last.h.envelope(envelope(41));
    ws.last.h.envelope(envelope(42));
    const first = ws.last;
    first.h.fail('disconnect: transport close');
    frames.flush();
    expect(first.closed).toBe(true);
    const state = conn.getSnapshot().state;
    expect(state.kind).toBe('reconnecting');
    if (state.kind !== 'reconnecting') return;
    expect(state.retryAt).toBeGreaterThan(clock.now);
    expect(state.retryAt - clock.now).toBeLessThanOrEqual(1000);
    expect(ws.attempts).toHaveLength(1);
    clock.advance(state.retryAt - clock.now);
    expect(ws.attempts).toHaveLength(2);
    // the auth function is read at connect time: it carries the latest id seen
    expect(ws.last.opts.auth()).toEqual({ types: ['resource_status'], lastEventId: 42 });
    // events from the closed attempt are ignored
    first.h.envelope(envelope(99));
    ws.last.h.open();
    ws.last.h.envelope(envelope(43));
    frames.flush();
    expect(conn.getSnapshot().lastEventId).toBe(43);
    expect(conn.getSnapshot().state).toEqual({ kind: 'live', transport: 'websocket' });
  });

  it('falls back to SSE after two failed WebSocket attempts, then returns to the WebSocket', () => {
    const { conn, ws, sse, clock, frames } = setup({ wsProbeMs: 10_000 });
    conn.start();
    ws.last.h.open();
    ws.last.h.envelope(envelope(7));
    ws.last.h.fail('disconnect: transport close'); // a drop does not count against the WebSocket
    clock.advance(1000);
    expect(ws.attempts).toHaveLength(2);
    ws.last.h.fail('connect_error: websocket error');
    expect(sse.attempts).toHaveLength(0);
    clock.advance(5000);
    expect(ws.attempts).toHaveLength(3);
    ws.last.h.fail('connect_error: websocket error');
    // second failed connect in a row: SSE at once, resuming from the last id
    expect(sse.attempts).toHaveLength(1);
    expect(sse.last.opts.lastEventId()).toBe(7);
    sse.last.h.open();
    frames.flush();
    expect(conn.getSnapshot().state).toEqual({ kind: 'live', transport: 'sse' });
    sse.last.h.envelope(envelope(8));
    // later a WebSocket probe; while it fails, SSE stays live
    clock.advance(10_000);
    expect(ws.attempts).toHaveLength(4);
    expect(ws.last.opts.auth()).toEqual({ types: ['resource_status'], lastEventId: 8 });
    ws.last.h.fail('connect_error: websocket error');
    frames.flush();
    expect(conn.getSnapshot().state).toEqual({ kind: 'live', transport: 'sse' });
    expect(sse.last.closed).toBe(false);
    clock.advance(19_999);
    expect(ws.attempts).toHaveLength(4); // the probe interval doubled
    clock.advance(1);
    expect(ws.attempts).toHaveLength(5);
    ws.last.h.open();
    frames.flush();
    expect(sse.last.closed).toBe(true);
    expect(conn.getSnapshot().state).toEqual({ kind: 'live', transport: 'websocket' });
    // overlap while switching is dropped by id
    const got: number[] = [];
    conn.onEnvelopes('resource_status', (envs) => got.push(...envs.map((e) => e.id)));
    ws.last.h.envelope(envelope(8));
    ws.last.h.envelope(envelope(9));
    frames.flush();
    expect(got).toEqual([9]);
  });

  it('backs off while everything is down, alternating WebSocket and SSE', () => {
    const { conn, ws, sse, clock, frames } = setup();
    conn.start();
    const delays: number[] = [];
    const order: string[] = [];
    let wsSeen = 0;
    let sseSeen = 0;
    for (let round = 0; round < 12; round++) {
      if (ws.attempts.length > wsSeen) {
        wsSeen = ws.attempts.length;
        order.push('ws');
        ws.last.h.fail('connect_error: xhr poll error');
      } else if (sse.attempts.length > sseSeen) {
        sseSeen = sse.attempts.length;
        order.push('sse');
        sse.last.h.fail('event stream error');
      }
      frames.flush();
      const s = conn.getSnapshot().state;
      if (s.kind === 'reconnecting') {
        delays.push(s.retryAt - clock.now);
        clock.advance(s.retryAt - clock.now);
      }
    }
    expect(order.slice(0, 6)).toEqual(['ws', 'ws', 'sse', 'ws', 'sse', 'ws']);
    expect(delays.slice(0, 6)).toEqual([1000, 2000, 4000, 8000, 16000, 30000]);
  });

  it('stops and says so when the server answers 401', async () => {
    const { conn, ws, clock, frames, setStatusResult } = setup();
    setStatusResult(() => Promise.reject(new ApiError(401, 'unauthorized', 'missing token')));
    conn.start();
    ws.last.h.fail('connect_error: unauthorized');
    await Promise.resolve();
    await Promise.resolve();
    frames.flush();
    expect(conn.getSnapshot().state).toEqual({ kind: 'unauthenticated' });
    expect(ws.last.closed).toBe(true);
    clock.advance(120_000);
    expect(ws.attempts).toHaveLength(1);
    // retry: asks the REST API first, reconnects only when it answers
    setStatusResult(() => Promise.resolve(makeStatus()));
    conn.retryNow();
    await Promise.resolve();
    await Promise.resolve();
    expect(ws.attempts).toHaveLength(2);
  });

  it('seeds from REST until a newer live status arrives', async () => {
    const { conn, ws, frames, setStatusResult } = setup();
    setStatusResult(() => Promise.resolve(makeStatus({ sampledAt: 1000, load: 1 })));
    conn.start();
    await Promise.resolve();
    await Promise.resolve();
    frames.flush();
    expect(conn.getSnapshot().latest.resource_status?.data.host?.cpu.loadPercent).toBe(1);
    expect(conn.getSnapshot().lastEventId).toBe(0);
    ws.last.h.open();
    ws.last.h.envelope(envelope(3, makeStatus({ sampledAt: 2000, load: 2 })));
    frames.flush();
    expect(conn.getSnapshot().latest.resource_status?.data.host?.cpu.loadPercent).toBe(2);
    conn.seed(makeStatus({ sampledAt: 1500, load: 9 }));
    frames.flush();
    expect(conn.getSnapshot().latest.resource_status?.data.host?.cpu.loadPercent).toBe(2);
  });

  it('reports replay gaps, and accepts lower ids when the server is behind', () => {
    const { conn, ws, frames } = setup();
    const gaps = vi.fn();
    conn.onGap(gaps);
    conn.start();
    ws.last.h.open();
    ws.last.h.envelope(envelope(100));
    ws.last.h.gap({ lastEventId: 100, oldestId: 150, reason: 'out_of_window' });
    frames.flush();
    expect(gaps).toHaveBeenCalledTimes(1);
    expect(conn.getSnapshot().gaps).toBe(1);
    expect(conn.getSnapshot().lastEventId).toBe(100);
    ws.last.h.gap({ lastEventId: 100, oldestId: 5, reason: 'ahead_of_server' });
    ws.last.h.envelope(envelope(5));
    frames.flush();
    expect(conn.getSnapshot().lastEventId).toBe(5);
    expect(conn.getSnapshot().gaps).toBe(2);
  });

  it('delivers several types to their own listeners', () => {
    const { conn, ws, frames } = setup({ types: ['resource_status', 'hint'] });
    const hints: Envelope<'hint'>[] = [];
    conn.onEnvelopes('hint', (envs) => hints.push(...envs));
    conn.start();
    expect(ws.last.opts.auth()).toEqual({ types: ['resource_status', 'hint'] });
    ws.last.h.open();
    ws.last.h.envelope({ id: 1, type: 'hint', ts: 1, data: { text: 'x' } });
    ws.last.h.envelope(envelope(2));
    frames.flush();
    expect(hints.map((h) => h.id)).toEqual([1]);
    expect(conn.getSnapshot().latest.hint?.id).toBe(1);
  });

  it('keeps the home node\'s snapshots as latest and for the listeners, and every node\'s latest apart', async () => {
    const { conn, ws, frames, setHealthResult } = setup();
    setHealthResult(() => Promise.resolve({ node: 'node-a' }));
    const received: string[] = [];
    const nodeFrames = vi.fn();
    conn.onEnvelopes('resource_status', (envs) => received.push(...envs.map((e) => `${e.id}:${e.data.node}`)));
    conn.subscribeNodes(nodeFrames);
    conn.start();
    await Promise.resolve();
    await Promise.resolve();
    ws.last.h.open();
    // the hub's backfill: the latest of each node in id order, another node's first; then both interleaved
    ws.last.h.envelope(envelope(7, makeStatus({ node: 'gpu-b', load: 70 })));
    ws.last.h.envelope(envelope(8, makeStatus({ node: 'node-a', load: 10 })));
    frames.flush();
    ws.last.h.envelope(envelope(9, makeStatus({ node: 'node-a', load: 11 })));
    ws.last.h.envelope(envelope(10, makeStatus({ node: 'gpu-b', load: 71 })));
    ws.last.h.envelope(envelope(11, makeStatus({ node: 'gpu-c', load: 90 })));
    frames.flush();
    const snap = conn.getSnapshot();
    expect(snap.latest.resource_status?.id).toBe(9);
    expect(snap.lastEventId).toBe(11);
    expect(received).toEqual(['8:node-a', '9:node-a']);
    const nodes = conn.getNodes();
    expect(nodes.home).toBe('node-a');
    expect(nodes.homeConfirmed).toBe(true);
    expect([...nodes.latestByNode].map(([n, e]) => [n, e.id])).toEqual([['gpu-b', 10], ['node-a', 9], ['gpu-c', 11]]);
    expect(nodeFrames).toHaveBeenCalledTimes(2); // the answer and the first two envelopes in one frame, then one more
    // another node's snapshot alone changes the nodes, not the home snapshot
    ws.last.h.envelope(envelope(12, makeStatus({ node: 'gpu-b', load: 72 })));
    frames.flush();
    expect(conn.getSnapshot()).toBe(snap);
    expect(conn.getNodes()).not.toBe(nodes);
    expect(conn.getNodes().latestByNode.get('gpu-b')?.id).toBe(12);
  });

  it('lets the first snapshot\'s node stand in until the server says which node it is, then shows that one', async () => {
    const { conn, ws, frames, setHealthResult } = setup();
    let answer: (h: { node: string }) => void = () => undefined;
    setHealthResult(() => new Promise((r) => (answer = r)));
    conn.start();
    ws.last.h.open();
    ws.last.h.envelope(envelope(1, makeStatus({ node: 'gpu-b', load: 70 })));
    frames.flush();
    expect(conn.getSnapshot().latest.resource_status?.data.node).toBe('gpu-b');
    expect(conn.getNodes()).toMatchObject({ home: 'gpu-b', homeConfirmed: false });
    ws.last.h.envelope(envelope(2, makeStatus({ node: 'node-a', load: 10 })));
    frames.flush();
    expect(conn.getSnapshot().latest.resource_status?.id).toBe(1);
    answer({ node: 'node-a' });
    await Promise.resolve();
    await Promise.resolve();
    frames.flush();
    expect(conn.getSnapshot().latest.resource_status?.id).toBe(2);
    expect(conn.getNodes()).toMatchObject({ home: 'node-a', homeConfirmed: true });
    ws.last.h.envelope(envelope(3, makeStatus({ node: 'gpu-b', load: 75 })));
    frames.flush();
    expect(conn.getSnapshot().latest.resource_status?.id).toBe(2);
  });

  it('shows no status while the home node has sent none, and asks again for the home node after a failure', async () => {
    const { conn, ws, frames, setHealthResult } = setup();
    const asked = vi.fn(() => Promise.reject(new Error('network down')));
    setHealthResult(asked);
    conn.start();
    await settled();
    expect(asked).toHaveBeenCalledTimes(1);
    ws.last.h.open();
    ws.last.h.envelope(envelope(1, makeStatus({ node: 'gpu-b' })));
    setHealthResult(() => Promise.resolve({ node: 'node-a' }));
    ws.last.h.fail('transport close'); // a failure asks again
    await settled();
    frames.flush();
    expect(conn.getNodes()).toMatchObject({ home: 'node-a', homeConfirmed: true });
    expect(conn.getSnapshot().latest.resource_status).toBeUndefined();
    expect(conn.getNodes().latestByNode.get('gpu-b')?.id).toBe(1);
  });

  it('seeds a node\'s status from REST only when it is newer than that node\'s', () => {
    const { conn, ws, frames } = setup();
    conn.start();
    ws.last.h.open();
    ws.last.h.envelope(envelope(1, makeStatus({ node: 'node-a', sampledAt: 2000 })));
    ws.last.h.envelope(envelope(2, makeStatus({ node: 'gpu-b', sampledAt: 5000 })));
    conn.seed(makeStatus({ node: 'node-a', sampledAt: 3000, load: 33 }));
    frames.flush();
    expect(conn.getSnapshot().latest.resource_status?.data.host?.cpu.loadPercent).toBe(33);
  });

  it('rejects inconsistent options', () => {
    const { deps } = makeDeps();
    expect(() => new LiveConnection(deps, { backoffBaseMs: 5000, backoffMaxMs: 1000 })).toThrow(/backoffMaxMs \(1000\).*backoffBaseMs \(5000\)/);
    expect(() => new LiveConnection(deps, { wsFailuresBeforeSse: 0 })).toThrow(/at least 1/);
  });
});
