/**
 * What the stores ask of a database: prepared statements, transactions and DDL, synchronously — the subset of
 * better-sqlite3's API they use, so that SQLite (db.ts, the embedded default) and PostgreSQL (postgres/, for hub
 * replicas) run the same store code, the same migrations and the same tests. SQL is written once, in the dialect
 * both share (`?` parameters, `ON CONFLICT … DO UPDATE`, `RETURNING`, partial indexes); PostgreSQL's side
 * translates what differs (postgres/dialect.ts). Where a statement cannot be shared, a store asks `dialect`.
 */

export type Dialect = 'sqlite' | 'postgres';

export interface RunResult {
  /** rows inserted, updated or deleted */
  changes: number;
}

export interface SqlStatement<P extends unknown[] = unknown[], R = unknown> {
  run(...params: P): RunResult;
  /**
   * Run it without reading its result. Inside a transaction on PostgreSQL it is sent with the next statement that
   * reads, or with the COMMIT: a transaction of writes is one round trip. A failure surfaces there, and the whole
   * transaction fails, as it would have here.
   */
  write(...params: P): void;
  get(...params: P): R | undefined;
  all(...params: P): R[];
  iterate(...params: P): IterableIterator<R>;
}

/** A function run in one transaction; `immediate` takes the write lock at its start (SQLite's BEGIN IMMEDIATE). */
export interface SqlTransaction<F extends (...args: never[]) => unknown> {
  (...args: Parameters<F>): ReturnType<F>;
  immediate(...args: Parameters<F>): ReturnType<F>;
}

export interface Db {
  readonly dialect: Dialect;
  /** where it is: the file for SQLite, the connection string without its password for PostgreSQL */
  readonly name: string;
  readonly open: boolean;
  prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): SqlStatement<P, R>;
  /** one or more statements without parameters (DDL) */
  exec(sql: string): void;
  /** `fn` in a transaction: committed when it returns, rolled back when it throws; nested calls are savepoints */
  transaction<F extends (...args: never[]) => unknown>(fn: F): SqlTransaction<F>;
  close(): void;
}

/** A unique-constraint violation, on either engine. */
export function isUniqueViolation(err: unknown): boolean {
  if (!(err instanceof Error) || !('code' in err)) return false;
  return err.code === 'SQLITE_CONSTRAINT_UNIQUE' || err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || err.code === '23505';
}
