/**
 * A PostgreSQL connection the stores can call synchronously, like better-sqlite3: a `pg` Client lives in a worker
 * thread; each call posts the query to it and waits (Atomics.wait) until the answer is on the port. The store code,
 * its transactions and its group commits stay the same on both engines, and nothing else runs between a
 * transaction's statements (one writer, as on SQLite).
 *
 * The cost is that each call blocks the event loop for one round trip to the database (≈ 0.1–0.3 ms on loopback):
 * keep the database near the hub. Group commit makes it one transaction per event-loop turn, and pg-db.ts sends a
 * transaction's writes with its COMMIT: one round trip per turn (bench/store-engines.ts).
 *
 * A call that gets no answer within `timeoutMs` throws and the connection is closed: its state (inside a
 * transaction or not) is unknown, so it is not used again. PostgreSQL ends what the connection held (its open
 * transaction, its advisory locks).
 */
import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { createHash } from 'node:crypto';

export interface SyncClientOptions {
  /** postgres://user:password@host:port/database?options=… (what `pg` accepts) */
  connectionString: string;
  /** how long one statement may take (connecting: at least 10 s) @default 30000 */
  timeoutMs?: number;
  /** the application_name PostgreSQL shows for the connection @default 'arbiter' */
  applicationName?: string;
}

export interface QueryResult {
  rows: Record<string, unknown>[];
  /** rows inserted, updated or deleted (or returned) */
  changes: number;
}

/** An error PostgreSQL answered with; `code` is its SQLSTATE (e.g. 23505 unique violation). */
export class PostgresError extends Error {
  constructor(message: string, readonly code: string | undefined, readonly detail?: string) {
    super(message);
    this.name = 'PostgresError';
  }
}

type Answer = { id: number; rows?: Record<string, unknown>[]; changes?: number; error?: { message: string; code?: string; detail?: string } };

/** The worker's code: plain JavaScript, so that it runs the same from the TypeScript sources and from the build. */
const WORKER = String.raw`
const { workerData } = require('node:worker_threads');
const pg = require(workerData.pgPath);
// int8 (count(*), BIGINT columns) and numeric as numbers: Arbiter's integers are safe integers (epoch ms, ids)
pg.types.setTypeParser(20, Number);
pg.types.setTypeParser(1700, Number);
const flags = new Int32Array(workerData.flag);
const port = workerData.port;
const client = new pg.Client({ connectionString: workerData.connectionString, application_name: workerData.applicationName });
let lost = null;
client.on('error', (err) => { lost = err; });
const fix = (v) => (v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v);
async function handle(m) {
  if (lost) throw lost;
  if (m.op === 'connect') { await client.connect(); return {}; }
  if (m.op === 'end') { await client.end(); return {}; }
  if (m.op === 'exec') { await client.query(m.sql); return {}; }
  const res = await client.query({ name: m.name, text: m.sql, values: m.params.map(fix) });
  return { rows: res.rows || [], changes: res.rowCount || 0 };
}
let chain = Promise.resolve();
port.on('message', (m) => {
  chain = chain.then(async () => {
    let out;
    try { out = await handle(m); } catch (err) { out = { error: { message: err && err.message || String(err), code: err && err.code, detail: err && err.detail } }; }
    out.id = m.id;
    port.postMessage(out);
    Atomics.add(flags, 0, 1);
    Atomics.notify(flags, 0);
  });
});
`;

export class SyncClient {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly flags: Int32Array;
  private readonly timeoutMs: number;
  private readonly names = new Map<string, string>();
  private seq = 0;
  private closed = false;
  /** round trips made (each call waits for one answer) */
  calls = 0;

  constructor(opts: SyncClientOptions) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    const flag = new SharedArrayBuffer(4);
    this.flags = new Int32Array(flag);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const pgPath = createRequire(import.meta.url).resolve('pg');
    this.worker = new Worker(WORKER, {
      eval: true,
      workerData: { pgPath, flag, port: port2, connectionString: opts.connectionString, applicationName: opts.applicationName ?? 'arbiter' },
      transferList: [port2],
    });
    this.worker.unref();
    this.port.unref();
    try {
      // connecting (the worker's start included) is not a statement: it gets at least 10 s
      this.call({ op: 'connect' }, Math.max(this.timeoutMs, 10_000));
    } catch (err) {
      void this.worker.terminate();
      this.closed = true;
      throw err;
    }
  }

  get open(): boolean {
    return !this.closed;
  }

  /** One statement with parameters; prepared once per connection (named after its text). */
  query(sql: string, params: readonly unknown[]): QueryResult {
    let name = this.names.get(sql);
    if (!name) {
      name = `a${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
      this.names.set(sql, name);
    }
    const a = this.call({ op: 'query', sql, params, name });
    return { rows: (a.rows ?? []).map(buffers), changes: a.changes ?? 0 };
  }

  /** Statements without parameters (simple protocol: several may be separated by `;`). */
  exec(sql: string): void {
    this.call({ op: 'exec', sql });
  }

  close(): void {
    if (this.closed) return;
    try {
      this.call({ op: 'end' }, 2000);
    } catch {
      // closing anyway
    }
    this.closed = true;
    void this.worker.terminate();
  }

  private call(msg: Record<string, unknown>, timeoutMs = this.timeoutMs): Answer {
    if (this.closed) throw new PostgresError('the PostgreSQL connection is closed', '08003');
    this.calls++;
    const id = ++this.seq;
    this.port.postMessage({ ...msg, id });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = Atomics.load(this.flags, 0);
      let got = receiveMessageOnPort(this.port);
      while (got && (got.message as Answer).id !== id) got = receiveMessageOnPort(this.port); // a late answer
      if (got) {
        const answer = got.message as Answer;
        if (answer.error) throw new PostgresError(answer.error.message, answer.error.code, answer.error.detail);
        return answer;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        this.closed = true;
        void this.worker.terminate();
        throw new PostgresError(`PostgreSQL did not answer within ${timeoutMs} ms; the connection is closed`, '57014');
      }
      Atomics.wait(this.flags, 0, seen, left);
    }
  }
}

/** bytea values cross the thread as Uint8Array: make them Buffers again, as better-sqlite3 gives BLOBs. */
function buffers(row: Record<string, unknown>): Record<string, unknown> {
  for (const k in row) {
    const v = row[k];
    if (v instanceof Uint8Array && !Buffer.isBuffer(v)) row[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  return row;
}
