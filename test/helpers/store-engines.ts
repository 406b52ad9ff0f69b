/**
 * The store tests run on both engines: `storeEngines()` (called at a test file's top level) gives SQLite and, when
 * its binaries are here, PostgreSQL — a throw-away cluster started once for the file (postgres.ts) and stopped after
 * it. Use with `describe.each(storeEngines())('… on $name', (engine) => …)`.
 *
 * `engine.fresh()` is a new empty database (a temporary directory; a new schema), `engine.open(where)` connects to it
 * (again: a restart opens the same `where`). Connections and directories are closed and removed after each test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { openDatabase } from '../../server/store/db.ts';
import type { Migration } from '../../server/store/migrations.ts';
import { openPostgres } from '../../server/store/postgres/pg-db.ts';
import { SyncClient } from '../../server/store/postgres/sync-client.ts';
import type { Db, Dialect } from '../../server/store/sql.ts';
import { postgresUnavailable, TestPostgres } from './postgres.ts';

export interface StoreEngine {
  readonly name: Dialect;
  /** a new, empty database */
  fresh(): string;
  /** connect to `where` and apply the migrations it lacks */
  open(where: string, migrations?: readonly Migration[]): Db;
}

export function storeEngines(): StoreEngine[] {
  const dbs: Db[] = [];
  const dirs: string[] = [];
  afterEach(() => {
    for (const db of dbs.splice(0)) if (db.open) db.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const sqlite: StoreEngine = {
    name: 'sqlite',
    fresh() {
      const d = mkdtempSync(join(tmpdir(), 'arbiter-store-'));
      dirs.push(d);
      return d;
    },
    open(where, migrations) {
      const db = openDatabase({ dataDir: where, migrations });
      dbs.push(db);
      return db;
    },
  };
  const why = postgresUnavailable();
  if (why) {
    console.warn(`skipped: ${why}`);
    return [sqlite];
  }
  let server: TestPostgres | undefined;
  let admin: SyncClient | undefined;
  let schemas = 0;
  beforeAll(async () => {
    server = await TestPostgres.start();
    admin = new SyncClient({ connectionString: server.url });
  }, 60_000);
  afterAll(async () => {
    admin?.close();
    await server?.stop();
  });
  const postgres: StoreEngine = {
    name: 'postgres',
    fresh() {
      const schema = `s${++schemas}`;
      admin!.exec(`CREATE SCHEMA ${schema}`);
      return `${server!.url}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    },
    open(where, migrations) {
      const db = openPostgres({ url: where, migrations });
      dbs.push(db);
      return db;
    },
  };
  return [sqlite, postgres];
}
