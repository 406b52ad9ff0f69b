/**
 * Which hub replica writes: the one holding PostgreSQL's session advisory lock (LEADER_LOCK, the store's schema) on
 * its store connection. Advisory locks belong to a database, not a schema: the schema's hash is the lock's second
 * key, so that hubs of other stores in other schemas of the same database elect their own leaders.
 * The lock and the writes share one session, and that is the fence: a leader whose session ends (process killed,
 * connection cut) loses the lock and can write no more (its statements fail on the dead connection), and PostgreSQL
 * hands the lock to the next replica that asks. No lease to renew, no clock to trust.
 *
 * The leader records itself in `meta`: the URL the other replicas forward writes to (`leader_url`), and a term
 * (`leader_term`, +1 at every takeover) that logs and GET /api/replicas show.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../store/sql.ts';

/** The advisory-lock class of the leader ('arb!' in ASCII; the second key is the schema's hash). */
export const LEADER_LOCK = 0x61726221;

const LEADER_KEYS = `${LEADER_LOCK}, hashtext(current_schema())`;

export interface LeaderRecord {
  url: string;
  term: number;
  since: number;
  /** the leader's own node (its monitor's): a follower serves its status from the event stream */
  node?: string;
}

/** Try to take the leader's lock on this connection (at once, no waiting): true when this session holds it now. */
export function tryLead(db: Db): boolean {
  if (db.dialect !== 'postgres') throw new Error('leader election needs the store on PostgreSQL (--database)');
  return db.prepare<[], { ok: boolean }>(`SELECT pg_try_advisory_lock(${LEADER_KEYS}) AS ok`).get()?.ok === true;
}

/** Record the leader (the lock's holder, once it listens): its URL for the followers, the next term, its node. */
export function recordLeader(db: Db, url: string, now: number, node?: string): LeaderRecord {
  const term = (currentLeader(db)?.term ?? 0) + 1;
  const put = db.prepare<[string, string]>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  db.transaction(() => {
    put.run('leader_url', url);
    put.run('leader_term', String(term));
    put.run('leader_since', String(now));
    put.run('leader_node', node ?? '');
  })();
  return { url, term, since: now, ...(node !== undefined ? { node } : {}) };
}

/**
 * The store's identity, made once (a random UUID in `meta`): the replicas of one store share it, so that several
 * stores may share one Redis (the event stream's key is made from it).
 */
export function storeId(db: Db): string {
  db.prepare("INSERT INTO meta (key, value) VALUES ('store_id', ?) ON CONFLICT (key) DO NOTHING").run(randomUUID());
  return db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'store_id'").get()!.value;
}

/** The leader as last recorded (it may have died since: a follower finds out when forwarding fails). */
export function currentLeader(db: Db): LeaderRecord | null {
  const rows = db.prepare<[], { key: string; value: string }>("SELECT key, value FROM meta WHERE key IN ('leader_url', 'leader_term', 'leader_since', 'leader_node')").all();
  const m = new Map(rows.map((r) => [r.key, r.value]));
  const url = m.get('leader_url');
  if (!url) return null;
  const node = m.get('leader_node');
  return { url, term: Number(m.get('leader_term') ?? 0), since: Number(m.get('leader_since') ?? 0), ...(node ? { node } : {}) };
}
