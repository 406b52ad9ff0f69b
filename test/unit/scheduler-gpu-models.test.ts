/**
 * A request that names GPU models (`gpuModels`): its GPUs go to GPUs of those models only, under every strategy,
 * though another model's GPU is free; it waits while they are taken (its conflict names their holders, not the other
 * models'), is refused (never_fits) when no node's GPUs of those models could hold it, takes its preemption victims
 * among their holders, and a time-slice rotation makes room on them. Declared nodes, ManualClock, fixed ids.
 */
import { describe, expect, it } from 'vitest';
import { createStrategy } from '../../server/scheduler/strategies/index.ts';
import type { StrategyName } from '../../shared/scheduler.ts';
import { HOUR, gpuNode, schedulerError, sim, type Body } from '../helpers/cluster.ts';

const STRATEGIES: StrategyName[] = ['priority_based', 'fair_sharing', 'time_slicing', 'resource_pooling', 'load_balancing', 'hybrid'];
/** GPU 1 is the A100 */
const box = () => gpuNode('box', 3, { models: ['NVIDIA T4', 'NVIDIA A100-SXM4-80GB', 'NVIDIA T4'] });
const ask = (owner: string, models?: string[], extra: Partial<Body> = {}): Body => ({
  owner, resources: { cpu: 1000, gpus: 1 }, ...(models ? { gpuModels: models } : {}), ...extra,
});

describe('a request that names GPU models', () => {
  it.each(STRATEGIES)('%s: gets the GPU of its model though a T4 is free; waits while only T4s are, its conflict naming the A100\'s holder', (name) => {
    const s = sim({ strategy: createStrategy(name), nodes: [box()] });
    expect(s.submit('a', ask('a', ['A100'])).allocation!.gpuIndices).toEqual([1]);
    expect(s.request('a').gpuModels).toEqual(['A100']);
    const w = s.submit('w', ask('w', ['a100']));
    expect(w.request.status).toBe('queued');
    expect(w.conflict!.holders).toEqual([expect.objectContaining({ kind: 'allocation', requestId: s.id('a'), gpuIndices: [1] })]);
    expect(w.conflict!.message).toMatch(/^needs 1 whole GPU\(s\) of model a100: /);
    // a request of any model takes a T4 meanwhile; w still waits
    expect(s.submit('x', ask('x')).allocation!.gpuIndices).not.toContain(1);
    expect(s.status('w')).toBe('queued');
    s.release('a');
    expect(s.where('w')).toBe('box[1]');
  });

  it.each(STRATEGIES)('%s: a share goes to a GPU of its model, and waits when that one has no room left though T4s are free', (name) => {
    const s = sim({ strategy: createStrategy(name), nodes: [box()] });
    const share = (owner: string, mib: number): Body => ({ owner, resources: { gpuMemMiB: mib }, gpuModels: ['A100-SXM4'] });
    expect(s.submit('f', share('f', 8192)).allocation!.gpuIndices).toEqual([1]);
    expect(s.submit('g', share('g', 4096)).allocation!.gpuIndices).toEqual([1]);
    expect(s.submit('h', share('h', 8192)).request.status).toBe('queued');
    s.release('f');
    expect(s.where('h')).toBe('box[1]');
  });

  it('goes to the node of its model; waits for that node\'s holder, not for those of the other nodes', () => {
    const s = sim({ strategy: createStrategy('priority_based'), nodes: [gpuNode('a', 2, { models: ['T4', 'T4'] }), gpuNode('b', 2, { models: ['V100M16', 'V100M32'] })] });
    expect(s.where((s.submit('v', ask('v', ['V100M32'])), 'v'))).toBe('b[1]');
    s.submit('t1', ask('t1'));
    s.submit('t2', ask('t2'));
    const w = s.submit('w', ask('w', ['V100M32', 'P100']));
    expect(w.conflict!.holders).toEqual([expect.objectContaining({ requestId: s.id('v'), node: 'b' })]);
    // a V100M16 request still fits b's other GPU
    expect(s.where((s.submit('m', ask('m', ['v100m16'])), 'm'))).toBe('b[0]');
  });

  it('is refused (never_fits, 422) when no node has its model, or none has enough GPUs of it; any of its models will do', () => {
    const s = sim({ strategy: createStrategy('priority_based'), nodes: [box(), gpuNode('b', 2, { models: ['V100M16', 'V100M16'] })] });
    const none = schedulerError(() => s.submit('h', ask('h', ['H100'])));
    expect([none.code, none.status]).toEqual(['never_fits', 422]);
    expect(none.message).toMatch(/^needs a GPU of model H100; the node has none/);
    expect(none.details).toMatchObject({ gpuModels: ['H100'] });
    // A10 is not an A100
    expect(schedulerError(() => s.submit('y', ask('y', ['A10']))).code).toBe('never_fits');
    expect(schedulerError(() => s.submit('x', ask('x', ['A100'], { resources: { gpus: 2 } }))).message).toMatch(/^needs 2 whole GPU\(s\) of model A100; the node has 1/);
    expect(s.engine.listRequests()).toEqual([]);
    // two of either model: b's two V100M16
    expect(s.where((s.submit('z', ask('z', ['A100', 'V100M16'], { resources: { gpus: 2 } })), 'z'))).toBe('b[0,1]');
  });

  it('an idempotent retry with other models is another request', () => {
    const s = sim({ strategy: createStrategy('priority_based'), nodes: [box()] });
    s.engine.submit(ask('a', ['A100']), { idempotencyKey: 'k' });
    expect(s.engine.submit(ask('a', ['A100']), { idempotencyKey: 'k' }).replayed).toBe(true);
    expect(schedulerError(() => s.engine.submit(ask('a', ['T4']), { idempotencyKey: 'k' })).code).toBe('idempotency_conflict');
  });
});

describe('what is in the way of GPUs of a model', () => {
  it('when releasing every allocation would not do, the holders of other models are not named', () => {
    const inv = box();
    inv.gpus![1]!.usages.push({ pid: 42, containerId: null, name: 'python', gpuIndex: 1, usedMemoryMiB: 1024, allocationId: null });
    const s = sim({ strategy: createStrategy('priority_based'), nodes: [inv] });
    s.submit('t', ask('t'));
    const w = s.submit('w', ask('w', ['A100']));
    expect(w.conflict!.holders).toEqual([expect.objectContaining({ kind: 'process', pid: 42, gpuIndex: 1 })]);
  });

  it('preempts the holder of its model, not the lower-priority holder of another', async () => {
    const s = sim({ strategy: createStrategy('priority_based', { preemption: { gracePeriodMs: 0 } }), nodes: [gpuNode('box', 2, { models: ['Tesla T4', 'NVIDIA A100-PCIE-40GB'] })] });
    s.submit('t', ask('t', ['T4'], { priority: -5, preemptible: true }));
    s.submit('a', ask('a', ['A100'], { priority: 0, preemptible: true }));
    const r = s.submit('R', ask('r', ['A100'], { priority: 10 }));
    expect(r.conflict!.holders).toEqual([expect.objectContaining({ requestId: s.id('a') })]);
    expect(await s.tickAt(1)).toEqual(['preempted a', 'granted R box[1]', 'resolved R preempted_holder']);
    expect(s.status('t')).toBe('granted');
  });

  it('time_slicing: a waiting A100 request rotates the A100\'s holder out, not the T4\'s', async () => {
    // thresholds [60 s·GPU]: at 60 s both holders are in queue 1 and w (queue 0) outranks them; both give their GPU
    // back, w takes the A100, t takes its T4 back quietly, a is suspended
    const s = sim({
      strategy: createStrategy('time_slicing', { quantumMs: 60_000, queueThresholds: [60_000], starveMinMs: 24 * HOUR }),
      nodes: [gpuNode('box', 2, { models: ['Tesla T4', 'NVIDIA A100-PCIE-40GB'] })],
    });
    s.submit('t', ask('t'));
    s.submit('a', ask('a', ['A100']));
    await s.at(1);
    s.submit('w', ask('w', ['A100']));
    expect(await s.tickAt(60)).toEqual(['granted w box[1]', 'resolved w granted', 'suspended a']);
    expect(s.allocation('t')).not.toHaveProperty('suspendedAt');
  });
});
