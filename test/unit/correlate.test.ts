import { describe, expect, it } from 'vitest';
import { correlate, sameContainer } from '../../server/monitor/correlate.ts';
import { fakeGpu } from '../helpers/fake-gpu.ts';
import { fakeContainer } from '../helpers/fake-docker.ts';

const proc = (pid: number, containerId: string | null, gpuUuid: string) => ({
  pid, name: 'python', type: 'C' as const, usedMemoryMiB: 100, gpuUuid, gpuIndex: null, gpuInstanceId: null, computeInstanceId: null, user: null, containerId,
});

describe('GPU ↔ container', () => {
  const trainer = fakeContainer('trainer');
  const web = fakeContainer('web', { gpus: [{ index: 1, uuid: null, via: 'device_request' }, { index: null, uuid: 'GPU-1', via: 'env' }] });

  it('matches full ids and 12+ character prefixes only', () => {
    expect(sameContainer(trainer.id, trainer.id.slice(0, 12))).toBe(true);
    expect(sameContainer(trainer.id, trainer.id.slice(0, 6))).toBe(false);
    expect(sameContainer(trainer.id, web.id)).toBe(false);
  });

  it('names the container of a GPU process and lists the GPU on the container', () => {
    const gpus = [fakeGpu(0, { processes: [proc(10, trainer.id, 'GPU-0'), proc(11, null, 'GPU-0')] }), fakeGpu(1)];
    const out = correlate(gpus, [trainer, web]);
    expect(out.gpus[0]!.processes.map((p) => p.containerName ?? null)).toEqual(['trainer', null]);
    expect(out.containers[0]!.gpus).toEqual([{ index: 0, uuid: 'GPU-0', via: 'process' }]);
  });

  it('completes index and uuid from the GPU list and merges the same GPU seen several ways', () => {
    const gpus = [fakeGpu(0), fakeGpu(1, { processes: [proc(12, web.id.slice(0, 12), 'GPU-1')] })];
    const out = correlate(gpus, [trainer, web]);
    expect(out.containers[1]!.gpus).toEqual([{ index: 1, uuid: 'GPU-1', via: 'device_request' }]);
    expect(out.containers[0]!.gpus).toEqual([]);
  });

  it('leaves everything as it is without containers', () => {
    const gpus = [fakeGpu(0, { processes: [proc(10, 'abc', 'GPU-0')] })];
    expect(correlate(gpus, []).gpus).toBe(gpus);
  });
});
