import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { flushMicrotasks, ManualClock } from '../../server/clock.ts';
import type { EngineApi } from '../../server/monitor/sources/docker/api.ts';
import { ContainerList, type ListLink } from '../../server/monitor/sources/docker/containers.ts';
import type { InspectBody } from '../../server/monitor/sources/docker/inspect.ts';

const RESYNC_MS = 60_000;

/** An engine holding containers by id; its event stream is a PassThrough the test writes events into. */
function fakeEngine() {
  const containers = new Map<string, InspectBody>();
  const events: PassThrough[] = [];
  const inspected: string[] = [];
  let listed = 0;
  let failInspect: Error | null = null;
  const client = {
    list: async () => (listed++, [...containers.keys()]),
    inspect: async (id: string) => {
      inspected.push(id);
      if (failInspect) throw failInspect;
      const c = containers.get(id);
      if (!c) throw Object.assign(new Error('no such container'), { statusCode: 404 });
      return c;
    },
    containerEvents: async () => {
      const s = new PassThrough();
      events.push(s);
      return s;
    },
  } as Pick<EngineApi, 'list' | 'inspect' | 'containerEvents'> as EngineApi;
  const put = (id: string, status: string, restarts = 0) => containers.set(id, { Id: id, Name: `/${id}`, State: { Status: status }, RestartCount: restarts });
  const send = (action: string, id: string) => events[events.length - 1]!.write(`${JSON.stringify({ Type: 'container', Action: action, Actor: { ID: id } })}\n`);
  return {
    client, containers, events, inspected, put, send,
    listed: () => listed,
    failInspectWith: (err: Error | null) => void (failInspect = err),
  };
}

/** A list on connection 1 of a source that records what the list tells it. */
function setup() {
  const engine = fakeEngine();
  const clock = new ManualClock();
  const told: string[] = [];
  const lost: unknown[] = [];
  const state = { gen: 1, connected: false };
  const link: ListLink = {
    current: (gen) => gen === state.gen,
    connected: () => state.connected,
    client: () => engine.client,
    // as the source does: the first report of a connection's loss counts, it is not connected from then on
    lost: (gen, err) => {
      if (gen !== state.gen || !state.connected) return;
      lost.push(err);
      state.connected = false;
    },
    changed: () => void told.push('changed'),
    live: (id) => void told.push(`live ${id}`),
    idle: (id) => void told.push(`idle ${id}`),
  };
  const list = new ContainerList(link, { clock, resyncMs: RESYNC_MS, requestTimeoutMs: 5_000, restartWindowMs: 300_000 });
  const view = () => [...list.all()].map((i) => `${i.id}:${i.state}`).sort();
  /** connection 1 up: events subscribed, first list taken */
  const connect = async () => {
    await list.openEvents(1, engine.client);
    await list.relist(1, engine.client);
    state.connected = true;
  };
  return { engine, clock, list, link, told, lost, state, view, connect };
}

describe('ContainerList re-list', () => {
  it('inspects every container, replaces the list and says whether anything we show changed', async () => {
    const { engine, list, told, view } = setup();
    engine.put('a', 'running');
    engine.put('b', 'exited');
    expect(await list.relist(1, engine.client)).toBe(true);
    expect(view()).toEqual(['a:running', 'b:exited']);
    expect(told).toEqual(['live a', 'idle b']);
    expect(list.liveIds()).toEqual(['a']);
    expect(await list.relist(1, engine.client)).toBe(false);
    engine.containers.delete('a');
    told.length = 0;
    expect(await list.relist(1, engine.client)).toBe(true);
    expect(view()).toEqual(['b:exited']);
    expect(told).toEqual(['idle b', 'idle a']);
  });

  it('keeps the list when the connection was replaced during the re-list', async () => {
    const { engine, list, state, view } = setup();
    engine.put('a', 'running');
    const relist = list.relist(1, engine.client);
    state.gen = 2;
    expect(await relist).toBe(false);
    expect(view()).toEqual([]);
  });

  it('counts restarts seen across inspections within the window', async () => {
    const { engine, clock, list } = setup();
    engine.put('a', 'running', 0);
    await list.relist(1, engine.client);
    engine.put('a', 'running', 2);
    await clock.advance(1_000);
    await list.relist(1, engine.client);
    expect(list.restartsRisen('a', clock.now())).toBe(2);
    expect(list.restartsRisen('a', clock.now() + 300_001)).toBe(0);
  });
});

describe('ContainerList events', () => {
  it('inspects the container an event names and tells the change; a removal drops it', async () => {
    const { engine, told, view, connect } = setup();
    await connect();
    engine.put('a', 'running');
    engine.send('start', 'a');
    await flushMicrotasks();
    expect(view()).toEqual(['a:running']);
    expect(told).toEqual(['live a', 'changed']);
    engine.containers.delete('a');
    engine.send('destroy', 'a');
    await flushMicrotasks();
    expect(view()).toEqual([]);
    expect(told.slice(2)).toEqual(['idle a', 'changed']);
  });

  it('ignores events that do not change what we show', async () => {
    const { engine, told, connect } = setup();
    await connect();
    engine.send('exec_start', 'a');
    await flushMicrotasks();
    expect(engine.inspected).toEqual([]);
    expect(told).toEqual([]);
  });

  it('keeps events that come before the first list and works through them, coalesced, at the kick', async () => {
    const { engine, list, told, state, view } = setup();
    await list.openEvents(1, engine.client);
    engine.put('a', 'running');
    engine.send('create', 'a');
    engine.send('start', 'a');
    await flushMicrotasks();
    expect(engine.inspected).toEqual([]);
    await list.relist(1, engine.client);
    state.connected = true;
    told.length = 0;
    engine.inspected.length = 0;
    list.kick(1);
    await flushMicrotasks();
    expect(engine.inspected).toEqual(['a']);
    expect(view()).toEqual(['a:running']);
    expect(told).toEqual(['live a', 'changed']);
  });

  it('tells the connection lost when the event stream ends, not once detached', async () => {
    const { engine, list, lost, state, connect } = setup();
    await connect();
    engine.events[0]!.end();
    engine.events[0]!.resume();
    await flushMicrotasks();
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatchObject({ message: 'the engine closed the event stream', code: 'ECONNRESET' });
    state.connected = true;
    await list.openEvents(1, engine.client);
    list.detach();
    engine.events[1]!.destroy();
    await flushMicrotasks();
    expect(lost).toHaveLength(1);
  });

  it('tells the connection lost when an inspection cannot connect; another failure keeps what we knew', async () => {
    const { engine, lost, told, view, connect } = setup();
    engine.put('a', 'running');
    await connect();
    told.length = 0;
    engine.failInspectWith(Object.assign(new Error('boom'), { statusCode: 500 }));
    engine.send('restart', 'a');
    await flushMicrotasks();
    expect(view()).toEqual(['a:running']);
    expect(told).toEqual(['changed']);
    expect(lost).toEqual([]);
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    engine.failInspectWith(refused);
    engine.send('restart', 'a');
    await flushMicrotasks();
    expect(lost).toEqual([refused]);
  });
});

describe('ContainerList resync', () => {
  it('re-lists every resyncMs while connected, telling only a change', async () => {
    const { engine, clock, list, told, state, view, connect } = setup();
    await connect();
    list.scheduleResync(1);
    expect(engine.listed()).toBe(1);
    await clock.advance(RESYNC_MS);
    expect(engine.listed()).toBe(2);
    expect(told).toEqual([]);
    engine.put('b', 'created');
    await clock.advance(RESYNC_MS);
    expect(view()).toEqual(['b:created']);
    expect(told).toEqual(['idle b', 'changed']);
    state.connected = false;
    await clock.advance(RESYNC_MS);
    expect(engine.listed()).toBe(3);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('stops re-listing once detached', async () => {
    const { engine, clock, list, connect } = setup();
    await connect();
    list.scheduleResync(1);
    list.detach();
    await clock.advance(RESYNC_MS * 2);
    expect(engine.listed()).toBe(1);
  });
});
