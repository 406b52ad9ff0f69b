import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { DB_FILE, SchemaTooNewError, SqliteDb, migrate, openDatabase, schemaVersion } from '../../server/store/db.ts';
import { MIGRATIONS, type Migration } from '../../server/store/migrations.ts';

const dirs: string[] = [];
const open: SqliteDb[] = [];
afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'arbiter-store-'));
  dirs.push(d);
  return d;
}
function opened(db: SqliteDb): SqliteDb {
  open.push(db);
  return db;
}
const tables = (db: SqliteDb) => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
const applied = (db: SqliteDb) => db.prepare('SELECT version, name, applied_at AS appliedAt FROM schema_migrations ORDER BY version').all() as { version: number; name: string; appliedAt: number }[];

const m1: Migration = { version: 1, name: 'one', up: 'CREATE TABLE a (x INTEGER)' };
const m2: Migration = { version: 2, name: 'two', up: 'CREATE TABLE b (y INTEGER)' };

describe('openDatabase', () => {
  it('creates <dataDir>/arbiter.db with WAL, synchronous NORMAL, foreign keys, busy timeout, and every migration', () => {
    const dir = join(tmp(), 'nested', 'data');
    const db = opened(openDatabase({ dataDir: dir }));
    expect(db.name).toBe(join(dir, DB_FILE));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(applied(db).map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    expect(tables(db)).toEqual(expect.arrayContaining(['allocations', 'conflicts', 'decisions', 'events', 'meta', 'requests', 'schema_migrations']));
  });

  it('takes synchronous FULL and a busy timeout, and rejects what it does not know', () => {
    const dir = tmp();
    const db = opened(openDatabase({ dataDir: dir, synchronous: 'full', busyTimeoutMs: 250 }));
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(250);
    expect(() => openDatabase({ dataDir: dir, synchronous: 'off' as never })).toThrow(/synchronous must be "normal" or "full", not "off"/);
  });

  it('does not re-apply migrations when the file is reopened; data stays', () => {
    const dir = tmp();
    const first = openDatabase({ dataDir: dir });
    const before = applied(first);
    first.prepare("INSERT INTO meta (key, value) VALUES ('k', 'v')").run();
    first.close();
    const db = opened(openDatabase({ dataDir: dir }));
    expect(applied(db)).toEqual(before);
    expect(migrate(db, MIGRATIONS)).toEqual({ from: MIGRATIONS.length, to: MIGRATIONS.length, applied: [] });
    expect(db.prepare("SELECT value FROM meta WHERE key = 'k'").get()).toEqual({ value: 'v' });
  });

  it('applies only the migrations a file lacks, in order', () => {
    const dir = tmp();
    openDatabase({ dataDir: dir, migrations: [m1] }).close();
    const db = opened(openDatabase({ dataDir: dir, migrations: [m1, m2] }));
    expect(applied(db).map((m) => [m.version, m.name])).toEqual([[1, 'one'], [2, 'two']]);
    expect(tables(db)).toEqual(['a', 'b', 'schema_migrations']);
    expect(migrate(db, [m1, m2, { version: 3, name: 'three', up: (d) => void d.exec('CREATE TABLE c (z INTEGER)') }])).toEqual({ from: 2, to: 3, applied: [3] });
  });

  it('rolls a failing migration back whole: the file stays at the version before it', () => {
    const dir = tmp();
    const bad: Migration = { version: 2, name: 'bad', up: 'CREATE TABLE b (y INTEGER); INSERT INTO nowhere VALUES (1);' };
    expect(() => openDatabase({ dataDir: dir, migrations: [m1, bad] })).toThrow(/no such table: nowhere/);
    const db = opened(new SqliteDb(new Database(join(dir, DB_FILE))));
    expect(schemaVersion(db)).toBe(1);
    expect(tables(db)).toEqual(['a', 'schema_migrations']);
  });

  it('refuses a file whose schema is newer than the code, with a clear message, and leaves it alone', () => {
    const dir = tmp();
    openDatabase({ dataDir: dir, migrations: [m1, m2] }).close();
    const file = join(dir, DB_FILE);
    const bytes = readFileSync(file);
    let err: unknown;
    try {
      openDatabase({ dataDir: dir, migrations: [m1] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SchemaTooNewError);
    expect((err as SchemaTooNewError).message).toBe(
      `${file} has schema version 2, but this Arbiter knows schema versions up to 1: the file was written by a newer Arbiter. ` +
      'Run that version (or newer), or point --data-dir at another directory; the file was not changed.',
    );
    expect(readFileSync(file).equals(bytes)).toBe(true);
    // the real list too: a file ahead of MIGRATIONS
    const db = opened(openDatabase({ dataDir: tmp() }));
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)').run(MIGRATIONS.length + 1, 'from the future');
    expect(() => migrate(db, MIGRATIONS)).toThrow(`has schema version ${MIGRATIONS.length + 1}, but this Arbiter knows schema versions up to ${MIGRATIONS.length}`);
  });

  it('rejects a migration list with a gap or out of order, naming the culprit', () => {
    expect(() => openDatabase({ dataDir: tmp(), migrations: [m1, { ...m2, version: 3 }] })).toThrow('migration #2 ("two") has version 3; versions must be 1, 2, 3… in order without gaps');
  });
});
