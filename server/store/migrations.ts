/**
 * The schema, as versioned migrations (applied by db.ts, in order, one transaction each). Never edit a migration
 * that has shipped: add the next version. Written in SQLite's dialect; on PostgreSQL, postgres/dialect.ts translates
 * the few words that differ (types, rowid, WITHOUT ROWID). Entities are stored whole as JSON (`data`, the source of truth) next to
 * the columns that queries filter and sort on.
 */
import type { Db } from './sql.ts';

export interface Migration {
  /** 1, 2, 3… in order */
  version: number;
  name: string;
  up: string | ((db: Db) => void);
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'scheduler: requests, allocations, conflicts, decisions, meta',
    up: `
      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );

      -- Index budget: every index an insert touches is one more 4 KiB page written to the WAL per commit (ids are
      -- random UUIDs, so their keys land on random pages). Rowid order is insertion order (= submitted / opened
      -- order), so "newest first" needs no time index.
      CREATE TABLE requests (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        owner TEXT NOT NULL,
        grp TEXT,
        priority INTEGER NOT NULL,
        submitted_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        -- the newest request submitted with a key holds it (see scheduler-store.ts)
        idempotency_key TEXT UNIQUE,
        allocation_id TEXT,
        data TEXT NOT NULL
      );
      CREATE INDEX requests_status ON requests (status);
      CREATE INDEX requests_owner ON requests (owner);
      CREATE INDEX requests_ended ON requests (updated_at) WHERE status NOT IN ('queued', 'granted');

      CREATE TABLE allocations (
        id TEXT PRIMARY KEY,
        request_id TEXT NOT NULL REFERENCES requests (id) DEFERRABLE INITIALLY DEFERRED,
        state TEXT NOT NULL,
        node TEXT NOT NULL,
        granted_at INTEGER NOT NULL,
        lease_expires_at INTEGER NOT NULL,
        ended_at INTEGER,
        data TEXT NOT NULL
      );
      -- an allocation's request names it (requests.allocation_id): no index on request_id
      CREATE INDEX allocations_active ON allocations (granted_at) WHERE state = 'active';

      CREATE TABLE conflicts (
        id TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        type TEXT NOT NULL,
        severity INTEGER NOT NULL,
        request_id TEXT,
        status TEXT NOT NULL,
        opened_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        resolved_at INTEGER,
        data TEXT NOT NULL
      );
      CREATE INDEX conflicts_status ON conflicts (status);
      CREATE INDEX conflicts_resolved ON conflicts (resolved_at) WHERE status = 'resolved';

      -- the decision log: every change record, in order; batch = one engine operation; request_id: the request
      -- it is about (its own records, its allocation's, its conflicts')
      CREATE TABLE decisions (
        seq INTEGER PRIMARY KEY,
        batch INTEGER NOT NULL,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        entity_id TEXT,
        request_id TEXT,
        data TEXT NOT NULL
      );
      CREATE INDEX decisions_request ON decisions (request_id);
    `,
  },
  {
    version: 2,
    name: 'push: events',
    up: `
      -- pushed events that must survive a restart (every type but resource_status); ids are the hub's
      CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        ts INTEGER NOT NULL,
        data TEXT NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'scheduler: strategy configs and activity periods',
    up: `
      -- the config each strategy had last (the current one's name is meta 'strategy')
      CREATE TABLE strategy_configs (
        name TEXT PRIMARY KEY,
        config TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
      -- when each strategy was active: [started_at, ended_at), ended_at NULL for the current one
      CREATE TABLE strategy_periods (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at INTEGER
      );
    `,
  },
  {
    version: 4,
    name: 'history: series names and bucket chunks of the on-disk tier',
    up: `
      -- history series names, interned: chunks name their series by id. chunks_until: epoch s at which the series'
      -- newest chunk ends (when pruning passes it, the series has no chunk left)
      CREATE TABLE history_series (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        chunks_until INTEGER NOT NULL
      );
      -- The on-disk history tier (history-store.ts): per series, one row per chunk of 60 consecutive buckets (an
      -- hour of 1-minute buckets). data: 60 slots of 14 bytes, little-endian: n (uint16, samples in the bucket, 0 =
      -- no point), mean, min, max (float32, the precision of the in-memory rings). start: epoch s of the chunk's
      -- first bucket, a multiple of 60 × bucket_s; bucket_s: the bucket length it was written with, part of the key
      -- so that chunks written before a change of --history-bucket-ms keep their meaning.
      -- Time first in the key: the chunks being filled (one per series, rewritten every minute) share a few pages at
      -- the end of the tree and pruning cuts off its start. Measured (bench/history.ts, 200 series): 25 KB per
      -- series-day and ~50 WAL pages per minute, against 66 KB for a row per series and minute with REAL columns and
      -- ~200 pages for the same chunks keyed by series first.
      CREATE TABLE history_chunks (
        start INTEGER NOT NULL,
        series_id INTEGER NOT NULL,
        bucket_s INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (start, series_id, bucket_s)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 5,
    name: 'task dispatch: instances, tasks, policy',
    up: `
      -- Task instances (dispatch-store.ts): the current record of each registered one; removed ones are deleted.
      CREATE TABLE dispatch_instances (
        id TEXT PRIMARY KEY,
        data TEXT NOT NULL
      );
      -- Every dispatched task, current state: unfinished ones are loaded at start; ended ones are kept for the
      -- task history until pruned (ended_at).
      CREATE TABLE dispatch_tasks (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        model TEXT NOT NULL,
        submitted_at INTEGER NOT NULL,
        ended_at INTEGER,
        data TEXT NOT NULL
      );
      CREATE INDEX dispatch_tasks_unfinished ON dispatch_tasks (status) WHERE ended_at IS NULL;
      CREATE INDEX dispatch_tasks_ended ON dispatch_tasks (ended_at) WHERE ended_at IS NOT NULL;
    `,
  },
  {
    version: 6,
    name: 'workers',
    up: `
      -- Workers (worker-store.ts): the current record of each (its view, spec, request fields, where it runs);
      -- live ones are adopted at start, ended ones kept until their group's name is used again.
      CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        data TEXT NOT NULL
      );
      CREATE INDEX workers_by_group ON workers (name);
    `,
  },
  {
    version: 7,
    name: 'workflows',
    up: `
      -- Workflows (workflow-store.ts): users (the reference's User), workflows (the reference's Workflow; data: the
      -- rest of the record as JSON) and their jobs (the reference's Job: parents as a JSON list of indices, like its
      -- parent_ids_json; spec: the job as submitted; state: its state and what is known of its runs).
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
      );
      CREATE TABLE workflows (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id),
        name TEXT,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        data TEXT NOT NULL
      );
      CREATE INDEX workflows_by_user ON workflows (user_id);
      CREATE TABLE workflow_jobs (
        workflow_id TEXT NOT NULL REFERENCES workflows (id),
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        job_type TEXT NOT NULL,
        branch_id TEXT NOT NULL,
        parent_ids_json TEXT NOT NULL,
        status TEXT NOT NULL,
        spec TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (workflow_id, idx)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 8,
    name: 'api tokens',
    up: `
      -- Named tokens (token-store.ts): only the SHA-256 of a token is kept; a revoked one stays listed.
      CREATE TABLE api_tokens (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        bind_owner INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER,
        last_used_at INTEGER
      );
    `,
  },
];
