/** The push core both transports share: the SSE frame encoder, the backfill and the slow-client policy. */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { backfill, subscribedTypes } from '../../server/push/backfill.ts';
import { EventHub, type StoredEvent } from '../../server/push/hub.ts';
import { SlowClientPolicy, type ClientLink } from '../../server/push/slow-client.ts';
import { encodeSseFrame } from '../../server/push/sse-frame.ts';
import { MemoryIdStore } from '../../server/store/event-ids.ts';
import { EVENT_TYPES, type EventType, type ReplayGap } from '../../shared/events.ts';
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

/** What a transport would write: gaps and event ids, in order. */
function recorder() {
  const out: (number | ReplayGap)[] = [];
  return { out, to: { gap: (g: ReplayGap) => out.push(g), event: (ev: StoredEvent) => out.push(ev.id) } };
}

describe('backfill', () => {
  it('gives a new client the latest status at once, and nothing else', () => {
    const { h, publish } = hub();
    const none = recorder();
    backfill(h, subscribedTypes(undefined), undefined, none.to);
    expect(none.out).toEqual([]);
    publish('resource_status');
    publish('hint');
    publish('resource_status');
    publish('conflict');
    const all = recorder();
    backfill(h, subscribedTypes([]), undefined, all.to);
    expect(all.out).toEqual([3]);
    const hints = recorder();
    backfill(h, subscribedTypes(['hint']), undefined, hints.to);
    expect(hints.out).toEqual([]);
  });

  it('gives a new client the latest status of every node, in id order, when several nodes publish', () => {
    const { h, publish, status } = hub();
    status('gpu-a'); // 1
    status('gpu-b'); // 2
    publish('hint'); // 3
    status('gpu-a'); // 4
    status('gpu-c'); // 5
    status('gpu-b'); // 6
    status('gpu-a'); // 7
    const r = recorder();
    backfill(h, subscribedTypes(['resource_status', 'hint']), undefined, r.to);
    expect(r.out).toEqual([5, 6, 7]);
    expect(h.latestOf(new Set(['resource_status'])).map((e) => e.env.type === 'resource_status' && e.env.data.node)).toEqual(['gpu-c', 'gpu-b', 'gpu-a']);
    expect(h.latest('resource_status')?.id).toBe(7);
    expect(h.latest('hint')).toBeUndefined(); // not a coalesced type: nothing is kept as its latest
  });

  it('replays exactly what followed the resume point, of the client\'s types', () => {
    const { h, publish } = hub();
    for (const t of ['resource_status', 'hint', 'conflict', 'hint', 'scheduling_update'] as const) publish(t);
    const r = recorder();
    backfill(h, subscribedTypes(['hint', 'scheduling_update']), 2, r.to);
    expect(r.out).toEqual([4, 5]);
    const caughtUp = recorder();
    backfill(h, subscribedTypes(undefined), 5, caughtUp.to);
    expect(caughtUp.out).toEqual([]);
  });

  it('sends the gap first when the resume point fell out of the window, then the events from the oldest kept', () => {
    const { h, publish } = hub(3);
    for (let i = 0; i < 6; i++) publish('hint'); // window 4..6
    const r = recorder();
    backfill(h, subscribedTypes(undefined), 1, r.to);
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
  const st = { busy: false, written: [] as [number, EventType][], disconnected: 0, congestion: [] as boolean[] };
  const l: ClientLink = {
    busy: () => st.busy,
    write: (ev) => void st.written.push([ev.id, ev.type]),
    disconnect: () => void st.disconnected++,
    congestion: (behind) => void st.congestion.push(behind),
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
    expect(st.congestion).toEqual([]);
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
    expect(st.congestion).toEqual([true]);
    p.drain();
    expect(st.written).toEqual([[2, 'hint'], [4, 'conflict'], [5, 'resource_status']]);
    expect(st.congestion).toEqual([true, false]);
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
