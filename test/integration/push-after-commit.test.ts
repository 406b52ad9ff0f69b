/**
 * A scheduling change reaches the push clients only once its transaction has committed: the hub archives what the
 * group commit publishes inside the transaction and fans it out after (hub.held). Seen here at the COMMIT itself:
 * the database's transaction is wrapped, and when it returns, no subscriber may have had the batch's events yet.
 * (The 60-minute soak found socket.io and WebSocket clients holding an event a kill -9 between the two had undone.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { EventHub, type StoredEvent } from '../../server/push/hub.ts';
import { openDatabase } from '../../server/store/db.ts';
import { EventStore } from '../../server/store/event-store.ts';
import { MemoryIdStore } from '../../server/store/event-ids.ts';
import { hintPayload } from '../helpers/payloads.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('events are delivered after they are durable', () => {
  it('hub.held: archived at once, delivered when the function returns (also when it throws), once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'arbiter-held-'));
    const db = openDatabase({ dataDir: dir });
    cleanups.push(() => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const clock = new ManualClock();
    const archive = new EventStore(db, { clock });
    const hub = new EventHub({ clock, replayCount: 100, replayMaxAgeMs: 60_000, ids: new MemoryIdStore(), archive });
    const seen: StoredEvent[] = [];
    hub.subscribe((e) => seen.push(e));
    const inside = hub.held(() => {
      hub.publish('hint', hintPayload());
      hub.held(() => hub.publish('hint', hintPayload())); // nested: one hold, the outer one's end delivers
      return { delivered: seen.length, archived: archive.count(), window: hub.lastId };
    });
    expect(inside).toEqual({ delivered: 0, archived: 2, window: 2 });
    expect(seen.map((e) => e.id)).toEqual([1, 2]);
    expect(() => hub.held(() => {
      hub.publish('hint', hintPayload());
      throw new Error('rolled back');
    })).toThrow('rolled back');
    expect(seen.map((e) => e.id)).toEqual([1, 2, 3]);
    hub.publish('hint', hintPayload());
    expect(seen.map((e) => e.id)).toEqual([1, 2, 3, 4]);
  });

  it('a submit: no client has its scheduling_update when the transaction commits; every client has it after', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arbiter-held-app-'));
    const db = openDatabase({ dataDir: dir });
    const commits: { pushedBefore: number }[] = [];
    let pushed = 0;
    const transaction = db.transaction.bind(db);
    // the store's transactions, as the group commit runs them: note what had been pushed when each one returned
    (db as { transaction: typeof db.transaction }).transaction = ((fn: (...a: never[]) => unknown) => {
      const tx = transaction(fn);
      const wrapped = ((...a: never[]) => {
        const r = tx(...a);
        commits.push({ pushedBefore: pushed });
        return r;
      }) as typeof tx;
      wrapped.immediate = tx.immediate;
      return wrapped;
    }) as typeof db.transaction;
    const server: TestServer = await startTestServer({ dataDir: dir, db });
    cleanups.push(async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    });
    server.app.hub.subscribe((e) => {
      if (e.type === 'scheduling_update') pushed++;
    });
    const before = commits.length;
    const res = await fetch(`${server.url}/api/requests`, {
      method: 'POST', headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ owner: 'ana', resources: { cpu: 100 } }),
    });
    expect([201, 202]).toContain(res.status);
    expect(pushed).toBeGreaterThan(0);
    const mine = commits.slice(before);
    expect(mine.length).toBeGreaterThan(0);
    // the batch's events were pushed after its commit: at each commit, only what earlier commits held had gone out
    expect(mine[0]!.pushedBefore).toBe(0);
  });
});
