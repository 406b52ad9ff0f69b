import { describe, expect, it } from 'vitest';
import { BUCKETS_PER_CHUNK, CHUNK_BYTES, mergeSlot, readSlot } from '../../server/store/history/slots.ts';

describe('chunk slots', () => {
  it('reads back what was written into an empty slot, at float32 precision', () => {
    const data = Buffer.alloc(CHUNK_BYTES);
    expect(CHUNK_BYTES).toBe(BUCKETS_PER_CHUNK * 14);
    expect(readSlot(data, 3)).toBeNull();
    mergeSlot(data, 3, { n: 60, mean: 12.5, min: 0.1, max: 99 });
    expect(readSlot(data, 3)).toEqual({ n: 60, mean: 12.5, min: Math.fround(0.1), max: 99 });
    expect(readSlot(data, 2)).toBeNull();
    expect(readSlot(data, 4)).toBeNull();
  });

  it('merges into a slot that holds a bucket: counts add up, means weighted by them, min and max over both', () => {
    const data = Buffer.alloc(CHUNK_BYTES);
    mergeSlot(data, 0, { n: 30, mean: 10, min: 5, max: 20 });
    mergeSlot(data, 0, { n: 10, mean: 30, min: 1, max: 15 });
    expect(readSlot(data, 0)).toEqual({ n: 40, mean: 15, min: 1, max: 20 });
  });

  it('caps the count at what a uint16 holds', () => {
    const data = Buffer.alloc(CHUNK_BYTES);
    mergeSlot(data, 0, { n: 0xfff0, mean: 1, min: 1, max: 1 });
    mergeSlot(data, 0, { n: 0x20, mean: 1, min: 1, max: 1 });
    expect(readSlot(data, 0)!.n).toBe(0xffff);
  });

  it('reads no slot past the end of a shorter row', () => {
    expect(readSlot(Buffer.alloc(14 * 2), 2)).toBeNull();
  });
});
