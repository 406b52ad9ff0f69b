/** The push core both transports share: the SSE frame encoder, the backfill and the slow-client policy. */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { backfill, subscribedTypes } from '../../server/push/backfill.ts';
import { EventHub, pages, REPLAY_PAGE, type EventArchive, type StoredEvent } from '../../server/push/hub.ts';
import { backfillsIdle, SlowClientPolicy, type ClientLink } from '../../server/push/slow-client.ts';
import { encodeSseFrame } from '../../server/push/sse-frame.ts';
import { MemoryIdStore } from '../../server/store/event-ids.ts';
import { EVENT_TYPES, type Envelope, type EventType, type ReplayGap } from '../../shared/events.ts';
import { payload, statusPayload } from '../helpers/payloads.ts';

function hub(replayCount = 100) {
  const h = new EventHub({ clock: new ManualClock(), replayCount, replayMaxAgeMs: 60_000, ids: new MemoryIdStore() });
  const publish = (type: EventType) => h.publish(type, payload(type))!;
  /** a status snapshot of the named node */
  const status = (node: string) => h.publish('resource_status', statusPayload({ node }))!;
  return { h, publish, status };
}

describe('encodeSseFrame', () => {
  it('writes the fields in order, one line each, and ends the frame with a blank line', () => {
    expect(encodeSseFrame({ id: 7, event: 'hint', data: '{"a":1}' })).toBe('id: 7\nevent: hint\ndata: {"a":1}\n\n');
    expect(encodeSseFrame({ retry: 2000, comment: 'arbiter' })).toBe('retry: 2000\n: arbiter\n\n');
    expect(encodeSseFrame({ event: 'replay_gap', data: '{}' })).toBe('event: replay_gap\ndata: {}\n\n');
    expect(encodeSseFrame({ comment: '' })).toBe(': \n\n');
  });

  it('rejects CR or LF in event, comment and data, naming the field', () => {
    for (const bad of ['a\nb', 'a\rb', 'a\r\nb', '\n']) {
      expect(() => encodeSseFrame({ event: bad, data: '{}' })).toThrow(/SSE event must not contain CR or LF/);
      expect(() => encodeSseFrame({ comment: bad })).toThrow(/SSE comment must not contain CR or LF/);
      expect(() => encodeSseFrame({ event: 'hint', data: bad })).toThrow(/SSE data must not contain CR or LF/);
    }
    // an event name that would inject an id of its own
    expect(() => encodeSseFrame({ event: 'hint\nid: 999', data: '{}' })).toThrow(/SSE event/);
  });

  it('takes ids and retry as integers ≥ 0 only, and no empty frame', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => encodeSseFrame({ id: bad, event: 'hint', data: '{}' })).toThrow(/SSE id must be an integer/);
      expect(() => encodeSseFrame({ retry: bad })).toThrow(/SSE retry must be an integer/);
    }
    expect(() => encodeSseFrame({})).toThrow(/at least one field/);
  });
});

/** What a transport that keeps up would write, through its policy: gaps and event ids, in order. */
function recorder() {
  const out: (number | ReplayGap)[] = [];
  const policy = new SlowClientPolicy({ busy: () => false, write: (ev: StoredEvent) => void out.push(ev.id), disconnect: () => {} }, 100);
  return { out, policy, gap: (g: ReplayGap) => void out.push(g) };
}

describe('backfill', () => {
  it('gives a new client the latest status at once, and nothing else', async () => {
    const { h, publish } = hub();
    const none = recorder();
    backfill(h, subscribedTypes(undefined), undefined, none.policy, none.gap);
    await backfillsIdle();
    expect(none.out).toEqual([]);
    publish('resource_status');
    publish('hint');
    publish('resource_status');
    publish('conflict');
    const all = recorder();
    backfill(h, subscribedTypes([]), undefined, all.policy, all.gap);
    await backfillsIdle();
    expect(all.out).toEqual([3]);
    const hints = recorder();
    backfill(h, subscribedTypes(['hint']), undefined, hints.policy, hints.gap);
    await backfillsIdle();
    expect(hints.out).toEqual([]);
  });

  it('gives a new client the latest status of every node, in id order, when several nodes publish', async () => {
    const { h, publish, status } = hub();
    status('gpu-a'); // 1
    status('gpu-b'); // 2
    publish('hint'); // 3
    status('gpu-a'); // 4
    status('gpu-c'); // 5
    status('gpu-b'); // 6
    status('gpu-a'); // 7
    const r = recorder();
    backfill(h, subscribedTypes(['resource_status', 'hint']), undefined, r.policy, r.gap);
    await backfillsIdle();
    expect(r.out).toEqual([5, 6, 7]);
    expect(h.latestOf(new Set(['resource_status'])).map((e) => e.env.type === 'resource_status' && e.env.data.node)).toEqual(['gpu-c', 'gpu-b', 'gpu-a']);
    expect(h.latest('resource_status')?.id).toBe(7);
    expect(h.latest('hint')).toBeUndefined(); // not a coalesced type: nothing is kept as its latest
  });

  it('replays exactly what followed the resume point, of the client\'s types', async () => {
    const { h, publish } = hub();
    for (const t of ['resource_status', 'hint', 'conflict', 'hint', 'scheduling_update'] as const) publish(t);
    const r = recorder();
    backfill(h, subscribedTypes(['hint', 'scheduling_update']), 2, r.policy, r.gap);
    await backfillsIdle();
    expect(r.out).toEqual([4, 5]);
    const caughtUp = recorder();
    backfill(h, subscribedTypes(undefined), 5, caughtUp.policy, caughtUp.gap);
    await backfillsIdle();
    expect(caughtUp.out).toEqual([]);
  });

  it('sends the gap first when the resume point fell out of the window, then the events from the oldest kept', async () => {
    const { h, publish } = hub(3);
    for (let i = 0; i < 6; i++) publish('hint'); // window 4..6
    const r = recorder();
    backfill(h, subscribedTypes(undefined), 1, r.policy, r.gap);
    await backfillsIdle();
    expect(r.out).toEqual([{ lastEventId: 1, oldestId: 4, reason: 'out_of_window' }, 4, 5, 6]);
  });

  it('takes all types when a client names none', () => {
    expect([...subscribedTypes(undefined)]).toEqual(EVENT_TYPES);
    expect([...subscribedTypes([])]).toEqual(EVENT_TYPES);
    expect([...subscribedTypes(['hint', 'hint'])]).toEqual(['hint']);
  });
});

/** A client link whose transport the test fills and drains by hand. */
function link() {
  const st = { busy: false, written: [] as [number, EventType][], disconnected: 0 };
  const l: ClientLink = {
    busy: () => st.busy,
    write: (ev) => void st.written.push([ev.id, ev.type]),
    disconnect: () => void st.disconnected++,
  };
  return { st, l };
}

describe('SlowClientPolicy', () => {
  it('writes at once while the transport keeps up', () => {
    const { publish } = hub();
    const { st, l } = link();
    const p = new SlowClientPolicy(l, 10);
    p.deliver(publish('resource_status'));
    p.deliver(publish('hint'));
    expect(st.written).toEqual([[1, 'resource_status'], [2, 'hint']]);
    expect(p.congested).toBe(false);
    p.drain(); // nothing waits: nothing happens
    expect(st.written).toHaveLength(2);
  });

  it('once the transport is busy, keeps events until it drains: the newest status only, every other event, in id order', () => {
    const { publish } = hub();
    const { st, l } = link();
    const p = new SlowClientPolicy(l, 10);
    st.busy = true;
    p.deliver(publish('resource_status')); // 1
    p.deliver(publish('hint')); // 2
    st.busy = false; // still congested until the drain: no overtaking of what waits
    p.deliver(publish('resource_status')); // 3
    p.deliver(publish('conflict')); // 4
    p.deliver(publish('resource_status')); // 5
    expect(st.written).toEqual([]);
    expect(p.congested).toBe(true);
    p.drain();
    expect(st.written).toEqual([[2, 'hint'], [4, 'conflict'], [5, 'resource_status']]);
    expect(p.congested).toBe(false);
    p.deliver(publish('scheduling_update'));
    expect(st.written.at(-1)).toEqual([6, 'scheduling_update']);
    expect(st.disconnected).toBe(0);
  });

  it('keeps the newest status of each node while a client is behind, in id order, one per node', () => {
    const { publish, status } = hub();
    const { st, l } = link();
    const p = new SlowClientPolicy(l, 4);
    st.busy = true;
    for (let round = 0; round < 10; round++) {
      p.deliver(status('gpu-a')); // 1, 3, …, 19
      p.deliver(status('gpu-b')); // 2, 4, …, 20
    }
    p.deliver(status('gpu-c')); // 21
    p.deliver(publish('hint')); // 22
    expect(st.disconnected).toBe(0); // three nodes' statuses and a hint: within the bound of 4
    p.drain();
    expect(st.written).toEqual([[19, 'resource_status'], [20, 'resource_status'], [21, 'resource_status'], [22, 'hint']]);
  });

  it('disconnects a client whose waiting events pass the bound (statuses coalesce and do not count up)', () => {
    const { publish } = hub();
    const { st, l } = link();
    const p = new SlowClientPolicy(l, 3);
    st.busy = true;
    for (let i = 0; i < 20; i++) p.deliver(publish('resource_status'));
    p.deliver(publish('hint'));
    p.deliver(publish('conflict'));
    expect(st.disconnected).toBe(0);
    p.deliver(publish('scheduling_update'));
    expect(st.disconnected).toBe(1);
    expect(st.written).toEqual([]);
  });

  it('tells a broadcasting transport which events it keeps (hold) and which the broadcast may send', () => {
    const { publish } = hub();
    const { st, l } = link();
    const p = new SlowClientPolicy(l, 10);
    expect(p.hold(publish('hint'))).toBe(false);
    st.busy = true;
    expect(p.hold(publish('hint'))).toBe(true);
    st.busy = false;
    expect(p.hold(publish('hint'))).toBe(true);
    expect(st.written).toEqual([]); // hold never writes
    p.drain();
    expect(st.written.map(([id]) => id)).toEqual([2, 3]);
    expect(p.hold(publish('hint'))).toBe(false);
  });
});

/** An archive in memory that counts its reads. */
class CountingArchive implements EventArchive {
  envs: Envelope[] = [];
  reads = 0;
  append(env: Envelope) { this.envs.push(env); }
  after(lastId: number, types: Iterable<EventType>, limit = 1000) {
    this.reads++;
    const t = new Set(types);
    return this.envs.filter((e) => e.id > lastId && t.has(e.type)).slice(0, limit);
  }
  oldestId() { return this.envs[0]?.id ?? null; }
  maxId() { return this.envs.at(-1)?.id ?? null; }
}

describe('a backfill through the slow-client policy', () => {
  /** 2,000 hints archived, a window of 10: a resume from 0 reads the archive */
  function behind() {
    const archive = new CountingArchive();
    const h = new EventHub({ clock: new ManualClock(), replayCount: 10, replayMaxAgeMs: 60_000, ids: new MemoryIdStore(), archive });
    for (let i = 0; i < 2000; i++) h.publish('hint', payload('hint'));
    archive.reads = 0;
    return { h, archive };
  }

  it('hands a client what its transport takes, the rest when it drained; live events wait and follow, none lost or doubled', async () => {
    const { h, archive } = behind();
    const { st, l } = link();
    // a transport that is full after 100 events, until the test drains it (a client that reads only when told)
    let since = 0;
    const p = new SlowClientPolicy({ ...l, busy: () => since >= 100, write: (ev) => { l.write(ev); since++; } }, 100);
    backfill(h, subscribedTypes(['hint']), 0, p, () => {});
    h.subscribe((ev) => p.deliver(ev));
    h.publish('hint', payload('hint')); // 2001: live, waits for the backfill
    await backfillsIdle();
    expect(st.written).toHaveLength(100);
    expect(archive.reads).toBe(1);
    let drains = 0;
    while (st.written.length < 2001 && drains < 100) {
      since = 0;
      p.drain();
      await backfillsIdle();
      drains++;
      expect(st.written.length).toBeLessThanOrEqual(100 * (drains + 1) + 1);
    }
    expect(st.written.map(([id]) => id)).toEqual(Array.from({ length: 2001 }, (_, i) => i + 1));
    expect(drains).toBe(2000 / 100);
    expect(archive.reads).toBe(Math.ceil(2000 / REPLAY_PAGE));
    expect(p.congested).toBe(false);
    since = 0;
    h.publish('hint', payload('hint'));
    expect(st.written.at(-1)![0]).toBe(2002); // live again
  });

  it('serves many clients in turn, a few milliseconds of pages per turn of the event loop; reads each archive block once for all of them', async () => {
    const { h, archive } = behind();
    const clients = Array.from({ length: 50 }, () => {
      const out: number[] = [];
      const p = new SlowClientPolicy({ busy: () => false, write: (ev) => void out.push(ev.id), disconnect: () => {} }, 100);
      backfill(h, subscribedTypes(['hint']), 0, p, () => {});
      return { out, p };
    });
    expect(clients.every((c) => c.out.length === 0)).toBe(true); // nothing written in the connection's own turn
    let turns = 0;
    while (clients.some((c) => c.out.length < 2000) && turns < 10_000) {
      await new Promise((r) => setImmediate(r));
      turns++;
    }
    for (const c of clients) expect(c.out).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    expect(turns).toBeGreaterThan(1); // not all in one turn
    // one read per block, shared; the last block (ids 1793–2048) is not whole yet: read by each
    expect(archive.reads).toBe(Math.floor(2000 / REPLAY_PAGE) + clients.length);
  });

  it('stops reading for a client that is gone', async () => {
    const { h, archive } = behind();
    const { st, l } = link();
    const p = new SlowClientPolicy({ ...l, write: (ev) => { l.write(ev); st.busy = true; } }, 100);
    backfill(h, subscribedTypes(['hint']), 0, p, () => {});
    await backfillsIdle();
    expect(st.written).toHaveLength(1); // full at once
    p.close();
    st.busy = false;
    p.drain();
    await backfillsIdle();
    expect(st.written).toHaveLength(1);
    expect(archive.reads).toBe(1);
  });

  it('sends the gap notice just before the first event, after what an earlier backfill still had to send', async () => {
    const { h, archive } = behind();
    archive.envs = archive.envs.filter((e) => e.id > 1500); // trimmed
    const out: (number | string)[] = [];
    const p = new SlowClientPolicy({ busy: () => false, write: (ev) => void out.push(ev.id), disconnect: () => {} }, 100);
    p.backfill(pages([...h.latestOf(new Set(['hint']))]), () => void out.push('first'));
    backfill(h, subscribedTypes(['hint']), 1000, p, (g) => void out.push(`gap ${g.oldestId}`));
    await backfillsIdle();
    expect(out.slice(0, 3)).toEqual(['first', 'gap 1501', 1501]);
    expect(out).toHaveLength(2 + 500);
  });
});
