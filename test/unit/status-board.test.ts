import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { History } from '../../server/monitor/history.ts';
import { StatusBoard } from '../../server/monitor/status.ts';
import type { ResourceStatus, SourceStatus } from '../../shared/resources.ts';
import { fakeHostSample } from '../helpers/fake-host.ts';
import { fakeGpu } from '../helpers/fake-gpu.ts';

const ok = (at: number): SourceStatus => ({ status: 'ok', lastSampleAt: at, lastErrorAt: null, consecutiveFailures: 0, nextRetryAt: null });

describe('StatusBoard pacing', () => {
  it('publishes every host sample and state change at once, routine gpu samples at most once a second', async () => {
    const clock = new ManualClock();
    const board = new StatusBoard('n', new History(60), clock);
    const published: ResourceStatus[] = [];
    board.onSnapshot((s) => published.push(s));

    board.setHost(fakeHostSample(1, clock.now()));
    board.setSourceStatus('host', ok(clock.now()));
    board.setGpus([fakeGpu(0)]);
    board.setSourceStatus('gpu', ok(clock.now())); // starting → ok: a change, published now
    expect(published).toHaveLength(2);

    await clock.advance(300);
    board.setGpus([fakeGpu(0, { utilizationGpuPercent: 77 })]);
    board.setSourceStatus('gpu', ok(clock.now())); // routine: waits for the pace
    expect(published).toHaveLength(2);
    await clock.advance(1199); // 1.5 s after the last publish, unless a host sample comes first
    expect(published).toHaveLength(2);
    await clock.advance(1);
    expect(published).toHaveLength(3);
    expect(published[2]!.gpus[0]!.utilizationGpuPercent).toBe(77);

    // a host sample before the paced publish carries the gpu figures and makes the timer moot
    await clock.advance(200);
    board.setGpus([fakeGpu(0, { utilizationGpuPercent: 12 })]);
    board.setSourceStatus('gpu', ok(clock.now()));
    board.setHost(fakeHostSample(2, clock.now()));
    board.setSourceStatus('host', ok(clock.now()));
    expect(published).toHaveLength(4);
    expect(published[3]!.gpus[0]!.utilizationGpuPercent).toBe(12);
    await clock.advance(5000);
    expect(published).toHaveLength(4);

    board.setSourceStatus('gpu', { ...ok(clock.now()), status: 'error', message: 'nvidia-smi exited' });
    expect(published).toHaveLength(5);
  });
});
