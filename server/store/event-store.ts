/**
 * Pushed events that must survive a restart: an append-only `events` table keyed by the hub's envelope id
 * (every type except the coalesced `resource_status`, of which only the newest matters), read back in id order
 * for clients that resume after a restart. `EventStore` is the hub's `EventArchive` (`new EventHub({archive})`: the
 * hub appends what it publishes and replays from it). `DbIdStore` keeps the hub's id high-water mark in `meta`,
 * so ids go on increasing across restarts.
 */
import type { SqlStatement as Statement, SqlTransaction as Transaction } from './sql.ts';
import type { Clock } from '../clock.ts';
import type { EventArchive, IdStore } from '../push/hub.ts';
import { COALESCED_TYPES, isEventType, type Envelope, type EventType } from '../../shared/events.ts';
import type { Db } from './db.ts';

/** Whether events of this type are stored (all but the coalesced ones). */
export function isPersisted(type: EventType): boolean {
  return !COALESCED_TYPES.has(type);
}

export interface TrimOptions {
  /** keep at most this many events (the newest) */
  maxCount?: number;
  /** drop events older than this (by `ts`) */
  maxAgeMs?: number;
}

export interface EventStoreOptions {
  /** for `trim({maxAgeMs})` */
  clock: Clock;
}

type Row = { id: number; type: EventType; ts: number; data: string };

export class EventStore implements EventArchive {
  private readonly clock: Clock;
  private readonly insert: Statement<[number, string, number, string]>;
  private readonly appendManyTx: Transaction<(envs: readonly Envelope[]) => void>;
  private readonly minId: Statement<[], { v: number | null }>;
  private readonly maxIdStmt: Statement<[], { v: number | null }>;
  private readonly countStmt: Statement<[], { n: number }>;
  private readonly nthNewest: Statement<[number], { id: number }>;
  private readonly deleteBelow: Statement<[number]>;
  private readonly oldestFirst: Statement<[], { id: number; ts: number }>;
  /** `after` by type set (the key: the types, sorted); at most 2^|EVENT_TYPES| statements */
  private readonly afterStmts = new Map<string, Statement<unknown[], Row>>();

  constructor(private readonly db: Db, opts: EventStoreOptions) {
    this.clock = opts.clock;
    this.insert = db.prepare('INSERT INTO events (id, type, ts, data) VALUES (?, ?, ?, ?)');
    this.appendManyTx = db.transaction((envs: readonly Envelope[]) => {
      for (const e of envs) this.insert.write(e.id, e.type, e.ts, json(e.data));
    });
    this.minId = db.prepare('SELECT min(id) AS v FROM events');
    this.maxIdStmt = db.prepare('SELECT max(id) AS v FROM events');
    this.countStmt = db.prepare('SELECT count(*) AS n FROM events');
    this.nthNewest = db.prepare('SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?');
    this.deleteBelow = db.prepare('DELETE FROM events WHERE id < ?');
    this.oldestFirst = db.prepare('SELECT id, ts FROM events ORDER BY id');
  }

  /** Store one envelope (its own transaction, or the caller's). A duplicate id throws (within a transaction: at its commit). */
  append(env: Envelope): void {
    this.insert.write(env.id, env.type, env.ts, json(env.data));
  }

  /** Store several envelopes in one transaction. */
  appendMany(envs: readonly Envelope[]): void {
    if (envs.length) this.appendManyTx.immediate(envs);
  }

  /**
   * Envelopes with id > lastId, in id order, of the given types (all types when `types` is empty or missing),
   * at most `limit`.
   */
  after(lastId: number, types?: Iterable<EventType>, limit = 1000): Envelope[] {
    if (!(Number.isInteger(limit) && limit >= 1)) throw new RangeError(`limit must be an integer ≥ 1, not ${limit}`);
    const set = [...new Set(types ?? [])].sort();
    for (const t of set) if (!isEventType(t)) throw new RangeError(`unknown event type ${JSON.stringify(t)}`);
    const key = set.join(',');
    let stmt = this.afterStmts.get(key);
    if (!stmt) {
      const filter = set.length ? ` AND type IN (${set.map(() => '?').join(', ')})` : '';
      stmt = this.db.prepare<unknown[], Row>(`SELECT id, type, ts, data FROM events WHERE id > ?${filter} ORDER BY id LIMIT ?`);
      this.afterStmts.set(key, stmt);
    }
    return stmt.all(lastId, ...set, limit).map(envelopeOf);
  }

  /** Id of the oldest event kept, or null when there is none. */
  oldestId(): number | null {
    return this.minId.get()?.v ?? null;
  }

  /** Id of the newest event kept, or null when there is none. */
  maxId(): number | null {
    return this.maxIdStmt.get()?.v ?? null;
  }

  count(): number {
    return this.countStmt.get()?.n ?? 0;
  }

  /**
   * Drop the oldest events beyond `maxCount` and those older than `maxAgeMs`; returns how many were dropped.
   * Age is read in id order and stops at the first event young enough (ids and `ts` grow together: the hub
   * stamps both), so the cost follows what is dropped, not what is kept.
   */
  trim(opts: TrimOptions): number {
    const { maxCount, maxAgeMs } = opts;
    if (maxCount !== undefined && !(Number.isInteger(maxCount) && maxCount >= 0)) throw new RangeError(`maxCount must be an integer ≥ 0, not ${maxCount}`);
    if (maxAgeMs !== undefined && !(maxAgeMs >= 0)) throw new RangeError(`maxAgeMs must be ≥ 0, not ${maxAgeMs}`);
    const tx = this.db.transaction(() => {
      let below = -Infinity;
      if (maxCount !== undefined) {
        if (maxCount === 0) below = Infinity;
        else {
          const nth = this.nthNewest.get(maxCount - 1);
          if (nth) below = nth.id;
        }
      }
      if (maxAgeMs !== undefined && below !== Infinity) {
        const cutoff = this.clock.now() - maxAgeMs;
        let firstKept: number | null = null;
        for (const row of this.oldestFirst.iterate()) {
          if (row.ts >= cutoff) {
            firstKept = row.id;
            break;
          }
        }
        below = Math.max(below, firstKept ?? Infinity);
      }
      if (below === -Infinity) return 0;
      return this.deleteBelow.run(below === Infinity ? Number.MAX_SAFE_INTEGER : below).changes;
    });
    return tx.immediate();
  }
}

/**
 * The hub's id high-water mark in `meta` (`IdStore`): the next id is the larger of what was saved and the newest
 * stored event + 1, so ids keep increasing across restarts without the `event-id` file.
 */
export class DbIdStore implements IdStore {
  private readonly get: Statement<[string], { value: string }>;
  private readonly set: Statement<[string, string]>;
  private readonly maxEvent: Statement<[], { v: number | null }>;

  constructor(db: Db, private readonly key = 'event_next_id') {
    this.get = db.prepare('SELECT value FROM meta WHERE key = ?');
    this.set = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.maxEvent = db.prepare('SELECT max(id) AS v FROM events');
  }

  load(): number {
    const saved = Number(this.get.get(this.key)?.value);
    const fromEvents = (this.maxEvent.get()?.v ?? 0) + 1;
    return Math.max(Number.isSafeInteger(saved) && saved > 0 ? saved : 1, fromEvents);
  }

  save(next: number): void {
    if (!(Number.isSafeInteger(next) && next > 0)) throw new RangeError(`next event id must be a positive integer, not ${next}`);
    this.set.write(this.key, String(next));
  }
}

/** A row as the envelope it was stored from: the hub archives what it publishes, payloads of the contract's types. */
function envelopeOf(r: Row): Envelope {
  return { id: r.id, type: r.type, ts: r.ts, data: JSON.parse(r.data) };
}

function json(data: unknown): string {
  return JSON.stringify(data) ?? 'null';
}
