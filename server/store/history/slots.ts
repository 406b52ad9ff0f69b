/**
 * The chunk row of the on-disk history tier (migration 4): `BUCKETS_PER_CHUNK` consecutive buckets of one series,
 * one slot each — n (uint16, samples in the bucket, 0 = no point), mean, min, max (float32, the precision of the
 * in-memory rings), little-endian. A bucket written into a slot that holds one already is merged with it: counts
 * add up and means are weighted by them, so the parts of one bucket written by two runs make one bucket.
 */

/** Buckets per chunk row. */
export const BUCKETS_PER_CHUNK = 60;
/** n (uint16), mean, min, max (float32), little-endian */
export const SLOT_BYTES = 14;
export const CHUNK_BYTES = BUCKETS_PER_CHUNK * SLOT_BYTES;
const MAX_COUNT = 0xffff;

/** One bucket of one series. */
export interface Bucket {
  n: number;
  mean: number;
  min: number;
  max: number;
}

/** Merge a bucket into a chunk's slot: counts add up, means are weighted by them. */
export function mergeSlot(data: Buffer, slot: number, b: Bucket): void {
  const o = slot * SLOT_BYTES;
  const n0 = data.readUInt16LE(o);
  let { n, mean, min, max } = b;
  if (n0 > 0) {
    const mean0 = data.readFloatLE(o + 2);
    mean = (mean0 * n0 + mean * n) / (n0 + n);
    min = Math.min(min, data.readFloatLE(o + 6));
    max = Math.max(max, data.readFloatLE(o + 10));
    n += n0;
  }
  data.writeUInt16LE(Math.min(n, MAX_COUNT), o);
  data.writeFloatLE(mean, o + 2);
  data.writeFloatLE(min, o + 6);
  data.writeFloatLE(max, o + 10);
}

/** Read one slot of a chunk (null when it holds no point). */
export function readSlot(data: Buffer, slot: number): Bucket | null {
  const o = slot * SLOT_BYTES;
  if (o + SLOT_BYTES > data.length) return null;
  const n = data.readUInt16LE(o);
  return n === 0 ? null : { n, mean: data.readFloatLE(o + 2), min: data.readFloatLE(o + 6), max: data.readFloatLE(o + 10) };
}
