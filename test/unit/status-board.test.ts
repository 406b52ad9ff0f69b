import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { History } from '../../server/monitor/history.ts';
import { MonitorLoop, type Source } from '../../server/monitor/loop.ts';
import { StatusBoard, type NodeSamples } from '../../server/monitor/status.ts';
import type { Gpu, HostSample, ResourceStatus, SourceStatus } from '../../shared/resources.ts';
import { fakeHostSample } from '../helpers/fake-host.ts';
import { fakeGpu } from '../helpers/fake-gpu.ts';

const ok = (at: number): SourceStatus => ({ status: 'ok', lastSampleAt: at, lastErrorAt: null, consecutiveFailures: 0, nextRetryAt: null });

describe('StatusBoard pacing', () => {
  it('publishes every host sample and state change at once, routine gpu samples at most once a second', async () => {
    const clock = new ManualClock();
    const board = new StatusBoard('n', new History(60), clock);
    const published: ResourceStatus[] = [];
    board.onSnapshot((s) => published.push(s));

    board.record({ source: 'host', status: ok(clock.now()), sample: fakeHostSample(1, clock.now()) });
    board.record({ source: 'gpu', status: ok(clock.now()), sample: [fakeGpu(0)] }); // starting → ok: a change, published now
    expect(published).toHaveLength(2);

    await clock.advance(300);
    board.record({ source: 'gpu', status: ok(clock.now()), sample: [fakeGpu(0, { utilizationGpuPercent: 77 })] }); // routine: waits for the pace
    expect(published).toHaveLength(2);
    await clock.advance(1199); // 1.5 s after the last publish, unless a host sample comes first
    expect(published).toHaveLength(2);
    await clock.advance(1);
    expect(published).toHaveLength(3);
    expect(published[2]!.gpus[0]!.utilizationGpuPercent).toBe(77);

    // a host sample before the paced publish carries the gpu figures and makes the timer moot
    await clock.advance(200);
    board.record({ source: 'gpu', status: ok(clock.now()), sample: [fakeGpu(0, { utilizationGpuPercent: 12 })] });
    board.record({ source: 'host', status: ok(clock.now()), sample: fakeHostSample(2, clock.now()) });
    expect(published).toHaveLength(4);
    expect(published[3]!.gpus[0]!.utilizationGpuPercent).toBe(12);
    await clock.advance(5000);
    expect(published).toHaveLength(4);

    board.record({ source: 'gpu', status: { ...ok(clock.now()), status: 'error', message: 'nvidia-smi exited' } });
    expect(published).toHaveLength(5);
  });
});

describe('StatusBoard attached to the loop', () => {
  /** Host samples with load 1, 2, 3…; `fail` makes the next attempts throw. */
  function hostSource(clock: ManualClock) {
    const src = {
      name: 'host' as const,
      n: 0,
      fail: null as Error | null,
      async sample(): Promise<HostSample> {
        if (src.fail) throw src.fail;
        src.n++;
        return fakeHostSample(src.n, clock.now());
      },
    } satisfies Source<HostSample, 'host'> & { n: number; fail: Error | null };
    return src;
  }

  function setup(attachFirst: boolean) {
    const clock = new ManualClock();
    const loop = new MonitorLoop<NodeSamples>({ clock, timeoutMs: 500, maxBackoffMs: 8000 });
    const board = new StatusBoard('n', new History(60), clock);
    const published: ResourceStatus[] = [];
    board.onSnapshot((s) => published.push(s));
    if (attachFirst) board.attach(loop);
    const host = hostSource(clock);
    loop.add(host, 1000);
    let gpus: Gpu[] = [fakeGpu(0, { utilizationGpuPercent: 5 })];
    loop.add({ name: 'gpu', sample: async () => gpus }, 1000);
    if (!attachFirst) board.attach(loop);
    return { clock, loop, published, host, setGpus: (g: Gpu[]) => (gpus = g) };
  }

  for (const attachFirst of [true, false]) {
    it(`publishes each host sample with its own figures, in one call (attached ${attachFirst ? 'before' : 'after'} the sources were added)`, async () => {
      const { clock, loop, published, host } = setup(attachFirst);
      for (let i = 1; i <= 3; i++) {
        await loop.runOnce('host');
        expect(published).toHaveLength(i);
        const s = published[i - 1]!;
        expect(s.host!.cpu.loadPercent).toBe(i);
        expect(s.host!.sampledAt).toBe(clock.now());
        expect(s.sources.host).toMatchObject({ status: 'ok', lastSampleAt: clock.now() });
        await clock.advance(1000);
      }
      // a failed attempt publishes the new state at once, with the last figures it has
      host.fail = new Error('proc unreadable');
      await loop.runOnce('host');
      expect(published).toHaveLength(4);
      expect(published[3]!.sources.host).toMatchObject({ status: 'error', message: 'proc unreadable' });
      expect(published[3]!.host!.cpu.loadPercent).toBe(3);
      expect(published[3]!.health).toBe('error');
    });
  }

  it('publishes the first gpu sample (a change of state) at once with its figures, later ones paced with theirs', async () => {
    const { clock, loop, published, setGpus } = setup(false);
    await loop.runOnce('host');
    await loop.runOnce('gpu');
    expect(published).toHaveLength(2);
    expect(published[1]!.gpus.map((g) => g.utilizationGpuPercent)).toEqual([5]);
    expect(published[1]!.sources.gpu!.status).toBe('ok');

    await clock.advance(200);
    setGpus([fakeGpu(0, { utilizationGpuPercent: 66 })]);
    await loop.runOnce('gpu');
    expect(published).toHaveLength(2);
    await clock.advance(1300);
    expect(published).toHaveLength(3);
    expect(published[2]!.gpus.map((g) => g.utilizationGpuPercent)).toEqual([66]);
  });
});
