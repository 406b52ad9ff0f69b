/**
 * Retention of the on-disk history tier: one transaction drops the chunks that ended before a cutoff and the names
 * of the series left without any (`history_series.chunks_until` says when a series' newest chunk ends).
 */
import type { Db } from '../db.ts';
import { BUCKETS_PER_CHUNK } from './slots.ts';

/**
 * Prepare the trim: the function returned drops chunks that ended by `cutoffS` (epoch s), tells `forget` of each
 * series name dropped with them, and returns how many chunks it dropped.
 */
export function prepareTrim(db: Db, forget: (id: number, name: string) => void): (cutoffS: number) => number {
  const deleteEmpty = db.prepare<[number], { id: number; name: string }>('DELETE FROM history_series WHERE chunks_until <= ? RETURNING id, name');
  const deleteOld = db.prepare<[number, number]>(`DELETE FROM history_chunks WHERE start < ? AND start + ${BUCKETS_PER_CHUNK} * bucket_s <= ?`);
  const trim = db.transaction((cutoffS: number) => {
    const dropped = deleteOld.run(cutoffS, cutoffS).changes;
    for (const { id, name } of deleteEmpty.all(cutoffS)) forget(id, name);
    return dropped;
  });
  return (cutoffS) => trim.immediate(cutoffS);
}
