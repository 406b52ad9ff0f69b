/**
 * GPU fragmentation as the evaluation and the dashboard report it (Cluster.fragmentation): the share of the free GPU
 * capacity stranded on partly used GPUs (a GPU shared by fractional allocations with room left counts its free MiB ÷
 * its MiB; a GPU free as a whole counts 1 and is not stranded), over the placeable nodes; null when nothing is free.
 */
import type { Ledger } from './ledger.ts';

/** each node's part, kept until it changes: a replay asks at every event, and one node changes at a time */
const parts = new WeakMap<Ledger, { version: number; free: number; stranded: number }>();

export function strandedShare(ledgers: readonly Ledger[]): number | null {
  let free = 0;
  let stranded = 0;
  for (const l of ledgers) {
    if (!l.placeable) continue;
    let part = parts.get(l);
    if (part?.version !== l.version) {
      part = { version: l.version, free: 0, stranded: 0 };
      for (const g of l.slots()) {
        if (!g.present || !g.available) continue;
        if (l.isWholeFree(g)) {
          part.free += 1;
          continue;
        }
        const room = l.shareRoom(g);
        if (room > 0 && g.memoryMiB > 0) {
          part.free += room / g.memoryMiB;
          part.stranded += room / g.memoryMiB;
        }
      }
      parts.set(l, part);
    }
    free += part.free;
    stranded += part.stranded;
  }
  return free > 0 ? stranded / free : null;
}
