import { describe, expect, it } from 'vitest';
import { PingRounds, sliceCount } from '../../server/push/ping-rounds.ts';

describe('PingRounds: a heartbeat spread over its interval', () => {
  it('slices an interval into turns of ~250 ms, between 1 and 60', () => {
    expect(sliceCount(15_000)).toBe(60);
    expect(sliceCount(600_000)).toBe(60);
    expect(sliceCount(1000)).toBe(4);
    expect(sliceCount(50)).toBe(1);
  });

  it('gives every member exactly one turn per round, and no turn more than its share', () => {
    const rounds = new PingRounds<number>(4);
    for (let i = 0; i < 10; i++) rounds.add(i);
    const seen: number[] = [];
    const sizes: number[] = [];
    for (let t = 0; t < 4; t++) {
      const slice = [...rounds.next()];
      sizes.push(slice.length);
      seen.push(...slice);
    }
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Math.max(...sizes)).toBe(3);
    // the next round starts over with the first slice
    expect([...rounds.next()]).toEqual([0, 4, 8]);
  });

  it('forgets a removed member; a member added twice is in one slice', () => {
    const rounds = new PingRounds<string>(2);
    rounds.add('a');
    rounds.add('b');
    rounds.add('a');
    rounds.delete('b');
    rounds.delete('zz');
    expect(rounds.size).toBe(1);
    expect([...rounds.next(), ...rounds.next()]).toEqual(['a']);
  });

  it('with one slice, every member every turn (a short interval)', () => {
    const rounds = new PingRounds<number>(sliceCount(50));
    rounds.add(1);
    rounds.add(2);
    expect([...rounds.next()]).toEqual([1, 2]);
    expect([...rounds.next()]).toEqual([1, 2]);
  });
});
