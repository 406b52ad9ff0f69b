/**
 * The SQLite database of the server: `<dataDir>/arbiter.db`, opened with better-sqlite3 (synchronous), in WAL mode,
 * and brought to the code's schema by versioned migrations (`schema_migrations`), each applied in its own
 * transaction. A file whose schema is newer than the code is refused: an older Arbiter must not write into it.
 *
 * Durability: `synchronous=NORMAL` (default). In WAL mode a commit appends its pages to the `-wal` file with
 * write() before `COMMIT` returns; only checkpoints fsync. A write that returned is in the OS page cache, which
 * survives the process being killed (`kill -9`, OOM killer, crash): every transaction whose commit returned — every
 * acknowledged request — is read back on restart. What NORMAL gives up is the last transactions before an OS crash
 * or power loss (the file stays consistent; they are missing). `FULL` fsyncs the WAL on every commit and keeps
 * those too, at the cost of one fsync per commit (see bench/store.ts for both on this machine).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, type Migration } from './migrations.ts';
import type { Db, SqlStatement, SqlTransaction } from './sql.ts';

export type { Db } from './sql.ts';

export const DB_FILE = 'arbiter.db';

export type Synchronous = 'normal' | 'full';

export interface OpenOptions {
  /** directory of `arbiter.db` (created when missing) */
  dataDir: string;
  /**
   * `normal`: a committed transaction survives the process being killed, not an OS crash or power loss; `full`:
   * survives both, one fsync per commit.
   * @default 'normal'
   */
  synchronous?: Synchronous;
  /** how long a statement waits for another connection's lock before SQLITE_BUSY @default 5000 */
  busyTimeoutMs?: number;
  /**
   * WAL pages after which a commit checkpoints the WAL into the database file (SQLite's default is 1000). A submit
   * writes ~13 pages; checkpointing less often copies each hot page once for many commits, +30–50 % commits/s on
   * this machine (bench/store.ts), for a WAL file of up to ~40 MB.
   * @default 10000
   */
  walAutocheckpointPages?: number;
  /** @default MIGRATIONS (server/store/migrations.ts) */
  migrations?: readonly Migration[];
}

/** The file's schema is newer than this code knows. */
export class SchemaTooNewError extends Error {
  constructor(readonly file: string, readonly fileVersion: number, readonly codeVersion: number) {
    super(
      `${file} has schema version ${fileVersion}, but this Arbiter knows schema versions up to ${codeVersion}: ` +
      'the file was written by a newer Arbiter. Run that version (or newer), or point --data-dir at another directory; ' +
      'the file was not changed.',
    );
    this.name = 'SchemaTooNewError';
  }
}

export function databasePath(dataDir: string): string {
  return join(dataDir, DB_FILE);
}

/** better-sqlite3's connection as the stores' Db (sql.ts); `raw` for what only SQLite has (pragmas). */
export class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const;
  constructor(readonly raw: Database.Database) {}
  get name(): string {
    return this.raw.name;
  }
  get open(): boolean {
    return this.raw.open;
  }
  prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): SqlStatement<P, R> {
    const st = this.raw.prepare<P, R>(sql);
    // SQLite writes in-process: nothing to gain by waiting
    return Object.assign(st, { write: (...params: P) => void st.run(...params) }) as unknown as SqlStatement<P, R>;
  }
  exec(sql: string): void {
    this.raw.exec(sql);
  }
  transaction<F extends (...args: never[]) => unknown>(fn: F): SqlTransaction<F> {
    return this.raw.transaction(fn as unknown as (...args: unknown[]) => unknown) as unknown as SqlTransaction<F>;
  }
  pragma(source: string, options?: { simple?: boolean }): unknown {
    return this.raw.pragma(source, options);
  }
  close(): void {
    this.raw.close();
  }
}

/** Open (or create) `<dataDir>/arbiter.db`, set the pragmas and apply the migrations it lacks. */
export function openDatabase(opts: OpenOptions): SqliteDb {
  const synchronous = opts.synchronous ?? 'normal';
  if (synchronous !== 'normal' && synchronous !== 'full') throw new Error(`synchronous must be "normal" or "full", not ${JSON.stringify(synchronous)}`);
  const busy = opts.busyTimeoutMs ?? 5000;
  if (!(Number.isInteger(busy) && busy >= 0)) throw new Error(`busyTimeoutMs must be an integer ≥ 0, not ${busy}`);
  const checkpoint = opts.walAutocheckpointPages ?? 10_000;
  if (!(Number.isInteger(checkpoint) && checkpoint >= 1)) throw new Error(`walAutocheckpointPages must be an integer ≥ 1, not ${checkpoint}`);
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const file = databasePath(opts.dataDir);
  const db = new Database(file);
  try {
    db.pragma(`busy_timeout = ${busy}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new Error(`${file}: could not switch to WAL mode (journal_mode is ${String(mode)})`);
    db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma(`wal_autocheckpoint = ${checkpoint}`);
    db.pragma('foreign_keys = ON');
    const sqlite = new SqliteDb(db);
    migrate(sqlite, opts.migrations ?? MIGRATIONS, file);
    return sqlite;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** The highest migration applied to the file (0 for a new file). */
export function schemaVersion(db: Db): number {
  const exists = db.prepare(db.dialect === 'sqlite'
    ? "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    : "SELECT 1 WHERE to_regclass('schema_migrations') IS NOT NULL").get();
  if (!exists) return 0;
  const row = db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

export interface MigrationReport {
  from: number;
  to: number;
  /** versions applied now, in order */
  applied: number[];
}

/**
 * Apply the migrations the file lacks, in order, each in one IMMEDIATE transaction together with its row in
 * `schema_migrations` (a failing migration leaves the file at the version before it). Throws SchemaTooNewError when
 * the file is ahead of `migrations`.
 */
export function migrate(db: Db, migrations: readonly Migration[], file = db.name): MigrationReport {
  checkMigrations(migrations);
  const latest = migrations.length;
  // replicas starting together on one PostgreSQL database migrate one after the other (SQLite: IMMEDIATE's lock)
  const serialise = db.dialect === 'postgres' ? db.prepare(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`) : undefined;
  db.transaction(() => {
    serialise?.get();
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER NOT NULL PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
  }).immediate();
  const from = schemaVersion(db);
  if (from > latest) throw new SchemaTooNewError(file, from, latest);
  const applied: number[] = [];
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of migrations) {
    const step = db.transaction(() => {
      serialise?.get();
      // re-read inside the lock: another process may have migrated since
      const current = schemaVersion(db);
      if (current > latest) throw new SchemaTooNewError(file, current, latest);
      if (current >= m.version) return false;
      if (typeof m.up === 'string') db.exec(m.up);
      else m.up(db);
      record.run(m.version, m.name, Date.now());
      return true;
    });
    if (step.immediate()) applied.push(m.version);
  }
  return { from, to: schemaVersion(db), applied };
}

/** PostgreSQL advisory-lock key that serialises migrations ('arbiter' in ASCII). */
export const MIGRATION_LOCK = 0x6172626974657200n;

/** Versions must be 1, 2, 3… in order: a gap or a duplicate is a mistake in the code, named here. */
function checkMigrations(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`migration #${i + 1} ("${m.name}") has version ${m.version}; versions must be 1, 2, 3… in order without gaps`);
    }
  });
}
