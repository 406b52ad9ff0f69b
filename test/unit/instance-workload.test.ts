import { describe, expect, it } from 'vitest';
import { rng } from '../../server/rng.ts';
import { execMsOf, seedOf, standardNormal, WorkloadMetadataSchema } from '../../server/instance/workload.ts';

const dist = { meanMs: 200, sdMs: 50 };

function stats(xs: readonly number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
  return { mean, sd };
}

describe('reference instance workload', () => {
  it('gives the same task the same time on every run, seeded by metadata.seed, else by the task id', () => {
    expect(execMsOf('t-1', {}, dist)).toBe(execMsOf('t-1', {}, dist));
    expect(execMsOf('t-1', {}, dist)).not.toBe(execMsOf('t-2', {}, dist));
    // the seed, when given, decides: two task ids with one seed take one time
    expect(execMsOf('a', { seed: 7 }, dist)).toBe(execMsOf('b', { seed: 7 }, dist));
    expect(execMsOf('a', { seed: 7 }, dist)).not.toBe(execMsOf('a', { seed: 8 }, dist));
    expect(execMsOf('a', { seed: 'job-7' }, dist)).toBe(execMsOf('b', { seed: 'job-7' }, dist));
    expect(seedOf('x', { seed: 42 })).toBe(42);
    expect(seedOf('x', { seed: 'x' })).toBe(seedOf('x', {}));
    expect(seedOf('x', { seed: 1.5 })).toBe(seedOf('x', { seed: '1.5' }));
  });

  it('uses metadata.exec_ms as it is', () => {
    expect(execMsOf('t', { exec_ms: 12.5 }, dist)).toBe(12.5);
    expect(execMsOf('t', { exec_ms: 0, seed: 3 }, dist)).toBe(0);
  });

  it('draws around the mean with the standard deviation asked for', () => {
    const xs = Array.from({ length: 20_000 }, (_, i) => execMsOf(`task-${i}`, {}, dist));
    const s = stats(xs);
    expect(s.mean).toBeGreaterThan(198);
    expect(s.mean).toBeLessThan(202);
    expect(s.sd).toBeGreaterThan(48.5);
    expect(s.sd).toBeLessThan(51.5);
    // about 68 % within one sd
    const within = xs.filter((x) => Math.abs(x - 200) <= 50).length / xs.length;
    expect(within).toBeGreaterThan(0.66);
    expect(within).toBeLessThan(0.7);
  });

  it('truncates at 0: never negative', () => {
    const xs = Array.from({ length: 2000 }, (_, i) => execMsOf(`t${i}`, { seed: i }, { meanMs: 0, sdMs: 100 }));
    expect(Math.min(...xs)).toBe(0);
    const zeros = xs.filter((x) => x === 0).length / xs.length;
    expect(zeros).toBeGreaterThan(0.45);
    expect(zeros).toBeLessThan(0.55);
    expect(execMsOf('t', {}, { meanMs: 30, sdMs: 0 })).toBe(30);
  });

  it('draws standard normals from a uniform source', () => {
    const r = rng(1);
    const s = stats(Array.from({ length: 20_000 }, () => standardNormal(r)));
    expect(Math.abs(s.mean)).toBeLessThan(0.03);
    expect(Math.abs(s.sd - 1)).toBeLessThan(0.03);
    // u = 0 would be log(0): the draw stays finite at the edge of the source
    expect(Number.isFinite(standardNormal(() => 0))).toBe(true);
  });

  it('checks what it reads of the metadata, and keeps the rest', () => {
    expect(WorkloadMetadataSchema.safeParse({ exec_ms: -1 }).success).toBe(false);
    expect(WorkloadMetadataSchema.safeParse({ exec_ms: '5' }).success).toBe(false);
    expect(WorkloadMetadataSchema.safeParse({ seed: {} }).success).toBe(false);
    expect(WorkloadMetadataSchema.parse({ seed: 1, size: 'small' })).toEqual({ seed: 1, size: 'small' });
  });
});
