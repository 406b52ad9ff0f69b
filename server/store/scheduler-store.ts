/**
 * The scheduler's tables: requests, allocations and conflicts (current state of each, history included), the
 * decision log (every change record) and the chosen strategy. `apply` writes one batch of the engine's change
 * records (`engine.onChange`) in one transaction: when it returns, the batch is committed (see db.ts for what
 * survives what). `load` gives `engine.restore` what it needs at start.
 */
import type { SqlStatement as Statement, SqlTransaction as Transaction } from './sql.ts';
import type { EngineState } from '../scheduler/engine.ts';
import {
  StrategyNameSchema, changeRecords,
  type Allocation, type Change, type Conflict, type Request, type RequestStatus, type StrategyName,
} from '../../shared/scheduler.ts';
import type { Db } from './db.ts';

export interface LoadOptions {
  /** ended requests (released, cancelled, expired, preempted) loaded, newest first; match the engine's `retainEnded` @default 10000 */
  retainEnded?: number;
  /** resolved conflicts loaded, newest first; match the engine's `retainResolvedConflicts` @default 10000 */
  retainResolvedConflicts?: number;
}

export interface Page<T> {
  total: number;
  items: T[];
}

export interface ConflictQuery {
  status?: Conflict['status'];
  type?: Conflict['type'];
  /** @default 50 */
  limit?: number;
  /** @default 0 */
  offset?: number;
}

export interface RequestQuery {
  status?: RequestStatus;
  owner?: string;
  /** @default 50 */
  limit?: number;
  /** @default 0 */
  offset?: number;
}

export interface Decision {
  seq: number;
  /** one engine operation */
  batch: number;
  change: Change;
}

export interface DecisionQuery {
  /** decisions about this request (its own records, its allocation's, its conflicts') */
  requestId?: string;
  /** decisions with seq > afterSeq @default 0 */
  afterSeq?: number;
  /** @default 100 */
  limit?: number;
}

/** Largest page a query returns. */
export const MAX_PAGE = 1000;

const ENDED_SQL = "status NOT IN ('queued', 'granted')";

export class SchedulerStore {
  private readonly upsertRequest: Statement<unknown[]>;
  private readonly releaseKey: Statement<[string, string]>;
  private readonly upsertAllocation: Statement<unknown[]>;
  private readonly upsertConflict: Statement<unknown[]>;
  private readonly insertDecision: Statement<unknown[]>;
  private readonly setMeta: Statement<[string, string]>;
  private readonly getMeta: Statement<[string], { value: string }>;
  private readonly strategyStmts: {
    putConfig: Statement<[string, string, number]>;
    getConfig: Statement<[string], { config: string; updated_at: number }>;
    closePeriods: Statement<[number]>;
    openPeriod: Statement<[string, number]>;
    periods: Statement<[], { name: string; started_at: number; ended_at: number | null }>;
    current: Statement<[], { name: string; started_at: number }>;
    requestsSince: Statement<[number], { data: string; alloc: string | null }>;
    tail: Statement<[number], { data: string }>;
  };
  private readonly applyTx: Transaction<(batches: readonly (readonly Change[])[], first: number) => number>;
  private readonly loadStmts: {
    liveRequests: Statement<[], { data: string }>;
    endedRequests: Statement<[number], { data: string }>;
    allocations: Statement<[number], { data: string }>;
    conflicts: Statement<[number], { data: string }>;
  };
  private readonly byId: {
    request: Statement<[string], { data: string }>;
    allocation: Statement<[string], { data: string }>;
    conflict: Statement<[string], { data: string }>;
    idempotencyKey: Statement<[string], { data: string }>;
  };
  /** prepared query statements by their WHERE clause (a handful of filter combinations) */
  private readonly queries = new Map<string, { count: Statement<unknown[]>; page: Statement<unknown[]> }>();
  private readonly lastSeqStmt: Statement<[], { seq: number }>;
  private batch: number;

  constructor(private readonly db: Db) {
    this.lastSeqStmt = db.prepare('SELECT seq FROM decisions ORDER BY seq DESC LIMIT 1');
    // only what can change is updated (an index whose columns are not SET is left alone)
    this.upsertRequest = db.prepare(`
      INSERT INTO requests (id, status, owner, grp, priority, submitted_at, updated_at, idempotency_key, allocation_id, data)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET
        status = excluded.status, updated_at = excluded.updated_at, allocation_id = excluded.allocation_id, data = excluded.data`);
    this.releaseKey = db.prepare('UPDATE requests SET idempotency_key = NULL WHERE idempotency_key = ? AND id <> ?');
    this.upsertAllocation = db.prepare(`
      INSERT INTO allocations (id, request_id, state, node, granted_at, lease_expires_at, ended_at, data)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET
        state = excluded.state, lease_expires_at = excluded.lease_expires_at, ended_at = excluded.ended_at, data = excluded.data`);
    this.upsertConflict = db.prepare(`
      INSERT INTO conflicts (id, key, type, severity, request_id, status, opened_at, updated_at, resolved_at, data)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET
        type = excluded.type, severity = excluded.severity, request_id = excluded.request_id, status = excluded.status,
        updated_at = excluded.updated_at, resolved_at = excluded.resolved_at, data = excluded.data`);
    this.insertDecision = db.prepare('INSERT INTO decisions (batch, at, kind, entity_id, request_id, data) VALUES (?, ?, ?, ?, ?, ?)');
    this.setMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.getMeta = db.prepare('SELECT value FROM meta WHERE key = ?');
    this.strategyStmts = {
      putConfig: db.prepare('INSERT INTO strategy_configs (name, config, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at'),
      getConfig: db.prepare('SELECT config, updated_at FROM strategy_configs WHERE name = ?'),
      closePeriods: db.prepare('UPDATE strategy_periods SET ended_at = ? WHERE ended_at IS NULL'),
      openPeriod: db.prepare('INSERT INTO strategy_periods (name, started_at) VALUES (?, ?)'),
      periods: db.prepare('SELECT name, started_at, ended_at FROM strategy_periods ORDER BY id'),
      current: db.prepare('SELECT name, started_at FROM strategy_periods WHERE ended_at IS NULL ORDER BY id DESC LIMIT 1'),
      tail: db.prepare('SELECT data FROM (SELECT seq, data FROM decisions ORDER BY seq DESC LIMIT ?) AS newest ORDER BY seq'),
      requestsSince: db.prepare(`SELECT r.data AS data, a.data AS alloc FROM requests r LEFT JOIN allocations a ON a.id = r.allocation_id
        WHERE r.submitted_at >= ? ORDER BY r.submitted_at, r.rowid`),
    };

    const endedIds = `SELECT id FROM requests WHERE ${ENDED_SQL} ORDER BY updated_at DESC LIMIT ?`;
    this.loadStmts = {
      liveRequests: db.prepare(`SELECT data FROM requests WHERE status IN ('queued', 'granted') ORDER BY rowid`),
      endedRequests: db.prepare(`SELECT data FROM requests WHERE id IN (${endedIds}) ORDER BY rowid`),
      // active allocations, and those of the ended requests loaded
      allocations: db.prepare(`
        SELECT data FROM (
          SELECT rowid AS n, data FROM allocations WHERE state = 'active'
          UNION ALL
          SELECT a.rowid AS n, a.data FROM requests r JOIN allocations a ON a.id = r.allocation_id
            WHERE r.id IN (${endedIds}) AND a.state <> 'active'
        ) AS loaded ORDER BY n`),
      conflicts: db.prepare(`
        SELECT data FROM conflicts WHERE status = 'open' OR id IN (
          SELECT id FROM conflicts INDEXED BY conflicts_resolved WHERE status = 'resolved' ORDER BY resolved_at DESC LIMIT ?)
        ORDER BY rowid`),
    };
    this.byId = {
      request: db.prepare('SELECT data FROM requests WHERE id = ?'),
      allocation: db.prepare('SELECT data FROM allocations WHERE id = ?'),
      conflict: db.prepare('SELECT data FROM conflicts WHERE id = ?'),
      idempotencyKey: db.prepare('SELECT data FROM requests WHERE idempotency_key = ?'),
    };
    const last = db.prepare<[], { batch: number }>('SELECT batch FROM decisions ORDER BY seq DESC LIMIT 1').get();
    this.batch = last?.batch ?? 0;

    this.applyTx = db.transaction((batches: readonly (readonly Change[])[], first: number) => {
      let batch = first;
      for (const changes of batches) {
        if (!changes.length) continue;
        for (const c of changes) this.write(c, batch);
        batch++;
      }
      return batch - 1;
    });
  }

  /**
   * Persist one batch of change records (one engine operation) in one transaction; throws (and writes nothing)
   * when it fails. Entities are upserted whole, each record is appended to the decision log.
   */
  apply(changes: readonly Change[]): void {
    if (changes.length) this.batch = this.applyTx.immediate([changes], this.batch + 1);
  }

  /**
   * Several batches in one transaction (group commit: each keeps its batch number in the decision log). For a
   * caller that acknowledges what it collected over one event-loop turn after one commit (+60 % commits/s at
   * 16 batches per transaction on this machine).
   */
  applyAll(batches: readonly (readonly Change[])[]): void {
    if (batches.some((b) => b.length)) this.batch = this.applyTx.immediate(batches, this.batch + 1);
  }

  /**
   * What `engine.restore` needs: every waiting and granted request, the newest ended ones, active allocations and
   * those of the loaded requests, open conflicts and the newest resolved ones; in the order they were created.
   */
  load(opts: LoadOptions = {}): EngineState {
    const ended = opts.retainEnded ?? 10_000;
    const resolved = opts.retainResolvedConflicts ?? 10_000;
    const parse = <T>(rows: { data: string }[]) => rows.map((r) => JSON.parse(r.data) as T);
    const read = this.db.transaction(() => ({
      requests: [...parse<Request>(this.loadStmts.liveRequests.all()), ...parse<Request>(this.loadStmts.endedRequests.all(ended))],
      allocations: parse<Allocation>(this.loadStmts.allocations.all(ended)),
      conflicts: parse<Conflict>(this.loadStmts.conflicts.all(resolved)),
    }));
    return read();
  }

  /** `load` and the decision log's last seq, read in one transaction: the changes after that seq come after that state. */
  loadAt(opts: LoadOptions = {}): { state: EngineState; seq: number } {
    return this.db.transaction(() => ({ state: this.load(opts), seq: this.lastSeq() }))();
  }

  /** The seq of the newest decision (0 before the first). */
  lastSeq(): number {
    return this.lastSeqStmt.get()?.seq ?? 0;
  }

  /** The strategy last switched to (strategy_changed), or null when it never was. */
  strategy(): StrategyName | null {
    const row = this.getMeta.get('strategy');
    if (!row) return null;
    const parsed = StrategyNameSchema.safeParse(row.value);
    return parsed.success ? parsed.data : null;
  }

  /** The config a strategy had last, or undefined when it was never switched to with one. */
  strategyConfig(name: StrategyName): Record<string, unknown> | undefined {
    const row = this.strategyStmts.getConfig.get(name);
    return row ? JSON.parse(row.config) as Record<string, unknown> : undefined;
  }

  /** When each strategy was active, oldest first (`end` null for the current one). */
  strategyPeriods(): { name: StrategyName; start: number; end: number | null }[] {
    return this.strategyStmts.periods.all().flatMap((p) => {
      const name = StrategyNameSchema.safeParse(p.name);
      return name.success ? [{ name: name.data, start: p.started_at, end: p.ended_at }] : [];
    });
  }

  /** Since when the current strategy is active (null when it never was switched to). */
  strategySince(): number | null {
    return this.strategyStmts.current.get()?.started_at ?? null;
  }

  /** The newest `limit` change records of the decision log, oldest first. */
  decisionsTail(limit: number): Change[] {
    return this.strategyStmts.tail.all(limit).map((r) => JSON.parse(r.data) as Change);
  }

  /** Requests submitted at or after `sinceMs`, each with its allocation (if granted), in submit order. */
  requestsSince(sinceMs: number): { request: Request; allocation: Allocation | null }[] {
    return this.strategyStmts.requestsSince.all(sinceMs).map((row) => ({
      request: JSON.parse(row.data) as Request,
      allocation: row.alloc === null ? null : JSON.parse(row.alloc) as Allocation,
    }));
  }

  request(id: string): Request | undefined {
    return one<Request>(this.byId.request.get(id));
  }

  allocation(id: string): Allocation | undefined {
    return one<Allocation>(this.byId.allocation.get(id));
  }

  conflict(id: string): Conflict | undefined {
    return one<Conflict>(this.byId.conflict.get(id));
  }

  /**
   * The request that holds an idempotency key: the newest one submitted with it. Also finds keys the engine has
   * forgotten (it keeps the keys of its `retainEnded` newest ended requests only).
   */
  requestByIdempotencyKey(key: string): Request | undefined {
    return one<Request>(this.byId.idempotencyKey.get(key));
  }

  /** Conflicts, newest opened first (history: resolved ones included unless `status` says otherwise; `type` filters without an index). */
  conflicts(q: ConflictQuery = {}): Page<Conflict> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.status !== undefined) (where.push('status = ?'), args.push(q.status));
    if (q.type !== undefined) (where.push('type = ?'), args.push(q.type));
    return this.page<Conflict>('conflicts', where, args, 'rowid DESC', q.limit ?? 50, q.offset ?? 0);
  }

  /** Requests, newest submitted first. */
  requests(q: RequestQuery = {}): Page<Request> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.status !== undefined) (where.push('status = ?'), args.push(q.status));
    if (q.owner !== undefined) (where.push('owner = ?'), args.push(q.owner));
    return this.page<Request>('requests', where, args, 'rowid DESC', q.limit ?? 50, q.offset ?? 0);
  }

  /** The decision log in order, optionally about one request. */
  decisions(q: DecisionQuery = {}): Decision[] {
    const limit = checkLimit(q.limit ?? 100);
    const after = q.afterSeq ?? 0;
    const rows = q.requestId === undefined
      ? this.query('decisions:all', () => this.db.prepare('SELECT seq, batch, data FROM decisions WHERE seq > ? ORDER BY seq LIMIT ?')).page.all(after, limit)
      : this.query('decisions:request', () => this.db.prepare('SELECT seq, batch, data FROM decisions WHERE request_id = ? AND seq > ? ORDER BY seq LIMIT ?')).page.all(q.requestId, after, limit);
    return (rows as { seq: number; batch: number; data: string }[]).map((r) => ({ seq: r.seq, batch: r.batch, change: JSON.parse(r.data) as Change }));
  }

  // ------------------------------------------------------------------ internals

  private write(c: Change, batch: number): void {
    const { request, allocation, conflict } = changeRecords(c);
    if (request) this.putRequest(request);
    if (allocation) this.putAllocation(allocation);
    if (conflict) this.putConflict(conflict);
    if (c.kind === 'strategy_changed') {
      this.setMeta.write('strategy', c.strategy);
      if (c.config !== undefined) this.strategyStmts.putConfig.write(c.strategy, JSON.stringify(c.config), c.at);
      this.strategyStmts.closePeriods.write(c.at);
      this.strategyStmts.openPeriod.write(c.strategy, c.at);
    }
    // the record it is about, and the request that is about (its own, its allocation's, its conflict's)
    const entityId = allocation?.id ?? conflict?.id ?? request?.id ?? (c.kind === 'strategy_changed' ? c.strategy : null);
    const requestId = allocation ? allocation.requestId : conflict ? conflict.requestId : request?.id ?? null;
    this.insertDecision.write(batch, c.at, c.kind, entityId, requestId, JSON.stringify(c));
  }

  private putRequest(r: Request): void {
    const key = r.idempotencyKey ?? null;
    // the engine forgets the keys of old ended requests and may reuse one for a new request: the newest holds it
    if (key !== null) this.releaseKey.write(key, r.id);
    this.upsertRequest.write(r.id, r.status, r.owner, r.group ?? null, r.priority, r.submittedAt, r.updatedAt, key, r.allocationId ?? null, JSON.stringify(r));
  }

  private putAllocation(a: Allocation): void {
    this.upsertAllocation.write(a.id, a.requestId, a.state, a.node, a.grantedAt, a.leaseExpiresAt, a.endedAt ?? null, JSON.stringify(a));
  }

  private putConflict(c: Conflict): void {
    this.upsertConflict.write(c.id, c.key, c.type, c.severity, c.requestId, c.status, c.openedAt, c.updatedAt, c.resolvedAt ?? null, JSON.stringify(c));
  }

  private query(key: string, make: () => Statement<unknown[]>, makeCount?: () => Statement<unknown[]>): { count: Statement<unknown[]>; page: Statement<unknown[]> } {
    let q = this.queries.get(key);
    if (!q) {
      const page = make();
      q = { page, count: makeCount ? makeCount() : page };
      this.queries.set(key, q);
    }
    return q;
  }

  private page<T>(table: string, where: string[], args: unknown[], order: string, limit: number, offset: number): Page<T> {
    checkLimit(limit);
    if (!(Number.isInteger(offset) && offset >= 0)) throw new RangeError(`offset must be an integer ≥ 0, not ${offset}`);
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const q = this.query(
      `${table}:${clause}`,
      () => this.db.prepare(`SELECT data FROM ${table} ${clause} ORDER BY ${order} LIMIT ? OFFSET ?`),
      () => this.db.prepare(`SELECT count(*) AS n FROM ${table} ${clause}`),
    );
    const read = this.db.transaction(() => ({
      total: (q.count.get(...args) as { n: number }).n,
      items: (q.page.all(...args, limit, offset) as { data: string }[]).map((r) => JSON.parse(r.data) as T),
    }));
    return read();
  }
}

function one<T>(row: { data: string } | undefined): T | undefined {
  return row ? (JSON.parse(row.data) as T) : undefined;
}

function checkLimit(limit: number): number {
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_PAGE)) throw new RangeError(`limit must be an integer from 1 to ${MAX_PAGE}, not ${limit}`);
  return limit;
}
