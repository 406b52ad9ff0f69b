import { describe, expect, it } from 'vitest';
import type { ResourceStatus, SourceStatus } from '../../shared/resources.ts';
import { DeclaredInventorySchema, inventoryFrom } from '../../server/scheduler/inventory.ts';
import { fakeContainer } from '../helpers/fake-docker.ts';
import { fakeGpu } from '../helpers/fake-gpu.ts';
import { fakeHostSample } from '../helpers/fake-host.ts';

const T0 = 1_700_000_000_000;
const src = (status: SourceStatus['status']): SourceStatus => ({ status, lastSampleAt: T0, lastErrorAt: null, consecutiveFailures: 0, nextRetryAt: null });

function snapshot(over: Partial<ResourceStatus> = {}): ResourceStatus {
  return { node: 'n1', sampledAt: T0, sources: { host: src('ok'), gpu: src('ok') }, host: fakeHostSample(10, T0), gpus: [], containers: [], health: 'healthy', ...over };
}

const proc = (pid: number, gpuIndex: number, usedMemoryMiB: number | null, containerId: string | null = null) => ({
  pid, name: `p${pid}`, type: 'C' as const, usedMemoryMiB, gpuUuid: `GPU-${gpuIndex}`, gpuIndex, gpuInstanceId: null, computeInstanceId: null, user: null, containerId,
});

describe('inventoryFrom', () => {
  it('takes cpu as cores × 1000, memory in MiB and each GPU with index, uuid and memory', () => {
    const inv = inventoryFrom(snapshot({ gpus: [fakeGpu(1), fakeGpu(0, { memoryTotalMiB: 24_576 })] }));
    expect(inv).toMatchObject({ node: 'n1', cpu: 2000, memoryMiB: 1000 });
    expect(inv.gpus!.map((g) => [g.index, g.uuid, g.memoryMiB, g.available])).toEqual([[0, 'GPU-0', 24_576, true], [1, 'GPU-1', 16_384, true]]);
  });

  it('lists GPU processes as usages, unmanaged unless ownerOf names their allocation', () => {
    const s = snapshot({ gpus: [fakeGpu(0, { processes: [proc(10, 0, 2048), proc(11, 0, 1024)] })] });
    expect(inventoryFrom(s).gpus![0]!.usages.map((u) => [u.pid, u.allocationId])).toEqual([[10, null], [11, null]]);
    const inv = inventoryFrom(s, undefined, { ownerOf: ({ pid }) => (pid === 11 ? 'alloc-1' : null) });
    expect(inv.gpus![0]!.usages.map((u) => [u.pid, u.usedMemoryMiB, u.allocationId])).toEqual([[10, 2048, null], [11, 1024, 'alloc-1']]);
  });

  it('counts running containers given a GPU by device request, not those that only carry NVIDIA_VISIBLE_DEVICES', () => {
    const s = snapshot({
      gpus: [fakeGpu(0), fakeGpu(1)],
      containers: [
        fakeContainer('trainer', { gpus: [{ index: 1, uuid: 'GPU-1', via: 'device_request' }] }),
        fakeContainer('cuda-image', { gpus: [{ index: 0, uuid: 'GPU-0', via: 'env' }] }),
        fakeContainer('stopped', { state: 'exited', gpus: [{ index: 0, uuid: 'GPU-0', via: 'device_request' }] }),
      ],
    });
    const inv = inventoryFrom(s);
    expect(inv.gpus![0]!.usages).toEqual([]);
    expect(inv.gpus![1]!.usages.map((u) => [u.name, u.pid, u.usedMemoryMiB])).toEqual([['trainer', null, null]]);
  });

  it('marks a GPU in error unavailable', () => {
    const inv = inventoryFrom(snapshot({ gpus: [fakeGpu(0, { status: 'error', message: 'lost' }), fakeGpu(1)] }));
    expect(inv.gpus!.map((g) => g.available)).toEqual([false, true]);
  });

  it('reports unknown (null) what has not been sampled yet, and no GPUs without a gpu source', () => {
    const starting = inventoryFrom(snapshot({ host: null, sources: { gpu: src('starting') } }));
    expect([starting.cpu, starting.memoryMiB, starting.gpus]).toEqual([null, null, null]);
    expect(inventoryFrom(snapshot({ sources: { host: src('ok') } })).gpus).toEqual([]);
    expect(inventoryFrom(snapshot({ sources: { gpu: src('unavailable') } })).gpus).toEqual([]);
  });

  it('a declared inventory replaces what the monitor reports for the resources it names', () => {
    const declared = DeclaredInventorySchema.parse({
      resources: { memoryMiB: 16_384, gpus: [{ index: 1, memoryMiB: 16_384, name: 'B' }, { index: 0, memoryMiB: 16_384, name: 'A' }] },
    });
    // a machine without GPUs: the monitor reports none
    const inv = inventoryFrom(snapshot({ sources: { host: src('ok'), gpu: src('unavailable') } }), declared);
    expect(inv.cpu).toBe(2000); // not declared: from the monitor
    expect(inv.memoryMiB).toBe(16_384);
    expect(inv.gpus!.map((g) => [g.index, g.name, g.memoryMiB, g.declared, g.available])).toEqual([[0, 'A', 16_384, true, true], [1, 'B', 16_384, true, true]]);
  });

  it('declared GPUs replace monitored ones and keep the processes of the GPU they match (uuid, else index)', () => {
    const s = snapshot({ gpus: [fakeGpu(0, { memoryTotalMiB: 81_920, processes: [proc(7, 0, 500)] }), fakeGpu(1)] });
    const inv = inventoryFrom(s, { resources: { gpus: [{ index: 0, memoryMiB: 40_960 }, { index: 5, memoryMiB: 1000, uuid: 'GPU-0' }] } });
    expect(inv.gpus!.map((g) => [g.index, g.uuid, g.memoryMiB, g.usages.map((u) => [u.pid, u.gpuIndex])])).toEqual([
      [0, 'GPU-0', 40_960, [[7, 0]]],
      [5, 'GPU-0', 1000, [[7, 5]]],
    ]);
  });

  it('the declared schema is strict and wants unique GPU indices', () => {
    expect(DeclaredInventorySchema.safeParse({ resources: { gpus: [{ index: 0, memoryMiB: 1 }, { index: 0, memoryMiB: 1 }] } }).success).toBe(false);
    expect(DeclaredInventorySchema.safeParse({ resources: { cpu: 1, disks: 2 } }).success).toBe(false);
    expect(DeclaredInventorySchema.safeParse({ resources: { gpus: [{ index: 0, memoryMiB: 0 }] } }).success).toBe(false);
    expect(DeclaredInventorySchema.safeParse({ resources: { gpus: [] } }).success).toBe(true);
  });
});
