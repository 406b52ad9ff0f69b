/**
 * The workers table: the current record of every worker (WorkerRecord: its public view, the spec it runs, its
 * request's fields, where it runs), written after each batch of the worker book's changes and loaded at start.
 */
import type { SqlStatement as Statement } from './sql.ts';
import { WorkerRecordSchema, type WorkerChange, type WorkerRecord } from '../../shared/workers.ts';
import type { Db } from './db.ts';

export class WorkerStore {
  private readonly put: Statement;
  private readonly remove: Statement;

  constructor(private readonly db: Db) {
    this.put = db.prepare('INSERT INTO workers (id, name, state, data) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, state = excluded.state, data = excluded.data');
    this.remove = db.prepare('DELETE FROM workers WHERE id = ?');
  }

  /** Write the records these changes are about, as they are now (the caller's transaction makes it atomic). */
  apply(changes: readonly WorkerChange[], current: (id: string) => WorkerRecord | undefined): void {
    const seen = new Set<string>();
    for (const c of changes) {
      const id = c.worker.id;
      if (seen.has(id)) continue;
      seen.add(id);
      const r = current(id);
      if (!r) this.remove.write(id);
      else this.put.write(id, r.worker.name, r.worker.state, JSON.stringify(r));
    }
  }

  load(): WorkerRecord[] {
    return (this.db.prepare('SELECT data FROM workers ORDER BY rowid').all() as { data: string }[]).map((row) => WorkerRecordSchema.parse(JSON.parse(row.data)));
  }
}
