import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { MonitorLoop, SourceUnavailableError, type Source } from '../../server/monitor/loop.ts';
import type { SourceStatus } from '../../shared/resources.ts';

class ScriptedSource implements Source<number> {
  calls = 0;
  /** per call: a value, an Error to throw, or 'hang' */
  constructor(readonly name: string, private readonly script: (n: number) => number | Error | 'hang') {}
  sample(): Promise<number> {
    const r = this.script(++this.calls);
    if (r === 'hang') return new Promise(() => {});
    return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
  }
}

function setup(...sources: ScriptedSource[]) {
  const clock = new ManualClock();
  const loop = new MonitorLoop<Record<string, number>>({ clock, timeoutMs: 500, maxBackoffMs: 8000 });
  const samples: [string, number, number][] = [];
  const statuses: [string, SourceStatus][] = [];
  for (const s of sources) loop.add(s, 1000);
  loop.onAttempt(({ source, status, sample }) => {
    if (sample !== undefined) samples.push([source, sample, clock.now()]);
    statuses.push([source, status]);
  });
  return { clock, loop, samples, statuses };
}

describe('MonitorLoop', () => {
  it('samples each source on its interval at a fixed rate', async () => {
    const src = new ScriptedSource('host', (n) => n);
    const { clock, loop, samples } = setup(src);
    const t0 = clock.now();
    await loop.start();
    await clock.advance(3000);
    expect(samples.map(([, v, t]) => [v, t - t0])).toEqual([[1, 0], [2, 1000], [3, 2000], [4, 3000]]);
    expect(loop.statuses().host).toMatchObject({ status: 'ok', consecutiveFailures: 0, lastSampleAt: t0 + 3000 });
    await loop.stop();
    await clock.advance(5000);
    expect(samples).toHaveLength(4);
  });

  it('marks a throwing source error with its message, backs off exponentially, and recovers', async () => {
    const src = new ScriptedSource('host', (n) => (n >= 2 && n <= 5 ? new Error(`boom ${n}`) : n));
    const { clock, loop, samples } = setup(src);
    const t0 = clock.now();
    await loop.start();
    await clock.advance(1000); // call 2 fails
    expect(loop.statuses().host).toMatchObject({ status: 'error', message: 'boom 2', consecutiveFailures: 1, nextRetryAt: t0 + 2000 });
    await clock.advance(1000); // call 3 fails at +2000, next after 2 s
    expect(loop.statuses().host).toMatchObject({ message: 'boom 3', consecutiveFailures: 2, nextRetryAt: t0 + 4000 });
    await clock.advance(2000); // call 4 at +4000, next after 4 s
    expect(loop.statuses().host).toMatchObject({ consecutiveFailures: 3, nextRetryAt: t0 + 8000 });
    await clock.advance(4000); // call 5 at +8000, next after min(8 s, max 8 s)
    expect(loop.statuses().host).toMatchObject({ consecutiveFailures: 4, nextRetryAt: t0 + 16_000 });
    await clock.advance(8000); // call 6 succeeds
    expect(loop.statuses().host).toMatchObject({ status: 'ok', consecutiveFailures: 0, lastErrorAt: t0 + 8000 });
    expect(samples.map(([, v, t]) => [v, t - t0])).toEqual([[1, 0], [6, 16_000]]);
  });

  it('times out a hanging sample and keeps the other sources going', async () => {
    const hang = new ScriptedSource('gpu', (n) => (n === 1 ? 'hang' : n));
    const ok = new ScriptedSource('host', (n) => n);
    const { clock, loop, samples, statuses } = setup(hang, ok);
    await loop.start();
    await clock.advance(500);
    expect(loop.statuses().gpu).toMatchObject({ status: 'error', message: 'gpu sample timed out after 500 ms' });
    await clock.advance(2000);
    expect(samples.filter(([n]) => n === 'host').length).toBe(3);
    expect(samples.filter(([n]) => n === 'gpu').map(([, v]) => v)).toEqual([2, 3]);
    expect(statuses.some(([n, s]) => n === 'gpu' && s.status === 'ok')).toBe(true);
  });

  it('marks a source whose subject is absent as unavailable and re-checks it slowly', async () => {
    const src = new ScriptedSource('gpu', () => new SourceUnavailableError('nvidia-smi not found'));
    const { clock, loop } = setup(src);
    await loop.start();
    await clock.advance(0);
    expect(loop.statuses().gpu).toMatchObject({ status: 'unavailable', message: 'nvidia-smi not found', nextRetryAt: clock.now() + 8000 });
    await clock.advance(7999);
    expect(src.calls).toBe(1);
    await clock.advance(1);
    expect(src.calls).toBe(2);
  });

  it('drops the result of a sample still in flight at stop', async () => {
    let finish: (v: number) => void = () => {};
    const slow: Source<number> = { name: 'host', sample: () => new Promise<number>((r) => (finish = r)) };
    const clock = new ManualClock();
    const loop = new MonitorLoop<Record<string, number>>({ clock, timeoutMs: 10_000, maxBackoffMs: 8000 });
    const samples: number[] = [];
    let statuses = 0;
    loop.add(slow, 1000);
    loop.onAttempt(({ sample }) => {
      if (sample !== undefined) samples.push(sample);
      statuses++;
    });
    await loop.start();
    await clock.advance(0);
    await loop.stop();
    finish(42);
    await clock.advance(0);
    expect(samples).toEqual([]);
    expect(statuses).toBe(0);
  });

  it('rejects adding the same source twice', () => {
    const { loop } = setup(new ScriptedSource('host', (n) => n));
    expect(() => loop.add(new ScriptedSource('host', (n) => n), 1000)).toThrow(/added twice/);
  });
});
