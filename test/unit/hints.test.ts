import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { SchedulerEngine } from '../../server/scheduler/engine.ts';
import { declaredInventory, inventoryFrom } from '../../server/scheduler/inventory.ts';
import { EventHub } from '../../server/push/hub.ts';
import { MemoryIdStore } from '../../server/store/event-ids.ts';
import { HintService } from '../../server/runtime/hint-service.ts';
import type { HintEvent } from '../../shared/hints.ts';
import type { ResourceStatus } from '../../shared/resources.ts';
import { fakeGpu } from '../helpers/fake-gpu.ts';
import { fakeHostSample } from '../helpers/fake-host.ts';

const GiB = 1024;
const MIN = 60_000;

/** `models`: each GPU's name, by index */
function setup(gpus = [16 * GiB, 16 * GiB], models: string[] = []) {
  const clock = new ManualClock();
  let n = 0;
  const engine = new SchedulerEngine({ clock, newId: () => `id${++n}` });
  engine.onSnapshot(declaredInventory('n1', { resources: { cpu: 8000, memoryMiB: 64 * GiB, gpus: gpus.map((memoryMiB, index) => ({ index, memoryMiB, ...(models[index] ? { name: models[index] } : {}) })) } }));
  const hub = new EventHub({ clock, replayCount: 100, replayMaxAgeMs: 3_600_000, ids: new MemoryIdStore() });
  const pushed: HintEvent[] = [];
  hub.subscribe((ev) => ev.type === 'hint' && pushed.push(ev.env.data as HintEvent));
  const hints = new HintService(engine, hub, clock, { leaseWarningMs: 2 * MIN, longWaitMs: 10 * MIN });
  return { clock, engine, hints, pushed, raised: () => pushed.filter((e) => e.kind === 'hint_raised').map((e) => e.hint.kind) };
}

describe('hints', () => {
  it('says when fractional GPU memory is fragmented: enough free in all, not on one GPU', () => {
    const { engine, hints, pushed } = setup();
    engine.submit({ owner: 'a', resources: { gpuMemMiB: 10 * GiB } });
    engine.submit({ owner: 'b', resources: { gpuMemMiB: 10 * GiB } });
    const waiting = engine.submit({ owner: 'c', resources: { gpuMemMiB: 8 * GiB } });
    expect(waiting.request.status).toBe('queued');
    hints.evaluate();
    expect(pushed).toHaveLength(1);
    expect(pushed[0]!.hint).toMatchObject({ kind: 'fragmentation', subject: { kind: 'request', id: waiting.request.id }, status: 'active' });
    expect(pushed[0]!.hint.message).toMatch(/12288 MiB are free in all; the largest free share on one GPU is 6144 MiB/);
    // not repeated while the cause persists
    hints.evaluate();
    expect(pushed).toHaveLength(1);
  });

  it('fragmentation of a request that names GPU models counts the GPUs of those models only', () => {
    const { engine, hints, pushed } = setup([16 * GiB, 16 * GiB, 16 * GiB], ['Tesla T4', 'NVIDIA A100-PCIE-16GB', 'NVIDIA A100-PCIE-16GB']);
    const share = (owner: string, mib: number, gpuModels: string[]) => engine.submit({ owner, resources: { gpuMemMiB: mib }, gpuModels });
    share('t', 10 * GiB, ['T4']);
    share('a', 12 * GiB, ['A100']);
    expect(share('x', 10 * GiB, ['A100']).allocation!.gpuIndices).toEqual([2]);
    // free: 6 GiB on the T4, 4 and 6 on the A100s. A T4 share of 8 GiB waits; 16 GiB are free in all and no GPU has
    // 8, but only the T4's memory is its: no fragmentation
    expect(share('w', 8 * GiB, ['T4']).request.status).toBe('queued');
    hints.evaluate();
    expect(pushed).toEqual([]);
    // an A100 share of 9 GiB: 10 free on the A100s, at most 6 on one
    const frag = share('y', 9 * GiB, ['A100']);
    expect(frag.request.status).toBe('queued');
    hints.evaluate();
    expect(pushed.map((e) => [e.hint.kind, e.hint.subject.id])).toEqual([['fragmentation', frag.request.id]]);
    expect(pushed[0]!.hint.message).toMatch(/10240 MiB are free in all; the largest free share on one GPU is 6144 MiB/);
  });

  it('warns of a lease about to expire, and clears the hint when it is renewed', async () => {
    const { clock, engine, hints, pushed } = setup();
    const { allocation } = engine.submit({ owner: 'a', resources: { gpus: 1 }, leaseMs: 5 * MIN });
    hints.evaluate();
    expect(pushed).toEqual([]);
    await clock.advance(3.5 * MIN);
    hints.evaluate();
    expect(pushed.map((e) => [e.kind, e.hint.kind, e.hint.subject.id])).toEqual([['hint_raised', 'lease_expiring', allocation!.id]]);
    engine.renew(allocation!.id, 30 * MIN);
    hints.evaluate();
    expect(pushed.at(-1)).toMatchObject({ kind: 'hint_cleared', hint: { kind: 'lease_expiring', status: 'cleared' } });
    expect(hints.book.list('active')).toEqual([]);
    expect(hints.book.list('cleared')).toHaveLength(1);
  });

  it('tells a request that has waited long where it stands and what it waits for', async () => {
    const { clock, engine, hints, pushed, raised } = setup([16 * GiB]);
    engine.submit({ owner: 'a', resources: { gpus: 1 }, leaseMs: 60 * MIN });
    const w = engine.submit({ owner: 'b', resources: { gpus: 1 } });
    await clock.advance(11 * MIN);
    hints.evaluate();
    expect(raised()).toEqual(['long_wait']);
    const h = pushed[0]!.hint;
    expect(h.subject).toEqual({ kind: 'request', id: w.request.id });
    expect(h.message).toMatch(/^b's request has waited 11 min; position 1 of 1 in arrival order; /);
  });

  it('names an unmanaged process on a GPU', () => {
    const { clock, engine, hints, pushed } = setup();
    const gpu = fakeGpu(1, { processes: [{ pid: 777, name: 'python rogue.py', type: 'C', usedMemoryMiB: 4096, gpuUuid: 'GPU-1', gpuIndex: 1, gpuInstanceId: null, computeInstanceId: null, user: 'eve', containerId: null }] });
    const snapshot: ResourceStatus = {
      node: 'n1', sampledAt: clock.now(), health: 'healthy', host: fakeHostSample(1, clock.now()), gpus: [fakeGpu(0), gpu], containers: [],
      sources: { gpu: { status: 'ok', lastSampleAt: clock.now(), lastErrorAt: null, consecutiveFailures: 0, nextRetryAt: null } },
    };
    engine.onSnapshot(inventoryFrom(snapshot));
    hints.evaluate();
    const h = pushed.find((e) => e.hint.kind === 'unmanaged_gpu_use')!.hint;
    expect(h.title).toBe('GPU 1 is used without an allocation');
    expect(h.message).toMatch(/python rogue\.py \(pid 777\)/);
    expect(h.subject).toEqual({ kind: 'gpu', id: '1' });
  });

  it('names the node of an unmanaged GPU user on another node than its own', () => {
    const { engine, hints, pushed } = setup();
    const other = declaredInventory('n2', { resources: { cpu: 8000, memoryMiB: 64 * GiB, gpus: [{ index: 0, memoryMiB: 16 * GiB }] } });
    engine.onSnapshot({ ...other, gpus: other.gpus!.map((g) => ({ ...g, usages: [{ pid: 9, containerId: null, name: 'rogue', gpuIndex: 0, usedMemoryMiB: 512, allocationId: null }] })) });
    hints.evaluate();
    const h = pushed.find((e) => e.hint.kind === 'unmanaged_gpu_use')!.hint;
    expect(h.title).toBe('GPU 0 of node n2 is used without an allocation');
    expect(h.subject).toEqual({ kind: 'gpu', id: '0@n2' });
  });
});
