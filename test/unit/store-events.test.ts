import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { EventHub } from '../../server/push/hub.ts';
import { EventStore, DbIdStore, isPersisted } from '../../server/store/event-store.ts';
import type { Envelope, EventType } from '../../shared/events.ts';
import { storeEngines, type StoreEngine } from '../helpers/store-engines.ts';
import { conflictPayload, hintPayload, payload, schedulingPayload, statusPayload } from '../helpers/payloads.ts';
import { replayAll } from '../helpers/replay.ts';

/** the engine of the test running (set by each engine's block) */
let sql: StoreEngine;
/** An event store on a new database, or on `where` again (a restart). */
function setup(where = sql.fresh()) {
  const db = sql.open(where);
  const clock = new ManualClock();
  return { where, db, clock, events: new EventStore(db, { clock }) };
}
/** The store keeps any JSON as `data`: these envelopes carry made-up payloads, not events of the contract. */
const anyEnvelope = (e: { id: number; type: EventType; ts: number; data: unknown }) => e as Envelope;
const env = (id: number, type: EventType, ts: number, data: unknown = { n: id }) => anyEnvelope({ id, type, ts, data });

describe.each(storeEngines())('EventStore on $name', (engine) => {
  beforeEach(() => {
    sql = engine;
  });

  describe('EventStore', () => {
    it('appends envelopes and reads them back after an id, in id order, filtered by type, limited', () => {
      const { events, clock } = setup();
      expect([events.oldestId(), events.maxId(), events.after(0)]).toEqual([null, null, []]);
      const types: EventType[] = ['conflict', 'hint', 'scheduling_update'];
      const all = Array.from({ length: 12 }, (_, i) => env(i + 1, types[i % 3]!, clock.now() + i, { n: i, nested: { ok: true }, list: [1, 'a'] }));
      for (const e of all.slice(0, 6)) events.append(e);
      events.appendMany(all.slice(6));
      expect(events.after(0)).toEqual(all);
      expect(events.after(4)).toEqual(all.slice(4));
      expect(events.after(4, ['hint']).map((e) => e.id)).toEqual([5, 8, 11]);
      expect(events.after(0, new Set<EventType>(['scheduling_update', 'conflict']), 3).map((e) => e.id)).toEqual([1, 3, 4]);
      expect(events.after(0, [])).toHaveLength(12);
      expect(events.after(12)).toEqual([]);
      expect([events.oldestId(), events.maxId(), events.count()]).toEqual([1, 12, 12]);
      expect(() => events.append(all[0]!)).toThrow(/UNIQUE|PRIMARY KEY|duplicate key/);
      expect(() => events.after(0, ['nope' as EventType])).toThrow('unknown event type "nope"');
    });

    it('stores data that is null or missing as null', () => {
      const { events } = setup();
      events.append(anyEnvelope({ id: 1, type: 'hint', ts: 0, data: undefined }));
      events.append(env(2, 'hint', 0, null));
      expect(events.after(0).map((e) => e.data)).toEqual([null, null]);
    });

    it('trims by count (keeps the newest) and by age (by ts, oldest first)', async () => {
      const { events, clock } = setup();
      const t0 = clock.now();
      // ids with a gap (as after a crash: the hub skips the rest of a reserved block)
      const ids = [1, 2, 3, 4, 5, 101, 102, 103, 104, 105];
      ids.forEach((id, i) => events.append(env(id, 'conflict', t0 + i * 1000)));
      expect(events.trim({})).toBe(0);
      expect(events.trim({ maxCount: 8 })).toBe(2);
      expect(events.oldestId()).toBe(3);
      expect(events.trim({ maxCount: 8 })).toBe(0);
      await clock.advance(9000);
      // now = t0 + 9000: older than 4500 ms means ts < t0 + 4500 → ids 3, 4, 5 go
      expect(events.trim({ maxAgeMs: 4500 })).toBe(3);
      expect(events.oldestId()).toBe(101);
      expect(events.trim({ maxAgeMs: 4500, maxCount: 2 })).toBe(3);
      expect(events.after(0).map((e) => e.id)).toEqual([104, 105]);
      expect(events.trim({ maxAgeMs: 0 })).toBe(1); // 105 is from now: not older than 0 ms
      await clock.advance(1);
      expect(events.trim({ maxAgeMs: 0 })).toBe(1);
      expect([events.oldestId(), events.maxId(), events.count()]).toEqual([null, null, 0]);
      events.append(env(200, 'hint', clock.now()));
      expect(events.trim({ maxCount: 0 })).toBe(1);
      expect(() => events.trim({ maxCount: -1 })).toThrow(/maxCount/);
    });

    it('is the hub\'s archive: stores every event but resource_status, and serves resumes from before the window', () => {
      const { events, clock, db } = setup();
      const hub = new EventHub({ clock, replayCount: 2, replayMaxAgeMs: 60_000, ids: new DbIdStore(db), archive: events });
      const conflict = conflictPayload();
      hub.publish('resource_status', statusPayload());
      hub.publish('conflict', conflict);
      hub.publish('scheduling_update', schedulingPayload());
      hub.publish('hint', hintPayload());
      expect(events.after(0).map((e) => [e.id, e.type])).toEqual([[2, 'conflict'], [3, 'scheduling_update'], [4, 'hint']]);
      expect(events.after(0)[0]).toEqual({ id: 2, type: 'conflict', ts: clock.now(), data: conflict });
      // the window holds 2 events (3, 4): resuming after 1 needs the archive
      const replay = replayAll(hub, 1, new Set<EventType>(['conflict', 'hint', 'scheduling_update']));
      expect(replay.gap).toBeUndefined();
      expect(replay.events.map((e) => e.id)).toEqual([2, 3, 4]);
      expect(isPersisted('resource_status')).toBe(false);
      expect(isPersisted('hint')).toBe(true);
    });
  });

  describe('DbIdStore', () => {
    it('keeps hub ids increasing across restarts: clean (exact next id) and after a crash (next reserved block)', () => {
      const first = setup();
      const hub1 = new EventHub({ clock: first.clock, replayCount: 100, replayMaxAgeMs: 60_000, ids: new DbIdStore(first.db), idBlock: 10, archive: first.events });
      for (let i = 0; i < 3; i++) hub1.publish('hint', payload('hint'));
      hub1.close(); // clean: next id 4 exactly
      first.db.close();

      const second = setup(first.where);
      const hub2 = new EventHub({ clock: second.clock, replayCount: 100, replayMaxAgeMs: 60_000, ids: new DbIdStore(second.db), idBlock: 10, archive: second.events });
      expect(hub2.publish('hint', payload('hint'))!.id).toBe(4);
      for (let i = 0; i < 12; i++) hub2.publish('conflict', payload('conflict')); // reserves up to 24
      const lastBeforeCrash = hub2.lastId;
      second.db.close(); // no hub.close(): as after kill -9

      const third = setup(first.where);
      // without the archive: the id store alone keeps ids increasing
      const hub3 = new EventHub({ clock: third.clock, replayCount: 100, replayMaxAgeMs: 60_000, ids: new DbIdStore(third.db), idBlock: 10 });
      const next = hub3.publish('hint', payload('hint'))!.id;
      expect(lastBeforeCrash).toBe(16);
      expect(next).toBe(24);
    });

    it('never hands out an id at or below a stored event, even if meta lost the mark', () => {
      const { db, events } = setup();
      events.append(env(41, 'hint', 0));
      const ids = new DbIdStore(db);
      expect(ids.load()).toBe(42);
      ids.save(100);
      expect(ids.load()).toBe(100);
      db.prepare("DELETE FROM meta WHERE key = 'event_next_id'").run();
      expect(new DbIdStore(db).load()).toBe(42);
      expect(() => ids.save(0)).toThrow(/positive integer/);
    });
  });
});
