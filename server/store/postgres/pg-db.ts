/**
 * The stores' Db (../sql.ts) on PostgreSQL: one synchronous connection (sync-client.ts), statements translated from
 * SQLite's dialect once when prepared (dialect.ts), transactions as BEGIN/COMMIT with savepoints when nested.
 * `openPostgres` connects and applies the migrations the database lacks (the same ones as SQLite's, serialised
 * between replicas by an advisory lock).
 */
import { redactSecrets } from '../../log.ts';
import { migrate } from '../db.ts';
import { MIGRATIONS, type Migration } from '../migrations.ts';
import type { Db, RunResult, SqlStatement, SqlTransaction } from '../sql.ts';
import { ddlToPostgres, inlineParams, statementToPostgres } from './dialect.ts';
import { SyncClient } from './sync-client.ts';

export interface PostgresOpenOptions {
  /** postgres://… or postgresql://… */
  url: string;
  /** how long one statement may take @default 30000 */
  timeoutMs?: number;
  /** @default MIGRATIONS */
  migrations?: readonly Migration[];
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}


export class PostgresDb implements Db {
  readonly dialect = 'postgres' as const;
  readonly name: string;
  private depth = 0;
  /** statements of the open transaction not sent yet (its BEGIN, its writes), as literal SQL */
  private pending: string[] = [];
  /** how many times `pending` was sent */
  private flushes = 0;

  constructor(readonly client: SyncClient, url: string) {
    this.name = redactSecrets(url);
  }

  get open(): boolean {
    return this.client.open;
  }

  prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): SqlStatement<P, R> {
    const text = statementToPostgres(sql);
    const query = (params: P) => {
      this.flush();
      return this.client.query(text, params);
    };
    const all = (params: P): R[] => query(params).rows as R[];
    return {
      run: (...params: P): RunResult => ({ changes: query(params).changes }),
      write: (...params: P) => {
        if (this.depth > 0) this.pending.push(inlineParams(text, params));
        else query(params);
      },
      get: (...params: P) => all(params)[0],
      all: (...params: P) => all(params),
      iterate: (...params: P) => all(params)[Symbol.iterator](),
    };
  }

  exec(sql: string): void {
    this.flush();
    this.client.exec(ddlToPostgres(sql));
  }

  /**
   * `fn` in a transaction. Its BEGIN and its writes wait (`write`) until a statement reads or the transaction
   * ends: a transaction of writes is one round trip, BEGIN … COMMIT as one simple query.
   */
  transaction<F extends (...args: never[]) => unknown>(fn: F): SqlTransaction<F> {
    const run = (...args: Parameters<F>): ReturnType<F> => {
      const savepoint = this.depth > 0 ? `s${this.depth}` : null;
      const mark = this.pending.length;
      const flushes = this.flushes;
      this.pending.push(savepoint ? `SAVEPOINT ${savepoint}` : 'BEGIN');
      this.depth++;
      try {
        const result = fn(...args) as ReturnType<F>;
        // a deferred constraint, or a queued write, fails here (PostgreSQL has then rolled the transaction back)
        this.pending.push(savepoint ? `RELEASE SAVEPOINT ${savepoint}` : 'COMMIT');
        if (!savepoint) this.flush();
        return result;
      } catch (err) {
        if (this.flushes === flushes) {
          // nothing of this level reached the server: forget it, the levels around it go on
          this.pending.length = mark;
          throw err;
        }
        this.pending = [];
        if (this.client.open) {
          try {
            this.client.exec(savepoint ? `ROLLBACK TO SAVEPOINT ${savepoint}` : 'ROLLBACK');
          } catch {
            // the connection is gone: PostgreSQL rolls back what it held
          }
        }
        throw err;
      } finally {
        this.depth--;
      }
    };
    return Object.assign(run, { immediate: run });
  }

  close(): void {
    this.pending = [];
    this.client.close();
  }

  /** Send what waits, as one simple query (the first failing statement stops the rest). */
  private flush(): void {
    if (!this.pending.length) return;
    const batch = this.pending.join(';\n');
    this.pending = [];
    this.flushes++;
    this.client.exec(batch);
  }
}

/** Connect to PostgreSQL and bring the database to the code's schema. */
export function openPostgres(opts: PostgresOpenOptions): PostgresDb {
  if (!isPostgresUrl(opts.url)) throw new Error(`not a PostgreSQL connection string: ${redactSecrets(opts.url)} (postgres://user:password@host:port/database)`);
  const client = new SyncClient({ connectionString: opts.url, timeoutMs: opts.timeoutMs });
  const db = new PostgresDb(client, opts.url);
  try {
    migrate(db, opts.migrations ?? MIGRATIONS, db.name);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
