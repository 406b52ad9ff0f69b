/**
 * Child process of test/unit/store-crash.test.ts: `node --import tsx test/helpers/store-crash-writer.ts <dataDir>`.
 * Restores a real engine from the store, then submits, releases and cancels in a loop without pause, persisting
 * every batch (SchedulerStore) and the events pushed for it (EventStore through the hub, DbIdStore), and prints
 * `ack <requestId> <eventId>` only after the commits returned. The test kills it with SIGKILL mid-way.
 */
import { writeSync } from 'node:fs';
import { systemClock } from '../../server/clock.ts';
import { EventHub } from '../../server/push/hub.ts';
import { SchedulerEngine } from '../../server/scheduler/engine.ts';
import { declaredInventory } from '../../server/scheduler/inventory.ts';
import { openDatabase } from '../../server/store/db.ts';
import { EventStore, DbIdStore } from '../../server/store/event-store.ts';
import { SchedulerStore } from '../../server/store/scheduler-store.ts';
import { isConflictChange, type Change } from '../../shared/scheduler.ts';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: store-crash-writer.ts <dataDir>');
const db = openDatabase({ dataDir });
const store = new SchedulerStore(db);
const events = new EventStore(db, { clock: systemClock });
const hub = new EventHub({ clock: systemClock, replayCount: 1000, replayMaxAgeMs: 60_000, ids: new DbIdStore(db), idBlock: 100, archive: events });

const engine = new SchedulerEngine({
  clock: systemClock,
  onListenerError: (err) => {
    writeSync(2, `listener failed: ${String(err)}\n`);
    process.exit(3);
  },
});
let lastEvent = 0;
// as the scheduler service does: a batch and the events pushed for it commit in one transaction
const persist = db.transaction((batch: readonly Change[]) => {
  store.apply(batch);
  for (const c of batch) {
    const ev = isConflictChange(c) ? hub.publish('conflict', c) : hub.publish('scheduling_update', c);
    if (ev) lastEvent = ev.id;
  }
});
engine.onChange((batch) => persist(batch));
engine.restore(store.load());
engine.onSnapshot(declaredInventory('crash', { resources: { cpu: 8000, memoryMiB: 16_384, gpus: [{ index: 0, memoryMiB: 16_384 }] } }));
writeSync(1, 'ready\n');

const held: string[] = [];
for (let i = 0; ; i++) {
  const r = engine.submit({ owner: `u${i % 7}`, priority: i % 3, resources: { cpu: 1000, gpus: i % 5 === 0 ? 1 : 0 } });
  writeSync(1, `ack ${r.request.id} ${lastEvent}\n`);
  if (r.allocation) held.push(r.allocation.id);
  else if (i % 2) engine.cancel(r.request.id);
  if (held.length > 6) engine.release(held.shift()!);
}
