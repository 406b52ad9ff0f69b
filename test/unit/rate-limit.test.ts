/** The token buckets of --rate-limit / --rate-burst, on a clock the test moves. */
import { describe, expect, it } from 'vitest';
import { RateLimit } from '../../server/http/rate-limit.ts';
import { loadConfig } from '../../server/config.ts';

function limit(perSecond: number, burst: number, maxKeys?: number) {
  let t = 1_000_000;
  const l = new RateLimit({ perSecond, burst, ...(maxKeys !== undefined ? { maxKeys } : {}), now: () => t });
  return { l, advance: (ms: number) => void (t += ms) };
}

describe('rate limit', () => {
  it('lets a burst through at once, then refills at the rate; the wait is until the next request fits', () => {
    const { l, advance } = limit(2, 3);
    for (let i = 0; i < 3; i++) expect(l.take('tok', '10.0.0.1')).toBe(0);
    expect(l.take('tok', '10.0.0.1')).toBe(500);
    advance(200);
    expect(l.take('tok', '10.0.0.1')).toBe(300);
    advance(300);
    expect(l.take('tok', '10.0.0.1')).toBe(0);
    expect(l.take('tok', '10.0.0.1')).toBe(500);
    // a long pause fills the bucket to its size, not beyond
    advance(60_000);
    for (let i = 0; i < 3; i++) expect(l.take('tok', '10.0.0.1')).toBe(0);
    expect(l.take('tok', '10.0.0.1')).toBe(500);
  });

  it('waits whole intervals at rates below one a second', () => {
    const { l, advance } = limit(0.5, 1);
    expect(l.take(undefined, '10.0.0.1')).toBe(0);
    expect(l.take(undefined, '10.0.0.1')).toBe(2000);
    advance(1500);
    expect(l.take(undefined, '10.0.0.1')).toBe(500);
  });

  it('keeps tokens and addresses apart: either one empty refuses, and a refused request takes nothing', () => {
    const { l, advance } = limit(1, 2);
    expect(l.take('A', 'x')).toBe(0);
    expect(l.take('A', 'x')).toBe(0);
    expect(l.take('A', 'y')).toBeGreaterThan(0); // token A is empty, from any address
    expect(l.take('B', 'x')).toBeGreaterThan(0); // address x is empty, whatever token it sends
    expect(l.take(undefined, 'x')).toBeGreaterThan(0); // and without one
    expect(l.take('B', 'y')).toBe(0);
    expect(l.take('B', 'y')).toBe(0); // y and B gave nothing to the refused requests: two each
    expect(l.take('B', 'z')).toBeGreaterThan(0);
    expect(l.take('C', 'y')).toBeGreaterThan(0);
    expect(l.take('C', 'z')).toBe(0);
    expect(l.take(undefined, undefined)).toBe(0); // nothing to count it by
    advance(1000);
    expect(l.take('A', 'x')).toBe(0);
  });

  it('remembers at most maxKeys of each kind, forgetting the least recently used (which starts full again)', () => {
    const { l } = limit(1, 1, 3);
    expect(l.take('t0', 'a0')).toBe(0);
    for (let i = 1; i <= 3; i++) expect(l.take(`t${i}`, `a${i}`)).toBe(0);
    expect(l.remembered).toEqual({ tokens: 3, addresses: 3 });
    // t0 and a0 were the oldest: forgotten, full again
    expect(l.take('t0', 'a0')).toBe(0);
    // (t1 and a1 went for them) t3 and a3, used again — refused — are the newest: t2 and a2 go next, not they
    expect(l.take('t3', 'a3')).toBeGreaterThan(0);
    expect(l.take('t4', 'a4')).toBe(0);
    expect(l.take('t3', 'a3')).toBeGreaterThan(0);
    expect(l.take('t2', 'a2')).toBe(0);
    for (let i = 0; i < 1000; i++) l.take(`flood-${i}`, `10.1.${i >> 8}.${i & 255}`);
    expect(l.remembered).toEqual({ tokens: 3, addresses: 3 });
  });

  it('is off at 0 requests a second; a burst below one is refused when built', () => {
    const { l } = limit(0, 1);
    for (let i = 0; i < 100; i++) expect(l.take('tok', 'x')).toBe(0);
    expect(l.remembered).toEqual({ tokens: 0, addresses: 0 });
    expect(() => new RateLimit({ perSecond: 1, burst: 0 })).toThrow(/burst of 0 lets no request through/);
  });

  it('is on by default, generous enough for one client at thousands of requests a second; flags > env > file', () => {
    const c = loadConfig({}, {});
    expect(c.rateLimit).toBe(2000);
    expect(c.rateBurst).toBe(4000);
    expect(loadConfig({ rateLimit: '5', rateBurst: '7' }, { ARBITER_RATE_LIMIT: '9', ARBITER_RATE_BURST: '11' })).toMatchObject({ rateLimit: 5, rateBurst: 7 });
    expect(loadConfig({}, { ARBITER_RATE_LIMIT: '0.5', ARBITER_RATE_BURST: '11' })).toMatchObject({ rateLimit: 0.5, rateBurst: 11 });
    expect(() => loadConfig({ rateLimit: '-1' }, {})).toThrow(/invalid --rate-limit "-1": expected a number 0–10000000/);
    expect(() => loadConfig({ rateBurst: '0' }, {})).toThrow(/invalid --rate-burst "0": expected an integer 1–100000000/);
  });
});
