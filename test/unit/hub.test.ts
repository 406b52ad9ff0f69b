import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { EventHub, type EventArchive, type StoredEvent } from '../../server/push/hub.ts';
import { FileIdStore, MemoryIdStore } from '../../server/store/event-ids.ts';
import type { Envelope } from '../../shared/events.ts';
import { Outbox } from '../../server/push/outbox.ts';
import type { EventType } from '../../shared/events.ts';
import { hintPayload, payload, statusPayload } from '../helpers/payloads.ts';
import { replayAll } from '../helpers/replay.ts';

const ALL = new Set<EventType>(['resource_status', 'hint', 'conflict', 'scheduling_update']);

function hub(opts: { count?: number; ageMs?: number; ids?: MemoryIdStore; clock?: ManualClock } = {}) {
  const clock = opts.clock ?? new ManualClock();
  const ids = opts.ids ?? new MemoryIdStore();
  return { clock, ids, hub: new EventHub({ clock, replayCount: opts.count ?? 100, replayMaxAgeMs: opts.ageMs ?? 60_000, ids, idBlock: 10 }) };
}

describe('EventHub', () => {
  it('backlog: the window and the newest status of each node older than it, in id order, once; a relaying hub starts from it', () => {
    const { hub: h } = hub({ count: 3 });
    h.publish('resource_status', statusPayload({ node: 'a' })); // 1: replaced by 4
    h.publish('resource_status', statusPayload({ node: 'b' })); // 2: b's newest, out of the window
    h.publish('hint', hintPayload('x')); // 3: out of the window, not coalesced
    h.publish('resource_status', statusPayload({ node: 'a' })); // 4
    h.publish('hint', hintPayload('y')); // 5
    h.publish('hint', hintPayload('z')); // 6
    expect(h.backlog().map((e) => e.id)).toEqual([2, 4, 5, 6]);
    const relay = hub({ count: 3 }).hub;
    for (const ev of h.backlog()) relay.relay(ev.env);
    expect(relay.lastId).toBe(6);
    expect(relay.latestOf(new Set(['resource_status'])).map((e) => e.id)).toEqual([2, 4]);
    expect(replayAll(relay, 4, ALL).events.map((e) => e.id)).toEqual([5, 6]);
  });

  it('gives strictly increasing ids and the envelope {id,type,ts,data}', () => {
    const { hub: h, clock } = hub();
    const seen: StoredEvent[] = [];
    h.subscribe((e) => seen.push(e));
    const status = statusPayload();
    const hint = hintPayload();
    h.publish('resource_status', status);
    h.publish('hint', hint);
    expect(seen.map((e) => e.env)).toEqual([
      { id: 1, type: 'resource_status', ts: clock.now(), data: status },
      { id: 2, type: 'hint', ts: clock.now(), data: hint },
    ]);
    expect(seen[0]!.sse.toString()).toBe(`id: 1\nevent: resource_status\ndata: ${JSON.stringify(seen[0]!.env)}\n\n`);
    // the unnamed frame (format message, for EventSource.onmessage): no event line, encoded once
    expect(seen[1]!.sseFrameOf('message').toString()).toBe(`id: 2\ndata: ${JSON.stringify(seen[1]!.env)}\n\n`);
    expect(seen[1]!.sseMessage).toBe(seen[1]!.sseFrameOf('message'));
    expect(seen[1]!.sseFrameOf('event')).toBe(seen[1]!.sse);
    expect(h.lastId).toBe(2);
  });

  it('replays exactly the events after the resume id, filtered by type', () => {
    const { hub: h } = hub();
    for (let i = 0; i < 10; i++) h.publish(i % 2 ? 'hint' : 'resource_status', payload(i % 2 ? 'hint' : 'resource_status'));
    expect(replayAll(h, 4, ALL).events.map((e) => e.id)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(replayAll(h, 4, new Set(['hint'])).events.map((e) => e.id)).toEqual([6, 8, 10]);
    expect(replayAll(h, 10, ALL)).toEqual({ events: [] });
  });

  it('keeps at most `count` events and reports a resume point that fell out of the window', () => {
    const { hub: h } = hub({ count: 5 });
    for (let i = 0; i < 12; i++) h.publish('resource_status', payload('resource_status'));
    expect(replayAll(h, 7, ALL).events.map((e) => e.id)).toEqual([8, 9, 10, 11, 12]);
    expect(replayAll(h, 7, ALL).gap).toBeUndefined();
    expect(replayAll(h, 6, ALL).gap).toEqual({ lastEventId: 6, oldestId: 8, reason: "out_of_window" });
    const r = replayAll(h, 3, ALL);
    expect(r.gap).toEqual({ lastEventId: 3, oldestId: 8, reason: 'out_of_window' });
    expect(r.events.map((e) => e.id)).toEqual([8, 9, 10, 11, 12]);
  });

  it('drops events older than the age limit', async () => {
    const { hub: h, clock } = hub({ ageMs: 10_000 });
    h.publish('resource_status', payload('resource_status'));
    await clock.advance(6000);
    h.publish('resource_status', payload('resource_status'));
    await clock.advance(6000);
    expect(replayAll(h, 0, ALL)).toMatchObject({ gap: { reason: 'out_of_window', oldestId: 2 } });
    await clock.advance(6000);
    expect(replayAll(h, 2, ALL)).toEqual({ events: [] });
    expect(replayAll(h, 1, ALL).gap).toEqual({ lastEventId: 1, oldestId: null, reason: 'out_of_window' });
  });

  it('reports a resume id ahead of the server', () => {
    const { hub: h } = hub();
    h.publish('hint', payload('hint'));
    const r = replayAll(h, 50, ALL);
    expect(r.gap).toEqual({ lastEventId: 50, oldestId: 1, reason: 'ahead_of_server' });
    expect(r.events.map((e) => e.id)).toEqual([1]);
  });

  it('keeps ids increasing across restarts: exactly after a clean close, past the reserved block after a crash', () => {
    const ids = new MemoryIdStore();
    const a = hub({ ids }).hub;
    for (let i = 0; i < 3; i++) a.publish('hint', payload('hint'));
    expect(ids.next).toBe(11); // block of 10 reserved on the first publish
    // crash (no close): the next process starts past everything that may have been handed out
    const b = hub({ ids }).hub;
    expect(b.publish('hint', payload('hint'))!.id).toBe(11);
    b.publish('hint', payload('hint'));
    b.close();
    expect(ids.next).toBe(13);
    const c = hub({ ids }).hub;
    expect(c.publish('hint', payload('hint'))!.id).toBe(13);
  });

  it('publishes nothing after close, so the saved next id stays exact', () => {
    const ids = new MemoryIdStore();
    const h = hub({ ids }).hub;
    h.publish('hint', payload('hint'));
    h.close();
    expect(h.publish('hint', payload('hint'))).toBeUndefined();
    expect(ids.next).toBe(2);
  });

  it('persists the high-water mark in a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'arbiter-hub-'));
    const store = new FileIdStore(join(dir, 'event-id'));
    expect(store.load()).toBe(1);
    store.save(42);
    expect(readFileSync(join(dir, 'event-id'), 'utf8')).toBe('42\n');
    expect(new FileIdStore(join(dir, 'event-id')).load()).toBe(42);
  });
});

class MemoryArchive implements EventArchive {
  envs: Envelope[] = [];
  append(env: Envelope) { this.envs.push(env); }
  after(lastId: number, types: Iterable<EventType>, limit = 1000) {
    const t = new Set(types);
    return this.envs.filter((e) => e.id > lastId && t.has(e.type)).slice(0, limit);
  }
  oldestId() { return this.envs[0]?.id ?? null; }
  maxId() { return this.envs.at(-1)?.id ?? null; }
}

describe('EventHub with an archive', () => {
  it('archives every type but resource_status and serves resumes from before the window, also after a restart', () => {
    const archive = new MemoryArchive();
    const ids = new MemoryIdStore();
    const clock = new ManualClock();
    const a = new EventHub({ clock, replayCount: 3, replayMaxAgeMs: 60_000, ids, archive, idBlock: 10 });
    for (let i = 0; i < 8; i++) a.publish(i % 2 ? 'conflict' : 'resource_status', payload(i % 2 ? 'conflict' : 'resource_status')); // ids 1..8, window 6..8
    expect(archive.envs.map((e) => e.id)).toEqual([2, 4, 6, 8]);
    // status 3 and 5 are gone (said so); every conflict is still served
    expect(replayAll(a, 1, ALL).gap).toMatchObject({ reason: 'out_of_window' });
    expect(replayAll(a, 1, ALL).events.map((e) => e.id)).toEqual([2, 4, 6, 7, 8]);
    expect(replayAll(a, 1, new Set<EventType>(['conflict']))).toEqual({ events: expect.anything() });
    expect(replayAll(a, 1, new Set<EventType>(['conflict'])).gap).toBeUndefined();
    // restart: nothing in memory, the archive answers; ids go on past the archive
    const b = new EventHub({ clock, replayCount: 3, replayMaxAgeMs: 60_000, ids: new MemoryIdStore(), archive, idBlock: 10 });
    expect(b.publish('conflict', payload('conflict'))!.id).toBe(9);
    const r = replayAll(b, 3, new Set<EventType>(['conflict']));
    expect(r.gap).toBeUndefined();
    expect(r.events.map((e) => e.id)).toEqual([4, 6, 8, 9]);
    // status snapshots from before the restart are gone: said so, the conflicts still come
    const withStatus = replayAll(b, 3, new Set<EventType>(['conflict', 'resource_status']));
    expect(withStatus.gap).toMatchObject({ lastEventId: 3, reason: 'out_of_window' });
    expect(withStatus.events.map((e) => e.id)).toEqual([4, 6, 8, 9]);
  });

  it('reports a gap when the archive was trimmed past the resume point', () => {
    const archive = new MemoryArchive();
    const h = new EventHub({ clock: new ManualClock(), replayCount: 2, replayMaxAgeMs: 60_000, ids: new MemoryIdStore(), archive });
    for (let i = 0; i < 6; i++) h.publish('conflict', payload('conflict'));
    archive.envs = archive.envs.filter((e) => e.id >= 3);
    const r = replayAll(h, 1, new Set<EventType>(['conflict']));
    expect(r.gap).toEqual({ lastEventId: 1, oldestId: 3, reason: 'out_of_window' });
    expect(r.events.map((e) => e.id)).toEqual([3, 4, 5, 6]);
  });
});

describe('Outbox', () => {
  it('keeps only the newest resource_status but every other event, in order, up to its bound', () => {
    const { hub: h } = hub();
    const box = new Outbox(3);
    const e = (t: EventType) => h.publish(t, payload(t))!;
    expect(box.add(e('resource_status'))).toBe(true);
    expect(box.add(e('hint'))).toBe(true);
    expect(box.add(e('resource_status'))).toBe(true);
    expect(box.add(e('resource_status'))).toBe(true);
    expect(box.length).toBe(2);
    expect(box.add(e('conflict'))).toBe(true);
    expect(box.add(e('conflict'))).toBe(false);
    expect(box.take().map((x) => [x.id, x.type])).toEqual([[2, 'hint'], [4, 'resource_status'], [5, 'conflict'], [6, 'conflict']]);
    expect(box.length).toBe(0);
  });

  it('keeps the newest resource_status of each node, not only of the last node that published', () => {
    const { hub: h } = hub();
    const box = new Outbox(10);
    const status = (node: string) => h.publish('resource_status', statusPayload({ node }))!;
    for (const node of ['a', 'b', 'a', 'b', 'c', 'a']) box.add(status(node));
    box.add(h.publish('hint', payload('hint'))!);
    expect(box.take().map(({ id, env }) => [id, env.type === 'resource_status' ? env.data.node : env.type]))
      .toEqual([[4, 'b'], [5, 'c'], [6, 'a'], [7, 'hint']]);
  });
});
